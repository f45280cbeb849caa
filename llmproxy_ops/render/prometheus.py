"""Prometheus's configuration for a stack that runs its own (stack.metrics on compose and
swarm): scrape every LiteLLM replica directly, never through nginx (which answers /metrics
with 404), with the master key from a file, and load the shipped alert rules.

Compose's replicas have names (litellm-1, ...) and are listed; Swarm's tasks come and go with
every rolling update, so they are found by DNS (`tasks.litellm`: one A record per task).

The rules are package data (templates/prometheus-alerts.yml; monitoring/prometheus/alerts.yml
links to it), so compose, Kubernetes and a Prometheus of your own load the same file.
"""

from __future__ import annotations

from functools import cache
from importlib import resources
from typing import Any

import yaml

PROMETHEUS_FILE = "prometheus.yml"
RULES_FILE = "prometheus-alerts.yml"
CONFIG_DIR = "/etc/llmproxy-ops"  # where the rendered files are mounted in the container
DATA_DIR = "/prometheus"  # its volume (prom/prometheus's and our image's data folder)
PORT = 9090
JOB = "litellm"  # the rules expect this job name (LiteLLMProxyDown: up{job="litellm"})
SCRAPE_INTERVAL = "15s"
# As often as the scrapes: a task that replaced another is scraped from its first interval
DNS_REFRESH = SCRAPE_INTERVAL


@cache  # package data: the same text for every render of this process
def shipped_rules() -> str:
    """The alert rules this project ships (the same file promtool tests)."""
    return resources.files("llmproxy_ops.render").joinpath("templates", RULES_FILE).read_text()


def static_targets(targets: list[str]) -> dict[str, Any]:
    """The replicas by name (host:port each)."""
    return {"static_configs": [{"targets": targets}]}


def dns_targets(name: str, port: int) -> dict[str, Any]:
    """Every address `name` resolves to (Swarm's `tasks.<service>`), on `port`."""
    return {"dns_sd_configs": [{"names": [name], "type": "A", "port": port,
                                "refresh_interval": DNS_REFRESH}]}


def render_prometheus(discovery: dict[str, Any], key_file: str) -> str:
    """prometheus.yml: one job over the replicas `discovery` finds (static_targets or
    dns_targets)."""
    doc = {
        "global": {"scrape_interval": SCRAPE_INTERVAL, "evaluation_interval": SCRAPE_INTERVAL},
        "rule_files": [f"{CONFIG_DIR}/{RULES_FILE}"],
        "scrape_configs": [{
            "job_name": JOB,
            "metrics_path": "/metrics/",  # LiteLLM mounts it there; /metrics redirects
            "authorization": {"credentials_file": key_file},
            **discovery,
        }],
    }
    header = ("# Rendered by llmproxy-ops (stack.metrics): do not edit, re-render. No secret "
              "here: the key is read\n# from the file Docker mounts for this service.\n")
    return header + yaml.safe_dump(doc, sort_keys=False)
