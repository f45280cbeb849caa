"""The LiteLLM Deployment and what keeps it serving: Service, PodDisruptionBudget, autoscaler."""

from __future__ import annotations

import copy
import math
from typing import Any

from llmproxy_ops.render.compose import LITELLM_PORT, SERVER_FLAGS
from llmproxy_ops.render.env_manifest import env_references
from llmproxy_ops.render.launcher import LAUNCHER_FILE, launcher_environment
from llmproxy_ops.render.litellm_config import litellm_config
from llmproxy_ops.spec.model import Spec
from llmproxy_ops.targets.kubernetes.render.common import (
    container_security,
    http_probe,
    image_pull_policy,
    metadata,
    pod_security,
    resources,
    scratch_volume,
    secret_env,
    selector,
    service,
)
from llmproxy_ops.targets.kubernetes.settings import KubernetesSettings

NAME = "litellm"
CONFIG_MAP = "litellm-config"  # kustomize appends the content hash: a change rolls the pods
ENV_CONFIG_MAP = "litellm-env"
CONFIG_DIR = "/etc/litellm"
# LiteLLM copies its admin UI to a writable folder at start; with a read-only root it asks
# for LITELLM_UI_PATH on an emptyDir (proxy_server.py, 1.108.7).
UI_DIR = "/var/lib/litellm/ui"
REDIS_HOST, REDIS_PORT, REDIS_PASSWORD_VAR = "redis", 6379, "REDIS_PASSWORD"
POSTGRES_HOST, POSTGRES_PORT = "postgres", 5432
MLFLOW_HOST, MLFLOW_PORT = "mlflow", 5000
# Beyond the drain and the longest request: the kubelet's SIGKILL must never cut a stream.
GRACE_MARGIN_S = 30
REDIS_KEYS = ("redis_host", "redis_url")


def kubernetes_config(spec: Spec, ks: KubernetesSettings) -> dict[str, Any]:
    """LiteLLM's config for the pods: the same as every runtime's, plus the in-cluster Redis.

    With more than one pod, rpm/tpm counters must be shared or each pod enforces its own
    (validate: rate-limit-per-worker). A router_settings that names a Redis of its own wins.
    """
    config = copy.deepcopy(litellm_config(spec))
    router = config.get("router_settings")
    if not ks.needs_redis or (isinstance(router, dict) and any(k in router for k in REDIS_KEYS)):
        return config
    router = config.setdefault("router_settings", {})
    router.update({"redis_host": REDIS_HOST, "redis_port": REDIS_PORT,
                   "redis_password": f"os.environ/{REDIS_PASSWORD_VAR}"})
    return config


def uses_cluster_redis(config: dict[str, Any]) -> bool:
    router = config.get("router_settings")
    return isinstance(router, dict) and router.get("redis_host") == REDIS_HOST


def litellm_secret_keys(config: dict[str, Any], ks: KubernetesSettings) -> list[str]:
    """The Secret's keys the LiteLLM pods read: its os.environ/ references and its database."""
    keys = {name for name, _ in env_references(config)}
    if ks.use_db:
        keys.add("LITELLM_SALT_KEY")  # encrypts credentials LiteLLM stores in its DB
        keys.add("DATABASE_URL" if ks.db_external else "POSTGRES_PASSWORD")
    return sorted(keys)


def secret_keys(config: dict[str, Any], ks: KubernetesSettings) -> list[str]:
    """Every key the operator's Secret must hold (names only, sorted)."""
    keys = set(litellm_secret_keys(config, ks))
    if ks.runs_postgres:
        keys.add("POSTGRES_PASSWORD")  # the StatefulSet and MLflow's backend URL
    if ks.db_external and ks.mlflow.enabled:
        keys.add("MLFLOW_BACKEND_STORE_URI")
    return sorted(keys)


def grace_seconds(ks: KubernetesSettings, request_timeout: float) -> int:
    return ks.drain_seconds + math.ceil(request_timeout) + GRACE_MARGIN_S


def workers(spec: Spec, ks: KubernetesSettings) -> int:
    """`workers: auto` means one per CPU of the pod's limit, not of the rendering machine."""
    if spec.stack.workers_auto:
        return max(1, math.ceil(float(ks.litellm.cpus)))
    return spec.stack.workers


def deployment(spec: Spec, ks: KubernetesSettings, config: dict[str, Any],
               request_timeout: float) -> dict[str, Any]:
    tmp_volume, tmp_mount = scratch_volume("tmp", "/tmp")
    ui_volume, ui_mount = scratch_volume("ui", UI_DIR)
    pod = {
        "metadata": {"labels": metadata(NAME)["labels"]},
        "spec": {
            "automountServiceAccountToken": False,  # LiteLLM never calls the Kubernetes API
            "securityContext": pod_security(ks.run_as_user),
            "terminationGracePeriodSeconds": grace_seconds(ks, request_timeout),
            "topologySpreadConstraints": [{
                "maxSkew": 1, "topologyKey": "kubernetes.io/hostname",
                "whenUnsatisfiable": "ScheduleAnyway",
                "labelSelector": {"matchLabels": selector(NAME)},
            }],
            "containers": [_container(spec, ks, config, [tmp_mount, ui_mount])],
            "volumes": [{"name": "config", "configMap": {"name": CONFIG_MAP}}, tmp_volume,
                        ui_volume],
        },
    }
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": metadata(NAME),
        "spec": {
            "replicas": ks.replicas,
            "revisionHistoryLimit": 5,
            "selector": {"matchLabels": selector(NAME)},
            # A new pod is ready before an old one goes: capacity never drops during a rollout.
            "strategy": {"type": "RollingUpdate",
                         "rollingUpdate": {"maxUnavailable": 0, "maxSurge": 1}},
            "template": pod,
        },
    }


