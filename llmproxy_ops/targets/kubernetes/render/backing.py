"""The services LiteLLM leans on: Redis (shared limits), Postgres, MLflow."""

from __future__ import annotations

from typing import Any

from llmproxy_ops.targets.kubernetes.render.common import (
    container_security,
    exec_probe,
    http_probe,
    image_pull_policy,
    metadata,
    pod_security,
    resources,
    scratch_volume,
    secret_env,
    selector,
    service,
    tcp_probe,
)
from llmproxy_ops.targets.kubernetes.render.litellm import (
    MLFLOW_HOST,
    MLFLOW_PORT,
    POSTGRES_HOST,
    POSTGRES_PORT,
    REDIS_HOST,
    REDIS_PASSWORD_VAR,
    REDIS_PORT,
)
from llmproxy_ops.targets.kubernetes.settings import KubernetesSettings

INITDB_CONFIG_MAP = "postgres-initdb"
PGDATA_MOUNT = "/var/lib/postgresql/data"


def _pod(ks: KubernetesSettings, containers: list[dict], volumes: list[dict],
         component: str) -> dict[str, Any]:
    return {
        "metadata": {"labels": metadata(component)["labels"]},
        "spec": {"automountServiceAccountToken": False,
                 "securityContext": pod_security(ks.run_as_user),
                 "containers": containers, "volumes": volumes},
    }


def _container(name: str, image: str, port: int, **extra: Any) -> dict[str, Any]:
    return {"name": name, "image": image, "imagePullPolicy": image_pull_policy(),
            "ports": [{"name": "tcp", "containerPort": port}], **extra,
            "securityContext": container_security()}


def redis(ks: KubernetesSettings) -> list[dict[str, Any]]:
    """Counters only (rpm/tpm): no persistence, so an emptyDir and a Deployment are enough."""
    data_volume, data_mount = scratch_volume("data", "/data")
    container = _container(
        REDIS_HOST, ks.redis.image, REDIS_PORT,
        env=[secret_env(REDIS_PASSWORD_VAR)],
        # $(VAR) is expanded by the kubelet from the env above; the pod spec keeps the name.
        args=["redis-server", "--requirepass", f"$({REDIS_PASSWORD_VAR})", "--save", "",
              "--appendonly", "no"],
        resources=resources(ks.redis),
        livenessProbe=tcp_probe(REDIS_PORT),
        readinessProbe=tcp_probe(REDIS_PORT),
        volumeMounts=[data_mount],
    )
    deployment = {
        "apiVersion": "apps/v1", "kind": "Deployment", "metadata": metadata(REDIS_HOST),
        "spec": {"replicas": 1, "selector": {"matchLabels": selector(REDIS_HOST)},
                 "template": _pod(ks, [container], [data_volume], REDIS_HOST)},
    }
    return [deployment, service(REDIS_HOST, REDIS_PORT)]


def postgres(ks: KubernetesSettings) -> list[dict[str, Any]]:
    run_volume, run_mount = scratch_volume("run", "/var/run/postgresql")  # its socket
    tmp_volume, tmp_mount = scratch_volume("tmp", "/tmp")
    ready = ["pg_isready", "-h", "127.0.0.1", "-p", str(POSTGRES_PORT), "-U", ks.db_user]
    container = _container(
        POSTGRES_HOST, ks.db.image, POSTGRES_PORT,
        env=[secret_env("POSTGRES_PASSWORD"),
             {"name": "POSTGRES_USER", "value": ks.db_user},
             # A subfolder: the volume's root may hold lost+found, which initdb refuses.
             {"name": "PGDATA", "value": f"{PGDATA_MOUNT}/pgdata"}],
        resources=resources(ks.db),
        livenessProbe=exec_probe(ready),
        readinessProbe=exec_probe(ready),
        volumeMounts=[{"name": "data", "mountPath": PGDATA_MOUNT},
                      {"name": "initdb", "mountPath": "/docker-entrypoint-initdb.d",
                       "readOnly": True},
                      run_mount, tmp_mount],
    )
    claim: dict[str, Any] = {
        "metadata": {"name": "data"},
        "spec": {"accessModes": ["ReadWriteOnce"],
                 "resources": {"requests": {"storage": ks.db_storage}}},
    }
    if ks.storage_class:
        claim["spec"]["storageClassName"] = ks.storage_class
    volumes = [{"name": "initdb", "configMap": {"name": INITDB_CONFIG_MAP}}, run_volume, tmp_volume]
    statefulset = {
        "apiVersion": "apps/v1", "kind": "StatefulSet", "metadata": metadata(POSTGRES_HOST),
        "spec": {"serviceName": POSTGRES_HOST, "replicas": 1,
                 "selector": {"matchLabels": selector(POSTGRES_HOST)},
                 "template": _pod(ks, [container], volumes, POSTGRES_HOST),
                 "volumeClaimTemplates": [claim]},
    }
    return [statefulset, service(POSTGRES_HOST, POSTGRES_PORT, headless=True)]


