"""`apply` on a running compose stack under load, 1 replica (surge) and 2 (one at a time).

One stack per replica count. Against it, through nginx on 127.0.0.1 and with a bounded load
running (two plain clients, one streaming client, keep-alive): `--dry-run` changes nothing;
an rpm edit plus a new model group rolls out with zero failed requests and zero streams cut,
and a 20 s stream started before the rollout arrives whole; a change whose smoke test fails
is undone by itself while the old config keeps serving, again with zero failures.
"""

from __future__ import annotations

import secrets
import shutil
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import pytest

from llmproxy_ops.ops.apply.deploy import ApplyRequest, apply
from llmproxy_ops.ops.certs import create_self_signed
from llmproxy_ops.pipeline import Target, runtime_for, start_target
from llmproxy_ops.releases import ReleaseStore
from llmproxy_ops.testing.load import Load, LoadReport, stream_chunks
from tests.conftest import REPO, free_port

pytestmark = pytest.mark.stack

KEY = "sk-rollout-stack-initial-7c2e9a41d5"
LONG_STREAM_CHUNKS, CHUNK_DELAY_MS = 20, 1000  # a 20 s stream


def environment(replicas: int, https: int, http: int, extra_models: str = "", rpm: int = 100000,
                ) -> str:
    return f"""\
layers: [ci.yaml]
model_list:
  - model_name: mock-gpt
    litellm_params: {{rpm: {rpm}}}
  - model_name: fake-openai
    litellm_params: {{rpm: 100000}}
{extra_models}litellm_settings: {{success_callback: [], failure_callback: []}}
stack:
  environment: {{}}
  drain_timeout: 60
  compose:
    project: llmproxy-rollout-{replicas}
    litellm: {{replicas: {replicas}, cpus: 1.0, memory: 1g}}
    db: {{enabled: false}}
    mlflow: {{enabled: false}}
    nginx: {{https_port: {https}, http_port: {http}, rate: 100000r/m, burst: 1000}}
"""


NEW_GROUP = """\
  - model_name: mock-gpt-2
    litellm_params: {model: openai/mock-gpt-2, mock_response: "second group", api_key: dummy}
"""
# The fake provider answers a model named fail-500 with HTTP 500: the smoke test fails.
BROKEN_GROUP = """\
  - model_name: broken
    litellm_params: {model: openai/fail-500, api_base: "http://fake-provider:9000/v1",
                     api_key: os.environ/FAKE_PROVIDER_KEY}
"""


class LongStream(threading.Thread):
    """One slow stream through nginx (the fake provider slowed down for it alone), started
    once `ready()` holds; records how it ended."""

    def __init__(self, url: str, cert: str, fake: str, ready: Callable[[], bool]):
        super().__init__(daemon=True)
        self.url, self.cert, self.fake, self.ready = url, cert, fake, ready
        self.first_chunk = threading.Event()
        self.result: tuple[bool, int, str] | None = None
        self.took = 0.0

    def run(self) -> None:
        deadline = time.monotonic() + 300
        while not self.ready() and time.monotonic() < deadline:
            time.sleep(0.5)
        slow = {"chunks": LONG_STREAM_CHUNKS, "chunk_delay_ms": CHUNK_DELAY_MS}
        httpx.post(f"{self.fake}/_fake/config", json=slow).raise_for_status()
        reset = threading.Thread(target=self._reset)
        reset.start()
        t0 = time.monotonic()
        with httpx.Client(base_url=self.url, verify=self.cert, timeout=120,
                          headers={"Authorization": f"Bearer {KEY}"}) as client:
            client.event_hooks["response"] = [lambda _: self.first_chunk.set()]
            self.result = stream_chunks(client, "fake-openai")
        self.took = time.monotonic() - t0
        self.first_chunk.set()
        reset.join()

    def _reset(self) -> None:
        # The provider decides a request's pace when it arrives: later requests are fast.
        self.first_chunk.wait(60)
        httpx.post(f"{self.fake}/_fake/reset").raise_for_status()


def surged(runtime: Any) -> Callable[[], bool]:
    """One replica: the new container beside the old one is healthy (the drain comes next)."""
    def ready() -> bool:
        health = [u.health for u in runtime.status().units if u.name == "litellm"]
        return health == ["healthy", "healthy"]
    return ready


def failures(report: LoadReport, runtime: Any) -> str:
    """The load's figures, then what the engine saw: restarts and exits per container, and
    the last lines of every LiteLLM replica's log (a crash must show here, not hide)."""
    st = runtime.status()
    logs = [f"--- {u.name} ---\n" + "\n".join(runtime.logs(30, u.name))
            for u in st.units if u.name.startswith("litellm")]
    return "\n".join([report.summary(), st.as_text(), *logs])


def models(url: str, cert: str) -> set[str]:
    r = httpx.get(f"{url}/v1/models", headers={"Authorization": f"Bearer {KEY}"}, verify=cert)
    assert r.status_code == 200, r.text
    return {m["id"] for m in r.json()["data"]}


