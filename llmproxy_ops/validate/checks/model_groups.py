"""unknown-model-group: fallbacks and aliases that name a model group no deployment serves.

LiteLLM accepts these silently and fails only when the fallback is needed, at request time.
"""

from __future__ import annotations

import fnmatch
from collections.abc import Iterable, Iterator

from llmproxy_ops.findings import Finding, JsonPath, Severity
from llmproxy_ops.validate.checks._common import did_you_mean, get_in, make
from llmproxy_ops.validate.context import CheckContext

SECTIONS = ("router_settings", "litellm_settings")
FALLBACK_KEYS = ("fallbacks", "context_window_fallbacks", "content_policy_fallbacks")
ANY_GROUP = "*"  # a fallback rule for every group


def _fallback_refs(section: str, key: str, value: object) -> Iterator[tuple[str, JsonPath]]:
    # [{group: [fallback, ...]}, ...]; other shapes are the schema stage's business
    if not isinstance(value, list):
        return
    for i, rule in enumerate(value):
        if not isinstance(rule, dict):
            continue
        for source, targets in rule.items():
            if source != ANY_GROUP and isinstance(source, str):
                yield source, (section, key, i, source)
            if isinstance(targets, list):
                for j, target in enumerate(targets):
                    if isinstance(target, str):
                        yield target, (section, key, i, source, j)
            elif isinstance(targets, str):
                yield targets, (section, key, i, source)


def _alias_refs(section: str, value: object) -> Iterator[tuple[str, JsonPath]]:
    if not isinstance(value, dict):
        return
    for alias, target in value.items():
        if isinstance(target, dict):  # {model: group, hidden: true}
            if isinstance(target.get("model"), str):
                yield target["model"], (section, "model_group_alias", alias, "model")
        elif isinstance(target, str):
            yield target, (section, "model_group_alias", alias)


def group_refs(ctx: CheckContext) -> Iterator[tuple[str, JsonPath]]:
    """(named group, path) for every fallback source/target and alias target."""
    for section in SECTIONS:
        for key in FALLBACK_KEYS:
            yield from _fallback_refs(section, key, get_in(ctx.spec.root, section, key))
        defaults = get_in(ctx.spec.root, section, "default_fallbacks")
        if isinstance(defaults, list):
            for i, name in enumerate(defaults):
                if isinstance(name, str):
                    yield name, (section, "default_fallbacks", i)
        yield from _alias_refs(section, get_in(ctx.spec.root, section, "model_group_alias"))


def _aliases(ctx: CheckContext) -> set[str]:
    names: set[str] = set()
    for section in SECTIONS:
        value = get_in(ctx.spec.root, section, "model_group_alias")
        if isinstance(value, dict):
            names.update(k for k in value if isinstance(k, str))
    return names


def group_exists(name: str, groups: list[str]) -> bool:
    """Served by a group of that name or by a wildcard group (`*`, `openai/*`)."""
    return name in groups or any("*" in g and fnmatch.fnmatchcase(name, g) for g in groups)


def check_unknown_model_group(ctx: CheckContext) -> Iterable[Finding]:
    groups = ctx.spec.model_groups()
    known = groups + sorted(_aliases(ctx))
    for name, path in group_refs(ctx):
        if group_exists(name, known):
            continue
        guess = did_you_mean(name, [g for g in groups if "*" not in g])
        hint = f"did you mean '{guess}'?" if guess else "use a model_name from model_list"
        yield make(
            ctx,
            Severity.ERROR,
            "unknown-model-group",
            f"{path[0]}.{path[1]} names model group '{name}', which no model_list entry defines",
            path,
            hint,
        )
