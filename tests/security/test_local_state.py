"""Findings 8 and 9: `.run/<env>/` may be forged, and what the local runtime writes there
can hold prompts."""

from __future__ import annotations

import json
import os
import secrets
import shutil
import stat
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from llmproxy_ops.errors import StackError
from llmproxy_ops.runtime import process
from llmproxy_ops.targets.local.process import LaunchSpec, LocalRuntime
from tests.conftest import free_port

ENV = """\
model_list:
  - model_name: mock
    litellm_params: {model: openai/mock, mock_response: hi, api_key: dummy}
stack: {local: {redis: {enabled: true}}}
"""


@pytest.fixture
def project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "configs/environments").mkdir(parents=True)
    (tmp_path / "configs/environments/dev.yaml").write_text(ENV)
    (tmp_path / ".env").write_text("LITELLM_MASTER_KEY=sk-x\n")
    (tmp_path / ".env").chmod(0o600)
    return tmp_path


@pytest.fixture
def bystanders(project: Path) -> Iterator[tuple[subprocess.Popen, subprocess.Popen, int]]:
    """Processes that are not ours to stop: one whose argv looks like our litellm, and a
    redis-server on loopback (what the old checks accepted)."""
    config = str(project / "build/dev/config.yaml")
    lookalike = subprocess.Popen(
        [sys.executable, "-c", "import time; time.sleep(120)", "litellm", "--config", config],
        start_new_session=True)
    port = free_port()
    redis = subprocess.Popen(
        [shutil.which("redis-server") or "redis-server", "--port", str(port), "--bind",
         "127.0.0.1", "--save", "", "--appendonly", "no"],
        start_new_session=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    time.sleep(0.5)  # redis-server retitles itself `redis-server 127.0.0.1:PORT`
    try:
        yield lookalike, redis, port
    finally:
        for proc in (lookalike, redis):
            proc.kill()
            proc.wait()


def _forged_identity(pid: int) -> dict:
    """Everything about pid a forger can read in /proc, and a guessed token."""
    proc = Path(f"/proc/{pid}")
    return {
        "start": int((proc / "stat").read_text().rsplit(")", 1)[1].split()[19]),
        "boot_id": Path("/proc/sys/kernel/random/boot_id").read_text().strip(),
        "uid": os.stat(proc).st_uid,
        "exe": os.readlink(proc / "exe"),
        "token": secrets.token_hex(16),
    }


def test_finding_08_down_never_signals_a_process_a_forged_state_names(
    project: Path, bystanders, cli  # noqa: ANN001
) -> None:
    lookalike, redis, port = bystanders
    run = project / ".run/dev"
    run.mkdir(parents=True)
    config = str(project / "build/dev/config.yaml")
    (run / "litellm.pid").write_text(f"{lookalike.pid}\n")
    (run / "state.json").write_text(json.dumps({
        "pid": lookalike.pid, "config_path": config, "host": "127.0.0.1", "port": 4000,
        "server": "uvicorn", "workers": 1, "identity": _forged_identity(lookalike.pid)}))
    (run / "redis.json").write_text(json.dumps({
        "pid": redis.pid, "port": port, "identity": _forged_identity(redis.pid)}))

    result = cli("down", "--env", "dev")
    assert result.exit_code == 0, result.output
    assert f"litellm is not running (removed stale pid file for pid {lookalike.pid})" in (
        result.output)
    time.sleep(0.5)
    assert lookalike.poll() is None and redis.poll() is None  # both survived


def test_finding_08_a_recycled_or_foreign_pid_does_not_match() -> None:
    from llmproxy_ops.runtime import identity

    mine = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        observed = identity.observe(mine.pid, "x" * 32)
        assert observed is not None
        assert not identity.matches(mine.pid, observed.to_json())  # no token in its environment
        assert not identity.matches(1, {**observed.to_json()})  # init: other start, exe, token
    finally:
        mine.kill()
        mine.wait()


def test_finding_09_the_run_dir_and_its_logs_are_private(tmp_path: Path) -> None:
    os.umask(0o022)
    run = tmp_path / ".run/dev"
    run.mkdir(parents=True)  # as an older version left it: 0755
    (run / "litellm.log").write_text("old lines\n")
    (run / "litellm.log").chmod(0o644)
    fake = tmp_path / "bin/litellm"  # prints what a DEBUG log holds, then fails
    fake.parent.mkdir()
    fake.write_text("#!/bin/sh\necho 'messages: [{\"content\": \"a private prompt\"}]'\nexit 1\n")
    fake.chmod(0o755)
    config = tmp_path / "config.yaml"
    config.write_text("model_list: []\n")
    runtime = LocalRuntime(run, litellm_bin=fake)
    with pytest.raises(StackError):
        runtime.up(LaunchSpec(config, port=free_port(), reuse_port=False, startup_timeout=10))
    assert "a private prompt" in runtime.log_path.read_text()
    assert stat.S_IMODE(run.stat().st_mode) == 0o700
    assert stat.S_IMODE(runtime.log_path.stat().st_mode) == 0o600
    other = tmp_path / "fresh.log"
    process.spawn_detached(["/bin/true"], {}, other)
    assert stat.S_IMODE(other.stat().st_mode) == 0o600
