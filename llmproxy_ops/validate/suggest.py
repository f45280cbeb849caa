"""Fix hints for unknown keys and bad values: did-you-mean, wrong section, known non-keys."""

from __future__ import annotations

import difflib
from collections.abc import Iterable, Mapping

CONFIG_DOCS = "https://docs.litellm.ai/docs/proxy/config_settings"

# Keys people reach for that LiteLLM does not have at all; a spelling suggestion would mislead.
KNOWN_NON_KEYS: dict[str, str] = {
    "rpd": (
        "LiteLLM has no requests-per-day limit; use rpm/tpm for rate limits, or a budget "
        "(max_budget + budget_duration, e.g. '1d') to cap daily use"
    ),
}

# Sections whose key sets are compared when a key is written in the wrong one.
SECTIONS = ("general_settings", "litellm_settings", "router_settings")


def did_you_mean(word: str, candidates: Iterable[str]) -> str | None:
    """The closest candidate, if any is close enough to be a likely typo."""
    pool = sorted(candidates)
    matches = difflib.get_close_matches(word, pool, n=1, cutoff=0.75)
    # short keys with swapped letters (rmp) score low on similarity but are clear typos
    swapped = [c for c in pool if len(c) == len(word) and sorted(c) == sorted(word)]
    found = matches or swapped
    return found[0] if found else None


def unknown_key_hint(
    key: str, allowed: Iterable[str], where: str, elsewhere: Mapping[str, Iterable[str]]
) -> str:
    """Hint for `key` unknown at `where`; `elsewhere` maps other sections to their keys."""
    if key in KNOWN_NON_KEYS:
        return KNOWN_NON_KEYS[key]
    homes = [section for section, keys in elsewhere.items() if key in set(keys)]
    if homes:
        return f"'{key}' is a {' / '.join(homes)} key: move it there"
    close = did_you_mean(key, allowed)
    if close is not None:
        return f"did you mean '{close}'?"
    if where == "stack" or where.startswith("stack."):
        return f"no similar key at {where}; allowed: {', '.join(sorted(allowed))}"
    return f"no similar key at {where}; see the keys LiteLLM accepts there: {CONFIG_DOCS}"


def enum_hint(value: object, allowed: Iterable[object]) -> str | None:
    """did-you-mean for a string value outside an enum (e.g. 'embeddings' → 'embedding')."""
    if not isinstance(value, str):
        return None
    words = [v for v in allowed if isinstance(v, str)]
    close = difflib.get_close_matches(value, words, n=1, cutoff=0.6)
    if not close:  # case slips ('Deny') and truncations ('qdrant' for 'qdrant-semantic')
        close = [w for w in words if w.lower() == value.lower() or w.startswith(value)]
    return f"did you mean '{close[0]}'?" if close else None
