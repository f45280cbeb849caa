"""Traffic per model group from the proxies' own `/metrics` (stack.metrics: true), for
`llmproxy-ops status`: requests, errors, latency percentiles and tokens.

No Prometheus is needed: each proxy replica (a status unit with a url) is scraped directly with
the master key and the replicas are summed; within a replica LiteLLM already sums its workers
(the multiprocess folder). Where the replicas have no address on this machine (Swarm's tasks,
on an overlay network) the stack's own Prometheus is asked instead, from inside its container:
its federation page holds the last scrape of every replica, in the same text format. A single
sample gives the counters since the proxy started; two give rates over the time between them
(`--window`, `--watch`). Latency percentiles come
from LiteLLM's histogram buckets, interpolated inside a bucket as Prometheus's
histogram_quantile does, so `status` and the dashboard agree.

A request answered by a fallback is LiteLLM's to label: it counts under the group that
answered it (docs/metrics.md).
"""

from __future__ import annotations

import math
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

import httpx
from prometheus_client.parser import text_string_to_metric_families

from llmproxy_ops.errors import RuntimeStateError, UsageError
from llmproxy_ops.ops.smoke.target import read_key
from llmproxy_ops.pipeline import Target, env_file_of
from llmproxy_ops.render import prometheus as prometheus_files
from llmproxy_ops.render.env_manifest import master_key_var
from llmproxy_ops.runtime.api import Runtime, Status
from llmproxy_ops.spec.model import Spec

REQUESTS = "litellm_proxy_total_requests_metric_total"  # requested_model, status_code
LATENCY = "litellm_request_total_latency_metric_bucket"  # model_group, le (seconds)
TOKENS_IN = "litellm_input_tokens_metric_total"  # requested_model
TOKENS_OUT = "litellm_output_tokens_metric_total"
UP = "up"  # Prometheus's own series per scraped replica (federation)
PROMETHEUS_SERVICE = "prometheus"  # the stack's own (render/prometheus.py), when it runs one
FEDERATE = ("http://127.0.0.1:{port}/federate?match%5B%5D=%7Bjob%3D%22{job}%22%7D")


@dataclass
class Counters:
    """One model group's counters, summed over replicas (cumulative since each started)."""

    requests: float = 0.0
    errors: float = 0.0  # answers that are not 2xx
    tokens_in: float = 0.0
    tokens_out: float = 0.0
    buckets: dict[float, float] = field(default_factory=dict)  # le -> cumulative count

    def minus(self, earlier: Counters | None) -> Counters:
        """The increase since `earlier`; a counter that went down (a replica restarted)
        counts from zero, as Prometheus's increase() does."""
        if earlier is None:
            return self

        def inc(now: float, then: float) -> float:
            return now - then if now >= then else now

        return Counters(
            inc(self.requests, earlier.requests), inc(self.errors, earlier.errors),
            inc(self.tokens_in, earlier.tokens_in), inc(self.tokens_out, earlier.tokens_out),
            {le: inc(n, earlier.buckets.get(le, 0.0)) for le, n in self.buckets.items()},
        )


@dataclass(frozen=True)
class Sample:
    at: float  # time.monotonic() of the scrape
    groups: dict[str, Counters]
    replicas: int  # how many /metrics answered


@dataclass(frozen=True)
class GroupTraffic:
    group: str
    requests: float
    error_pct: float | None  # None: no requests
    p50_s: float | None
    p99_s: float | None
    tokens_in: float
    tokens_out: float
    window_s: float | None  # None: since the proxy started (counts, not rates)

    def rate(self, value: float) -> float | None:
        return value / self.window_s if self.window_s else None

    def as_dict(self) -> dict[str, Any]:
        doc: dict[str, Any] = {
            "requests": self.requests, "error_pct": _round(self.error_pct),
            "p50_s": _round(self.p50_s), "p99_s": _round(self.p99_s),
            "tokens_in": self.tokens_in, "tokens_out": self.tokens_out,
        }
        if self.window_s:
            doc.update(requests_per_s=_round(self.rate(self.requests)),
                       tokens_in_per_s=_round(self.rate(self.tokens_in)),
                       tokens_out_per_s=_round(self.rate(self.tokens_out)))
        return doc


