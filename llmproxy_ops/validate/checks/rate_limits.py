"""rate-limit-not-enforced / rate-limit-per-worker: rpm/tpm that do less than they seem to.

Measured with LiteLLM 1.108.7 (shared ENVIRONMENT notes): a deployment's rpm/tpm only steer
routing unless router_settings.optional_pre_call_checks has enforce_model_rate_limits, and
without Redis every worker process counts on its own (2 workers let 10 requests through rpm 5).
Where several processes serve, the rendered deployment brings a Redis (render/stack_redis.py)
unless it is switched off: only then, or on a runtime without one, does the warning fire.
"""

from __future__ import annotations

from collections.abc import Iterable

from llmproxy_ops.findings import Finding, JsonPath, Severity, format_path
from llmproxy_ops.render import stack_redis
from llmproxy_ops.spec.model import STACK_KEY
from llmproxy_ops.targets.registry import target_named
from llmproxy_ops.validate.checks._common import (
    deployments,
    get_in,
    join_names,
    make,
    stack_settings,
    str_list,
)
from llmproxy_ops.validate.context import CheckContext

ENFORCE = "enforce_model_rate_limits"
LIMIT_KEYS = ("rpm", "tpm")


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
    if enforced(ctx):  # first: the cheap question (limited walks every deployment)
        return
    models = limited(ctx)
    if not models:
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


def check_rate_limit_per_worker(ctx: CheckContext) -> Iterable[Finding]:
    if not enforced(ctx):
        return
    stack = stack_settings(ctx.spec)
    if stack is None:  # malformed stack section: the schema stage reports it
        return
    try:
        count = stack_redis.serving_processes(ctx.spec)
        shared = stack_redis.shares_counters(ctx.spec)
    except (TypeError, ValueError, AttributeError):
        return
    if shared:  # one process, the user's Redis, or the one the deployment brings
        return
    models = limited(ctx)
    if not models:
        return
    off = _forced_off_path(ctx, stack.runtime)
    where: JsonPath = off or (
        (STACK_KEY, "workers") if get_in(ctx.spec.root, STACK_KEY, "workers") else models[0][1]
    )
    per = "worker" if count == stack.workers else "LiteLLM process"
    several = f"{count} workers" if per == "worker" else f"{count} processes (workers × replicas)"
    enable = (f"remove {format_path(off)}: false (the deployment then brings a Redis), "
              if off else "")
    yield make(
        ctx,
        Severity.WARNING,
        "rate-limit-per-worker",
        f"rpm/tpm of {join_names([m for m, _ in models])} are counted per {per}: with {several} "
        f"and no Redis the effective limit is {count} × the configured value",
        where,
        f"{enable}set router_settings.redis_host/redis_port (or redis_url) so workers share "
        f"counters, or divide the limits by {count}",
    )


def _forced_off_path(ctx: CheckContext, runtime: str) -> JsonPath | None:
    """Where the runtime's own Redis is switched off, if it is."""
    section = target_named(runtime).redis_section
    path: JsonPath = (STACK_KEY, section or "", "redis", "enabled")
    return path if section and get_in(ctx.spec.root, *path) is False else None
