"""weak-master-key / no-master-key / env-file-readable: secrets that exist but do not protect.

LiteLLM 1.108.7 itself refuses to start with no master key, an empty one or `sk-1234`
(litellm/proxy/auth/master_key_boot_check.py) unless
`general_settings.dangerously_permit_weak_or_unset_master_key` is set; it accepts every other
guessable key. So: a placeholder (`sk-change-me` from .env.example, `changeme`), a value
copied from .env.example, or a short or low-entropy key is an error outside the `dev`
environment (a warning in dev); no key at all is an error when the proxy listens beyond
loopback; an env file that others can read is a warning.
"""

from __future__ import annotations

import stat
from collections.abc import Iterable
from pathlib import Path

from llmproxy_ops.envfile import read_env_file
from llmproxy_ops.errors import EnvFileError
from llmproxy_ops.findings import Finding, Severity
from llmproxy_ops.validate.checks._common import (
    env_example_name,
    env_file_name,
    get_in,
    make,
    stack_value,
)
from llmproxy_ops.validate.checks.secrets import MASTER_KEY_PATH
from llmproxy_ops.validate.context import CheckContext
from llmproxy_ops.validate.secrets import env_ref_name, is_placeholder, key_body, shannon_entropy

DEV_ENV = "dev"
PUBLIC_DEMO_KEY = "sk-1234"  # in LiteLLM's docs; naming it reveals nothing
MIN_KEY_BODY = 16  # characters after `sk-`; `llmproxy-ops init` writes 43
MIN_KEY_ENTROPY = 3.0  # bits per character; generated keys score ~5
LOOPBACK = frozenset({"127.0.0.1", "::1", "localhost"})
PERMIT_WEAK = "dangerously_permit_weak_or_unset_master_key"
GENERATE = "run `llmproxy-ops init` on a fresh env file, or set sk- + `openssl rand -hex 32`"


def check_weak_master_key(ctx: CheckContext) -> Iterable[Finding]:
    raw = get_in(ctx.spec.root, *MASTER_KEY_PATH)
    if raw is None or raw == "":
        yield from _no_key(ctx)
        return
    if not isinstance(raw, str):
        return  # the schema stage reports the type
    name = env_ref_name(raw)
    if name is None:
        value, where = raw, "general_settings.master_key"
    elif ctx.env is not None and ctx.env.get(name):
        value, where = ctx.env[name], f"{name} (general_settings.master_key)"
    else:
        return  # unresolved: check_env_missing reports it; --no-env cannot see the value
    why = _weakness(ctx, value)
    if why is None:
        return
    dev = ctx.spec.name == DEV_ENV
    severity = Severity.WARNING if dev else Severity.ERROR
    place = f"set {name}=... in {env_file_name(ctx.spec)}" if name else "use os.environ/..."
    yield make(
        ctx,
        severity,
        "weak-master-key",
        f"{where} is {why}: anyone who guesses it is the proxy's admin",
        MASTER_KEY_PATH,
        f"{GENERATE}; {place}" + ("" if dev else " (only the dev environment may keep it)"),
    )


def _weakness(ctx: CheckContext, value: str) -> str | None:
    """Why `value` is guessable (never echoing it), or None for a real key."""
    if value == PUBLIC_DEMO_KEY:
        return f"{PUBLIC_DEMO_KEY}, the public demo key (LiteLLM 1.108.7 refuses to start with it)"
    if value in _example_values(ctx):
        return f"the placeholder from {env_example_name(ctx.spec)}"
    if is_placeholder(value):
        return "a placeholder or demo value"
    body = key_body(value)
    if len(body) < MIN_KEY_BODY:
        return f"too short ({len(body)} characters after the prefix, at least {MIN_KEY_BODY})"
    if shannon_entropy(body) < MIN_KEY_ENTROPY:
        return "low-entropy (not random enough)"
    return None


def _example_values(ctx: CheckContext) -> set[str]:
    if not ctx.env_checks:
        return set()
    try:
        return {v for v in read_env_file(Path(env_example_name(ctx.spec))).values() if v}
    except EnvFileError:
        return set()


def _no_key(ctx: CheckContext) -> Iterable[Finding]:
    host = stack_value(ctx.spec, "host")
    if not isinstance(host, str) or host in LOOPBACK:
        return
    permitted = get_in(ctx.spec.root, "general_settings", PERMIT_WEAK) is True
    refuses = "" if permitted else "; LiteLLM 1.108.7 also refuses to start without one"
    yield make(
        ctx,
        Severity.ERROR,
        "no-master-key",
        f"no general_settings.master_key while the proxy listens on {host}: "
        f"anyone who reaches it is admin{refuses}",
        ("general_settings",),
        f"write master_key: os.environ/LITELLM_MASTER_KEY and {GENERATE}",
    )


def check_env_file_mode(ctx: CheckContext) -> Iterable[Finding]:
    path = ctx.env_file
    if path is None or not ctx.env_checks:
        return
    try:
        mode = stat.S_IMODE(path.stat().st_mode)
    except OSError:
        return
    if mode & 0o077:
        # In production every user of the machine would hold the keys: refuse to go on.
        prod = ctx.spec.production
        yield make(
            ctx,
            Severity.ERROR if prod else Severity.WARNING,
            "env-file-readable",
            f"env file {path} is readable by others (mode {mode:04o}); it holds the secrets"
            + (" of a production environment" if prod else ""),
            ("stack", "env_file"),
            f"chmod 600 {path}",
        )
