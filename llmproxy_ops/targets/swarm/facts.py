"""What the `swarm` target is: stack.compose's services as a Docker Swarm stack."""

from __future__ import annotations

from llmproxy_ops.spec.model import Spec
from llmproxy_ops.targets.info import Hooks, RedisWiring, TargetInfo


def serving_processes(spec: Spec) -> int:
    return spec.stack.workers * spec.stack.compose(spec.name).replicas


def litellm_memory(spec: Spec) -> tuple[str, tuple[str, ...]]:
    return (spec.stack.compose(spec.name).litellm.memory,
            ("stack", "compose", "litellm", "memory"))


INFO = TargetInfo(
    name="swarm",
    summary="stack.compose's services deployed as a Docker Swarm stack (several machines)",
    live=True,
    runs_compose_services=True,
    runs_in_this_venv=False,
    has_volumes=True,
    publishes_mlflow=False,  # Swarm publishes nginx's ports only
    starts_fake_provider=False,
    redis=RedisWiring.SERVICE,
    redis_section="compose",
    # A volume is node-local: a login on one node would miss the replicas on the others.
    copilot=None,
    serving_processes=serving_processes,
    decides_redis=None,
    secrets_store="Docker secrets, versioned by content; each service gets only its own",
    backup_access="pg_dump inside the stack's db task",
    key_rotation="docker stack deploy with new versions of the changed secrets: Swarm "
    "replaces the litellm tasks one at a time, start-first, rolling back by itself",
    apply_guarantee="no request dropped: Swarm starts each new task healthy before an old one "
    "stops, and a stopping task drains while nginx may still route to it",
    hooks=Hooks(
        runtime="llmproxy_ops.targets.swarm.runtime:SwarmRuntime",
        rotation="llmproxy_ops.targets.swarm.rotation",
        settings="llmproxy_ops.targets.swarm.settings:swarm_settings",
        render="llmproxy_ops.targets.swarm.render:build_files",
    ),
    litellm_memory=litellm_memory,
)
