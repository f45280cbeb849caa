"""LocalRuntime against the real, stock litellm console script (mock_response models)."""

from __future__ import annotations

import json
import os
import socket
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from llmproxy_ops.errors import RuntimeStateError, StackError
from llmproxy_ops.runtime.process import pid_alive
from llmproxy_ops.targets.local.process import LaunchSpec, LocalRuntime, RuntimeStatus
from tests.conftest import free_port

pytestmark = pytest.mark.integration

KEY = "sk-llmproxy-ops-runtime-test-7f3a9c"
CONFIG = """\
model_list:
  - model_name: mock-gpt
    litellm_params:
      {model: openai/mock-gpt, mock_response: "Hello from the mock model", api_key: dummy}
general_settings: {master_key: os.environ/LITELLM_MASTER_KEY}
litellm_settings: {json_logs: true, request_timeout: 600}
"""




def dead_pid() -> int:
    proc = subprocess.Popen(["true"])
    proc.wait()
    return proc.pid


def write_config(folder: Path, text: str = CONFIG) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "config.yaml"
    path.write_text(text)
    return path


def launch_for(config: Path, **overrides: object) -> LaunchSpec:
    env = {"LITELLM_MASTER_KEY": KEY, "LITELLM_LOCAL_MODEL_COST_MAP": "True"}
    return LaunchSpec(config_path=config, env=env, port=free_port(), **overrides)  # type: ignore[arg-type]


def processes_using(config: Path) -> list[int]:
    """Pids whose command line names this config: what a leak would look like."""
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                argv = (entry / "cmdline").read_bytes().split(b"\0")
            except OSError:
                continue
            if str(config).encode() in argv and pid_alive(int(entry.name)):
                found.append(int(entry.name))
    return found


