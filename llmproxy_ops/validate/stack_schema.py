"""JSON Schema of our own `stack:` section (LiteLLM never sees it; the renderer does)."""

from __future__ import annotations

from typing import Any

from llmproxy_ops.targets.registry import TARGETS

_PATH = {"type": "string", "minLength": 1}
_SIZE = {
    "type": "string",
    "pattern": "^[0-9]+(\\.[0-9]+)?[kmgKMG]?$",
}  # docker/nginx sizes: 512m, 4g
_CPUS = {"type": ["number", "string"], "pattern": "^[0-9]+(\\.[0-9]+)?$", "exclusiveMinimum": 0}
_IMAGE = {"type": "string", "pattern": "^[a-z0-9][a-z0-9._/:@-]*$"}
_CIDR = {"type": "string", "pattern": "^[0-9a-fA-F.:]+(/[0-9]{1,3})?$"}


_RUN_AS = {
    "type": "string",
    "pattern": "^([a-z_][a-z0-9_-]*|[0-9]+)(:([a-z_][a-z0-9_-]*|[0-9]+))?$",
    "description": "the user the service runs as (compose's `user:`; default: unprivileged "
    "for all but nginx, see targets/compose/settings.py)",
}


def _service(extra: dict[str, Any] | None = None) -> dict[str, Any]:
    """A compose service's common knobs: on/off, image, resource limits and reservations."""
    return {
        "type": "object",
        "additionalProperties": False,
        "properties": {
            "enabled": {"type": "boolean"},
            "image": _IMAGE,
            "cpus": _CPUS,
            "memory": _SIZE,
            "cpus_reserved": _CPUS,
            "memory_reserved": _SIZE,
            **(extra or {}),
        },
    }


COMPOSE_SCHEMA: dict[str, Any] = {
    "type": "object",
    "description": "the compose runtime's services (used when runtime: compose)",
    "additionalProperties": False,
    "properties": {
        "project": {"type": "string", "pattern": "^[a-z0-9][a-z0-9_-]*$"},
        "litellm": _service(
            {
                "run_as": _RUN_AS,
                "replicas": {"type": "integer", "minimum": 1, "maximum": 16},
                "use_db": {
                    "type": "boolean",
                    "description": "LiteLLM uses Postgres (virtual keys, spend logs, UI); needs "
                    "an image with Prisma's engines (the official one) and LITELLM_SALT_KEY",
                },
            }
        ),
        "db": _service(
            {
                "run_as": _RUN_AS,
                "user": {"type": "string", "pattern": "^[a-z_][a-z0-9_]*$"},
                "publish": {
                    "oneOf": [
                        {"const": False},
                        {"type": "string", "pattern": "^127\\.0\\.0\\.1:[0-9]+$"},
                    ]
                },
            }
        ),
        "mlflow": _service({"run_as": _RUN_AS, "port": {
            "type": "integer", "minimum": 1, "maximum": 65535,
            "description": "publish MLflow on 127.0.0.1:PORT (default: not published; MLflow has "
            "no authentication, so every local user could read the traces)",
        }}),
        "redis": _service({"run_as": _RUN_AS}),
        "fake_provider": _service({"run_as": _RUN_AS}),
        "prometheus": _service({"run_as": _RUN_AS, "retention": {
            "type": "string", "pattern": "^[0-9]+(h|d|w|y)$",
            "description": "how long Prometheus keeps samples (default 15d)",
        }}),
        "nginx": _service(
            {
                "run_as": _RUN_AS,
                "server_name": {"type": "string", "minLength": 1},
                "bind": {"type": "string", "minLength": 1},
                "https_port": {"type": "integer", "minimum": 1, "maximum": 65535},
                "http_port": {"type": "integer", "minimum": 1, "maximum": 65535},
                "certs_dir": _PATH,
                "rate": {"type": "string", "pattern": "^[0-9]+r/[sm]$"},
                "burst": {"type": "integer", "minimum": 0},
                "client_max_body_size": _SIZE,
                "allow": {"type": "array", "items": _CIDR},
                "basic_auth": {"type": "boolean"},
                "hsts_max_age": {"type": "integer", "minimum": 0},
                "api_only": {
                    "type": "boolean",
                    "description": "pass only the API paths clients use (chat/completions, "
                    "messages, embeddings, models, responses...); the admin UI, /openapi.json "
                    "and management routes get 404 (default: on in production; SECURITY.md "
                    "says how to reach the UI)",
                },
            }
        ),
    },
}

_DNS_LABEL = {"type": "string", "pattern": "^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$"}
_QUANTITY = {"type": "string", "pattern": "^[0-9]+(Mi|Gi|Ti)$"}  # PVC sizes: 10Gi
_LABEL_KEY = r"^([a-z0-9.-]+/)?[A-Za-z0-9]([-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?$"  # Kubernetes

