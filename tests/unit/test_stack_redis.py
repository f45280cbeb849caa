"""One rule for every runtime (render/stack_redis.py): when the deployment brings a Redis."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from llmproxy_ops.errors import StackError
from llmproxy_ops.ops.smoke.plan import enforced_rpm
from llmproxy_ops.render.build import render_files
from llmproxy_ops.runtime.api import Build
from llmproxy_ops.spec import load_files
from llmproxy_ops.targets.local.runtime import LocalEnvRuntime

LAYER = """
model_list:
  - model_name: m
    litellm_params: {model: openai/mock, mock_response: hi, api_key: dummy, rpm: 10}
general_settings: {master_key: os.environ/LITELLM_MASTER_KEY}
router_settings: {optional_pre_call_checks: [enforce_model_rate_limits]}
stack:
"""


def _spec(write, stack: str):
    return load_files([write("x.yaml", LAYER + "".join(f"  {line}\n" for line in stack.splitlines()))])


@pytest.mark.parametrize(("stack", "rpm"), [
    ("workers: 1", {"m": 10}),
    ("workers: 2", {"m": 10}),  # local: the redis-server beside the proxy
    ("workers: 2\nlocal: {redis: {enabled: false}}", {}),  # each worker counts on its own
    ("runtime: compose\ncompose: {litellm: {replicas: 2}}", {"m": 10}),
    ("runtime: compose\ncompose: {litellm: {replicas: 2}, redis: {enabled: false}}", {}),
    ("runtime: swarm\nworkers: 2", {"m": 10}),
])
def test_the_smoke_test_checks_rpm_wherever_counters_are_shared(write, stack, rpm) -> None:
    assert enforced_rpm(_spec(write, stack)) == rpm


def test_local_config_reads_the_redis_address_from_the_environment(write) -> None:
    files = render_files(_spec(write, "workers: 2"), out_dir=Path("build/x"))
    router = yaml.safe_load(files["config.yaml"])["router_settings"]
    assert router == {"optional_pre_call_checks": ["enforce_model_rate_limits"],
                      "redis_host": "127.0.0.1", "redis_port": "os.environ/LLMPROXY_REDIS_PORT",
                      "redis_password": "os.environ/REDIS_PASSWORD"}
    one = render_files(_spec(write, "workers: 1"), out_dir=Path("build/x"))
    assert "redis_host" not in one["config.yaml"]


def test_without_redis_server_nothing_starts(write, in_tmp, tmp_path, monkeypatch) -> None:
    spec = _spec(write, f"workers: 2\nrun_dir: {tmp_path / 'run'}\nlocal: {{fake_provider: true}}")
    monkeypatch.setenv("PATH", str(tmp_path / "empty"))  # no redis-server on it
    runtime = LocalEnvRuntime(spec)
    with pytest.raises(StackError) as caught:
        runtime.start(Build(spec, tmp_path / "build", {"LITELLM_MASTER_KEY": "sk-x"}))
    assert caught.value.message == (
        "redis-server is not installed: the workers of this environment enforce rate limits "
        "and must share their counters through Redis")
    assert caught.value.hint == (
        "install it (apt-get install redis-server), or set stack.workers: 1 (one process "
        "counts exactly), or stack.local.redis.enabled: false (each worker counts on its own)")
    assert runtime.proc.run_dir == tmp_path / "run" / "x.yaml"
    assert not runtime.fake.status().running  # checked before the fake provider starts
    assert not runtime.proc.run_dir.exists()  # nothing written, nothing started


def test_the_smoke_test_proves_no_rpm_too_large_for_a_burst(write) -> None:
    """rpm+1 requests are rpm+1 provider calls: a group allowing 100000 a minute is not
    proven by sending 100001 (the smoke test did, for minutes, after an rpm edit)."""
    text = LAYER.replace("rpm: 10}", "rpm: 101}") + "  workers: 1\n"
    assert enforced_rpm(load_files([write("x.yaml", text)])) == {}
    assert enforced_rpm(load_files([write("y.yaml", text.replace("101", "100"))])) == {"m": 100}
