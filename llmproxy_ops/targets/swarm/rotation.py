"""How a key rotation restarts a `swarm` environment: Swarm's own rolling update."""

from __future__ import annotations

from llmproxy_ops.spec.model import Spec
from llmproxy_ops.targets.compose.rotation import done_text as done_text
from llmproxy_ops.targets.info import RestartPlan

SWARM_GAP = (
    "no gap expected: Swarm replaces the litellm tasks one at a time, each new one started and "
    "healthy before an old one stops; a stopping task keeps serving while nginx may still "
    "route to it, then drains"
)


def plan(spec: Spec) -> RestartPlan:
    cs = spec.stack.compose(spec.name)  # one service of N tasks, named as Swarm names them
    replicas = tuple(f"litellm.{i}" for i in range(1, cs.replicas + 1))
    steps = (
        "validate and render a new build; docker stack deploy with new versions of the "
        f"changed secrets: Swarm replaces the {cs.replicas} litellm task(s) one at a time, "
        "start-first, each gated by its health check, rolling back by itself on failure",
        "wait until the replaced tasks drained and exited (up to their stop_grace_period)",
    )
    return RestartPlan(replicas, cs.nginx.enabled, steps, False, SWARM_GAP)
