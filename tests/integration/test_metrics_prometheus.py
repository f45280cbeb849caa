"""stack.metrics on the local runtime (2 workers: the case that needs the shared folder),
scraped by a real Prometheus (Debian's 2.42) with the shipped rules:
- its request count equals what the load client sent, with both workers serving, so every
  worker is counted once; /metrics needs the key;
- after a load that also fails over (`flaky`: the fake provider answers 500, its fallback
  answers; `doomed`: its fallback fails too) and hits an rpm limit (`tight`), every query of
  the Grafana dashboard returns data;
- `llmproxy-ops status` shows per group the counts and latency percentiles Prometheus computes
  from the same counters, rates over a window exactly what was sent in it, and `--watch`
  redraws until Ctrl-C;
- the provider-failure and fallback alerts fire on the failing groups, never on the router's
  own rpm refusals, and resolve once the groups are quiet (the rules' own expressions, their
  windows shortened so the test takes seconds, not minutes).
"""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from llmproxy_ops.ops import traffic as status_traffic
from llmproxy_ops.pipeline import Target, load_target, runtime_for, start_target
from tests.conftest import REPO, free_port

pytestmark = pytest.mark.integration

KEY = "sk-llmproxy-ops-metrics-test-9c41e2"
PLAIN, STREAMS = 30, 10
LAYER = """\
layers: [../base.yaml, ../providers/local-fake.yaml]
model_list:
  - model_name: flaky
    litellm_params:
      {{model: openai/fail-500, api_base: os.environ/FAKE_PROVIDER_OPENAI_BASE, api_key: dummy}}
  - model_name: doomed
    litellm_params:
      {{model: openai/fail-500, api_base: os.environ/FAKE_PROVIDER_OPENAI_BASE, api_key: dummy}}
  - model_name: doomed-backup
    litellm_params:
      {{model: openai/fail-500, api_base: os.environ/FAKE_PROVIDER_OPENAI_BASE, api_key: dummy}}
  - model_name: tight
    litellm_params:
      {{model: openai/gpt-4o-mini, api_base: os.environ/FAKE_PROVIDER_OPENAI_BASE, api_key: dummy,
       rpm: 2}}
router_settings:
  fallbacks: [{{flaky: [mock-gpt]}}, {{doomed: [doomed-backup]}}]
litellm_settings: {{num_retries: 0}}
stack:
  port: {port}
  workers: 2
  metrics: true
  startup_timeout: 240
  local: {{fake_provider: true}}
"""
RULES = REPO / "monitoring" / "prometheus" / "alerts.yml"
DASHBOARD = REPO / "monitoring" / "grafana" / "litellm-gateway.json"
COUNT = ('sum(litellm_proxy_total_requests_metric_total'
         '{requested_model="mock-gpt", route="/v1/chat/completions", status_code="200"})')


