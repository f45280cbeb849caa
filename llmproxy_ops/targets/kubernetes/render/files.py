"""build/<env>/ as a kustomize folder: `kubectl apply -k build/<env>/` deploys it.

Every object is rendered here from the validated spec; kustomize only adds what it does
natively: the namespace, common labels and ConfigMaps named by their content hash (so a
changed config.yaml rolls the pods). Secrets are referenced by name; their values are
never rendered (secrets.env.example lists the keys to create).
"""

from __future__ import annotations

from typing import Any

import yaml

from llmproxy_ops import __version__
from llmproxy_ops.render.env_manifest import master_key_var
from llmproxy_ops.render.initdb import INITDB_FILE, render_initdb
from llmproxy_ops.render.launcher import launcher_files
from llmproxy_ops.render.litellm_config import render_yaml
from llmproxy_ops.render.litellm_hooks import hook_files
from llmproxy_ops.spec.model import Spec
from llmproxy_ops.targets.kubernetes.render import backing, litellm, monitoring, network
from llmproxy_ops.targets.kubernetes.render.common import PART_OF, SECRET_NAME

KUSTOMIZATION_FILE = "kustomization.yaml"
SECRETS_EXAMPLE_FILE = "secrets.env.example"
CONFIG_FILE = "config.yaml"
RUNTIME_ENV_FILE = "runtime.env"

HEADER = (
    "# Rendered by llmproxy-ops {version} from the spec's stack.kubernetes: do not edit, "
    "re-render.\n# No secret values: pods read them from the Secret '{secret}' (see "
    "secrets.env.example).\n"
)


def kubernetes_files(spec: Spec, *, request_timeout: float) -> dict[str, str]:
    """File name → content for the kustomize folder (config.yaml included: it gains Redis)."""
    ks = spec.stack.kubernetes(spec.name)
    config = litellm.kubernetes_config(spec, ks)
    redis = litellm.uses_cluster_redis(config)
    objects: dict[str, list[dict[str, Any]]] = {
        "namespace.yaml": [{"apiVersion": "v1", "kind": "Namespace",
                            "metadata": {"name": ks.namespace}}],
        "litellm.yaml": [litellm.deployment(spec, ks, config, request_timeout),
                         litellm.litellm_service(), litellm.disruption_budget(),
                         litellm.autoscaler(ks)],
        "network-policy.yaml": network.network_policies(ks, redis=redis,
                                                        metrics=spec.stack.metrics),
    }
    if spec.stack.metrics:
        key_var = master_key_var(spec)
        objects["monitoring.yaml"] = monitoring.monitoring_objects(ks, key_var)
    if redis:
        objects["redis.yaml"] = backing.redis(ks)
    if ks.runs_postgres:
        objects["postgres.yaml"] = backing.postgres(ks)
    if ks.mlflow.enabled:
        objects["mlflow.yaml"] = backing.mlflow(ks)
    if ks.ingress.enabled:
        api_only = ks.ingress.nginx.api_only_for(spec.production)
        objects["ingress.yaml"] = [network.ingress(ks.ingress, request_timeout,
                                                   api_only=api_only)]
    files = {name: _dump(docs) for name, docs in objects.items()}
    files[CONFIG_FILE] = render_yaml(spec, config)
    files.update(launcher_files())  # the pods serve LiteLLM through it (render/launcher.py)
    if ks.runs_postgres:
        files[INITDB_FILE] = render_initdb()
    files[KUSTOMIZATION_FILE] = _kustomization(spec, ks.namespace, sorted(objects),
                                               postgres=ks.runs_postgres, config=config)
    files[SECRETS_EXAMPLE_FILE] = _secrets_example(litellm.secret_keys(config, ks), ks.namespace)
    return files


def _dump(docs: list[dict[str, Any]]) -> str:
    body = yaml.safe_dump_all(docs, sort_keys=False, default_flow_style=False, width=4096)
    return HEADER.format(version=__version__, secret=SECRET_NAME) + body


def _kustomization(spec: Spec, namespace: str, resources: list[str], *,
                   postgres: bool, config: dict[str, Any]) -> str:
    generators: list[dict[str, Any]] = [
        # the shipped callbacks beside config.yaml, where LiteLLM looks for them
        {"name": litellm.CONFIG_MAP,
         "files": [CONFIG_FILE, *sorted({**hook_files(config), **launcher_files()})]},
        {"name": litellm.ENV_CONFIG_MAP, "envs": [RUNTIME_ENV_FILE]},
    ]
    if postgres:
        generators.append({"name": backing.INITDB_CONFIG_MAP, "files": [INITDB_FILE]})
    doc = {
        "apiVersion": "kustomize.config.k8s.io/v1beta1",
        "kind": "Kustomization",
        "namespace": namespace,
        # Not in selectors: selectors are immutable, labels may change between versions.
        "labels": [{"pairs": {"app.kubernetes.io/instance": spec.name,
                              "app.kubernetes.io/managed-by": PART_OF},
                    "includeSelectors": False}],
        "resources": resources,
        "configMapGenerator": generators,
    }
    return _dump([doc])


def _secrets_example(keys: list[str], namespace: str) -> str:
    lines = [
        f"# The keys the Secret '{SECRET_NAME}' must hold; values are never rendered. Fill a copy\n"
        "# outside the repository, then:\n"
        f"#   kubectl -n {namespace} create secret generic {SECRET_NAME} "
        "--from-env-file=secrets.env\n"
    ]
    lines += [f"{key}=\n" for key in keys]
    return "".join(lines)
