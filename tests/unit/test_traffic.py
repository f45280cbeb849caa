"""status's traffic figures from /metrics text: parsing LiteLLM's families (as its
multiprocess collector writes them), Prometheus's quantile arithmetic, increases across a
replica restart, and the text/JSON shapes. A real proxy and Prometheus check the same figures
in tests/integration/test_metrics_prometheus.py."""

from __future__ import annotations

import math

import pytest

from llmproxy_ops.ops.traffic import Counters, Sample, as_dict, as_text, parse, quantile, traffic

# The shape LiteLLM 1.108.7 serves with PROMETHEUS_MULTIPROC_DIR (family names keep _total).
PAGE = """\
# HELP litellm_proxy_total_requests_metric_total Total requests
# TYPE litellm_proxy_total_requests_metric_total counter
litellm_proxy_total_requests_metric_total{requested_model="gpt",route="/v1/chat/completions",status_code="200",user="u1"} 90.0
litellm_proxy_total_requests_metric_total{requested_model="gpt",route="/v1/chat/completions",status_code="200",user="u2"} 6.0
litellm_proxy_total_requests_metric_total{requested_model="gpt",route="/v1/chat/completions",status_code="429"} 4.0
litellm_proxy_total_requests_metric_total{requested_model="None",route="/health",status_code="200"} 7.0
# HELP litellm_input_tokens_metric_total input tokens
# TYPE litellm_input_tokens_metric_total counter
litellm_input_tokens_metric_total{requested_model="gpt",model="m"} 500.0
# HELP litellm_output_tokens_metric_total output tokens
# TYPE litellm_output_tokens_metric_total counter
litellm_output_tokens_metric_total{requested_model="gpt",model="m"} 1200.0
# HELP litellm_request_total_latency_metric latency
# TYPE litellm_request_total_latency_metric histogram
litellm_request_total_latency_metric_bucket{le="0.5",model_group="gpt"} 50.0
litellm_request_total_latency_metric_bucket{le="1.0",model_group="gpt"} 90.0
litellm_request_total_latency_metric_bucket{le="2.0",model_group="gpt"} 100.0
litellm_request_total_latency_metric_bucket{le="+Inf",model_group="gpt"} 100.0
litellm_request_total_latency_metric_count{model_group="gpt"} 100.0
litellm_request_total_latency_metric_sum{model_group="gpt"} 60.0
"""


def test_a_page_parses_into_per_group_counters() -> None:
    groups = parse(PAGE)
    assert set(groups) == {"gpt"}  # requests without a model (health checks) are no group
    gpt = groups["gpt"]
    assert (gpt.requests, gpt.errors, gpt.tokens_in, gpt.tokens_out) == (100, 4, 500, 1200)
    assert gpt.buckets == {0.5: 50, 1.0: 90, 2.0: 100, math.inf: 100}


@pytest.mark.parametrize(("q", "want"), [
    (0.5, 0.5),  # exactly the first bucket's count: its upper bound
    (0.25, 0.25),  # half-way into the first bucket, from 0
    (0.7, 0.75),  # 70 of 100: 20 of the 40 between 0.5 and 1.0
    (0.99, 1.9),  # 99: 9 of the 10 between 1.0 and 2.0
])
def test_quantiles_are_prometheus_histogram_quantile(q: float, want: float) -> None:
    assert quantile(q, parse(PAGE)["gpt"].buckets) == pytest.approx(want)


def test_quantile_edges() -> None:
    assert quantile(0.5, {}) is None
    assert quantile(0.5, {1.0: 0, math.inf: 0}) is None  # no observations
    assert quantile(0.5, {1.0: 5}) is None  # no +Inf bucket: not a histogram
    assert quantile(0.99, {1.0: 1, 2.0: 1, math.inf: 10}) == 2.0  # in +Inf: highest bound


def test_rates_over_a_window_and_a_restarted_replica_counts_from_zero() -> None:
    before = Sample(100.0, {"gpt": Counters(80, 2, 400, 1000, {1.0: 70, math.inf: 80}),
                            "old": Counters(5, 0, 1, 1, {})}, 1)
    after = Sample(110.0, {"gpt": Counters(100, 4, 500, 1200, {1.0: 90, math.inf: 100}),
                           "old": Counters(5, 0, 1, 1, {})}, 1)
    (gpt,) = traffic(after, before)  # `old` was quiet in the window: left out
    assert (gpt.requests, gpt.error_pct, gpt.window_s) == (20, 10.0, 10.0)
    assert gpt.as_dict()["requests_per_s"] == 2.0 and gpt.as_dict()["tokens_out_per_s"] == 20.0
    restarted = Sample(120.0, {"gpt": Counters(3, 0, 10, 10, {1.0: 3, math.inf: 3})}, 1)
    (gpt,) = traffic(restarted, after)
    assert gpt.requests == 3  # not 3 - 100


def test_since_start_is_counts_and_both_shapes_carry_the_same_figures() -> None:
    sample = Sample(0.0, parse(PAGE), 2)
    figures = traffic(sample)
    doc = as_dict(figures, 2, None)
    assert doc == {"window_s": None, "replicas": 2, "groups": {"gpt": {
        "requests": 100.0, "error_pct": 4.0, "p50_s": 0.5, "p99_s": 1.9,
        "tokens_in": 500.0, "tokens_out": 1200.0}}}
    text = as_text(figures, 2, None)
    assert "since start (2 replica(s) scraped)" in text
    assert "gpt" in text and "4.0%" in text and "500ms" in text and "1.90s" in text
    assert as_text([], 1, 5.0).endswith("over the last 5 s (1 replica(s) scraped): no requests")