def _container(spec: Spec, ks: KubernetesSettings, config: dict[str, Any],
               scratch: list[dict[str, Any]]) -> dict[str, Any]:
    args = ["--config", f"{CONFIG_DIR}/config.yaml", "--host", "0.0.0.0",
            "--port", str(LITELLM_PORT), "--num_workers", str(workers(spec, ks)),
            *SERVER_FLAGS.get(spec.stack.server, [])]
    # Prisma migrations on the first start with a database take minutes.
    startup_failures = 60 if ks.use_db else 30
    return {
        "name": NAME,
        "image": ks.litellm.image,
        "imagePullPolicy": image_pull_policy(),
        # LiteLLM's CLI, served through the launcher the ConfigMap carries (render/launcher.py)
        "command": ["python3", f"{CONFIG_DIR}/{LAUNCHER_FILE}"],
        "args": args,
        "ports": [{"name": "http", "containerPort": LITELLM_PORT}],
        "envFrom": [{"configMapRef": {"name": ENV_CONFIG_MAP}}],
        "env": _env(spec, ks, config),
        "resources": resources(ks.litellm),
        "securityContext": container_security(),
        "startupProbe": http_probe("/health/liveliness", LITELLM_PORT, period=5,
                                   failures=startup_failures),
        # Never /health: it calls every model (provider traffic and cost on every probe).
        "livenessProbe": http_probe("/health/liveliness", LITELLM_PORT),
        "readinessProbe": http_probe("/health/readiness", LITELLM_PORT, period=5),
        # The endpoint is removed while the pod sleeps, so the ingress stops sending before
        # SIGTERM; the server then finishes in-flight streams within the grace period.
        "lifecycle": {"preStop": {"sleep": {"seconds": ks.drain_seconds}}},
        "volumeMounts": [{"name": "config", "mountPath": CONFIG_DIR, "readOnly": True},
                         *scratch],
    }


def _env(spec: Spec, ks: KubernetesSettings, config: dict[str, Any]) -> list[dict[str, Any]]:
    # Only what LiteLLM reads: the Postgres password stays out of pods that use no database.
    env = [secret_env(name) for name in litellm_secret_keys(config, ks)]
    # Fixed values after the secrets: $(VAR) expands only variables defined earlier.
    env.append({"name": "HOME", "value": "/tmp"})  # the root filesystem is read-only
    env.append({"name": "LITELLM_UI_PATH", "value": UI_DIR})
    served = launcher_environment(workers(spec, ks), spec.stack.server,
                                  spec.stack.workers_max_rss)
    env += [{"name": name, "value": value} for name, value in served.items()]
    if ks.mlflow.enabled:
        env.append({"name": "MLFLOW_TRACKING_URI", "value": f"http://{MLFLOW_HOST}:{MLFLOW_PORT}"})
    if ks.use_db and not ks.db_external:
        url = f"postgresql://{ks.db_user}:$(POSTGRES_PASSWORD)@{POSTGRES_HOST}:{POSTGRES_PORT}/litellm"
        env.append({"name": "DATABASE_URL", "value": url})
    return env


def litellm_service() -> dict[str, Any]:
    return service(NAME, LITELLM_PORT)


def disruption_budget() -> dict[str, Any]:
    # maxUnavailable, not minAvailable: with one replica minAvailable 1 blocks node drains forever.
    return {"apiVersion": "policy/v1", "kind": "PodDisruptionBudget", "metadata": metadata(NAME),
            "spec": {"maxUnavailable": 1, "selector": {"matchLabels": selector(NAME)}}}


def autoscaler(ks: KubernetesSettings) -> dict[str, Any]:
    return {
        "apiVersion": "autoscaling/v2",
        "kind": "HorizontalPodAutoscaler",
        "metadata": metadata(NAME),
        "spec": {
            "scaleTargetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": NAME},
            "minReplicas": ks.replicas,
            "maxReplicas": ks.max_replicas,
            # LiteLLM is CPU-bound (one worker saturates its core at ~100-160 req/s here).
            "metrics": [{"type": "Resource", "resource": {
                "name": "cpu",
                "target": {"type": "Utilization", "averageUtilization": ks.target_cpu_percent},
            }}],
            # Scaling down drains pods; do it slowly so bursts do not flap.
            "behavior": {"scaleDown": {"stabilizationWindowSeconds": 300}},
        },
    }
