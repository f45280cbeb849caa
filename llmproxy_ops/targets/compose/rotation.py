"""How a key rotation restarts a `compose` environment: replicas one at a time behind nginx
(a surge beside a single one), or a gap where nothing routes around a restarting replica."""

from __future__ import annotations

from llmproxy_ops.render.compose import litellm_names
from llmproxy_ops.spec.model import Spec
from llmproxy_ops.targets.info import RestartPlan

SURGE_GAP = (
    "no gap expected: a second litellm container starts from the new build beside the running "
    "one, is checked on its own, then nginx sends it the new requests while the old one drains"
)
SINGLE_REPLICA_GAP = (
    "a gap is unavoidable: one litellm replica publishes its port itself (no nginx in front), "
    "so clients have no answer while it is recreated (about one start-up; measured); enable "
    "nginx or set stack.compose.litellm.replicas: 2 for clients that pick a port"
)
NO_NGINX_GAP = (
    "each replica is unavailable on its own published port while it is recreated (no nginx in "
    "front to route around it); replicas are replaced one at a time"
)


def plan(spec: Spec) -> RestartPlan:
    cs = spec.stack.compose(spec.name)
    replicas, nginx = tuple(litellm_names(cs)), cs.nginx.enabled
    gap, note = _gap(len(replicas), nginx)
    return RestartPlan(replicas, nginx, tuple(_restart_steps(spec, replicas, nginx)), gap, note)


def done_text(replicas: tuple[str, ...]) -> str:
    if len(replicas) == 1:
        return "a new container started beside the old one, which drained behind nginx"
    return "replicas drained and replaced one at a time behind nginx"


def _gap(replicas: int, nginx: bool) -> tuple[bool, str]:
    if replicas == 1:
        return (False, SURGE_GAP) if nginx else (True, SINGLE_REPLICA_GAP)
    if not nginx:
        return True, NO_NGINX_GAP
    return False, (
        f"no gap expected: {replicas} replicas are replaced one at a time and nginx "
        f"keeps {replicas - 1} healthy upstream(s) throughout"
    )


def _restart_steps(spec: Spec, replicas: tuple[str, ...], nginx: bool) -> list[str]:
    if nginx and len(replicas) == 1:
        name = replicas[0]
        return [
            f"start a second {name} container from the new build (docker compose up -d "
            f"--no-deps --no-recreate --scale {name}=2 --wait) and check it on its own",
            f"rewrite nginx's upstream (old container down, new one up), reload, and let the "
            f"old one drain (up to stack.drain_timeout, {spec.stack.drain_timeout:g} s)",
            f"remove the old {name} container; nginx back on its rendered upstream",
        ]
    steps = []
    for name in replicas:
        others = [r for r in replicas if r != name]
        check = f"check {', '.join(others)} healthy, then " if others else ""
        if nginx:
            steps.append(f"{check}mark {name} down in nginx's upstream, reload, and let its "
                         "requests and streams drain")
            check = ""
        steps.append(
            f"{check}recreate {name} (docker compose up -d --no-deps --force-recreate "
            f"--wait {name}) and wait until it is healthy"
        )
        if nginx:
            steps.append(f"put {name} back in nginx's upstream (reload)")
    return steps
