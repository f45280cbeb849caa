"""Typed view of `stack.kubernetes`, with defaults shared with `stack.compose`.

Images and resource limits come from the same table the compose runtime uses
(targets/compose/settings.py: DEFAULT_IMAGES and its service defaults), so the two runtimes of one
environment run the same pinned images unless a layer says otherwise.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from llmproxy_ops.targets.compose.settings import (
    NginxSettings,
    Service,
    nginx_settings_kwargs,
    service_settings,
)


@dataclass(frozen=True)
class IngressSettings:
    enabled: bool
    class_name: str
    controller_namespace: str  # where ingress-nginx runs: the only source LiteLLM admits
    tls_secret: str
    nginx: NginxSettings  # body size, rate, allowlist, basic auth: the same knobs as nginx.conf


@dataclass(frozen=True)
class MonitoringSettings:
    """Where prometheus-operator's Prometheus runs and the labels it selects rules and
    monitors by (with stack.metrics: a ServiceMonitor, a PrometheusRule, a NetworkPolicy rule)."""

    namespace: str
    labels: dict[str, str]


@dataclass(frozen=True)
class KubernetesSettings:
    namespace: str
    litellm: Service
    db: Service
    mlflow: Service
    redis: Service
    ingress: IngressSettings
    monitoring: MonitoringSettings
    replicas: int
    max_replicas: int
    target_cpu_percent: int
    drain_seconds: int
    run_as_user: int
    storage_class: str | None
    use_db: bool
    db_user: str
    db_external: bool
    db_storage: str
    mlflow_storage: str

    @property
    def runs_postgres(self) -> bool:
        """A Postgres StatefulSet is rendered (not an external server, and someone needs it)."""
        return self.db.enabled and not self.db_external and (self.use_db or self.mlflow.enabled)

    @property
    def needs_redis(self) -> bool:
        """More than one pod may serve (replicas or the autoscaler): limits must be shared."""
        return self.redis.enabled or self.max_replicas > 1


def default_namespace(env_name: str) -> str:
    """llmproxy-<env> as a DNS label (an environment given as a file may be named x.yaml)."""
    return re.sub(r"[^a-z0-9-]+", "-", f"llmproxy-{env_name}".lower()).strip("-")[:63].rstrip("-")


def kubernetes_settings(raw: dict[str, Any], env_name: str) -> KubernetesSettings:
    """Defaults applied to a validated `stack.kubernetes` mapping."""
    litellm_raw, db_raw = raw.get("litellm") or {}, raw.get("db") or {}
    mlflow_raw, ingress_raw = raw.get("mlflow") or {}, raw.get("ingress") or {}
    monitoring_raw = raw.get("monitoring") or {}
    replicas = int(raw.get("replicas", 2))
    return KubernetesSettings(
        namespace=str(raw.get("namespace", default_namespace(env_name))),
        litellm=service_settings("litellm", litellm_raw),
        db=service_settings("db", db_raw),
        mlflow=service_settings("mlflow", mlflow_raw),
        redis=service_settings("redis", raw.get("redis") or {}),
        ingress=IngressSettings(
            enabled=bool(ingress_raw.get("enabled", True)),
            class_name=str(ingress_raw.get("class_name", "nginx")),
            controller_namespace=str(ingress_raw.get("controller_namespace", "ingress-nginx")),
            tls_secret=str(ingress_raw.get("tls_secret", "litellm-tls")),
            nginx=NginxSettings(**nginx_settings_kwargs(ingress_raw)),
        ),
        monitoring=MonitoringSettings(
            namespace=str(monitoring_raw.get("namespace", "monitoring")),
            labels={str(k): str(v) for k, v in (monitoring_raw.get("labels") or {}).items()},
        ),
        replicas=replicas,
        max_replicas=max(replicas, int(raw.get("max_replicas", 2 * replicas))),
        target_cpu_percent=int(raw.get("target_cpu_percent", 70)),
        drain_seconds=int(raw.get("drain_seconds", 15)),
        run_as_user=int(raw.get("run_as_user", 10001)),
        storage_class=raw.get("storage_class"),
        use_db=bool(litellm_raw.get("use_db", False)),
        db_user=str(db_raw.get("user", "llmproxy")),
        db_external=bool(db_raw.get("external", False)),
        db_storage=str(db_raw.get("storage", "10Gi")),
        mlflow_storage=str(mlflow_raw.get("storage", "10Gi")),
    )
