"""Credential detection: provider key formats, entropy, placeholders and demo keys.

The rules, in the order `classify` applies them to one string value:

1. `os.environ/NAME` references are never secrets (that is how secrets are meant to be written).
2. Placeholders are never secrets: a value with a marker word (`your`, `xxx`, `dummy`, `fake`,
   `example`, `changeme`, `placeholder`, `<...>`…), a body (the value after a known key prefix
   like `sk-` or `sk-ant-`) shorter than 8 characters (`sk-1234`, `none`, `EMPTY`) or with at
   most 3 distinct characters (`sk-xxxxxxxx`, `0000…`), or a body that is mostly an ascending
   run (`sk-1234567890abcdef`). Such values appear in LiteLLM's own examples; the check
   that uses this module warns when one is the proxy's master key.
3. Provider key formats (`sk-ant-…`, `AIza…`, `ghp_…`, `AKIA…`…) are secrets under any key.
   A bare `sk-` value counts only when it also passes rule 4's randomness test, because
   `sk-` + words is how people name demo master keys (`sk-litellm-master-key-for-dev`).
4. Under a credential-named key (api_key, master_key, *secret*, *password*, *token*…), a value
   of at least 16 characters, with no whitespace, with both letters and digits, and a Shannon
   entropy of at least 3.0 bits per character is a secret. Random keys score 3.5–5 (16 random
   characters already score ~3.7); words with no digits (`not-needed`, `any-api-key-will-do`)
   are what local servers accept as keys, and short hand-made names (`sk-sidecar-1`) are
   demo keys: neither is flagged (a literal master key of that kind is a weak-demo-key warning).
5. URLs with a password in their user-info part (`postgresql://user:pass@host/db`) are
   secrets unless the password is a reference (`os.environ/…`, `${VAR}`, `$VAR`) or a placeholder.
"""

from __future__ import annotations

import functools
import math
import re
from collections import Counter
from dataclasses import dataclass
from urllib.parse import urlsplit

ENV_REF_PREFIX = "os.environ/"

MIN_SECRET_LENGTH = 16
REDACT_PREFIX_FROM = 12  # shorter values show no characters at all in messages
MIN_ENTROPY_BITS = 3.0
MIN_BODY_LENGTH = 8  # bodies shorter than this are demo keys (sk-1234), never real credentials

GENERIC_SK = "API key (sk-…)"

# (what it is, pattern) — anchored at the start of the value or of a word inside it
PROVIDER_KEY_PATTERNS: tuple[tuple[str, re.Pattern[str]], ...] = (
    ("Anthropic API key", re.compile(r"sk-ant-[A-Za-z0-9_\-]{16,}")),
    ("OpenAI project key", re.compile(r"sk-proj-[A-Za-z0-9_\-]{16,}")),
    ("OpenRouter API key", re.compile(r"sk-or-v1-[A-Za-z0-9]{16,}")),
    (GENERIC_SK, re.compile(r"sk-[A-Za-z0-9_\-]{20,}")),
    ("Google API key", re.compile(r"AIza[0-9A-Za-z_\-]{35}")),
    (
        "GitHub token",
        re.compile(r"(?:ghp|gho|ghu|ghs|ghr)_[A-Za-z0-9]{20,}|github_pat_[A-Za-z0-9_]{20,}"),
    ),
    ("Slack token", re.compile(r"xox[bpas]-[A-Za-z0-9\-]{10,}")),
    ("AWS access key id", re.compile(r"(?:AKIA|ASIA)[0-9A-Z]{16}")),
)

# prefixes whose remainder is the random part; longest first so sk-ant- wins over sk-
KEY_PREFIXES = (
    "sk-ant-api03-",
    "sk-or-v1-",
    "sk-proj-",
    "sk-ant-",
    "github_pat_",
    "ghp_",
    "gho_",
    "sk-",
    "AIza",
    "xoxb-",
    "xoxp-",
)

PLACEHOLDER_MARKERS = (
    "your",
    "xxx",
    "***",
    "...",
    "…",
    "<",
    ">",
    "{",
    "}",
    "dummy",
    "fake",
    "example",
    "placeholder",
    "changeme",
    "change-me",
    "change_me",
    "replace",
    "redacted",
    "insert",
    "todo",
    "sample",
    "notreal",
    "not-real",
    "test-key",
)

# ascending runs that demo keys are typed from
_RUNS = ("0123456789" * 3, "abcdefghijklmnopqrstuvwxyz", "qwertyuiopasdfghjklzxcvbnm")

_SECRET_WORDS = frozenset(
    {
        "secret",
        "password",
        "passwd",
        "pwd",
        "token",
        "credential",
        "credentials",
        "apikey",
        "passphrase",
    }
)
# segments that make a *token* key a count or a price, not a credential (max_tokens, per_token)
_NOT_CREDENTIAL_WORDS = frozenset({"max", "min", "per", "cost", "count", "limit", "tokens", "type"})
_KEY_QUALIFIERS = frozenset(
    {
        "api",
        "master",
        "salt",
        "access",
        "private",
        "secret",
        "signing",
        "encryption",
        "auth",
        "license",
        "service",
        "account",
    }
)


