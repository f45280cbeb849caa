"""Issue 14 §1-3 against a real litellm: listener ownership, lost state, init behind a proxy."""

from __future__ import annotations

import shutil
import subprocess
import sys
from collections.abc import Iterator

import pytest

from llmproxy_ops.errors import RuntimeStateError
from llmproxy_ops.ops.init_env import init_env_file
from llmproxy_ops.runtime.process import pid_alive
from llmproxy_ops.targets.local.process import LaunchSpec, LocalRuntime
from tests.conftest import REPO
from tests.integration.test_local_runtime import launch_for, write_config

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def running(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[LocalRuntime, LaunchSpec]]:
    base = tmp_path_factory.mktemp("harden")
    runtime = LocalRuntime(base / "runs" / "dev")
    launch = launch_for(write_config(base))
    runtime.up(launch)
    yield runtime, launch
    runtime.down(grace=5.0)


def test_status_checks_the_listener_is_ours_and_records_the_real_port(running):
    runtime, launch = running
    st = runtime.status()
    assert (st.running, st.healthy, st.note) == (True, True, None)
    assert f'"listening_on": [\n    {launch.port}\n  ]' in runtime.state_path.read_text()


def test_init_refuses_a_new_key_while_a_proxy_runs_with_the_old_one(running, tmp_path):
    runtime, _ = running
    env_file = tmp_path / ".env"  # deleted while the proxy ran
    with pytest.raises(RuntimeStateError) as info:
        init_env_file(env_file, run_root=runtime.run_dir.parent)
    assert info.value.message.startswith(
        f"{env_file} has no LITELLM_MASTER_KEY, but the dev proxy is running (pid "
    )
    assert not env_file.exists()


def test_down_with_a_corrupted_state_file_still_stops_the_proxy(running):
    runtime, launch = running
    pid = runtime.status().pid
    runtime.state_path.write_text("{not json")
    st = runtime.status()
    assert (st.running, st.pid) == (True, pid)
    with pytest.raises(RuntimeStateError, match="still running"):
        runtime.up(launch)
    result = runtime.down(grace=5.0)
    assert result.was_running and result.message.startswith(f"stopped: litellm (pid {pid}) in ")
    assert result.message.endswith("found by its run-dir marker because state.json/litellm.pid did not describe it")
    assert not pid_alive(pid)
    assert not runtime.state_path.exists()


# Port 4000 (LiteLLM's CLI moves off it, silently, when it is taken) is used by other tests
# and people on this machine: the scenario runs in a private network namespace (unshare -rn).
_MOVED = """
import http.server, socketserver, sys, threading, time
from pathlib import Path
from llmproxy_ops.errors import StackError
from llmproxy_ops.targets.local.process import LaunchSpec, LocalRuntime

run_dir, config = Path(sys.argv[1]), Path(sys.argv[2])
class Ok(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        self.send_response(200); self.end_headers(); self.wfile.write(b"ok")
    def log_message(self, *a): pass

def squat():  # take 4000 after the pre-flight check, before litellm binds: the race users hit
    while not (run_dir / "litellm.pid").exists():
        time.sleep(0.01)
    socketserver.TCPServer.allow_reuse_address = True
    threading.Thread(target=socketserver.TCPServer(("127.0.0.1", 4000), Ok).serve_forever,
                     daemon=True).start()

threading.Thread(target=squat, daemon=True).start()
env = {"LITELLM_MASTER_KEY": "sk-Zq8vN2xK7pLm4RtY9wBc3HjD6fGs1QaE"}
try:
    LocalRuntime(run_dir).up(LaunchSpec(config_path=config, env=env, port=4000))
except StackError as exc:
    print(exc.message)
    print(exc.details)
    sys.exit(0)
sys.exit("up reported healthy while another process held port 4000")
"""


@pytest.mark.skipif(shutil.which("unshare") is None, reason="needs unshare (util-linux)")
def test_up_fails_clearly_when_another_program_takes_port_4000(tmp_path):
    """LiteLLM's CLI would move to a random port; the launcher keeps the one asked for, so
    the start fails, saying which port and why, instead of serving somewhere else."""
    config = write_config(tmp_path)
    script = f"ip link set lo up && exec {sys.executable} -c '{_MOVED}' {tmp_path / 'run'} {config}"
    proc = subprocess.run(["unshare", "-rn", "sh", "-c", script], cwd=REPO, capture_output=True,
                          text=True, timeout=180)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    message, *details = proc.stdout.strip().splitlines()
    assert message == "litellm exited with code 3 during start-up", proc.stdout
    assert "Cannot listen on 127.0.0.1:4000: [Errno 98] Address already in use" in "\n".join(
        details), proc.stdout
