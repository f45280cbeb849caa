"""The seeds' way, exactly: the seeds' venv's `litellm --config FILE --port P`, nothing of ours.

The baseline every performance ratio is measured against (issue 26): no llmproxy_ops launcher,
fork server, gc.freeze or child-environment defaults in its argv or environment; the seeds set
only the master key (and LiteLLM fetches its cost map at start, as theirs does). Started in its
own process group, so its CPU and memory are counted by group like every other setup.
"""

from __future__ import annotations

import os
import signal
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

import httpx

# what a shell that runs the seeds' command passes on; nothing else of this process's
PASSED_ON = ("PATH", "HOME", "LANG", "TZ")


def command(litellm: Path, config: Path, port: int,
            master_key: str) -> tuple[list[str], dict[str, str]]:
    """argv and environment of the seeds' start (README of the seeds: `litellm --config`)."""
    env = {k: os.environ[k] for k in PASSED_ON if k in os.environ}
    env["LITELLM_MASTER_KEY"] = master_key
    return [str(litellm), "--config", str(config), "--port", str(port)], env


@dataclass
class SeedsProxy:
    proc: subprocess.Popen[bytes]
    url: str
    time_to_healthy_s: float

    @property
    def pgid(self) -> int:
        return self.proc.pid

    def stop(self) -> None:
        if self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(20)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait(10)


def start(litellm: Path, config: Path, port: int, master_key: str, log: Path,
          timeout: float = 300.0) -> SeedsProxy:
    argv, env = command(litellm, config, port, master_key)
    started = time.monotonic()
    with log.open("ab") as out:
        proc = subprocess.Popen(argv, env=env, cwd=config.parent, stdout=out, stderr=out,
                                stdin=subprocess.DEVNULL, start_new_session=True)
    url = f"http://127.0.0.1:{port}"
    while time.monotonic() - started < timeout:
        if proc.poll() is not None:
            raise RuntimeError(f"litellm --config exited {proc.returncode}: see {log}")
        try:
            if httpx.get(f"{url}/health/liveliness", timeout=2).status_code == 200:
                return SeedsProxy(proc, url, round(time.monotonic() - started, 2))
        except httpx.HTTPError:
            pass
        time.sleep(0.1)
    SeedsProxy(proc, url, 0.0).stop()
    raise RuntimeError(f"litellm --config did not become healthy within {timeout:g} s: see {log}")