@pytest.mark.parametrize("replicas", [1, 2])
def test_apply_under_load(replicas: int, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    shutil.copytree(REPO / "configs", tmp_path / "configs")
    https, http = free_port(), free_port()
    env_yaml = tmp_path / "configs/environments/rollout.yaml"
    env_yaml.write_text(environment(replicas, https, http))
    (tmp_path / ".env").write_text(f"LITELLM_MASTER_KEY={KEY}\nFAKE_PROVIDER_KEY=fake-key-0123\n"
                                   f"REDIS_PASSWORD=redis-{secrets.token_hex(12)}\n")  # 2 replicas share rpm
    (tmp_path / ".env").chmod(0o600)
    shutil.copy(REPO / ".env.example", tmp_path / ".env.example")
    create_self_signed(tmp_path / "certs", ["localhost", "127.0.0.1"])
    cert, url = str(tmp_path / "certs/cert.pem"), f"https://127.0.0.1:{https}"
    target = Target(env="rollout")
    spec, runtime = runtime_for(target)
    store = ReleaseStore(spec)
    try:
        start_target(target)
        first = store.running()
        containers = [u.url for u in runtime.status().units]

        # --dry-run: a diff, nothing else
        env_yaml.write_text(environment(replicas, https, http, NEW_GROUP, rpm=90000))
        dry = apply(ApplyRequest(target, dry_run=True))
        assert dry.changed and dry.deployment is None
        added = [line for line in dry.diff.text().splitlines() if line.startswith("+")]
        assert any("model_name: mock-gpt-2" in line for line in added), dry.diff.text()
        assert any("rpm: 90000" in line for line in added), dry.diff.text()
        assert store.running() == first and [u.url for u in runtime.status().units] == containers
        assert "mock-gpt-2" not in models(url, cert)

        # the rpm edit and the new group, under load, with a 20 s stream in flight when the
        # old replica is drained (2 replicas: from the start; 1: once the surge is healthy)
        fake = f"http://{runtime.compose.port('fake-provider', 9000)}"  # type: ignore[attr-defined]
        long_stream = LongStream(url, cert, fake, surged(runtime) if replicas == 1 else lambda: True)
        long_stream.start()
        if replicas == 2:
            assert long_stream.first_chunk.wait(30)
        with Load(url, KEY, "mock-gpt", verify=cert) as load:
            time.sleep(2.0)
            result = apply(ApplyRequest(target))
            time.sleep(2.0)
        long_stream.join(60)
        print(f"\n{replicas} replica(s), change: {load.report.summary()}; steps "
              f"{[(s.name, s.ok, s.duration_s, s.detail) for s in result.deployment.steps]}"
              if result.deployment else "")
        assert result.deployment is not None and result.ok, (
            f"{result.deployment and result.deployment.failed_check}\n"
            f"{failures(load.report, runtime)}")
        assert not load.report.disruptions(), failures(load.report, runtime)
        assert long_stream.result is not None, "the long stream never started"
        ok, chunks, error = long_stream.result
        assert ok and chunks >= LONG_STREAM_CHUNKS and error == "", long_stream.result
        assert long_stream.took >= LONG_STREAM_CHUNKS * CHUNK_DELAY_MS / 1000
        drain = next(s for s in result.deployment.steps if "drain" in s.name)
        # the drain waited for the stream (started before it, 20 s long)
        assert drain.duration_s >= 5, drain
        assert "mock-gpt-2" in models(url, cert)
        assert result.deployment.rollout.gap_s == 0.0
        applied = store.running()
        assert applied is not None and applied != first

        # a change that fails its smoke test: undone by itself, the old config serves
        env_yaml.write_text(environment(replicas, https, http, NEW_GROUP + BROKEN_GROUP, 90000))
        with Load(url, KEY, "mock-gpt", verify=cert) as load:
            time.sleep(2.0)
            bad = apply(ApplyRequest(target))
            time.sleep(2.0)
        assert bad.deployment is not None
        print(f"{replicas} replica(s), failing change: {load.report.summary()}; steps "
              f"{[(s.name, s.ok, s.duration_s) for s in bad.deployment.steps]}; rollback "
              f"{bad.rollback and [(s.name, s.ok, s.duration_s) for s in bad.rollback.steps]}")
        assert not bad.ok
        assert "smoke test failed: chat: broken" in (bad.deployment.failed_check or "")
        if replicas == 1:  # surge: the new container was removed, the old one never stopped
            assert not bad.deployment.rollout.changed and bad.rollback is None
        else:  # the recreated replica went back to the running build
            assert bad.rollback is not None and bad.rollback.ok, bad.rollback
        assert not load.report.disruptions(), failures(load.report, runtime)
        assert store.running() == applied
        assert not [u for u in runtime.status().units if u.restarts], failures(load.report, runtime)
        assert models(url, cert) == {"mock-gpt", "fake-openai", "fake-anthropic", "mock-gpt-2"}
    finally:
        runtime.stop(volumes=True)