@pytest.fixture(scope="module")
def proxy(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    base = tmp_path_factory.mktemp("metrics")
    shutil.copytree(REPO / "configs", base / "configs", ignore=shutil.ignore_patterns("*.yaml"))
    for layer in ("base.yaml", "providers/local-fake.yaml"):
        shutil.copy(REPO / "configs" / layer, base / "configs" / layer)
    (base / "configs" / "environments" / "metrics.yaml").write_text(
        LAYER.format(port=free_port()), encoding="utf-8")
    (base / ".env").write_text(f"LITELLM_MASTER_KEY={KEY}\n", encoding="utf-8")
    (base / ".env").chmod(0o600)
    shutil.copy(REPO / ".env.example", base / ".env.example")
    cwd = Path.cwd()
    os.chdir(base)
    try:
        start_target(Target(env="metrics"))
        status = runtime_for(Target(env="metrics"))[1].status()
        assert status.healthy and status.url, status
        yield status.url
    finally:
        runtime_for(Target(env="metrics"))[1].stop(grace=5.0)
        os.chdir(cwd)


@pytest.fixture(scope="module")
def prometheus(proxy: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    binary = shutil.which("prometheus")
    if binary is None:
        pytest.fail("prometheus is not installed (Debian: prometheus; scripts/install-test-deps.sh)")
    folder = tmp_path_factory.mktemp("prometheus")
    (folder / "key").write_text(KEY)
    (folder / "alerts.yml").write_text(_quick(RULES.read_text()))
    target = proxy.removeprefix("http://").rstrip("/")
    (folder / "prometheus.yml").write_text(f"""\
global: {{scrape_interval: 1s, evaluation_interval: 1s}}
rule_files: [alerts.yml]
scrape_configs:
  - job_name: litellm
    metrics_path: /metrics/
    authorization: {{credentials_file: {folder / 'key'}}}
    static_configs: [{{targets: ["{target}"]}}]
""")
    port = free_port()
    with (folder / "log").open("wb") as log:
        server = subprocess.Popen(
            [binary, f"--config.file={folder / 'prometheus.yml'}",
             f"--storage.tsdb.path={folder / 'data'}", f"--web.listen-address=127.0.0.1:{port}"],
            stdout=log, stderr=subprocess.STDOUT)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.terminate()
        server.wait(timeout=30)


def _quick(rules: str) -> str:
    """The shipped rules with seconds for minutes: the same expressions, a test-sized wait."""
    for window, short in (("[5m]", "[20s]"), ("[1h]", "[1m]")):
        rules = rules.replace(window, short)
    return re.sub(r"(?m)^(\s+)for: \S+$", r"\1for: 0s", rules)


@pytest.fixture(scope="module")
def traffic(proxy: str) -> dict[str, int]:
    """Plain and streamed chat to mock-gpt on new connections (both workers), `flaky` through
    its fallback, `doomed` failing over to a group that fails too, `tight` past its rpm: what
    each got back, counted by the client."""
    got: dict[str, int] = {}
    load = ["mock-gpt"] * (PLAIN + STREAMS) + ["flaky"] * 4 + ["doomed"] * 2 + ["tight"] * 4
    for i, model in enumerate(load):
        key = _chat(proxy, model, stream=model == "mock-gpt" and i >= PLAIN)
        got[key] = got.get(key, 0) + 1
    return got


def _chat(proxy: str, model: str, stream: bool = False) -> str:
    with httpx.Client(timeout=60) as client:  # a new connection: spread over the workers
        answer = client.post(f"{proxy}/v1/chat/completions", headers={
            "Authorization": f"Bearer {KEY}"}, json={
            "model": model, "stream": stream, "messages": [{"role": "user", "content": "hi"}]})
    assert not stream or answer.text.rstrip().endswith("data: [DONE]")
    return f"{model} {answer.status_code}"


def _query(prometheus: str, expr: str) -> list[dict]:
    try:
        found = httpx.get(f"{prometheus}/api/v1/query", params={"query": expr}, timeout=5).json()
    except httpx.HTTPError:
        return []
    return found.get("data", {}).get("result", [])


def _value(prometheus: str, expr: str) -> float | None:
    result = _query(prometheus, expr)
    return float(result[0]["value"][1]) if result else None


def _settled(prometheus: str, expr: str, want: float, within: float = 60.0) -> float | None:
    deadline, seen = time.monotonic() + within, None
    while time.monotonic() < deadline:
        seen = _value(prometheus, expr)
        if seen == want:
            return seen
        time.sleep(1.0)
    return seen


def _firing(prometheus: str, alert: str, label: str) -> set[str]:
    found = _query(prometheus, f'ALERTS{{alertname="{alert}", alertstate="firing"}}')
    return {a["metric"][label] for a in found}


def test_metrics_need_the_key(proxy: str) -> None:
    assert httpx.get(f"{proxy}/metrics/").status_code == 401
    answer = httpx.get(f"{proxy}/metrics/", headers={"Authorization": f"Bearer {KEY}"})
    assert answer.status_code == 200 and "litellm_" in answer.text


def test_prometheus_counts_each_request_once_across_both_workers(
    proxy: str, prometheus: str, traffic: dict[str, int]
) -> None:
    assert traffic["mock-gpt 200"] == PLAIN + STREAMS, traffic
    served_by = {p.name for p in (Path(".run") / "metrics").glob("metrics-*/counter_*.db")}
    assert len(served_by) >= 2, f"one worker served everything: {served_by}"
    # LiteLLM labels a request answered by a fallback with the group that answered it:
    # flaky's 4 are counted as mock-gpt's.
    sent = PLAIN + STREAMS + traffic["flaky 200"]
    assert _settled(prometheus, COUNT, float(sent)) == sent
    limited = 'sum(litellm_proxy_total_requests_metric_total{requested_model="tight", status_code="429"})'
    assert traffic.get("tight 429", 0) >= 1, traffic
    assert _settled(prometheus, limited, float(traffic["tight 429"])) == traffic["tight 429"]


def test_failure_alerts_fire_on_failing_groups_then_resolve(
    proxy: str, prometheus: str, traffic: dict[str, int]
) -> None:
    assert traffic == {**traffic, "flaky 200": 4, "doomed 500": 2}, traffic
    failing = ("LiteLLMDeploymentFailing", "model_group")
    falling_back = ("LiteLLMFallbacksFiring", "requested_model")
    deadline = time.monotonic() + 90
    while time.monotonic() < deadline:  # calls while we wait: the rules' windows are 20 s
        for model in ("flaky", "doomed", "tight"):
            _chat(proxy, model)  # tight: past its rpm, the router's own 429s
        if {"flaky", "doomed"} <= _firing(prometheus, *failing) and \
                {"flaky", "doomed"} <= _firing(prometheus, *falling_back):
            break
        time.sleep(1.0)
    assert _firing(prometheus, *failing) - {"doomed-backup"} == {"flaky", "doomed"}
    assert _firing(prometheus, *falling_back) == {"flaky", "doomed"}
    deadline = time.monotonic() + 90  # no more calls: the 20 s windows empty
    while (_firing(prometheus, *failing) or _firing(prometheus, *falling_back)) and \
            time.monotonic() < deadline:
        time.sleep(1.0)
    assert _firing(prometheus, *failing) == set() and _firing(prometheus, *falling_back) == set()


def test_every_dashboard_query_returns_data(prometheus: str, traffic: dict[str, int]) -> None:
    dashboard = json.loads(DASHBOARD.read_text())
    empty = []
    for panel in dashboard["panels"]:
        for target in panel["targets"]:
            expr = target["expr"].replace("$__rate_interval", "2m").replace("$model_group", ".*")
            if not _query(prometheus, expr):
                empty.append(f"{panel['title']}: {target['legendFormat']}")
    assert empty == []


def _status(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "llmproxy_ops", "status", "--env", "metrics",
                           *args], capture_output=True, text=True, timeout=120)


def test_status_shows_what_prometheus_computes_from_the_same_counters(
    proxy: str, prometheus: str, traffic: dict[str, int]
) -> None:
    done = _status("--format", "json")
    assert done.returncode == 0, done.stderr
    doc = json.loads(done.stdout)
    assert doc["traffic"]["replicas"] == 1 and doc["traffic"]["window_s"] is None
    groups = doc["traffic"]["groups"]
    for group in ("mock-gpt", "tight"):
        selector = f'requested_model="{group}"'
        total = f"sum(litellm_proxy_total_requests_metric_total{{{selector}}})"
        assert _settled(prometheus, total, groups[group]["requests"]) == groups[group]["requests"]
        failed = f'sum(litellm_proxy_total_requests_metric_total{{{selector}, status_code!~"2.."}})'
        errors = _value(prometheus, failed) or 0.0
        assert groups[group]["error_pct"] == round(100 * errors / groups[group]["requests"], 3)
        for q, key in ((0.5, "p50_s"), (0.99, "p99_s")):
            expr = (f"histogram_quantile({q}, sum by (le) (litellm_request_total_latency_metric_"
                    f'bucket{{model_group="{group}"}}))')
            assert groups[group][key] == pytest.approx(_value(prometheus, expr), abs=1e-3), key
    assert groups["tight"]["error_pct"] > 0  # its 429s
    text = _status()
    assert "traffic since start (1 replica(s) scraped):" in text.stdout, text.stdout


def test_status_rates_over_a_window_are_what_was_sent_in_it(proxy: str) -> None:
    spec, target = load_target(Target(env="metrics")), Target(env="metrics")
    status = runtime_for(target)[1].status()
    before = status_traffic.environment_sample(spec, target, status)
    for i in range(6):
        assert _chat(proxy, "mock-gpt", stream=i % 2 == 1) == "mock-gpt 200"
    after = status_traffic.environment_sample(spec, target, status)
    (mock,) = status_traffic.traffic(after, before)
    assert (mock.group, mock.requests, mock.error_pct) == ("mock-gpt", 6, 0.0)
    assert mock.tokens_out > 0 and mock.p50_s is not None
    quiet = _status("--window", "1")
    assert quiet.returncode == 0, quiet.stderr
    assert "traffic over the last 1 s (1 replica(s) scraped): no requests" in quiet.stdout


def test_status_watch_redraws_until_ctrl_c(proxy: str) -> None:
    argv = [sys.executable, "-m", "llmproxy_ops", "status", "--env", "metrics", "--watch",
            "--interval", "0.5", "--format", "json"]
    lines: list[dict] = []
    with subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                          text=True) as watch:
        assert watch.stdout is not None and watch.stderr is not None
        # the first frame (its first scrape) before the request: on a loaded machine the CLI
        # may take longer to start than any fixed sleep, and a request it saw in its first
        # scrape is in no window after it
        lines.append(json.loads(watch.stdout.readline()))
        _chat(proxy, "mock-gpt")
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            lines.append(json.loads(watch.stdout.readline()))
            found = lines[-1]["traffic"]  # the first frame: since start; then the last minute
            if found.get("window_s") and "mock-gpt" in found.get("groups", {}):
                break
        watch.send_signal(signal.SIGINT)
        assert watch.wait(timeout=30) == 0, watch.stderr.read()
    assert len(lines) >= 2 and lines[-1]["traffic"]["window_s"] > 0
    assert lines[-1]["traffic"]["groups"]["mock-gpt"]["requests"] >= 1
