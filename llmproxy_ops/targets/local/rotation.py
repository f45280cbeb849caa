"""How a key rotation restarts a `local` environment: apply's rollout, no gap."""

from __future__ import annotations

from llmproxy_ops.spec.model import Spec
from llmproxy_ops.targets.info import RestartPlan

LOCAL_GAP = (
    "no gap expected: the new process starts beside the old one on the same port, is checked "
    "on its own, then takes the new connections while the old one drains"
)


def plan(spec: Spec) -> RestartPlan:
    where = f"{spec.stack.host}:{spec.stack.port}"
    steps = (
        f"validate and render a new build, start it beside the running litellm on {where}, "
        "smoke-test it on its own port, steer new connections to it and drain the old one "
        "(llmproxy-ops apply's rollout)",
    )
    return RestartPlan(("litellm",), False, steps, False, LOCAL_GAP)


def done_text(replicas: tuple[str, ...]) -> str:
    return "the new process started beside the old one, which drained"