@pytest.fixture(scope="module")
def started(
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[tuple[LocalRuntime, LaunchSpec, RuntimeStatus, int]]:
    """One running litellm for this module; started over a stale pid file of a dead process."""
    base = tmp_path_factory.mktemp("runtime")
    runtime = LocalRuntime(base / "run")
    stale = dead_pid()
    runtime.run_dir.mkdir()
    runtime.pid_path.write_text(f"{stale}\n")
    launch = launch_for(write_config(base))
    status = runtime.up(launch)
    yield runtime, launch, status, stale
    runtime.down(grace=5.0)


def test_up_returns_a_healthy_status(started: tuple) -> None:
    runtime, launch, status, stale = started
    assert status.running and status.healthy
    assert status.pid is not None and status.pid != stale
    assert (status.host, status.port) == ("127.0.0.1", launch.port)
    assert status.url == f"http://127.0.0.1:{launch.port}"
    assert status.config_path == launch.config_path.resolve()
    assert (status.server, status.workers) == ("uvicorn", 1)
    assert status.time_to_healthy_s is not None and 0 < status.time_to_healthy_s < 90
    assert status.started_at is not None and status.started_at.endswith("+00:00")
    assert status.log_path == runtime.run_dir / "litellm.log"


def test_status_probes_the_running_process(started: tuple) -> None:
    runtime, _, first, _ = started
    now = runtime.status()
    assert now.running and now.healthy and now.pid == first.pid
    assert now.uptime_s is not None and now.uptime_s >= 0
    assert now.time_to_healthy_s == first.time_to_healthy_s


def test_pid_and_state_files_hold_no_secret(started: tuple) -> None:
    runtime, launch, status, _ = started
    assert runtime.pid_path.read_text() == f"{status.pid}\n"
    state_text = runtime.state_path.read_text()
    state = json.loads(state_text)
    assert sorted(state) == [
        "config_path",
        "host",
        "identity",  # start time, boot id, uid, exe, token (runtime/identity.py): no secret
        "listening_on",
        "log_path",
        "max_rss_mib",  # the memory guard's limit (null: off)
        "metrics_dir",  # "" unless stack.metrics: a folder path, no secret
        "pid",
        "port",
        "server",
        "shares_port",
        "started_at",
        "started_epoch",
        "time_to_healthy_s",
        "workers",
        "workers_file",
    ]
    assert state["config_path"] == str(launch.config_path.resolve())
    assert KEY not in state_text
    cmdline = Path(f"/proc/{status.pid}/cmdline").read_bytes().decode()
    assert KEY not in cmdline
    # LiteLLM's own CLI, through the launcher (llmproxy_ops/launcher.py)
    assert "llmproxy_ops.launcher\x00--config" in cmdline
    assert KEY not in repr(launch)


def test_second_up_is_refused(started: tuple) -> None:
    runtime, launch, status, _ = started
    with pytest.raises(RuntimeStateError) as caught:
        runtime.up(launch)
    assert str(caught.value) == (
        f"litellm is already running (pid {status.pid}, http://127.0.0.1:{launch.port})"
    )
    assert runtime.status().pid == status.pid


def test_logs_start_with_a_marker_and_return_the_tail(started: tuple) -> None:
    runtime, launch, _, _ = started
    text = runtime.log_path.read_text()
    assert text.startswith("===== llmproxy-ops: starting litellm at ")
    assert f"(config {launch.config_path.resolve()}, 127.0.0.1:{launch.port}, uvicorn x1)" in text
    assert KEY not in text
    assert len(runtime.logs(3)) == 3
    assert runtime.logs(3) == text.splitlines()[-3:]
    assert runtime.logs(0) == []


def test_up_refuses_a_port_in_use(tmp_path: Path) -> None:
    runtime = LocalRuntime(tmp_path / "run")
    with socket.socket() as holder:
        holder.bind(("127.0.0.1", 0))
        holder.listen()
        port = holder.getsockname()[1]
        launch = LaunchSpec(config_path=write_config(tmp_path), env={}, port=port)
        with pytest.raises(RuntimeStateError) as caught:
            runtime.up(launch)
    assert str(caught.value) == f"port {port} on 127.0.0.1 is already in use by another process"
    assert not runtime.pid_path.exists()


def test_a_recycled_pid_is_never_signalled(tmp_path: Path) -> None:
    runtime = LocalRuntime(tmp_path / "run")
    config = write_config(tmp_path)
    bystander = subprocess.Popen(["sleep", "60"])
    try:
        state = {"pid": bystander.pid, "config_path": str(config), "host": "127.0.0.1", "port": 1}
        runtime.run_dir.mkdir()
        runtime.state_path.write_text(json.dumps(state))
        runtime.pid_path.write_text(f"{bystander.pid}\n")
        assert runtime.status().note == (
            f"not running (stale pid file: pid {bystander.pid} is not this litellm)"
        )
        result = runtime.down(grace=1.0)
        assert result.was_running is False
        assert result.message == (
            f"litellm is not running (removed stale pid file for pid {bystander.pid})"
        )
        assert bystander.poll() is None
        assert not runtime.pid_path.exists() and not runtime.state_path.exists()
    finally:
        bystander.kill()
        bystander.wait()


def test_startup_timeout_kills_the_process(tmp_path: Path) -> None:
    runtime = LocalRuntime(tmp_path / "run")
    launch = launch_for(write_config(tmp_path), startup_timeout=1.0)
    with pytest.raises(StackError) as caught:
        runtime.up(launch)
    assert str(caught.value) == (
        f"litellm did not become healthy within 1 s (http://127.0.0.1:{launch.port})"
    )
    assert caught.value.hint == f"full log: {runtime.log_path}"
    assert processes_using(launch.config_path.resolve()) == []
    assert not runtime.pid_path.exists() and not runtime.state_path.exists()


def test_broken_config_raises_with_the_log_tail(tmp_path: Path) -> None:
    runtime = LocalRuntime(tmp_path / "run")
    broken = CONFIG.replace("litellm_params:", "litelm_params:")
    launch = launch_for(write_config(tmp_path, broken))
    with pytest.raises(StackError) as caught:
        runtime.up(launch)
    error = caught.value
    assert str(error) == "litellm exited with code 3 during start-up"
    assert error.hint == f"full log: {runtime.log_path}"
    assert error.details is not None
    assert "KeyError: 'litellm_params'" in error.details
    assert "Application startup failed. Exiting." in error.details
    assert "===== llmproxy-ops" not in error.details  # only this start's output
    assert len(error.details.splitlines()) <= 30
    assert processes_using(launch.config_path.resolve()) == []
    assert not runtime.pid_path.exists() and not runtime.state_path.exists()
    assert runtime.status().running is False


def test_down_stops_the_process_and_is_idempotent(started: tuple) -> None:
    """Runs last in this module: it stops the shared process."""
    runtime, launch, status, _ = started
    result = runtime.down(grace=10.0)
    assert result.was_running is True and result.pid == status.pid
    assert result.forced is False
    assert result.message.startswith(f"stopped: litellm (pid {status.pid}) in ")
    assert not pid_alive(status.pid)
    assert processes_using(launch.config_path.resolve()) == []
    assert not runtime.pid_path.exists() and not runtime.state_path.exists()
    assert runtime.status().running is False
    again = runtime.down()
    assert (again.was_running, again.pid, again.message) == (False, None, "litellm is not running")
    assert os.path.exists(runtime.log_path)  # the log is kept for post-mortems
