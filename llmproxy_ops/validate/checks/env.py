"""env-missing / env-undocumented: every `os.environ/VAR` the LiteLLM config reads."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any

from llmproxy_ops.findings import Finding, JsonPath, Severity, format_path
from llmproxy_ops.spec.model import Spec
from llmproxy_ops.validate.checks._common import (
    env_example_name,
    env_file_name,
    group_of,
    join_names,
    litellm_sections,
    make,
)
from llmproxy_ops.validate.context import CheckContext
from llmproxy_ops.validate.secrets import env_ref_name


@dataclass
class EnvRef:
    """One variable and every place that reads it, in document order."""

    name: str
    paths: list[JsonPath] = field(default_factory=list)

    def users(self, spec: Spec) -> list[str]:
        """Model groups that need it, or the setting's path outside model_list."""
        return [group_of(spec, p) or format_path(p) for p in self.paths]


def _walk(value: Any, path: JsonPath) -> Iterator[tuple[str, JsonPath]]:
    # Mirrors LiteLLM's _check_for_os_environ_vars: strings are resolved as mapping values
    # and mappings inside lists are walked, but a bare string inside a list is left as is.
    if isinstance(value, dict):
        for key, child in value.items():
            name = env_ref_name(child)
            if name is not None:
                yield name, (*path, key)
            else:
                yield from _walk(child, (*path, key))
    elif isinstance(value, list):
        for i, item in enumerate(value):
            if isinstance(item, dict):
                yield from _walk(item, (*path, i))


def env_refs(spec: Spec) -> list[EnvRef]:
    """Every referenced variable once, in order of first reference."""
    refs: dict[str, EnvRef] = {}
    for key, value in litellm_sections(spec):
        for name, path in _walk({key: value}, ()):
            refs.setdefault(name, EnvRef(name)).paths.append(path)
    return list(refs.values())


def check_env_missing(ctx: CheckContext) -> Iterable[Finding]:
    if ctx.env is None:
        return
    env_file = env_file_name(ctx.spec)
    for ref in ctx.memo(env_refs):
        value = ctx.env.get(ref.name)
        if value:
            continue
        state = "is empty" if value == "" else "is not set"
        yield make(
            ctx,
            Severity.ERROR,
            "env-missing",
            f"{ref.name} {state} (needed by {join_names(ref.users(ctx.spec))})",
            ref.paths[0],
            f"add {ref.name}=... to {env_file} (or export it)",
        )


def check_env_undocumented(ctx: CheckContext) -> Iterable[Finding]:
    if ctx.env_example is None:
        return
    example = env_example_name(ctx.spec)
    for ref in ctx.memo(env_refs):
        if ref.name in ctx.env_example:
            continue
        yield make(
            ctx,
            Severity.ERROR,
            "env-undocumented",
            f"{ref.name} is not listed in {example} (needed by {join_names(ref.users(ctx.spec))})",
            ref.paths[0],
            f"add a line '{ref.name}=' to {example} (names only, never values)",
        )
