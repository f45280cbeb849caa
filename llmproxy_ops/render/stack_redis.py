"""When a deployment brings its own Redis: one rule for every runtime that starts LiteLLM.

LiteLLM counts rpm/tpm in each process unless router_settings name a Redis (measured: 2
workers let 10 requests through rpm 5). So whenever more than one LiteLLM process serves an
environment (workers × replicas) and limits are enforced, the rendered deployment brings a
Redis and wires the router to it: a `redis` service (compose, swarm), a `redis-server`
beside the proxy (local, runtime/local_redis.py), the in-cluster one (kubernetes, its own
rule in spec/kubernetes_settings.py). A Redis the user's router_settings name wins;
`redis: {enabled: true|false}` of the runtime forces it on or off.

Validation (the per-worker warning, the REDIS_PASSWORD check), the renderers and the smoke
test's rate-limit check all ask this module, so they never disagree.
"""

from __future__ import annotations

from typing import Any

from llmproxy_ops.render.litellm_config import litellm_config
from llmproxy_ops.spec.model import Spec

ENFORCE_CHECK = "enforce_model_rate_limits"
REDIS_KEYS = ("redis_host", "redis_url")
PASSWORD_VAR = "REDIS_PASSWORD"
# The compose/swarm service name and port; the local runtime's redis-server listens on
# loopback, on a port picked at start and handed to LiteLLM through PORT_VAR (never
# written into the build, like the fake provider's URL).
SERVICE_HOST, SERVICE_PORT = "redis", 6379
LOCAL_HOST, PORT_VAR = "127.0.0.1", "LLMPROXY_REDIS_PORT"
RUNTIMES = ("local", "compose", "swarm")


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
    stack = spec.stack
    if stack.runs_compose_services:
        return stack.workers * stack.compose(spec.name).replicas
    if stack.runtime == "kubernetes":
        return stack.workers * stack.kubernetes(spec.name).max_replicas
    return stack.workers


def forced(spec: Spec) -> bool | None:
    """The runtime's `redis.enabled` as written (None: decided by the rule)."""
    stack = spec.stack
    raw = {"local": stack.local_raw, "compose": stack.compose_raw,
           "swarm": stack.compose_raw}.get(stack.runtime, {})
    redis = raw.get("redis") if isinstance(raw, dict) else None
    value = redis.get("enabled") if isinstance(redis, dict) else None
    return value if isinstance(value, bool) else None


def needs_redis(spec: Spec) -> bool:
    """The runtime's Redis runs: forced on, or (not forced off) several processes enforce."""
    if spec.stack.runtime == "kubernetes":
        return spec.stack.kubernetes(spec.name).needs_redis
    if spec.stack.runtime not in RUNTIMES:
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
    if not brings_redis(spec) or spec.stack.runtime not in RUNTIMES:
        return config  # kubernetes adds the in-cluster Redis itself
    local = spec.stack.runtime == "local"
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
