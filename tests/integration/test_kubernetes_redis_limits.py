"""Two LiteLLM "pods" with the config the kubernetes runtime renders share one rpm through Redis.

The rendered config.yaml gets router_settings.redis_* whenever more than one pod may serve.
Here two real litellm processes read that config (only the Redis address changed from the
Service name to a loopback port) and a real redis-server started with the rendered Redis
container's arguments; requests alternate between them. Without shared counters each process
would allow rpm requests of its own (measured: 2 workers let 10 through rpm 5).
"""

from __future__ import annotations

import contextlib
import os
import shutil
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
import yaml

from llmproxy_ops.render.build import render_files
from llmproxy_ops.render.litellm_hooks import with_hooks_on_path
from llmproxy_ops.spec import load_files
from tests.conftest import REPO, free_port
from tests.integration.conftest import LITELLM_BIN, LiteLLMProcess, _wait_alive

pytestmark = pytest.mark.integration

RPM = 2
# Both pods start at once (not one after the other): on a busy 2-core machine one start took 65 s.
START_TIMEOUT_S = 180
MASTER_KEY = "sk-REDISPODSsecretZZ5151"
REDIS_PASSWORD = "REDISsecretZZ5252"
LAYER = f"""\
layers: [{REPO}/configs/base.yaml, {REPO}/configs/providers/mock.yaml]
model_list:
  - model_name: mock-gpt
    litellm_params: {{rpm: {RPM}}}
litellm_settings: {{num_retries: 0}}
stack:
  runtime: kubernetes
  kubernetes: {{replicas: 2}}
"""


def _redis_args(files: dict[str, str]) -> list[str]:
    [redis] = [d for d in yaml.safe_load_all(files["redis.yaml"]) if d["kind"] == "Deployment"]
    args = redis["spec"]["template"]["spec"]["containers"][0]["args"]
    return [REDIS_PASSWORD if a == "$(REDIS_PASSWORD)" else a for a in args]


@pytest.fixture(scope="module")
def redis_port(tmp_path_factory) -> Iterator[tuple[int, dict[str, str]]]:
    tmp_path = tmp_path_factory.mktemp("redis")
    layer = tmp_path / "pods.yaml"
    layer.write_text(LAYER, encoding="utf-8")
    files = render_files(load_files([layer]), out_dir=tmp_path / "build")
    server = shutil.which("redis-server") or "/usr/bin/redis-server"
    assert Path(server).is_file(), "redis-server is not installed: run scripts/install-test-deps.sh"
    port = free_port()
    args = _redis_args(files)
    proc = subprocess.Popen([server, *args[1:], "--port", str(port), "--bind", "127.0.0.1",
                             "--dir", str(tmp_path)],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 20
        while subprocess.run(["redis-cli", "-p", str(port), "-a", REDIS_PASSWORD, "--no-auth-warning",
                              "ping"], capture_output=True, text=True, check=False).stdout.strip() != "PONG":
            assert time.monotonic() < deadline, "redis-server did not answer"
            time.sleep(0.2)
        yield port, files
    finally:
        proc.terminate()
        proc.wait(timeout=10)


@contextlib.contextmanager
def _pods(config: Path, env: dict[str, str], logs: list[Path]) -> Iterator[list[LiteLLMProcess]]:
    pods = []
    try:
        for log_path in logs:
            port = free_port()
            log = log_path.open("wb")
            popen = subprocess.Popen(
                [str(LITELLM_BIN), "--config", str(config), "--host", "127.0.0.1", "--port", str(port)],
                env=with_hooks_on_path({**os.environ, "LITELLM_LOCAL_MODEL_COST_MAP": "True", **env}),
                stdout=log, stderr=subprocess.STDOUT, cwd=config.parent)
            pods.append(LiteLLMProcess(popen, f"http://127.0.0.1:{port}", log_path, log))
        for pod in pods:
            _wait_alive(pod, START_TIMEOUT_S)
        yield pods
    finally:
        for pod in pods:
            pod.stop()


def test_two_pods_share_one_rpm_through_the_rendered_redis(redis_port, tmp_path):
    port, files = redis_port
    config = yaml.safe_load(files["config.yaml"])
    router = config["router_settings"]
    assert (router["redis_host"], router["redis_port"]) == ("redis", 6379)
    assert router["redis_password"] == "os.environ/REDIS_PASSWORD"
    router.update(redis_host="127.0.0.1", redis_port=port)  # the Service name, here on loopback
    path = tmp_path / "config.yaml"
    path.write_text(yaml.safe_dump(config), encoding="utf-8")
    env = {"LITELLM_MASTER_KEY": MASTER_KEY, "REDIS_PASSWORD": REDIS_PASSWORD}
    body = {"model": "mock-gpt", "messages": [{"role": "user", "content": "hi"}]}
    headers = {"Authorization": f"Bearer {MASTER_KEY}"}
    with _pods(path, env, [tmp_path / "a.log", tmp_path / "b.log"]) as (a, b):
        codes = [httpx.post(f"{pod.url}/v1/chat/completions", json=body, headers=headers,
                            timeout=30).status_code for pod in (a, b, a, b)]
    # rpm 2 across both pods: the third request (the second on pod a) is already over the limit
    assert codes[:2] == [200, 200], codes
    assert codes[2:] == [429, 429], codes