@dataclass(frozen=True)
class SecretHit:
    kind: str  # "Anthropic API key", "password in URL", ...
    redacted: str


def env_ref_name(value: object) -> str | None:
    """NAME for an `os.environ/NAME` reference, else None."""
    if isinstance(value, str) and value.startswith(ENV_REF_PREFIX):
        name = value[len(ENV_REF_PREFIX) :].strip()
        return name or None
    return None


def shannon_entropy(text: str) -> float:
    """Bits per character of `text` under its own character frequencies."""
    if not text:
        return 0.0
    counts = Counter(text)
    total = len(text)
    return -sum(n / total * math.log2(n / total) for n in counts.values())


def redact(value: str) -> str:
    """First 4 characters + … + length; short values show no characters at all."""
    shown = value[:4] if len(value) >= REDACT_PREFIX_FROM else ""
    return f"{shown}…, {len(value)} chars"


def key_body(value: str) -> str:
    """The random part of a key: the value after a known prefix such as sk-ant-."""
    for prefix in KEY_PREFIXES:
        if value.startswith(prefix):
            return value[len(prefix) :]
    return value


def _mostly_run(body: str) -> bool:
    low = body.lower()
    pairs = list(zip(low, low[1:], strict=False))
    if not pairs:
        return False
    steps = sum(1 for a, b in pairs if any(a + b in run for run in _RUNS))
    return steps / len(pairs) >= 0.75


def says_placeholder(text: str) -> bool:
    """A marker word (your, xxx, dummy, <...>) or at most 3 distinct characters."""
    low = text.lower()
    return any(marker in low for marker in PLACEHOLDER_MARKERS) or len(set(low)) <= 3


def is_placeholder(value: str) -> bool:
    """An obviously fake key: marker word, too short, too uniform, or a typed run."""
    body = key_body(value).strip("-_")
    return (
        says_placeholder(value)
        or len(body) < MIN_BODY_LENGTH
        or len(set(body.lower())) <= 3
        or _mostly_run(body)
    )


def is_credential_key(key: object) -> bool:
    """Whether a mapping key names a credential (api_key, client_secret, db_password…)."""
    if not isinstance(key, str):
        return False
    parts = [p for p in re.split(r"[_\-.\s]+", key.lower()) if p]
    if any(p in _NOT_CREDENTIAL_WORDS for p in parts):
        return False
    if any(p in _SECRET_WORDS for p in parts):
        return True
    return any(
        p == "key" and i > 0 and parts[i - 1] in _KEY_QUALIFIERS for i, p in enumerate(parts)
    )


def provider_key_kind(value: str) -> str | None:
    """Which provider key format `value` contains, if any."""
    for kind, pattern in PROVIDER_KEY_PATTERNS:
        match = pattern.search(value)
        if not match or (match.start() > 0 and value[match.start() - 1].isalnum()):
            continue
        # a bare sk- prefix is also how people name demo keys (sk-litellm-master-key-for-dev)
        if kind != GENERIC_SK or looks_random(match.group()):
            return kind
    return None


def looks_random(value: str) -> bool:
    """Long, one word, letters and digits, high entropy: how generated credentials look."""
    return (
        len(value) >= MIN_SECRET_LENGTH
        and not any(c.isspace() for c in value)
        and any(c.isalpha() for c in value)
        and any(c.isdigit() for c in value)
        and shannon_entropy(value) >= MIN_ENTROPY_BITS
    )


def _is_reference(text: str) -> bool:
    return text.startswith(ENV_REF_PREFIX) or text.startswith("$")


def url_password(value: str) -> str | None:
    """The literal password in a `scheme://user:password@host` URL, if there is one."""
    if "://" not in value or "@" not in value:
        return None
    try:
        password = urlsplit(value.strip()).password
    except ValueError:
        return None
    if not password or _is_reference(password) or password.lower() in _PLACEHOLDER_PASSWORDS:
        return None
    return None if says_placeholder(password) else password


# passwords that only say "a password goes here"
_PLACEHOLDER_PASSWORDS = frozenset({"password", "pass", "passwd", "pwd", "secret", "changeme"})


@functools.lru_cache(maxsize=8192)  # a big config repeats its values (names, env references)
def classify(key: object, value: str) -> SecretHit | None:
    """A SecretHit when `value` (written under `key`) is a literal credential, else None."""
    if env_ref_name(value) is not None:
        return None
    password = url_password(value)
    if password is not None:
        return SecretHit("password in URL", redact(password))
    if is_placeholder(value):
        return None
    kind = provider_key_kind(value)
    if kind is not None:
        return SecretHit(kind, redact(value))
    if is_credential_key(key) and looks_random(value):
        return SecretHit(f"{key} value", redact(value))
    return None
