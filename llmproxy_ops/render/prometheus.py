"""Prometheus's configuration for a stack that runs its own (stack.metrics on compose): scrape
every LiteLLM replica directly, never through nginx (which answers /metrics with 404), with
the master key from a file, and load the shipped alert rules.

The rules are package data (templates/prometheus-alerts.yml; monitoring/prometheus/alerts.yml
links to it), so compose, Kubernetes and a Prometheus of your own load the same file.
"""

from __future__ import annotations

from functools import cache
from importlib import resources

import yaml

PROMETHEUS_FILE = "prometheus.yml"
RULES_FILE = "prometheus-alerts.yml"
CONFIG_DIR = "/etc/llmproxy-ops"  # where the rendered files are mounted in the container
DATA_DIR = "/prometheus"  # its volume (prom/prometheus's and our image's data folder)
PORT = 9090
JOB = "litellm"  # the rules expect this job name (LiteLLMProxyDown: up{job="litellm"})
SCRAPE_INTERVAL = "15s"


@cache  # package data: the same text for every render of this process
def shipped_rules() -> str:
    """The alert rules this project ships (the same file promtool tests)."""
    return resources.files("llmproxy_ops.render").joinpath("templates", RULES_FILE).read_text()


def render_prometheus(targets: list[str], key_file: str) -> str:
    """prometheus.yml: one job over `targets` (host:port of each replica)."""
    doc = {
        "global": {"scrape_interval": SCRAPE_INTERVAL, "evaluation_interval": SCRAPE_INTERVAL},
        "rule_files": [f"{CONFIG_DIR}/{RULES_FILE}"],
        "scrape_configs": [{
            "job_name": JOB,
            "metrics_path": "/metrics/",  # LiteLLM mounts it there; /metrics redirects
            "authorization": {"credentials_file": key_file},
            "static_configs": [{"targets": targets}],
        }],
    }
    header = ("# Rendered by llmproxy-ops (stack.metrics): do not edit, re-render. No secret "
              "here: the key is read\n# from the file Docker mounts for this service.\n")
    return header + yaml.safe_dump(doc, sort_keys=False)
