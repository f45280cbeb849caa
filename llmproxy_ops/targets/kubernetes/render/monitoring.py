"""With stack.metrics: what prometheus-operator needs to scrape the LiteLLM pods and load the
shipped alert rules (monitoring.coreos.com/v1 ServiceMonitor and PrometheusRule).

Prometheus scrapes each pod directly through the litellm Service's endpoints, never through
the Ingress (which never serves /metrics: render/nginx.py). LiteLLM asks for a key on
/metrics, so the ServiceMonitor sends the master key from the Secret the pods read it from;
the operator reads that Secret in this namespace.
"""

from __future__ import annotations

from typing import Any

import yaml

from llmproxy_ops.render import prometheus
from llmproxy_ops.targets.kubernetes.render.common import SECRET_NAME, metadata, selector
from llmproxy_ops.targets.kubernetes.render.litellm import NAME
from llmproxy_ops.targets.kubernetes.settings import KubernetesSettings

API_VERSION = "monitoring.coreos.com/v1"
SCRAPE_INTERVAL = "30s"
# Prometheus pods as prometheus-operator labels them (the only pods admitted to scrape).
PROMETHEUS_POD = {"app.kubernetes.io/name": "prometheus"}


def shipped_rules() -> dict[str, Any]:
    """The alert rules this project ships (the same file promtool tests)."""
    rules: dict[str, Any] = yaml.safe_load(prometheus.shipped_rules())
    return rules


def monitoring_objects(ks: KubernetesSettings, master_key_var: str) -> list[dict[str, Any]]:
    labelled = {**metadata(NAME), "labels": {**metadata(NAME)["labels"],
                                             **ks.monitoring.labels}}
    monitor = {
        "apiVersion": API_VERSION, "kind": "ServiceMonitor", "metadata": labelled,
        "spec": {
            "selector": {"matchLabels": selector(NAME)},
            "endpoints": [{
                "port": "tcp", "path": "/metrics/", "scheme": "http",
                "interval": SCRAPE_INTERVAL,
                "authorization": {"type": "Bearer", "credentials": {
                    "name": SECRET_NAME, "key": master_key_var}},
            }],
        },
    }
    rule = {"apiVersion": API_VERSION, "kind": "PrometheusRule", "metadata": labelled,
            "spec": {"groups": shipped_rules()["groups"]}}
    return [monitor, rule]


def scrape_source(ks: KubernetesSettings) -> dict[str, Any]:
    """The NetworkPolicy peer that may reach LiteLLM's port to scrape: Prometheus's pods in
    the monitoring namespace. A policy admits a port, not a path: those pods could call the
    API too, and LiteLLM still asks them for a key."""
    return {"namespaceSelector": {"matchLabels": {
                "kubernetes.io/metadata.name": ks.monitoring.namespace}},
            "podSelector": {"matchLabels": PROMETHEUS_POD}}