KUBERNETES_SCHEMA: dict[str, Any] = {
    "type": "object",
    "description": "the kubernetes runtime's objects (used when runtime: kubernetes); images "
    "and resources take the same defaults as stack.compose",
    "additionalProperties": False,
    "properties": {
        "namespace": _DNS_LABEL,
        "replicas": {"type": "integer", "minimum": 1, "maximum": 64},
        "max_replicas": {
            "type": "integer", "minimum": 1, "maximum": 256,
            "description": "HorizontalPodAutoscaler ceiling (default: 2 x replicas)",
        },
        "target_cpu_percent": {"type": "integer", "minimum": 10, "maximum": 100},
        "drain_seconds": {
            "type": "integer", "minimum": 1, "maximum": 300,
            "description": "preStop sleep: the ingress stops sending before SIGTERM",
        },
        "run_as_user": {"type": "integer", "minimum": 10000},
        "storage_class": _DNS_LABEL,
        "litellm": _service(
            {"use_db": COMPOSE_SCHEMA["properties"]["litellm"]["properties"]["use_db"]}
        ),
        "db": _service(
            {
                "user": {"type": "string", "pattern": "^[a-z_][a-z0-9_]*$"},
                "external": {
                    "type": "boolean",
                    "description": "no StatefulSet: DATABASE_URL / MLFLOW_BACKEND_STORE_URI "
                    "come from the Secret",
                },
                "storage": _QUANTITY,
            }
        ),
        "mlflow": _service({"storage": _QUANTITY}),
        "redis": _service(),
        "ingress": {
            "type": "object",
            "additionalProperties": False,
            "properties": {
                "enabled": {"type": "boolean"},
                "class_name": _DNS_LABEL,
                "controller_namespace": _DNS_LABEL,
                "tls_secret": _DNS_LABEL,
                **{k: v for k, v in COMPOSE_SCHEMA["properties"]["nginx"]["properties"].items()
                   if k in ("server_name", "rate", "burst", "client_max_body_size", "allow",
                            "basic_auth", "api_only")},
            },
        },
        "monitoring": {
            "type": "object",
            "additionalProperties": False,
            "description": "with stack.metrics: prometheus-operator's ServiceMonitor and "
            "PrometheusRule, and the NetworkPolicy rule that lets Prometheus scrape",
            "properties": {
                "namespace": {**_DNS_LABEL, "description": "where Prometheus runs (default "
                              "monitoring): its pods alone may reach LiteLLM's port to scrape"},
                "labels": {
                    "type": "object",
                    "description": "labels your Prometheus selects ServiceMonitors and rules "
                    "by (e.g. release: kube-prometheus-stack)",
                    "propertyNames": {"pattern": _LABEL_KEY},
                    "additionalProperties": {"type": "string", "maxLength": 63},
                },
            },
        },
    },
}

SWARM_SCHEMA: dict[str, Any] = {
    "type": "object",
    "description": "what Docker Swarm adds to stack.compose's services (used when runtime: "
    "swarm)",
    "additionalProperties": False,
    "properties": {
        "stack": {"type": "string", "pattern": "^[a-z0-9][a-z0-9_-]*$", "maxLength": 30,
                  "description": "docker stack name (default llmproxy-<env>)"},
        "endpoint_mode": {
            "enum": ["dnsrr", "vip"],
            "description": "how LiteLLM's service name resolves: dnsrr (default: one address "
            "per task, nginx balances; needs no IPVS) or vip (one virtual IP; needs IPVS)",
        },
        "monitor_s": {"type": "integer", "minimum": 1, "maximum": 600,
                      "description": "seconds a new LiteLLM task must stay healthy before "
                      "the update moves on (else it rolls back)"},
        "data_label": {"type": "string", "pattern": "^[A-Za-z0-9][A-Za-z0-9._-]*$",
                       "description": "node label (value true) that places Postgres, MLflow, "
                       "Redis and nginx"},
        "encrypted": {"type": "boolean",
                      "description": "encrypt the overlay network between nodes (IPsec ESP; "
                      "default true). Every node's kernel needs ESP and AES-GCM (esp4, gcm "
                      "modules); set false where it lacks them (traffic between nodes fails)"},
    },
}

