"""When a deployment brings its own Redis: one rule for every runtime that starts LiteLLM.

LiteLLM counts rpm/tpm in each process unless router_settings name a Redis (measured: 2
workers let 10 requests through rpm 5). So whenever more than one LiteLLM process serves an
environment (workers × replicas) and limits are enforced, the rendered deployment brings a
Redis and wires the router to it: a `redis` service (compose, swarm), a `redis-server`
beside the proxy (local, targets/local/redis.py), the in-cluster one (kubernetes, its own
rule in targets/kubernetes/settings.py). A Redis the user's router_settings name wins;
`redis: {enabled: true|false}` of the runtime forces it on or off.

Validation (the per-worker warning, the REDIS_PASSWORD check), the renderers and the smoke
test's rate-limit check all ask this module, so they never disagree.
"""

from __future__ import annotations

from typing import Any

from llmproxy_ops.render.litellm_config import litellm_config
from llmproxy_ops.spec.model import Spec
from llmproxy_ops.targets.info import RedisWiring
from llmproxy_ops.targets.registry import target_of

ENFORCE_CHECK = "enforce_model_rate_limits"
REDIS_KEYS = ("redis_host", "redis_url")
PASSWORD_VAR = "REDIS_PASSWORD"
# The compose/swarm service name and port; the local runtime's redis-server listens on
# loopback, on a port picked at start and handed to LiteLLM through PORT_VAR (never
# written into the build, like the fake provider's URL).
SERVICE_HOST, SERVICE_PORT = "redis", 6379
LOCAL_HOST, PORT_VAR = "127.0.0.1", "LLMPROXY_REDIS_PORT"
# Targets whose Redis this module wires into config.yaml (the cluster adds its own itself)
WIRED_HERE = (RedisWiring.LOOPBACK, RedisWiring.SERVICE)


def rate_limits_enforced(root: Any) -> bool:
    """router_settings.optional_pre_call_checks has enforce_model_rate_limits."""
    router = root.get("router_settings") if isinstance(root, dict) else None
    checks = router.get("optional_pre_call_checks") if isinstance(router, dict) else None
    return isinstance(checks, list) and ENFORCE_CHECK in checks


def names_own_redis(config: Any) -> bool:
    """The config's router_settings already name a Redis (the user's wins)."""
    router = config.get("router_settings") if isinstance(config, dict) else None
    return isinstance(router, dict) and any(router.get(k) for k in REDIS_KEYS)


def serving_processes(spec: Spec) -> int:
    """LiteLLM processes that serve the environment at once, each counting on its own."""
    return target_of(spec).serving_processes(spec)


def forced(spec: Spec) -> bool | None:
    """The runtime's `redis.enabled` as written (None: decided by the rule)."""
    section = target_of(spec).redis_section
    raw = spec.stack.section(section) if section else {}
    redis = raw.get("redis") if isinstance(raw, dict) else None
    value = redis.get("enabled") if isinstance(redis, dict) else None
    return value if isinstance(value, bool) else None


def needs_redis(spec: Spec) -> bool:
    """The runtime's Redis runs: forced on, or (not forced off) several processes enforce."""
    target = target_of(spec)
    if target.decides_redis is not None:
        return target.decides_redis(spec)
    if target.redis not in WIRED_HERE:
        return False
    explicit = forced(spec)
    if explicit is not None:
        return explicit
    return serving_processes(spec) > 1 and rate_limits_enforced(spec.root)


def brings_redis(spec: Spec) -> bool:
    """The rendered deployment wires LiteLLM to a Redis of its own."""
    return needs_redis(spec) and not names_own_redis(spec.root)


def shares_counters(spec: Spec) -> bool:
    """Every serving process sees the same rpm/tpm counters (one process, or a Redis)."""
    return serving_processes(spec) <= 1 or names_own_redis(spec.root) or brings_redis(spec)


def deployment_config(spec: Spec) -> dict[str, Any]:
    """Every runtime's LiteLLM config, plus the runtime's Redis when it brings one."""
    config = litellm_config(spec)  # a fresh copy each call: ours to change
    wiring = target_of(spec).redis
    if not brings_redis(spec) or wiring not in WIRED_HERE:
        return config  # kubernetes adds the in-cluster Redis itself
    local = wiring is RedisWiring.LOOPBACK
    router = config.get("router_settings")
    if not isinstance(router, dict):
        router = config["router_settings"] = {}
    router.update({
        "redis_host": LOCAL_HOST if local else SERVICE_HOST,
        "redis_port": f"os.environ/{PORT_VAR}" if local else SERVICE_PORT,
        "redis_password": f"os.environ/{PASSWORD_VAR}",
    })
    return config


def uses_service_redis(config: dict[str, Any]) -> bool:
    """The config talks to the compose/swarm `redis` service (it must be rendered)."""
    router = config.get("router_settings")
    return isinstance(router, dict) and router.get("redis_host") == SERVICE_HOST
