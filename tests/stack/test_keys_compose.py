"""Master-key rotation of a real compose stack under load: 1 replica (surge) and 2.

A bounded client loop sends chat requests through nginx while the rotation runs and switches
to the new key as soon as the rotation reports it written. Requests are classed as ok, 5xx,
connection errors and auth rejections (a client holding the new key meets a replica that
still has the old one: inherent to a master-key change); the availability gap is the longest
time without a successful answer.
"""

from __future__ import annotations

import secrets
import shutil
import threading
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import pytest

from llmproxy_ops.envfile import read_env_file
from llmproxy_ops.ops.certs import create_self_signed
from llmproxy_ops.ops.keys.rotate import RotateRequest, rotate_master
from llmproxy_ops.pipeline import Target, runtime_for, start_target
from tests.conftest import REPO, free_port

pytestmark = pytest.mark.stack

OLD_KEY = "sk-keys-stack-initial-4b8e1f0c9d"
CONCURRENCY = 4
MAX_REQUESTS = 3000  # hard bound; the loop normally stops 40 requests after the rotation
AFTER_ROTATION = 40
REQUEST_TIMEOUT_S = 20.0
PACE_S = 0.25  # ~15 req/s: the bounded loop spans the whole rotation




def environment(replicas: int, https: int, http: int) -> str:
    return f"""\
layers: [ci.yaml]
model_list:
  - model_name: mock-gpt
    litellm_params: {{rpm: 1000000}}
litellm_settings: {{success_callback: [], failure_callback: []}}
stack:
  environment: {{}}
  compose:
    project: llmproxy-keys-{replicas}
    litellm: {{replicas: {replicas}, cpus: 1.0, memory: 1g}}
    db: {{enabled: false}}
    mlflow: {{enabled: false}}
    fake_provider: {{enabled: false}}
    nginx: {{https_port: {https}, http_port: {http}, rate: 100000r/m, burst: 1000}}
"""


class Load:
    """The client loop: key switching, request classes and the availability gap."""

    def __init__(self, url: str, key: str):
        self.url, self.key = url, key
        self.classes: Counter[str] = Counter()
        self.ok_times: list[float] = []
        self.answered_times: list[float] = []  # any answer from litellm (not 5xx, not dropped)
        self.sent = 0
        self.last = 0.0  # when the last request ended
        self.rotation_done = threading.Event()
        self.after = 0
        self.lock = threading.Lock()

    def switch(self, key: str) -> None:
        self.key = key

    def worker(self) -> None:
        with httpx.Client(verify=False, timeout=REQUEST_TIMEOUT_S) as client:
            while self._next():
                self.classes[self._one(client)] += 1
                self.last = time.monotonic()
                time.sleep(PACE_S)

    def _next(self) -> bool:
        with self.lock:
            if self.sent >= MAX_REQUESTS or self.after >= AFTER_ROTATION:
                return False
            self.sent += 1
            self.after += self.rotation_done.is_set()
            return True

    def _one(self, client: httpx.Client) -> str:
        payload = {"model": "mock-gpt", "messages": [{"role": "user", "content": "hi"}]}
        try:
            r = client.post(
                f"{self.url}/v1/chat/completions",
                json=payload,
                headers={"Authorization": f"Bearer {self.key}"},
            )
        except httpx.TransportError as exc:
            return f"connection error ({type(exc).__name__})"
        if r.status_code >= 500:
            return f"5xx ({r.status_code})"
        self.answered_times.append(time.monotonic())
        if r.status_code == 200:
            self.ok_times.append(time.monotonic())
            return "ok"
        return "auth rejection" if r.status_code in (400, 401, 403) else f"other ({r.status_code})"

    @staticmethod
    def gap(times_seen: list[float], start: float, end: float) -> float:
        """The longest interval in [start, end] without one of `times_seen`."""
        times = sorted([start, *(t for t in times_seen if start <= t <= end), end])
        return max(b - a for a, b in zip(times, times[1:], strict=False))


@pytest.mark.parametrize("replicas", [2, 1])
def test_master_rotation_under_load(replicas: int, tmp_path: Path, monkeypatch) -> None:  # noqa: ANN001
    monkeypatch.chdir(tmp_path)
    shutil.copytree(REPO / "configs", tmp_path / "configs")
    https, http = free_port(), free_port()
    (tmp_path / "configs/environments/keys.yaml").write_text(environment(replicas, https, http))
    env_file = tmp_path / ".env"
    env_file.write_text(f"LITELLM_MASTER_KEY={OLD_KEY}\nFAKE_PROVIDER_KEY=fake-key-0123\n"
                        f"REDIS_PASSWORD=redis-{secrets.token_hex(12)}\n")  # 2 replicas share rpm
    env_file.chmod(0o600)
    shutil.copy(REPO / ".env.example", tmp_path / ".env.example")
    create_self_signed(tmp_path / "certs", ["localhost", "127.0.0.1"])
    target = Target(env="keys")
    _, runtime = runtime_for(target)
    try:
        start_target(target)
        load = Load(f"https://127.0.0.1:{https}", OLD_KEY)
        written = lambda: load.switch(read_env_file(env_file)["LITELLM_MASTER_KEY"])  # noqa: E731
        with ThreadPoolExecutor(CONCURRENCY) as pool:
            futures = [pool.submit(load.worker) for _ in range(CONCURRENCY)]
            time.sleep(2.0)  # traffic flows before the rotation starts
            t0 = time.monotonic()
            result = rotate_master(RotateRequest(target, on_written=written))
            load.rotation_done.set()
            for f in futures:
                f.result()
            t1 = time.monotonic()
        new = read_env_file(env_file)["LITELLM_MASTER_KEY"]
        end = min(t1, load.last)  # only the span the loop covered
        gap = load.gap(load.answered_times, t0, end)
        ok_gap = load.gap(load.ok_times, t0, end)
        print(
            f"\n{replicas} replica(s): {load.sent} requests, {dict(load.classes)}; "
            f"availability gap (no answer) {gap:.2f} s; longest time without a 200 "
            f"{ok_gap:.2f} s; rotation {t1 - t0:.1f} s, gap_s={result.gap_s}; "
            f"steps: {[(s.name, s.ok, s.duration_s) for s in result.steps]}"
        )
        assert result.ok, (result.steps, result.verification)
        names = ["litellm"] if replicas == 1 else ["litellm-1", "litellm-2"]
        assert [c.replica for c in result.verification] == names
        assert all(
            c.detail == "new key: accepted (HTTP 200); old key: rejected (HTTP 401)"
            for c in result.verification
        )
        with httpx.Client(verify=False, timeout=10) as client:
            for key, expected in ((OLD_KEY, 401), (new, 200)):
                statuses = {
                    client.get(
                        f"{load.url}/v1/models", headers={"Authorization": f"Bearer {key}"}
                    ).status_code
                    for _ in range(6)
                }  # round robin: both replicas
                assert statuses == {expected}
        fivexx = {k: v for k, v in load.classes.items() if k.startswith("5xx")}
        dropped = {k: v for k, v in load.classes.items() if k.startswith("connection")}
        # 1 replica surges (a second container first), 2 go one at a time; either way nginx
        # stops sending a replica new requests and drains it before it stops.
        assert fivexx == {} and dropped == {}, load.classes
        assert result.gap_s == 0.0 and not result.plan.gap_expected
    finally:
        runtime.stop(volumes=True)
