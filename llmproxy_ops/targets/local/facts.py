"""What the `local` target is: LiteLLM as a process on this machine, from this venv."""

from __future__ import annotations

from llmproxy_ops.spec.model import Spec
from llmproxy_ops.targets.info import CopilotStore, Hooks, RedisWiring, TargetInfo


def serving_processes(spec: Spec) -> int:
    return spec.stack.workers


INFO = TargetInfo(
    name="local",
    summary="LiteLLM as a supervised process on this machine, from this venv",
    live=True,
    runs_compose_services=False,
    runs_in_this_venv=True,
    has_volumes=False,
    publishes_mlflow=False,
    starts_fake_provider=True,
    redis=RedisWiring.LOOPBACK,
    redis_section="local",
    copilot=CopilotStore("a folder under the run directory", "folder"),
    serving_processes=serving_processes,
    decides_redis=None,
    secrets_store="the env file, read at start into the process's environment",
    backup_access="pg_dump on this machine against the server stack.backup.server_url_env names",
    key_rotation="a new process starts beside the old one on the same port, is checked on its "
    "own, takes the new connections while the old one drains",
    apply_guarantee="no request dropped: the new build starts beside the running one on the "
    "same port (SO_REUSEPORT) and is smoke-tested before the old one drains",
    hooks=Hooks(
        runtime="llmproxy_ops.targets.local.runtime:LocalEnvRuntime",
        rotation="llmproxy_ops.targets.local.rotation",
    ),
)
