"""What the `compose` target is: a Docker Compose stack on this machine."""

from __future__ import annotations

from llmproxy_ops.spec.model import Spec
from llmproxy_ops.targets.info import CopilotStore, Hooks, RedisWiring, TargetInfo


def serving_processes(spec: Spec) -> int:
    return spec.stack.workers * spec.stack.compose(spec.name).replicas


def litellm_memory(spec: Spec) -> tuple[str, tuple[str, ...]]:
    return (spec.stack.compose(spec.name).litellm.memory,
            ("stack", "compose", "litellm", "memory"))


INFO = TargetInfo(
    name="compose",
    summary="a Docker Compose stack: litellm replicas, db, mlflow, redis, nginx",
    live=True,
    runs_compose_services=True,
    runs_in_this_venv=False,
    has_volumes=True,
    publishes_mlflow=True,
    starts_fake_provider=False,
    redis=RedisWiring.SERVICE,
    redis_section="compose",
    copilot=CopilotStore("the project's named volume", "volume",
                         place="llmproxy_ops.targets.compose.copilot:login_place"),
    serving_processes=serving_processes,
    decides_redis=None,
    secrets_store="compose secrets, read from the env file into the `docker compose` "
    "process's environment; each service gets only its own, as files in /run/secrets",
    backup_access="pg_dump inside the stack's db service (its local socket, no password)",
    key_rotation="replicas recreated one at a time (or a second container surged beside a "
    "single one) behind nginx, each checked before the next",
    apply_guarantee="no request dropped with nginx in front: replicas are drained and "
    "replaced one at a time; one replica without nginx has an unavoidable gap",
    hooks=Hooks(
        runtime="llmproxy_ops.targets.compose.runtime:ComposeEnvRuntime",
        rotation="llmproxy_ops.targets.compose.rotation",
        settings="llmproxy_ops.targets.compose.settings:compose_settings",
        render="llmproxy_ops.targets.compose.render:build_files",
    ),
    litellm_memory=litellm_memory,
)
