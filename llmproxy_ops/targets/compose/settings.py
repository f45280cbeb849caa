"""Typed view of `stack.compose`: the services of the compose runtime, with defaults."""

from __future__ import annotations

from dataclasses import dataclass, field, fields
from typing import Any

from llmproxy_ops import LITELLM_PIN

# Official images by default (the deployment pins them); `make images-offline` builds
# stand-ins under llmproxy-ops/* for machines without a registry.
DEFAULT_IMAGES = {
    "litellm": f"ghcr.io/berriai/litellm:v{LITELLM_PIN}",
    "db": "postgres:16",
    "mlflow": "llmproxy-ops/mlflow:3.17.2",  # built from compose/images/mlflow (needs psycopg2)
    "nginx": "nginx:1.27",
    "redis": "redis:7",
    "fake_provider": "llmproxy-ops/fake-provider:latest",
    # with stack.metrics: the version Debian bookworm ships (our offline image builds it)
    "prometheus": "prom/prometheus:v2.42.0",
}


# The user each compose service runs as (`run_as`, settings): unprivileged wherever the
# image allows it. litellm, mlflow and the fake provider: uid 10001 (`app` in our images; the
# official LiteLLM image needs no root either); postgres and redis: their own users (both in
# the official images and ours; a named volume created from the image is theirs). nginx:
# root (its master binds 80/443, then its workers switch to the nginx user).
DEFAULT_RUN_AS: dict[str, str | None] = {
    "litellm": "10001:10001",
    "db": "postgres",
    "mlflow": "10001:10001",
    "nginx": None,
    "redis": "redis",
    "fake_provider": "10001:10001",
    "prometheus": None,  # the image's own: nobody in prom/prometheus, prometheus in ours
}


@dataclass(frozen=True)
class Service:
    name: str
    enabled: bool
    image: str
    cpus: str
    memory: str
    cpus_reserved: str
    memory_reserved: str
    run_as: str | None = None  # compose's `user:`; None: the image's own


@dataclass(frozen=True)
class NginxSettings:
    server_name: str = "localhost"
    bind: str = "0.0.0.0"
    https_port: int = 443
    http_port: int = 80
    certs_dir: str = "certs"
    rate: str = "100r/m"   # seed 004: 100 requests/min per client IP
    burst: int = 20
    client_max_body_size: str = "20m"  # images in prompts
    allow: tuple[str, ...] = ()        # empty: every address may connect
    basic_auth: bool = False           # htpasswd at <certs_dir>/.htpasswd
    hsts_max_age: int = 31536000
    # Only the client API paths reach LiteLLM (render/nginx.py API_PATHS); None: on in
    # production (Spec.production), off elsewhere. Resolve with api_only_for().
    api_only: bool | None = None

    def api_only_for(self, production: bool) -> bool:
        return production if self.api_only is None else self.api_only


@dataclass(frozen=True)
class ComposeSettings:
    project: str
    litellm: Service
    db: Service
    mlflow: Service
    redis: Service
    fake_provider: Service
    nginx: Service
    prometheus: Service  # runs with stack.metrics only
    nginx_settings: NginxSettings = field(default_factory=NginxSettings)
    replicas: int = 1
    use_db: bool = False
    db_user: str = "llmproxy"
    db_publish: str | bool = False
    mlflow_port: int | None = None  # published on 127.0.0.1 only when set (no authentication)
    prometheus_retention: str = "15d"  # how long Prometheus keeps samples


# name: (enabled, cpus, memory, cpus_reserved, memory_reserved) — seed 004's limits
_SERVICE_DEFAULTS: dict[str, tuple[bool, str, str, str, str]] = {
    "litellm": (True, "2.0", "4g", "0.5", "1g"),
    "db": (True, "1.0", "2g", "0.25", "256m"),
    "mlflow": (True, "1.0", "2g", "0.25", "512m"),
    "nginx": (True, "0.5", "512m", "0.1", "64m"),
    "redis": (False, "0.5", "512m", "0.1", "64m"),
    "fake_provider": (False, "1.0", "512m", "0.1", "64m"),
    "prometheus": (True, "0.5", "1g", "0.1", "128m"),
}


def service_settings(name: str, raw: dict[str, Any]) -> Service:
    """One service's settings with the defaults above (compose and kubernetes share them)."""
    enabled, cpus, memory, cpus_r, memory_r = _SERVICE_DEFAULTS[name]
    return Service(
        name=name,
        enabled=bool(raw.get("enabled", enabled)),
        image=str(raw.get("image", DEFAULT_IMAGES[name])),
        cpus=str(raw.get("cpus", cpus)),
        memory=str(raw.get("memory", memory)),
        cpus_reserved=str(raw.get("cpus_reserved", cpus_r)),
        memory_reserved=str(raw.get("memory_reserved", memory_r)),
        run_as=str(raw["run_as"]) if raw.get("run_as") else DEFAULT_RUN_AS.get(name),
    )


def nginx_settings_kwargs(raw: dict[str, Any]) -> dict[str, Any]:
    """NginxSettings' fields present in `raw` (compose nginx and kubernetes ingress share them)."""
    known = {f.name for f in fields(NginxSettings)}
    kwargs = {k: v for k, v in raw.items() if k in known}
    if "allow" in kwargs:
        kwargs["allow"] = tuple(kwargs["allow"])
    return kwargs


def compose_settings(raw: dict[str, Any], env_name: str) -> ComposeSettings:
    """Defaults applied to a validated `stack.compose` mapping."""
    nginx_kwargs = nginx_settings_kwargs(raw.get("nginx") or {})
    litellm_raw, db_raw = raw.get("litellm") or {}, raw.get("db") or {}
    return ComposeSettings(
        project=str(raw.get("project", f"llmproxy-{env_name}")).lower(),
        **{n: service_settings(n, raw.get(n) or {}) for n in _SERVICE_DEFAULTS},  # type: ignore[arg-type]
        nginx_settings=NginxSettings(**nginx_kwargs),
        replicas=int(litellm_raw.get("replicas", 1)),
        use_db=bool(litellm_raw.get("use_db", False)),
        db_user=str(db_raw.get("user", "llmproxy")),
        db_publish=db_raw.get("publish", False),
        mlflow_port=_optional_int((raw.get("mlflow") or {}).get("port")),
        prometheus_retention=str((raw.get("prometheus") or {}).get("retention", "15d")),
    )


def _optional_int(value: Any) -> int | None:
    return None if value is None else int(value)