BACKUP_SCHEMA: dict[str, Any] = {
    "type": "object",
    "description": "llmproxy-ops backup create|verify|restore|prune settings",
    "additionalProperties": False,
    "properties": {
        "dir": {**_PATH, "description": "where backups are written (one folder per backup)"},
        "key_file": {**_PATH, "description": "the key that authenticates backups (default "
                     "<run_dir>/backup.key, made by the first backup; never share it)"},
        "keep": {"type": "integer", "minimum": 1, "description": "prune keeps this many"},
        "max_age_days": {"type": "integer", "minimum": 1, "description": "prune drops older ones"},
        "databases": {
            "type": "array",
            "items": {"type": "string", "pattern": "^[a-z_][a-z0-9_]*$", "maxLength": 31},
            "description": "databases to dump (default: mlflow, plus litellm when it uses the DB)",
        },
        "server_url_env": {
            "type": "string",
            "pattern": "^[A-Za-z_][A-Za-z0-9_]*$",
            "description": "local runtime: variable holding the PostgreSQL server URL to dump",
        },
    },
}

LOCAL_SCHEMA: dict[str, Any] = {
    "type": "object",
    "description": "the local runtime's companions (used when runtime: local)",
    "additionalProperties": False,
    "properties": {
        "fake_provider": {
            "type": "boolean",
            "description": "start llmproxy-ops' fake provider beside the proxy, on a free "
            "loopback port; LiteLLM reads its URL from FAKE_PROVIDER_URL, "
            "FAKE_PROVIDER_OPENAI_BASE and FAKE_PROVIDER_GEMINI_BASE",
        },
        "redis": {
            "type": "object",
            "description": "a redis-server started and stopped with the proxy so that its "
            "workers share rate-limit counters (default: when workers > 1 and limits are "
            "enforced)",
            "additionalProperties": False,
            "properties": {
                "enabled": {"type": "boolean",
                            "description": "force it on or off (off: each worker counts "
                            "on its own)"},
                "port": {"type": "integer", "minimum": 1, "maximum": 65535,
                         "description": "its 127.0.0.1 port (default: a free one at start)"},
            },
        },
    },
}

STACK_SCHEMA: dict[str, Any] = {
    "type": "object",
    "description": "llmproxy-ops deployment settings; stripped from the rendered config.yaml",
    "additionalProperties": False,
    "properties": {
        "runtime": {
            "enum": list(TARGETS),
            "description": "where the proxy runs (swarm: stack.compose's services as a Docker "
            "stack; kubernetes: rendered for `kubectl apply -k`)",
        },
        "host": {"type": "string", "minLength": 1, "description": "address the proxy binds"},
        "port": {"type": "integer", "minimum": 1, "maximum": 65535},
        "env_file": {**_PATH, "description": "secret store: values for os.environ/ references"},
        "env_example": {**_PATH, "description": "documents every variable name the configs use"},
        "workers": {
            "oneOf": [{"type": "integer", "minimum": 1, "maximum": 64}, {"const": "auto"}],
            "description": "worker processes; 'auto' = CPUs available to the process",
        },
        "workers_max_rss": {
            "type": ["integer", "null"],
            "description": "memory guard, MiB per uvicorn worker (null: off): a worker past it "
            "is replaced by a fresh one on the same socket, then drained; nothing is dropped "
            "(checked: at least 128, below the container memory limit; docs/performance.md)",
        },
        "server": {"enum": ["uvicorn", "gunicorn", "granian"]},
        "startup_timeout": {"type": "number", "exclusiveMinimum": 0},
        "drain_timeout": {
            "type": "number",
            "exclusiveMinimum": 0,
            "description": "seconds a retiring proxy gets to finish in-flight requests (apply)",
        },
        "run_dir": {**_PATH, "description": "pid and log files of the local runtime"},
        "metrics": {
            "type": "boolean",
            "description": "Prometheus metrics: LiteLLM's prometheus callback with a shared "
            "PROMETHEUS_MULTIPROC_DIR per proxy, so /metrics counts every worker once (needs "
            "the master key; never served through nginx; docs/metrics.md)",
        },
        "production": {
            "type": "boolean",
            "description": "a production environment: nginx/the Ingress pass only the client "
            "API paths by default, a readable env file is an error (default: true when the "
            "environment is named prod or production, e.g. prod-eu)",
        },
        "build_dir": {**_PATH, "description": "rendered output: <build_dir>/<env>/"},
        "environment": {
            "type": "object",
            "description": "non-secret runtime variables (e.g. LITELLM_LOG); never secrets",
            "propertyNames": {"pattern": "^[A-Za-z_][A-Za-z0-9_]*$"},
            "additionalProperties": {"type": ["string", "number", "boolean"]},
        },
        "compose": COMPOSE_SCHEMA,
        "kubernetes": KUBERNETES_SCHEMA,
        "swarm": SWARM_SCHEMA,
        "backup": BACKUP_SCHEMA,
        "local": LOCAL_SCHEMA,
    },
}
