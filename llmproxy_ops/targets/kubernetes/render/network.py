"""Who may talk to whom (NetworkPolicy) and the way in (an Ingress for ingress-nginx).

The Ingress carries the properties the rendered nginx.conf has for the compose stack:
buffering off for streams, read timeouts beyond LiteLLM's request_timeout, TLS only, the
body size limit, the per-client rate limit, the allowlist and basic auth.
"""

from __future__ import annotations

import math
from typing import Any

from llmproxy_ops.render.compose import LITELLM_PORT
from llmproxy_ops.render.nginx import API_PATHS, PROXY_TIMEOUT_MARGIN_S
from llmproxy_ops.targets.kubernetes.render.common import metadata, selector
from llmproxy_ops.targets.kubernetes.render.litellm import (
    MLFLOW_HOST,
    MLFLOW_PORT,
    NAME,
    POSTGRES_HOST,
    POSTGRES_PORT,
    REDIS_HOST,
    REDIS_PORT,
)
from llmproxy_ops.targets.kubernetes.render.monitoring import scrape_source
from llmproxy_ops.targets.kubernetes.settings import IngressSettings, KubernetesSettings

NGINX = "nginx.ingress.kubernetes.io/"
BASIC_AUTH_SECRET = "litellm-basic-auth"  # htpasswd in key `auth`, created by the operator


def network_policies(ks: KubernetesSettings, *, redis: bool,
                     metrics: bool = False) -> list[dict[str, Any]]:
    ingress_pods = {
        "namespaceSelector": {"matchLabels": {
            "kubernetes.io/metadata.name": ks.ingress.controller_namespace}},
        "podSelector": {"matchLabels": {"app.kubernetes.io/name": "ingress-nginx"}},
    }
    litellm_pods = {"podSelector": {"matchLabels": selector(NAME)}}
    sources = [ingress_pods, *([scrape_source(ks)] if metrics else [])]
    policies = [
        # Everything in the namespace refuses traffic unless a policy below lets it in.
        _policy("default-deny-ingress", {}, ingress=[]),
        _policy(NAME, selector(NAME), ingress=[_rule(sources, LITELLM_PORT)]),
    ]
    if redis:
        policies.append(_policy(REDIS_HOST, selector(REDIS_HOST),
                                ingress=[_rule([litellm_pods], REDIS_PORT)], egress=[]))
    if ks.runs_postgres:
        clients = [litellm_pods] if ks.use_db else []
        if ks.mlflow.enabled:  # MLflow's backend store (not LiteLLM's data)
            clients.append({"podSelector": {"matchLabels": selector(MLFLOW_HOST)}})
        policies.append(_policy(POSTGRES_HOST, selector(POSTGRES_HOST),
                                ingress=[_rule(clients, POSTGRES_PORT)], egress=[]))
    if ks.mlflow.enabled:
        policies.append(_policy(MLFLOW_HOST, selector(MLFLOW_HOST),
                                ingress=[_rule([litellm_pods], MLFLOW_PORT)]))
    return policies


def _rule(sources: list[dict[str, Any]], port: int) -> dict[str, Any]:
    return {"from": sources, "ports": [{"protocol": "TCP", "port": port}]}


def _policy(name: str, pods: dict[str, str], *, ingress: list[dict[str, Any]],
            egress: list[dict[str, Any]] | None = None) -> dict[str, Any]:
    spec: dict[str, Any] = {"podSelector": {"matchLabels": pods} if pods else {},
                            "policyTypes": ["Ingress"] if egress is None else ["Ingress", "Egress"],
                            "ingress": ingress}
    if egress is not None:
        spec["egress"] = egress  # empty: this pod opens no connection at all
    return {"apiVersion": "networking.k8s.io/v1", "kind": "NetworkPolicy",
            "metadata": metadata(name, pods.get("app.kubernetes.io/name", "llmproxy-ops")),
            "spec": spec}


def ingress_annotations(ing: IngressSettings, request_timeout: float, *,
                        api_only: bool = False) -> dict[str, str]:
    ns = ing.nginx
    timeout = str(math.ceil(request_timeout) + PROXY_TIMEOUT_MARGIN_S)
    count, per = ns.rate.split("r/")
    annotations = {
        # SSE chunks must reach the client as they come; the body is read before LiteLLM.
        f"{NGINX}proxy-buffering": "off",
        f"{NGINX}proxy-request-buffering": "on",
        f"{NGINX}proxy-http-version": "1.1",
        f"{NGINX}proxy-connect-timeout": "10",
        # Longer than LiteLLM's request_timeout: LiteLLM's own error reaches the client.
        f"{NGINX}proxy-read-timeout": timeout,
        f"{NGINX}proxy-send-timeout": timeout,
        f"{NGINX}proxy-body-size": ns.client_max_body_size,
        f"{NGINX}ssl-redirect": "true",
        f"{NGINX}force-ssl-redirect": "true",
        f"{NGINX}limit-rpm" if per == "m" else f"{NGINX}limit-rps": count,
        # ingress-nginx expresses burst only as a multiple of the rate.
        f"{NGINX}limit-burst-multiplier": str(max(1, round(ns.burst / int(count)))),
    }
    if ns.allow:
        annotations[f"{NGINX}whitelist-source-range"] = ",".join(ns.allow)
    if ns.basic_auth:
        annotations |= {f"{NGINX}auth-type": "basic", f"{NGINX}auth-secret": BASIC_AUTH_SECRET,
                        f"{NGINX}auth-realm": "LLM gateway"}
    if api_only:  # the one path below is a regular expression (ingress-nginx: ~* "^PATH")
        annotations[f"{NGINX}use-regex"] = "true"
    return dict(sorted(annotations.items()))


def ingress(ing: IngressSettings, request_timeout: float, *,
            api_only: bool = False) -> dict[str, Any]:
    """The way in; with `api_only` only the API paths clients use (render/nginx.py's
    API_PATHS) are routed, everything else (the admin UI, /openapi.json) gets the
    controller's 404."""
    host = ing.nginx.server_name
    backend = {"service": {"name": NAME, "port": {"number": LITELLM_PORT}}}
    path = ({"path": API_PATHS, "pathType": "ImplementationSpecific", "backend": backend}
            if api_only else {"path": "/", "pathType": "Prefix", "backend": backend})
    return {
        "apiVersion": "networking.k8s.io/v1",
        "kind": "Ingress",
        "metadata": {**metadata(NAME),
                     "annotations": ingress_annotations(ing, request_timeout, api_only=api_only)},
        "spec": {
            "ingressClassName": ing.class_name,
            "tls": [{"hosts": [host], "secretName": ing.tls_secret}],
            "rules": [{"host": host, "http": {"paths": [path]}}],
        },
    }
