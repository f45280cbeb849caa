"""Pieces every rendered Kubernetes object shares: labels, hardening, resources, probes."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from llmproxy_ops.errors import RenderError
from llmproxy_ops.targets.compose.settings import Service

PART_OF = "llmproxy-ops"
SECRET_NAME = "llmproxy-secrets"  # created by the operator; see secrets.env.example
_BINARY = {"": 0, "k": 1, "m": 2, "g": 3}  # docker sizes are binary: 512m = 512 MiB


def labels(component: str) -> dict[str, str]:
    return {"app.kubernetes.io/name": component, "app.kubernetes.io/part-of": PART_OF}


def selector(component: str) -> dict[str, str]:
    return {"app.kubernetes.io/name": component}


def metadata(name: str, component: str | None = None) -> dict[str, Any]:
    return {"name": name, "labels": labels(component or name)}


def cpu_quantity(cpus: str) -> str:
    """Docker's `cpus: 1.5` as a Kubernetes quantity: whole cores as is, else millicores."""
    milli = Decimal(str(cpus)) * 1000
    if milli != milli.to_integral_value() or milli <= 0:
        raise RenderError(f"cpus {cpus!r} cannot be expressed in millicores")
    return str(int(milli) // 1000) if milli % 1000 == 0 else f"{int(milli)}m"


def memory_quantity(size: str) -> str:
    """Docker's binary sizes (512m, 4g, 1.5g) as Kubernetes quantities (512Mi, 4Gi, 1536Mi).

    Copying `512m` over would mean 0.512 bytes to Kubernetes (m is milli there).
    """
    text = str(size).lower()
    unit = text[-1] if text[-1] in _BINARY else ""
    number = Decimal(text[: len(text) - len(unit)])
    power = _BINARY[unit]
    while power > 0 and number != number.to_integral_value():
        number, power = number * 1024, power - 1
    if number != number.to_integral_value():
        raise RenderError(f"memory {size!r} is not a whole number of bytes")
    return f"{int(number)}{['', 'Ki', 'Mi', 'Gi'][power]}"


def resources(service: Service) -> dict[str, Any]:
    return {
        "requests": {"cpu": cpu_quantity(service.cpus_reserved),
                     "memory": memory_quantity(service.memory_reserved)},
        "limits": {"cpu": cpu_quantity(service.cpus), "memory": memory_quantity(service.memory)},
    }


def pod_security(uid: int) -> dict[str, Any]:
    """Non-root with a fixed uid: the images' own users differ, and runAsNonRoot needs a number."""
    return {
        "runAsNonRoot": True,
        "runAsUser": uid,
        "runAsGroup": uid,
        "fsGroup": uid,  # volumes (Postgres data, MLflow artifacts) become writable by it
        "seccompProfile": {"type": "RuntimeDefault"},
    }


def container_security() -> dict[str, Any]:
    return {
        "allowPrivilegeEscalation": False,
        "privileged": False,
        "readOnlyRootFilesystem": True,
        "runAsNonRoot": True,
        "capabilities": {"drop": ["ALL"]},
        "seccompProfile": {"type": "RuntimeDefault"},
    }


def http_probe(path: str, port: int, *, period: int = 10, failures: int = 3) -> dict[str, Any]:
    return {"httpGet": {"path": path, "port": port}, "periodSeconds": period,
            "timeoutSeconds": 5, "failureThreshold": failures}


def tcp_probe(port: int) -> dict[str, Any]:
    return {"tcpSocket": {"port": port}, "periodSeconds": 10, "timeoutSeconds": 5,
            "failureThreshold": 3}


def exec_probe(command: list[str]) -> dict[str, Any]:
    return {"exec": {"command": command}, "periodSeconds": 10, "timeoutSeconds": 5,
            "failureThreshold": 3}


def secret_env(name: str, key: str | None = None) -> dict[str, Any]:
    """An env var filled from the operator's Secret: the name is rendered, the value never."""
    return {"name": name, "valueFrom": {"secretKeyRef": {"name": SECRET_NAME, "key": key or name}}}


def scratch_volume(name: str, mount: str,
                   size: str = "256Mi") -> tuple[dict[str, Any], dict[str, Any]]:
    """(volume, mount) of a writable emptyDir under a read-only root filesystem."""
    return {"name": name, "emptyDir": {"sizeLimit": size}}, {"name": name, "mountPath": mount}


def service(name: str, port: int, *, headless: bool = False) -> dict[str, Any]:
    spec: dict[str, Any] = {"selector": selector(name),
                            "ports": [{"name": "tcp", "port": port, "targetPort": port}]}
    if headless:
        spec["clusterIP"] = "None"  # StatefulSet: stable per-pod DNS, no load balancing needed
    return {"apiVersion": "v1", "kind": "Service", "metadata": metadata(name), "spec": spec}


def image_pull_policy() -> str:
    # Tags are pinned, but a tag can be re-pushed: Always re-checks the digest at start.
    return "Always"
