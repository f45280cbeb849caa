"""stack.metrics on the local runtime, as shipped (2 workers here: the case that needs the
shared folder), scraped by a real Prometheus: its request count equals what the load client
sent, with both workers serving, so every worker is counted once; /metrics needs the key."""

from __future__ import annotations

import os
import shutil
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from llmproxy_ops.pipeline import Target, runtime_for, start_target
from tests.conftest import REPO, free_port

pytestmark = pytest.mark.integration

KEY = "sk-llmproxy-ops-metrics-test-9c41e2"
PLAIN, STREAMS = 30, 10
LAYER = """\
layers: [../base.yaml, ../providers/local-fake.yaml]
litellm_settings: {{num_retries: 0}}
stack:
  port: {port}
  workers: 2
  metrics: true
  startup_timeout: 240
  local: {{fake_provider: true}}
"""
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
    target = proxy.removeprefix("http://").rstrip("/")
    (folder / "prometheus.yml").write_text(f"""\
global: {{scrape_interval: 1s}}
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


def _query(prometheus: str, expr: str) -> float | None:
    try:
        found = httpx.get(f"{prometheus}/api/v1/query", params={"query": expr}, timeout=5).json()
    except httpx.HTTPError:
        return None
    result = found.get("data", {}).get("result", [])
    return float(result[0]["value"][1]) if result else None


def _settled(prometheus: str, expr: str, want: float, within: float = 60.0) -> float | None:
    deadline, seen = time.monotonic() + within, None
    while time.monotonic() < deadline:
        seen = _query(prometheus, expr)
        if seen == want:
            return seen
        time.sleep(1.0)
    return seen


def test_metrics_need_the_key(proxy: str) -> None:
    assert httpx.get(f"{proxy}/metrics/").status_code == 401
    answer = httpx.get(f"{proxy}/metrics/", headers={"Authorization": f"Bearer {KEY}"})
    assert answer.status_code == 200 and "litellm_" in answer.text


def test_prometheus_counts_each_request_once_across_both_workers(
    proxy: str, prometheus: str
) -> None:
    assert _settled(prometheus, 'up{job="litellm"}', 1.0) == 1.0
    headers = {"Authorization": f"Bearer {KEY}"}
    body = {"model": "mock-gpt", "messages": [{"role": "user", "content": "hi"}]}
    served_by: set[str] = set()
    for i in range(PLAIN + STREAMS):
        stream = i >= PLAIN
        # a new connection each time: the kernel spreads them over both workers' sockets
        with httpx.Client(timeout=30) as client:
            answer = client.post(f"{proxy}/v1/chat/completions", headers=headers,
                                 json={**body, "stream": stream})
        assert answer.status_code == 200, answer.text
        assert not stream or answer.text.rstrip().endswith("data: [DONE]")
    run_dir = Path(".run") / "metrics"
    served_by = {p.name for p in run_dir.glob("metrics-*/counter_*.db")}
    assert len(served_by) >= 2, f"one worker served everything: {served_by}"
    assert _settled(prometheus, COUNT, float(PLAIN + STREAMS)) == PLAIN + STREAMS
