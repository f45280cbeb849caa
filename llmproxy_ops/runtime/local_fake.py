"""The fake provider the local runtime starts beside the proxy (`stack.local.fake_provider`).

LiteLLM's `mock_response` never streams on `/v1/messages` (LiteLLM 1.108.7 answers a
`stream: true` request with one JSON body: llms/anthropic/pass_through/messages/handler.py
returns the mock before it looks at `stream`), so the Anthropic SDK's `messages.stream` and
Claude Code get no events. The fake provider (llmproxy_ops/testing/fake_provider.py) speaks
the real wire formats, SSE included: dev routes its models there, with no provider key.
It is the local analogue of the compose file's fake-provider service: one process per
environment on a free loopback port, its URL handed to LiteLLM through the environment
(never written into the build), stopped by `down` after the proxy, shown by `status`.
"""

from __future__ import annotations

import json
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final

from llmproxy_ops import fsutil, netutil
from llmproxy_ops.errors import StackError
from llmproxy_ops.runtime import identity, process, recovery

MODULE: Final = "llmproxy_ops.testing.fake_provider"
ROLE: Final = "fake-provider"  # its recovery marker (runtime/recovery.py)
STATE_FILE: Final = "fake_provider.json"
LOG_FILE: Final = "fake_provider.log"
# The variables configs/providers/local-fake.yaml reads (the same names as the compose
# environments and the fake examples use).
URL_VARS: Final = ("FAKE_PROVIDER_URL", "FAKE_PROVIDER_OPENAI_BASE", "FAKE_PROVIDER_GEMINI_BASE")
# What validation resolves them to before a start has picked the port.
PLACEHOLDER: Final = "http://127.0.0.1:0"
_START_TIMEOUT_S: Final = 30.0
_LOG_TAIL: Final = 20


def environment(url: str) -> dict[str, str]:
    """os.environ/ values for a fake provider at `url` (its routes as fake.yaml names them)."""
    return {"FAKE_PROVIDER_URL": url, "FAKE_PROVIDER_OPENAI_BASE": f"{url}/v1",
            "FAKE_PROVIDER_GEMINI_BASE": f"{url}/v1beta"}


@dataclass(frozen=True)
class FakeStatus:
    running: bool
    pid: int | None = None
    url: str | None = None
    healthy: bool = False
    log_path: Path | None = None


class LocalFakeProvider:
    """One fake provider process per run directory, found again through its state file."""

    def __init__(self, run_dir: Path, python: Path | None = None):
        self.run_dir = Path(run_dir)
        self.python = python or Path(sys.executable)
        self.state_path = self.run_dir / STATE_FILE
        self.log_path = self.run_dir / LOG_FILE

    def up(self, host: str = "127.0.0.1") -> FakeStatus:
        """Start it (or keep the one already running) and wait until it answers."""
        current = self.status()
        if current.running:
            return current
        fsutil.ensure_private_dir(self.run_dir)
        port = netutil.free_port(host)
        argv = [str(self.python), "-m", MODULE, "--host", host, "--port", str(port)]
        offset = self.log_path.stat().st_size if self.log_path.is_file() else 0
        # The child needs only this venv: no secrets of ours in its environment.
        env = {"PATH": "/usr/bin:/bin", "PYTHONUNBUFFERED": "1",
               **recovery.marker_env(self.run_dir, ROLE)}
        pid, ident = identity.spawn(argv, env, self.log_path)
        url = f"http://{host}:{port}"
        self._save({"pid": pid, "url": url, "port": port, "identity": ident.to_json()})
        try:
            self._wait_healthy(pid, url, offset)
        except BaseException:
            process.stop_group(pid)
            self.state_path.unlink(missing_ok=True)
            raise
        return self.status()

    def down(self, grace: float = 5.0) -> str | None:
        """Stop it; the message, or None when none was running."""
        state = self._state()
        pid = state.get("pid")
        self.state_path.unlink(missing_ok=True)
        if not isinstance(pid, int) or not self._is_ours(pid, state):
            # a lost or corrupt state file: found by the marker it was started with
            found = recovery.stop_marked(self.run_dir, ROLE, grace)
            return f"stopped: fake provider (pid {found[0]}), found by its run-dir marker" \
                if found else None
        process.stop_group(pid, grace)
        return f"stopped: fake provider (pid {pid})"

    def status(self) -> FakeStatus:
        state = self._state()
        pid = state.get("pid")
        if not isinstance(pid, int) or not self._is_ours(pid, state):
            return FakeStatus(False, log_path=self.log_path)
        url = str(state["url"])
        return FakeStatus(True, pid, url, _healthy(url), self.log_path)

    # ---- internals ---------------------------------------------------------------------------

    def _wait_healthy(self, pid: int, url: str, offset: int) -> None:
        deadline = time.monotonic() + _START_TIMEOUT_S
        while time.monotonic() < deadline:
            if not process.pid_alive(pid):
                raise self._failed("the fake provider exited during start-up", offset)
            if _healthy(url):
                return
            time.sleep(0.1)
        raise self._failed(f"the fake provider did not answer within {_START_TIMEOUT_S:g} s "
                           f"({url}/_fake/health)", offset)

    def _failed(self, message: str, offset: int) -> StackError:
        tail = process.tail_lines(self.log_path, _LOG_TAIL, start_offset=offset)
        return StackError(message, hint=f"full log: {self.log_path}", details="\n".join(tail))

    def _is_ours(self, pid: int, state: dict[str, Any]) -> bool:
        """The fake provider we started (identity.py) on this port: a recycled pid, or one a
        forged state names, must never be signalled."""
        argv = process.cmdline(pid)
        return (process.pid_alive(pid) and MODULE in argv
                and str(state.get("port")) in argv and identity.matches(pid, state.get("identity")))


    def _state(self) -> dict[str, Any]:
        return process.read_json_object(self.state_path)

    def _save(self, state: dict[str, Any]) -> None:
        process.atomic_write_text(self.state_path, json.dumps(state, indent=2) + "\n")


def _healthy(url: str) -> bool:
    import httpx  # here: `validate` reads this module's constants only

    try:
        return httpx.get(f"{url}/_fake/health", timeout=2.0).status_code == 200
    except httpx.HTTPError:
        return False
