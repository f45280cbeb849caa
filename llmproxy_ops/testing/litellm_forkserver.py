"""A separately started LiteLLM of the pinned version that runs its own CLI once per config file.

Run as `python -I litellm_forkserver.py` (from any folder): imports LiteLLM's CLI and proxy
once, then reads one JSON job per line on stdin until EOF and prints one JSON result per line.
Each job runs in a forked child, exactly as `litellm ...` would run after its imports:

- mode "serve": `litellm --config F --host 127.0.0.1 --port P` (LiteLLM's own click entry,
  `proxy_cli.run_server`, real uvicorn, a real socket); this process asks
  `GET /v1/models` over HTTP until it answers or the child exits, then stops the child.
  Verdict: served (200) or refused (exited, or answered otherwise).
- mode "validate_config": `litellm --config F --validate_config`; its exit status.

Why a fork server: starting `litellm` costs ~7 s here, nearly all of it imports; a corpus of
~90 files in two modes would take 20 minutes. Forking after the imports keeps every run
LiteLLM's own code path at a second or two each. It imports nothing from llmproxy_ops (it is
not the validator's probe: no in-memory serve, no confinement, no stand-ins), and runs with
LITELLM_MODE=PRODUCTION set by its caller only so that LiteLLM does not load the .env of the
project its venv lives in.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import sys
import time
import urllib.error
import urllib.request
from typing import Any

_CHILD_LOG_BYTES = 4000  # the end of LiteLLM's output, kept to say why it refused


def _child(job: dict[str, Any], log: str) -> None:
    """In the fork: LiteLLM's CLI with the job's environment; never returns."""
    fd = os.open(log, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    os.dup2(fd, 1)
    os.dup2(fd, 2)
    os.environ.update(job.get("env", {}))
    os.chdir(os.path.dirname(job["config"]))
    from litellm.proxy.proxy_cli import run_server

    if job["mode"] == "validate_config":
        args = ["--config", job["config"], "--validate_config"]
    else:
        args = ["--config", job["config"], "--host", "127.0.0.1", "--port", str(job["port"])]
    code: Any = 0
    try:
        # without standalone mode, click returns the exit code of a click Exit (LiteLLM's
        # --validate_config refusal) instead of raising it
        code = run_server.main(args, standalone_mode=False) or 0
    except SystemExit as exc:
        code = exc.code
    except BaseException as exc:  # noqa: BLE001 - LiteLLM's own crash is the verdict
        sys.stderr.write(f"{type(exc).__name__}: {exc}\n")
        code = 3
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code if isinstance(code, int) else 1)


def _models(port: int, key: str) -> tuple[int, list[str]] | None:
    """(status, model ids) once the server answers; None while nothing listens."""
    request = urllib.request.Request(
        f"http://127.0.0.1:{port}/v1/models", headers={"Authorization": f"Bearer {key}"})
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    try:
        with opener.open(request, timeout=5) as response:
            body = json.loads(response.read() or b"{}")
            return response.status, sorted(str(m.get("id")) for m in body.get("data", []))
    except urllib.error.HTTPError as exc:
        return exc.code, []
    except (urllib.error.URLError, OSError, ValueError):
        return None


def _stop(pid: int) -> int:
    for sig, wait in ((signal.SIGTERM, 10.0), (signal.SIGKILL, 10.0)):
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, sig)
        deadline = time.monotonic() + wait
        while time.monotonic() < deadline:
            done, status = os.waitpid(pid, os.WNOHANG)
            if done:
                return status
            time.sleep(0.05)
    return -1


class Running:
    """One job's child, watched until it has a verdict."""

    def __init__(self, job: dict[str, Any], folder: str, timeout: float) -> None:
        self.job = job
        self.log = os.path.join(folder, f"{job['id'].replace('/', '_')}.log")
        self.started = time.monotonic()
        self.deadline = self.started + timeout
        self.pid = os.fork()
        if self.pid == 0:
            _child(job, self.log)

    def poll(self) -> dict[str, Any] | None:
        """The result once there is a verdict (the child is then stopped), else None."""
        done, status = os.waitpid(self.pid, os.WNOHANG)
        answer = None
        if not done and self.job["mode"] == "serve":
            answer = _models(self.job["port"], self.job["key"])
        timed_out = not done and answer is None and time.monotonic() > self.deadline
        if not done and answer is None and not timed_out:
            return None
        if not done:
            status = _stop(self.pid)
        code = os.waitstatus_to_exitcode(status) if status >= 0 else None
        accepted = (answer is not None and answer[0] == 200) if self.job["mode"] == "serve" \
            else (code == 0 and not timed_out)
        return {"id": self.job["id"], "mode": self.job["mode"], "accepted": accepted,
                "exit": code, "timed_out": timed_out, "http": answer[0] if answer else None,
                "models": answer[1] if answer else [], "log": _tail(self.log),
                "seconds": round(time.monotonic() - self.started, 2)}


def run_jobs(jobs: list[dict[str, Any]], folder: str, timeout: float, parallel: int) -> None:
    todo = list(jobs)
    running: list[Running] = []
    while todo or running:
        while todo and len(running) < parallel:
            running.append(Running(todo.pop(0), folder, timeout))
        for watched in list(running):
            result = watched.poll()
            if result is not None:
                running.remove(watched)
                sys.stdout.write(json.dumps(result) + "\n")
                sys.stdout.flush()
        time.sleep(0.1)


def _tail(log: str) -> str:
    try:
        with open(log, "rb") as handle:
            handle.seek(max(0, os.path.getsize(log) - _CHILD_LOG_BYTES))
            return handle.read().decode("utf-8", "replace")
    except OSError:
        return ""


def main() -> int:
    import tempfile

    import litellm.proxy.proxy_cli  # noqa: F401 - the imports `litellm` makes, once
    import litellm.proxy.proxy_server  # noqa: F401

    jobs = [json.loads(line) for line in sys.stdin if line.strip()]
    timeout = float(os.environ.get("FORKSERVER_TIMEOUT", "60"))
    parallel = int(os.environ.get("FORKSERVER_PARALLEL", "2"))
    with tempfile.TemporaryDirectory(prefix="forkserver-") as folder:
        run_jobs(jobs, folder, timeout, parallel)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
