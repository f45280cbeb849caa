"""The checks a target brings for itself (its `checks` hook), run where semantic.py lists
them: a target's own settings are validated by its own package (docs/targets.md)."""

from __future__ import annotations

from collections.abc import Iterable

from llmproxy_ops.findings import Finding
from llmproxy_ops.targets.info import load
from llmproxy_ops.targets.registry import target_of
from llmproxy_ops.validate.checks._common import stack_settings
from llmproxy_ops.validate.context import CheckContext


def check_target(ctx: CheckContext) -> Iterable[Finding]:
    stack = stack_settings(ctx.spec)
    hook = target_of(stack).hooks.checks if stack is not None else None
    if hook is None:
        return
    for check in load(hook):
        yield from check(ctx)
