"""Where an environment's Copilot login runs: the venv, or where its target keeps the login
(the target's Copilot `place` hook, e.g. a litellm container for compose)."""

from __future__ import annotations

from llmproxy_ops.errors import UsageError
from llmproxy_ops.ops import copilot
from llmproxy_ops.ops.copilot import LoginPlace
from llmproxy_ops.pipeline import Target, load_target, target_environment
from llmproxy_ops.spec import Spec
from llmproxy_ops.targets.info import load
from llmproxy_ops.targets.registry import target_of


def login_place(target: Target, *, for_login: bool) -> tuple[Spec, LoginPlace]:
    """The place for `target`; refused where no replica would read the login."""
    spec = load_target(target)
    copilot.require_copilot(spec)
    store = target_of(spec).copilot
    if store is None:
        raise UsageError(
            f"environment '{spec.name}' runs on {spec.stack.runtime}, which keeps no Copilot "
            "login: one written here would be read by no replica",
            hint="serve Copilot models from a local or compose environment "
            "(`llmproxy-ops validate config` reports copilot-runtime-unsupported)")
    if store.place is None:  # a folder on this machine: the login runs in this venv
        return spec, copilot.local_place(spec, target_environment(spec, target))
    return spec, load(store.place)(spec, target, for_login=for_login)