def _round(value: float | None) -> float | None:
    return None if value is None else round(value, 3)


def parse(text: str, groups: dict[str, Counters] | None = None) -> dict[str, Counters]:
    """Model group -> counters, from one /metrics page (Prometheus text format), added to
    `groups` when given (the replicas of one sample sum into one dict)."""
    return add_families(text_string_to_metric_families(text), {} if groups is None else groups)


def add_families(families: Iterable[Any], groups: dict[str, Counters]) -> dict[str, Counters]:
    """parse's work on already parsed metric families (federated parses the page once)."""

    def of(name: str | None) -> Counters | None:
        if not name or name == "None":
            return None
        return groups.setdefault(name, Counters())

    for family in families:
        for sample in family.samples:
            labels, value = sample.labels, float(sample.value)
            if sample.name == REQUESTS and (c := of(labels.get("requested_model"))):
                c.requests += value
                if not labels.get("status_code", "").startswith("2"):
                    c.errors += value
            elif sample.name == TOKENS_IN and (c := of(labels.get("requested_model"))):
                c.tokens_in += value
            elif sample.name == TOKENS_OUT and (c := of(labels.get("requested_model"))):
                c.tokens_out += value
            elif sample.name == LATENCY and (c := of(labels.get("model_group"))):
                le = float(labels["le"])
                c.buckets[le] = c.buckets.get(le, 0.0) + value
    return groups


def federated(runtime: Runtime, *, timeout: float = 15.0) -> Sample:
    """The last scrape of every replica, from the stack's Prometheus (asked from inside its
    container: it publishes no port). Timed by the newest scrape it holds, so two samples
    give a rate over the time between scrapes, not between questions; a replica whose last
    scrape failed (up 0) is not counted as scraped."""
    url = FEDERATE.format(port=prometheus_files.PORT, job=prometheus_files.JOB)
    answer = runtime.exec(PROMETHEUS_SERVICE, ["wget", "-q", "-O", "-", url], timeout=timeout)
    if answer.returncode != 0:
        raise RuntimeStateError(f"the stack's Prometheus did not answer its federation page "
                                f"({answer.stderr.strip() or f'exit {answer.returncode}'})")
    families = list(text_string_to_metric_families(answer.stdout))
    groups = add_families(families, {})
    up, newest = 0, 0.0
    for family in families:
        for sample in family.samples:
            newest = max(newest, float(sample.timestamp or 0.0))
            if sample.name == UP and float(sample.value) == 1.0:
                up += 1
    if not newest:
        raise RuntimeStateError("the stack's Prometheus holds no scrape of the proxies yet "
                                f"(it scrapes every {prometheus_files.SCRAPE_INTERVAL})")
    return Sample(newest, groups, up)


def scrape(urls: Iterable[str], key: str, *, verify: bool | str = True,
           timeout: float = 5.0) -> Sample:
    """Every replica's /metrics, summed. Raises RuntimeStateError naming the replica that
    did not answer (a partial sum would under-count without saying so)."""
    total: dict[str, Counters] = {}
    replicas = 0
    for url in urls:
        where = f"{url.rstrip('/')}/metrics/"
        try:
            answer = httpx.get(where, headers={"Authorization": f"Bearer {key}"},
                               timeout=timeout, verify=verify)
        except httpx.HTTPError as exc:
            raise RuntimeStateError(f"{where}: {type(exc).__name__}") from None
        if answer.status_code != 200:
            raise RuntimeStateError(f"{where} answered HTTP {answer.status_code}")
        replicas += 1
        parse(answer.text, total)
    return Sample(time.monotonic(), total, replicas)


def traffic(later: Sample, earlier: Sample | None = None) -> list[GroupTraffic]:
    """Figures per group between two samples (rates), or since start with one."""
    window = later.at - earlier.at if earlier is not None else None
    out = []
    for name in sorted(later.groups):
        c = later.groups[name].minus(earlier.groups.get(name) if earlier else None)
        if earlier is not None and not c.requests and not any(c.buckets.values()):
            continue  # quiet in this window
        out.append(GroupTraffic(
            name, c.requests, 100.0 * c.errors / c.requests if c.requests else None,
            quantile(0.5, c.buckets), quantile(0.99, c.buckets),
            c.tokens_in, c.tokens_out, window))
    return out


