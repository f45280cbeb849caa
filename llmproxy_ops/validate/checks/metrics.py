"""metrics-*: LiteLLM's Prometheus figures turned on the one way that counts every worker.

`stack.metrics: true` renders the `prometheus` callback and gives each proxy a fresh
PROMETHEUS_MULTIPROC_DIR. Listed by hand in a project's layers, the callback has no such folder:
each worker keeps its own counters and a scrape reports whichever worker answered it.
"""

from __future__ import annotations

from collections.abc import Iterable

from llmproxy_ops.findings import Finding, Severity
from llmproxy_ops.render.litellm_config import METRICS_CALLBACK
from llmproxy_ops.spec.model import STACK_KEY
from llmproxy_ops.validate.checks._common import get_in, make, stack_settings
from llmproxy_ops.validate.checks.callbacks import configured_callbacks
from llmproxy_ops.validate.context import CheckContext

PUBLIC_METRICS_KEY = "require_auth_for_metrics_endpoint"


def check_metrics(ctx: CheckContext) -> Iterable[Finding]:
    stack = stack_settings(ctx.spec)
    if stack is None or STACK_KEY not in ctx.spec.root:
        return  # a plain LiteLLM file: LiteLLM's own rules, nothing of ours to turn on
    if not stack.metrics:
        yield from _callback_by_hand(ctx, several=stack.workers > 1 or stack.workers_auto)
    elif get_in(ctx.spec.root, "litellm_settings", PUBLIC_METRICS_KEY) is False:
        yield make(
            ctx, Severity.ERROR if ctx.spec.production else Severity.WARNING, "metrics-public",
            "/metrics answers without a key: whoever reaches a proxy port reads its model "
            "groups, key aliases, users and spend",
            ("litellm_settings", PUBLIC_METRICS_KEY),
            "remove it: the scraper sends the master key (docs/metrics.md), nginx never "
            "serves /metrics",
        )


def _callback_by_hand(ctx: CheckContext, *, several: bool) -> Iterable[Finding]:
    for name, path in configured_callbacks(ctx):
        if name != METRICS_CALLBACK:
            continue
        counts = (
            "each of the workers keeps its own counters and a scrape reports whichever "
            "answered it" if several else "a restart leaves the old samples behind"
        )
        yield make(
            ctx, Severity.ERROR if several else Severity.WARNING, "metrics-callback-by-hand",
            f"the '{METRICS_CALLBACK}' callback is listed by hand, without "
            f"stack.metrics: {counts}",
            path,
            "remove it here and set stack.metrics: true (it adds the callback and a "
            "PROMETHEUS_MULTIPROC_DIR per proxy)",
        )
