"""Typed view of `stack.swarm`: what Docker Swarm adds to the services of `stack.compose`.

The services themselves (images, limits, replicas, nginx) are `stack.compose`'s: one
environment moves from compose to swarm by changing `stack.runtime` alone.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

# dnsrr, not vip: VIP load balancing and the routing mesh need IPVS in the kernel, which
# many small hosts and containers lack (these machines included); nginx balances instead.
DEFAULT_ENDPOINT_MODE = "dnsrr"
DEFAULT_DATA_LABEL = "llmproxy-ops.data"


@dataclass(frozen=True)
class SwarmSettings:
    stack: str  # docker stack name: prefixes services, networks, volumes, configs, secrets
    endpoint_mode: str  # dnsrr | vip
    monitor_s: int  # how long a new LiteLLM task must stay healthy before the next one
    data_label: str  # node label (=true) that places Postgres, MLflow, Redis and nginx
    # The overlay network between nodes encrypted (IPsec ESP, AES-GCM): db, redis and MLflow
    # sit on one node, LiteLLM on others, and their traffic carries passwords and prompts.
    # Needs ESP and GCM in every node's kernel (Debian's and Ubuntu's have them as modules);
    # where the kernel lacks them (checked 2026-12: this project's CI machines, kernel 6.18
    # without CONFIG_INET_ESP/CONFIG_CRYPTO_GCM: `ip xfrm state add ... proto esp` says
    # "Requested type not found") traffic between nodes would fail: set it false there.
    encrypted: bool = True


def default_stack_name(env_name: str) -> str:
    """llmproxy-<env> with only the characters stack names take, short enough that its
    services, configs and secrets stay within Docker's 63/64-character names."""
    name = re.sub(r"[^a-z0-9_-]+", "-", f"llmproxy-{env_name}".lower()).strip("-")
    return name[:30].rstrip("-_")


def swarm_settings(raw: dict[str, Any], env_name: str) -> SwarmSettings:
    """Defaults applied to a validated `stack.swarm` mapping."""
    return SwarmSettings(
        stack=str(raw.get("stack", default_stack_name(env_name))),
        endpoint_mode=str(raw.get("endpoint_mode", DEFAULT_ENDPOINT_MODE)),
        monitor_s=int(raw.get("monitor_s", 15)),
        data_label=str(raw.get("data_label", DEFAULT_DATA_LABEL)),
        encrypted=bool(raw.get("encrypted", True)),
    )