def quantile(q: float, buckets: dict[float, float]) -> float | None:
    """Prometheus's histogram_quantile over cumulative buckets: linear inside the bucket
    the rank falls in; the +Inf bucket answers with the highest finite bound."""
    ordered = sorted(buckets.items())
    if not ordered or ordered[-1][0] != math.inf:
        return None
    total = ordered[-1][1]
    if total <= 0:
        return None
    rank = q * total
    lower_bound, lower_count = 0.0, 0.0
    for bound, count in ordered:
        if count >= rank:
            if bound == math.inf:
                return lower_bound
            if count == lower_count:
                return bound
            share = (rank - lower_count) / (count - lower_count)
            return lower_bound + (bound - lower_bound) * share
        lower_bound, lower_count = bound, count
    return lower_bound


def as_text(figures: list[GroupTraffic], replicas: int, window_s: float | None) -> str:
    scraped = f"{replicas} replica(s) scraped"
    if window_s:
        head = f"  traffic over the last {window_s:.0f} s ({scraped})"
    else:
        head = f"  traffic since start ({scraped})"
    if not figures:
        return head + ": no requests"
    rate = bool(window_s)
    lines = [head + ":", f"    {'group':<20} {'req/s' if rate else 'requests':>9} "
             f"{'errors':>7} {'p50':>8} {'p99':>8} {'tok in/s' if rate else 'tok in':>10} "
             f"{'tok out/s' if rate else 'tok out':>10}"]
    for g in figures:
        def num(value: float, g: GroupTraffic = g) -> str:
            per = g.rate(value)
            return f"{per:.2f}" if per is not None else f"{value:.0f}"
        err = "-" if g.error_pct is None else f"{g.error_pct:.1f}%"
        lines.append(f"    {g.group:<20} {num(g.requests):>9} {err:>7} {_secs(g.p50_s):>8} "
                     f"{_secs(g.p99_s):>8} {num(g.tokens_in):>10} {num(g.tokens_out):>10}")
    return "\n".join(lines)


def as_dict(figures: list[GroupTraffic], replicas: int, window_s: float | None) -> dict[str, Any]:
    return {"window_s": _round(window_s), "replicas": replicas,
            "groups": {g.group: g.as_dict() for g in figures}}


def _secs(value: float | None) -> str:
    if value is None:
        return "-"
    return f"{value * 1000:.0f}ms" if value < 1 else f"{value:.2f}s"


# ---- an environment's proxies ----------------------------------------------------------


def replica_urls(status: Status) -> list[str]:
    """Where each proxy replica answers from this machine: the status units with a url (the
    local proxy; compose's replicas by container address). Swarm's tasks have none here."""
    return [u.url for u in status.units if u.url]


def require_metrics(spec: Spec) -> None:
    if not spec.stack.metrics:
        raise UsageError(
            f"stack.metrics is off in {spec.name}: its proxies serve no figures",
            hint="set `stack: {metrics: true}` in its environment file and apply (docs/metrics.md)")


def master_key(spec: Spec, target: Target) -> str:
    """The key /metrics asks for, from the environment's env file."""
    return read_key(master_key_var(spec), env_file_of(spec, target))


def environment_sample(spec: Spec, target: Target, status: Status,
                       key: str | None = None, runtime: Runtime | None = None) -> Sample:
    """One sample of every replica `status` lists; `key`: the master key when the caller
    already read it (`--watch` reads the env file once, not at every refresh). Replicas with
    no address here are read from the stack's Prometheus through `runtime`, when it runs one."""
    require_metrics(spec)
    urls = replica_urls(status)
    runs_prometheus = any(u.name == PROMETHEUS_SERVICE and u.ok for u in status.units)
    if status.running and not urls and runtime is not None and runs_prometheus:
        return federated(runtime)
    if not status.running or not urls:
        raise RuntimeStateError(
            f"no proxy replica of {spec.name} to scrape from here ({status.kind}"
            + ("" if status.running else ", not running") + "); point Prometheus at them "
            "(monitoring/prometheus/scrape.example.yml)")
    return scrape(urls, key if key is not None else master_key(spec, target))