def mlflow(ks: KubernetesSettings) -> list[dict[str, Any]]:
    tmp_volume, tmp_mount = scratch_volume("tmp", "/tmp")
    if ks.db_external:
        env = [secret_env("MLFLOW_BACKEND_STORE_URI")]
    else:
        # psycopg2 explicitly, as in the compose stack; the password stays a $(VAR) reference.
        uri = (f"postgresql+psycopg2://{ks.db_user}:$(POSTGRES_PASSWORD)@{POSTGRES_HOST}:"
               f"{POSTGRES_PORT}/mlflow")
        env = [secret_env("POSTGRES_PASSWORD"),
               {"name": "MLFLOW_BACKEND_STORE_URI", "value": uri}]
    env += [{"name": "HOME", "value": "/tmp"},
            # MLflow 3's job runner starts ~7 extra workers: OOM at 2g in the compose stack.
            {"name": "MLFLOW_SERVER_ENABLE_JOB_EXECUTION", "value": "false"}]
    container = _container(
        MLFLOW_HOST, ks.mlflow.image, MLFLOW_PORT,
        command=["mlflow", "server"],
        args=["--host", "0.0.0.0", "--port", str(MLFLOW_PORT), "--serve-artifacts",
              "--artifacts-destination", "/mlflow/artifacts",
              # MLflow 3 rejects unknown Host headers; LiteLLM calls it as mlflow:5000.
              "--allowed-hosts",
              f"{MLFLOW_HOST}:{MLFLOW_PORT},{MLFLOW_HOST},localhost:*,127.0.0.1:*"],
        env=env,
        resources=resources(ks.mlflow),
        startupProbe=http_probe("/health", MLFLOW_PORT, period=5, failures=24),
        livenessProbe=http_probe("/health", MLFLOW_PORT),
        readinessProbe=http_probe("/health", MLFLOW_PORT),
        volumeMounts=[{"name": "artifacts", "mountPath": "/mlflow/artifacts"}, tmp_mount],
    )
    claim: dict[str, Any] = {
        "apiVersion": "v1", "kind": "PersistentVolumeClaim",
        "metadata": metadata("mlflow-artifacts", MLFLOW_HOST),
        "spec": {"accessModes": ["ReadWriteOnce"],
                 "resources": {"requests": {"storage": ks.mlflow_storage}}},
    }
    if ks.storage_class:
        claim["spec"]["storageClassName"] = ks.storage_class
    volumes = [{"name": "artifacts", "persistentVolumeClaim": {"claimName": "mlflow-artifacts"}},
               tmp_volume]
    deployment = {
        "apiVersion": "apps/v1", "kind": "Deployment", "metadata": metadata(MLFLOW_HOST),
        # Recreate: a ReadWriteOnce volume cannot be attached to the old and new pod at once.
        "spec": {"replicas": 1, "strategy": {"type": "Recreate"},
                 "selector": {"matchLabels": selector(MLFLOW_HOST)},
                 "template": _pod(ks, [container], volumes, MLFLOW_HOST)},
    }
    return [deployment, service(MLFLOW_HOST, MLFLOW_PORT), claim]
