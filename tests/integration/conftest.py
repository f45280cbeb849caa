"""Integration helpers: run a real, stock `litellm` process for the tests of this folder."""

from __future__ import annotations

import contextlib
import os
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import IO

import httpx
import pytest

from llmproxy_ops.render.litellm_hooks import with_hooks_on_path
from tests.conftest import free_port

LITELLM_BIN = Path(sys.executable).parent / "litellm"
START_TIMEOUT_S = 120.0  # a loaded 2-core CI machine has taken >60 s




@dataclass
class LiteLLMProcess:
    """A running `litellm --config` process; `url` is its base URL."""

    process: subprocess.Popen[bytes]
    url: str
    log_path: Path
    _log: IO[bytes]

    def log_tail(self, chars: int = 4000) -> str:
        self._log.flush()
        return self.log_path.read_text(errors="replace")[-chars:]

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=15)
        self._log.close()


def _wait_alive(proc: LiteLLMProcess, timeout_s: float) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if proc.process.poll() is not None:
            raise RuntimeError(f"litellm exited with {proc.process.returncode}:\n{proc.log_tail()}")
        with contextlib.suppress(httpx.HTTPError):
            if httpx.get(proc.url + "/health/liveliness", timeout=2).status_code == 200:
                return
        time.sleep(0.3)
    raise RuntimeError(f"litellm not alive after {timeout_s:.0f}s:\n{proc.log_tail()}")


@contextlib.contextmanager
def run_litellm(config: Path, env: dict[str, str], log_path: Path) -> Iterator[LiteLLMProcess]:
    """Start stock litellm with `config` and extra `env`, wait until alive, always stop it."""
    port = free_port()
    # as the local runtime does: the shipped callbacks (render/litellm_hooks) are importable
    full_env = with_hooks_on_path({**os.environ, "LITELLM_LOCAL_MODEL_COST_MAP": "True", **env})
    log = log_path.open("wb")
    popen = subprocess.Popen(
        [str(LITELLM_BIN), "--config", str(config), "--host", "127.0.0.1", "--port", str(port)],
        env=full_env,
        stdout=log,
        stderr=subprocess.STDOUT,
        cwd=config.parent,
    )
    proc = LiteLLMProcess(popen, f"http://127.0.0.1:{port}", log_path, log)
    try:
        _wait_alive(proc, START_TIMEOUT_S)
        yield proc
    finally:
        proc.stop()


@pytest.fixture(scope="session")
def litellm_runner() -> Callable[..., contextlib.AbstractContextManager[LiteLLMProcess]]:
    """`with litellm_runner(config_path, env, log_path) as proxy:` from any-scoped fixture."""
    return run_litellm
