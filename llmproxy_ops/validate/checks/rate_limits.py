"""rate-limit-not-enforced / rate-limit-per-worker: rpm/tpm that do less than they seem to.

Measured with LiteLLM 1.108.7 (shared ENVIRONMENT notes): a deployment's rpm/tpm only steer
routing unless router_settings.optional_pre_call_checks has enforce_model_rate_limits, and
without Redis every worker process counts on its own (2 workers let 10 requests through rpm 5).
"""

from __future__ import annotations

from collections.abc import Iterable

from llmproxy_ops.findings import Finding, JsonPath, Severity
from llmproxy_ops.spec.model import STACK_KEY, available_cpus
from llmproxy_ops.validate.checks._common import (
    deployments,
    get_in,
    join_names,
    make,
    stack_value,
    str_list,
)
from llmproxy_ops.validate.context import CheckContext

ENFORCE = "enforce_model_rate_limits"
LIMIT_KEYS = ("rpm", "tpm")
REDIS_KEYS = ("redis_host", "redis_url")


def limited(ctx: CheckContext) -> list[tuple[str, JsonPath]]:
    """(model group, path of its first rpm/tpm) for every deployment that sets one."""
    out = []
    for dep in deployments(ctx.spec):
        for key in LIMIT_KEYS:
            value = dep.params.get(key)
            # a non-number is a shape problem (schema stage), not a limit
            if isinstance(value, int | float) and not isinstance(value, bool):
                out.append(
                    (dep.name or f"model_list[{dep.index}]", (*dep.path, "litellm_params", key))
                )
                break
    return out


def enforced(ctx: CheckContext) -> bool:
    checks = get_in(ctx.spec.root, "router_settings", "optional_pre_call_checks")
    return ENFORCE in str_list(checks)


def check_rate_limit_not_enforced(ctx: CheckContext) -> Iterable[Finding]:
    models = limited(ctx)
    if not models or enforced(ctx):
        return
    yield make(
        ctx,
        Severity.WARNING,
        "rate-limit-not-enforced",
        f"rpm/tpm of {join_names([m for m, _ in models])} are not enforced: LiteLLM uses them "
        "only for routing and weights and does not reject requests above them",
        models[0][1],
        f"add '{ENFORCE}' to router_settings.optional_pre_call_checks",
    )


def workers(ctx: CheckContext) -> int:
    value = stack_value(ctx.spec, "workers")
    if value == "auto":
        return available_cpus()
    return value if isinstance(value, int) and not isinstance(value, bool) else 1


def check_rate_limit_per_worker(ctx: CheckContext) -> Iterable[Finding]:
    models = limited(ctx)
    count = workers(ctx)
    router = get_in(ctx.spec.root, "router_settings")
    has_redis = isinstance(router, dict) and any(router.get(k) for k in REDIS_KEYS)
    # The swarm runtime renders a Redis of its own whenever more than one process enforces.
    has_redis = has_redis or stack_value(ctx.spec, "runtime") == "swarm"
    if not models or count <= 1 or has_redis or not enforced(ctx):
        return
    where: JsonPath = (
        (STACK_KEY, "workers") if get_in(ctx.spec.root, STACK_KEY, "workers") else models[0][1]
    )
    yield make(
        ctx,
        Severity.WARNING,
        "rate-limit-per-worker",
        f"rpm/tpm of {join_names([m for m, _ in models])} are counted per worker: with {count} "
        f"workers and no Redis the effective limit is {count} × the configured value",
        where,
        "set router_settings.redis_host/redis_port (or redis_url) so workers share counters, "
        f"or divide the limits by {count}",
    )
