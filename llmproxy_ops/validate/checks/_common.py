"""Shared helpers for the semantic checks: tolerant access to odd shapes, naming, findings.

Every helper accepts whatever the YAML held (a list where a map belongs, a number where a
string belongs) and answers "nothing there" instead of raising: the schema stage reports shapes.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from llmproxy_ops.findings import Finding, JsonPath, Severity, format_path
from llmproxy_ops.spec.model import STACK_DEFAULTS, STACK_KEY, Spec, StackSettings
from llmproxy_ops.validate.context import CheckContext


@dataclass(frozen=True)
class Deployment:
    index: int
    entry: dict[str, Any]
    params: dict[str, Any]  # {} when litellm_params is missing or not a mapping

    @property
    def path(self) -> JsonPath:
        return ("model_list", self.index)

    @property
    def name(self) -> str | None:
        name = self.entry.get("model_name")
        return name if isinstance(name, str) else None


def deployments(spec: Spec) -> Iterator[Deployment]:
    """model_list entries that are mappings, with their litellm_params (or {})."""
    for i, entry in enumerate(spec.model_list):
        if isinstance(entry, dict):
            params = entry.get("litellm_params")
            yield Deployment(i, entry, params if isinstance(params, dict) else {})


def get_in(node: Any, *keys: str | int) -> Any:
    """node[k1][k2]… or None as soon as a level is missing or not a mapping."""
    for key in keys:
        if not isinstance(node, dict):
            return None
        node = node.get(key)
    return node


def str_list(value: Any) -> list[str]:
    """The strings of a list value (a single string counts as a one-item list)."""
    if isinstance(value, str):
        return [value]
    return [v for v in value if isinstance(v, str)] if isinstance(value, list) else []


def litellm_sections(spec: Spec) -> Iterator[tuple[Any, Any]]:
    """Top-level (key, value) pairs LiteLLM reads: everything but our `stack:` section."""
    return ((k, v) for k, v in spec.root.items() if k != STACK_KEY)


def stack_value(spec: Spec, key: str) -> Any:
    """One raw `stack:` setting (default when absent); may be any shape."""
    stack = spec.root.get(STACK_KEY)
    if isinstance(stack, dict) and key in stack:
        return stack[key]
    return STACK_DEFAULTS.get(key)


def stack_settings(spec: Spec) -> StackSettings | None:
    """The typed stack settings, or None when the section is malformed (reported elsewhere)."""
    try:
        return spec.stack
    except (TypeError, ValueError, AttributeError):
        return None


def env_file_name(spec: Spec) -> str:
    value = stack_value(spec, "env_file")
    return value if isinstance(value, str) and value else ".env"


def env_example_name(spec: Spec) -> str:
    value = stack_value(spec, "env_example")
    return value if isinstance(value, str) and value else ".env.example"


def group_of(spec: Spec, path: JsonPath) -> str | None:
    """The model group a path under model_list[i] belongs to."""
    if len(path) >= 2 and path[0] == "model_list" and isinstance(path[1], int):
        models = spec.model_list
        if 0 <= path[1] < len(models) and isinstance(models[path[1]], dict):
            name = models[path[1]].get("model_name")
            return name if isinstance(name, str) else None
    return None


def describe(spec: Spec, path: JsonPath) -> str:
    """Human name of a place: `'claude-sonnet' litellm_params.api_key` or `general_settings.x`."""
    group = group_of(spec, path)
    if group is not None:
        return f"'{group}' {format_path(path[2:])}".rstrip()
    return format_path(path)


def did_you_mean(word: str, choices: list[str]) -> str | None:
    close = difflib.get_close_matches(word, choices, n=1, cutoff=0.6)
    return close[0] if close else None


def make(
    ctx: CheckContext, severity: Severity, code: str, message: str, path: JsonPath, hint: str
) -> Finding:
    """A finding located at `path` in the merged spec."""
    return Finding(severity, code, message, ctx.spec.locate(path), path, hint)


def join_names(names: list[str], limit: int = 5) -> str:
    """`a, b, c` — long lists end with `and N more` so messages stay one line."""
    unique = list(dict.fromkeys(names))
    shown = ", ".join(unique[:limit])
    return shown + (f" and {len(unique) - limit} more" if len(unique) > limit else "")
