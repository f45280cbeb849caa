"""The memory guard (stack.workers_max_rss, llmproxy_ops/launcher.py): real litellm workers
past the limit are replaced under plain + SSE load, and no request fails, no stream is cut."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import pytest

from llmproxy_ops.targets.local.process import LaunchSpec, LocalRuntime, RuntimeStatus
from llmproxy_ops.targets.local.runtime import _status
from llmproxy_ops.testing.fake_provider import FakeProvider
from tests.integration.test_local_runtime import KEY, launch_for, write_config

pytestmark = pytest.mark.integration

CONFIG = """\
model_list:
  - model_name: plain
    litellm_params: {{model: openai/gpt-4o-mini, api_base: "{base}", api_key: dummy}}
  - model_name: stream
    litellm_params: {{model: openai/drip-20x100, api_base: "{base}", api_key: dummy}}
general_settings: {{master_key: os.environ/LITELLM_MASTER_KEY}}
litellm_settings: {{num_retries: 0, request_timeout: 60}}
"""
# Above a fresh worker's RSS by less than what a worker gains serving its first requests
# (~13 MiB with LiteLLM 1.108.7 here): every worker that serves gets recycled.
MARGIN_MIB = 6
PLAIN_CLIENTS, STREAM_CLIENTS = 3, 3
LOAD_S = 150.0  # at most: the load stops once RECYCLES happened
RECYCLES = 2


@dataclass
class Load:
    """Plain and SSE clients in threads, each on its own kept-alive connection."""

    url: str
    stop: threading.Event = field(default_factory=threading.Event)
    ok: int = 0
    streams: int = 0
    failures: list[str] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def run(self, stream: bool) -> None:
        body = {"model": "stream" if stream else "plain", "stream": stream,
                "messages": [{"role": "user", "content": "hi"}]}
        headers = {"Authorization": f"Bearer {KEY}"}
        with httpx.Client(base_url=self.url, headers=headers, timeout=60) as client:
            while not self.stop.is_set():
                try:
                    failure = (self._stream(client, body) if stream
                               else self._plain(client, body))
                except httpx.HTTPError as exc:
                    failure = f"{type(exc).__name__}: {exc}"
                with self.lock:
                    if failure:
                        self.failures.append(failure)
                    elif stream:
                        self.streams += 1
                    else:
                        self.ok += 1

    @staticmethod
    def _plain(client: httpx.Client, body: dict) -> str:
        response = client.post("/v1/chat/completions", json=body)
        return "" if response.status_code == 200 else f"HTTP {response.status_code}"

    @staticmethod
    def _stream(client: httpx.Client, body: dict) -> str:
        with client.stream("POST", "/v1/chat/completions", json=body) as response:
            if response.status_code != 200:
                return f"stream HTTP {response.status_code}"
            lines = [line for line in response.iter_lines() if line.startswith("data: ")]
        return "" if lines and lines[-1] == "data: [DONE]" else f"stream cut: {lines[-1:]}"


@pytest.fixture(scope="module")
def fake() -> Iterator[FakeProvider]:
    with FakeProvider() as provider:
        yield provider


def _start(folder: Path, fake: FakeProvider, limit: int) -> tuple[LocalRuntime, RuntimeStatus]:
    runtime = LocalRuntime(folder / "run")
    config = write_config(folder, CONFIG.format(base=fake.openai_base))
    launch: LaunchSpec = launch_for(config, workers=2, max_rss_mib=limit)
    return runtime, runtime.up(launch)


def _sampled(runtime: LocalRuntime) -> list[dict]:
    """The workers' record once the supervisor has sampled every worker's RSS."""
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        records = list(runtime.status().worker_records)
        if records and all(isinstance(r.get("rss_mib"), int) for r in records):
            return records
        time.sleep(0.5)
    raise AssertionError(f"no RSS recorded: {runtime.status().worker_records}")


def test_workers_past_the_limit_are_recycled_without_a_failure(
    fake: FakeProvider, tmp_path: Path
) -> None:
    # A fresh worker's size, from a proxy whose limit is far away (recorded, never reached)
    runtime, status = _start(tmp_path / "idle", fake, 4096)
    try:
        idle = max(r["rss_mib"] for r in _sampled(runtime))
        assert all(r["recycles"] == 0 for r in runtime.status().worker_records)
        assert "Memory guard: a worker past 4096 MiB is replaced" in runtime.log_path.read_text()
    finally:
        runtime.down(grace=10)
    runtime, status = _start(tmp_path / "guarded", fake, idle + MARGIN_MIB)
    assert status.url is not None
    load = Load(status.url)
    threads = [threading.Thread(target=load.run, args=(i >= PLAIN_CLIENTS,))
               for i in range(PLAIN_CLIENTS + STREAM_CLIENTS)]
    try:
        for thread in threads:
            thread.start()
        deadline = time.monotonic() + LOAD_S
        while time.monotonic() < deadline and _recycles(runtime) < RECYCLES:
            time.sleep(1)
        time.sleep(3)  # load on the last replacement too
        load.stop.set()
        for thread in threads:
            thread.join(60)
        after = runtime.status()
    finally:
        load.stop.set()
        runtime.down(grace=30)
    log = runtime.log_path.read_text()
    assert _recycles(after) >= RECYCLES, (after.worker_records, log[-3000:])
    assert load.failures == [], load.failures[:5]
    assert load.ok > 0 and load.streams > 0
    assert log.count(f"MiB > {idle + MARGIN_MIB} MiB; replaced by [") >= RECYCLES
    assert after.restarts == 0 and "died" not in log  # a recycle is not a crash
    # `status` says it per worker, in text and JSON
    shown = _status("guarded", after)
    workers = shown.as_dict()["units"][0]["workers"]
    assert sum(w["recycles"] for w in workers) == _recycles(after), workers
    assert all(isinstance(w["rss_mib"], int) for w in workers), workers
    assert "recycled" in shown.as_text() and " MiB" in shown.as_text(), shown.as_text()
    assert dict(shown.facts)["memory_guard"] == f"{idle + MARGIN_MIB} MiB per worker"


def _recycles(source: LocalRuntime | RuntimeStatus) -> int:
    status = source.status() if isinstance(source, LocalRuntime) else source
    return sum(int(r.get("recycles") or 0) for r in status.worker_records)
