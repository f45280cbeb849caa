"""What the `kubernetes` target is: manifests rendered and proven offline; the cluster runs
them, not this tool."""

from __future__ import annotations

from llmproxy_ops.spec.model import Spec
from llmproxy_ops.targets.info import Hooks, RedisWiring, TargetInfo


def serving_processes(spec: Spec) -> int:
    return spec.stack.workers * spec.stack.kubernetes(spec.name).max_replicas


def decides_redis(spec: Spec) -> bool:
    return spec.stack.kubernetes(spec.name).needs_redis


def litellm_memory(spec: Spec) -> tuple[str, tuple[str, ...]]:
    return (spec.stack.kubernetes(spec.name).litellm.memory,
            ("stack", "kubernetes", "litellm", "memory"))


INFO = TargetInfo(
    name="kubernetes",
    summary="Kubernetes manifests (kustomize), rendered and checked offline",
    live=False,
    runs_compose_services=False,
    runs_in_this_venv=False,
    has_volumes=False,
    publishes_mlflow=False,
    starts_fake_provider=False,
    redis=RedisWiring.CLUSTER,
    redis_section=None,
    # This tool writes no Secret for a Copilot login.
    copilot=None,
    serving_processes=serving_processes,
    decides_redis=decides_redis,
    secrets_store="a Secret in the cluster (build/<env>/secrets.env.example lists its keys)",
    backup_access="the cluster's (this tool does not reach into it)",
    key_rotation="the cluster's: update the Secret and roll the Deployment (kubectl)",
    apply_guarantee="none here: `kubectl apply -k` and the Deployment's rolling update do it",
    hooks=Hooks(
        runtime="llmproxy_ops.targets.kubernetes.runtime:kubernetes_runtime",
        rotation="llmproxy_ops.targets.local.rotation",
        settings="llmproxy_ops.targets.kubernetes.settings:kubernetes_settings",
        render="llmproxy_ops.targets.kubernetes.render:build_files",
        checks="llmproxy_ops.targets.kubernetes.checks:CHECKS",
    ),
    litellm_memory=litellm_memory,
)
