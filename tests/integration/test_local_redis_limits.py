"""rpm stays exact with 2 workers: the local runtime starts a redis-server beside the proxy.

Two environments of one project, started side by side from the shipped base and mock layers
(mock_response models) with `workers: 2` and rpm N: "shared" as the runtime renders it (a
Redis, by the rule in render/stack_redis.py), "apart" with `stack.local.redis.enabled: false`.
Each burst request opens a new connection, so the kernel spreads them over both workers'
sockets (llmproxy_ops/launcher.py; all on one worker has odds 2 in 65,536 for 16 requests).
LiteLLM counts per UTC wall-clock minute: a burst is not begun in a minute's last seconds and
is measured again if it crossed a boundary anyway.
"""

from __future__ import annotations

import os
import shutil
import signal
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import pytest

from llmproxy_ops.pipeline import Target, runtime_for, start_target
from llmproxy_ops.runtime import process
from tests.conftest import REPO, free_port

pytestmark = pytest.mark.integration

KEY = "sk-llmproxy-ops-redis-test-5d2b7e"
RPM = 4
BURST = 16
MARGIN_S = 10.0  # a start of the burst this close to a minute's end waits for the next one
LAYER = """\
layers: [../base.yaml, ../providers/mock.yaml]
model_list:
  - model_name: mock-gpt
    litellm_params: {{rpm: {rpm}}}
litellm_settings: {{num_retries: 0}}
stack:
  port: {port}
  workers: 2
  startup_timeout: 240
  local: {{redis: {redis}}}
"""


@pytest.fixture(scope="module")
def project(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    base = tmp_path_factory.mktemp("redis-limits")
    # the repo's configs, copied: layers stay inside the configs folder
    shutil.copytree(REPO / "configs", base / "configs", ignore=shutil.ignore_patterns("*.yaml"))
    for layer in ("base.yaml", "providers/mock.yaml"):
        shutil.copy(REPO / "configs" / layer, base / "configs" / layer)
    envs = base / "configs" / "environments"
    for name, redis in (("shared", "{}"), ("apart", "{enabled: false}")):
        (envs / f"{name}.yaml").write_text(
            LAYER.format(rpm=RPM, port=free_port(), redis=redis), encoding="utf-8")
    (base / ".env").write_text(f"LITELLM_MASTER_KEY={KEY}\n", encoding="utf-8")
    (base / ".env").chmod(0o600)
    (base / ".env.example").write_text("LITELLM_MASTER_KEY=\n", encoding="utf-8")
    cwd = Path.cwd()
    os.chdir(base)
    try:
        # side by side: on 2 busy cores one 2-worker start takes 20-60 s
        with ThreadPoolExecutor(2) as pool:
            for future in [pool.submit(start_target, Target(env=e)) for e in ("shared", "apart")]:
                future.result()
        yield base
    finally:
        for env in ("shared", "apart"):
            runtime_for(Target(env=env))[1].stop(grace=5.0)
        os.chdir(cwd)


def url_of(env: str) -> str:
    status = runtime_for(Target(env=env))[1].status()
    assert status.healthy and status.url, status
    return status.url


def burst(url: str) -> list[int]:
    """BURST requests in one UTC minute, each on a new connection (new connections spread)."""
    for _ in range(2):
        left = 60 - time.time() % 60
        if left < MARGIN_S:
            time.sleep(left + 0.2)
        minute = int(time.time() // 60)
        codes = [httpx.post(f"{url}/v1/chat/completions", timeout=30,
                            headers={"Authorization": f"Bearer {KEY}"},
                            json={"model": "mock-gpt", "messages": [{"role": "user",
                                                                     "content": "hi"}]}
                            ).status_code for _ in range(BURST)]
        if int(time.time() // 60) == minute:
            return codes
    raise AssertionError("two bursts in a row crossed a minute boundary")


def test_status_shows_the_redis_and_no_process_has_its_password(project: Path) -> None:
    status = runtime_for(Target(env="shared"))[1].status()
    units = {u.name: u for u in status.units}
    assert set(units) == {"litellm", "redis"} and units["redis"].health == "healthy"
    password = (project / ".run/shared/redis.password").read_text().strip()
    assert len(password) >= 24
    assert (project / ".run/shared/redis.conf").stat().st_mode & 0o777 == 0o600
    redis_pid = int(units["redis"].detail.split(",")[0].removeprefix("pid "))
    for pid in (redis_pid, status_pid(status)):
        assert password not in " ".join(process.cmdline(pid))
    apart = runtime_for(Target(env="apart"))[1].status()
    assert [u.name for u in apart.units] == ["litellm"]  # switched off: none started


def status_pid(status: object) -> int:
    return int(dict(status.facts)["pid"])  # type: ignore[attr-defined]


def test_two_workers_admit_exactly_rpm_through_the_shared_redis(project: Path) -> None:
    codes = burst(url_of("shared"))
    assert codes == [200] * RPM + [429] * (BURST - RPM), codes


def test_without_redis_each_worker_admits_its_own_rpm(project: Path) -> None:
    codes = burst(url_of("apart"))
    admitted = codes.count(200)
    # both workers served: each let up to RPM through (measured here: 2 x RPM)
    assert RPM < admitted <= 2 * RPM, codes
    assert set(codes) == {200, 429}, codes


def test_a_crashed_proxy_leaves_no_redis_behind(project: Path) -> None:
    runtime = runtime_for(Target(env="shared"))[1]
    redis_pid = int(next(u for u in runtime.status().units if u.name == "redis")
                    .detail.split(",")[0].removeprefix("pid "))
    proxy = status_pid(runtime.status())
    os.killpg(proxy, signal.SIGKILL)
    assert process.wait_group_gone(proxy, 15.0)
    status = runtime.status()
    assert not status.running
    assert f"still running: redis-server (pid {redis_pid})" in (status.note or "")
    stopped = runtime.stop(grace=5.0)
    assert f"stopped: redis-server (pid {redis_pid})" in stopped.message
    assert not process.pid_alive(redis_pid)
    assert not (project / ".run/shared/redis.conf").exists()
    assert not (project / ".run/shared/redis.password").exists()
