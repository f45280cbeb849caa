"""Child process: start the pinned LiteLLM on config files up to the point where it would serve.

Run as `python -m llmproxy_ops.validate.litellm_probe JOBS.json`; prints one JSON line per job.

Each job runs LiteLLM's real `litellm --config F` entry point (`proxy_cli.run_server`: config
read, secret manager, database settings, worker config) with one replacement: `uvicorn.run`
does not bind a socket. Instead it runs the app's lifespan exactly as uvicorn would (config
loading, router construction, guardrails, callbacks, the master-key boot check), then asks the
app for `GET /v1/models` in memory, as a client would once the port is open.

LiteLLM is imported once; every job runs in a fork of that pristine process, so no job sees
another's module state and each costs a fraction of a second instead of a full import. This
module imports nothing from llmproxy_ops: it must stay a plain LiteLLM process.
"""

from __future__ import annotations

import json
import os
import signal
import sys
import traceback
from typing import Any

os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")

# what the in-memory server saw; set in the forked child only
_SERVED: dict[str, Any] = {}


def _serve_in_memory(**_uvicorn_args: Any) -> None:
    """Stands in for uvicorn.run: lifespan start-up, one /v1/models request, lifespan shutdown."""
    import asyncio

    asyncio.run(_lifespan_and_models())


async def _lifespan_and_models() -> None:
    import httpx
    from litellm.proxy.proxy_server import app

    async with app.router.lifespan_context(app):
        key = _master_key()
        headers = {"Authorization": f"Bearer {key}"} if key else {}
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://probe") as client:
            response = await client.get("/v1/models", headers=headers)
        _report(
            {"started": True, "status": response.status_code, "models": _model_ids(response)}
        )


def _master_key() -> str | None:
    from litellm.proxy import proxy_server

    key = getattr(proxy_server, "master_key", None)
    return key if isinstance(key, str) else None


def _model_ids(response: Any) -> list[str]:
    try:
        return [str(m.get("id")) for m in response.json().get("data", [])]
    except (ValueError, AttributeError):
        return []


def _report(payload: dict[str, Any]) -> None:
    _SERVED.update(payload)


def _run_job(job: dict[str, Any]) -> dict[str, Any]:
    """In the forked child: the real CLI entry point with the job's environment."""
    import uvicorn
    from litellm.proxy.proxy_cli import run_server

    os.environ.update(job.get("env", {}))
    for name in job.get("unset", []):
        os.environ.pop(name, None)
    os.chdir(job.get("cwd") or os.getcwd())
    uvicorn.run = _serve_in_memory  # type: ignore[assignment]  # the one replacement: no socket
    if job.get("mode") == "validate_config":  # LiteLLM's own checker, for comparison
        return _validate_config(run_server, job["config"])
    try:
        run_server.main(["--config", job["config"], "--port", "1"], standalone_mode=False)
    except SystemExit as exc:
        if exc.code not in (0, None):
            return _failure(exc, "SystemExit")
    except BaseException as exc:  # noqa: BLE001 - any start-up failure is the verdict
        return _failure(exc, type(exc).__name__)
    if not _SERVED:
        return {"started": False, "error": {"type": "NotServed", "message": "no app was served",
                                            "frames": []}}
    return dict(_SERVED)


def _validate_config(run_server: Any, config: str) -> dict[str, Any]:
    """`litellm --config F --validate_config`: exit code 0 means LiteLLM calls it valid."""
    try:
        code = run_server.main(["--config", config, "--validate_config"], standalone_mode=False)
    except SystemExit as exc:
        code = exc.code
    except BaseException as exc:  # noqa: BLE001 - a crash is a rejection too
        return {"started": False, "accepted": False, **_failure(exc, type(exc).__name__)}
    return {"started": False, "accepted": code in (0, None)}


def _failure(exc: BaseException, kind: str) -> dict[str, Any]:
    frames = [
        f"{frame.filename}:{frame.lineno}:{frame.name}"
        for frame in traceback.extract_tb(exc.__traceback__)
    ]
    message = str(exc) if not isinstance(exc, SystemExit) else f"exit code {exc.code}"
    return {"started": False,
            "error": {"type": kind, "message": message[:2000], "frames": frames[-40:]}}


def _start_child(job: dict[str, Any], timeout: float, out: str) -> int:
    pid = os.fork()
    if pid:
        return pid
    signal.alarm(max(1, int(timeout)))  # a hang ends as SIGALRM: never waits forever
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, 1)
    os.dup2(devnull, 2)  # LiteLLM's banners and logs are not the verdict
    try:
        result = _run_job(job)
    except BaseException as exc:  # noqa: BLE001
        result = _failure(exc, type(exc).__name__)
    with open(out, "w", encoding="utf-8") as handle:
        json.dump(result, handle)
    os._exit(0)


def _collect(out: str, status: int, timeout: float) -> dict[str, Any]:
    if os.path.exists(out):
        with open(out, encoding="utf-8") as handle:
            parsed: dict[str, Any] = json.load(handle)
        return parsed
    if os.WIFSIGNALED(status) and os.WTERMSIG(status) == signal.SIGALRM:
        message = f"LiteLLM did not finish starting within {timeout:g} s"
        return {"started": False, "error": {"type": "Timeout", "message": message, "frames": []}}
    return {"started": False,
            "error": {"type": "Crash", "message": f"wait status {status}", "frames": []}}


def run_jobs(jobs: list[dict[str, Any]], timeout: float, parallel: int, folder: str) -> None:
    """Up to `parallel` forks at a time; one JSON line per job on stdout as each ends."""
    todo = list(enumerate(jobs))
    running: dict[int, tuple[dict[str, Any], str]] = {}
    while todo or running:
        while todo and len(running) < parallel:
            n, job = todo.pop(0)
            out = os.path.join(folder, f"{n}.json")
            running[_start_child(job, timeout, out)] = (job, out)
        pid, status = os.wait()
        if pid not in running:
            continue
        job, out = running.pop(pid)
        result = _collect(out, status, timeout)
        sys.stdout.write(json.dumps({"id": job["id"], **result}) + "\n")
        sys.stdout.flush()


def main(argv: list[str]) -> int:
    import tempfile

    with open(argv[0], encoding="utf-8") as handle:
        spec = json.load(handle)
    # the expensive part, once: every job forks from this state
    import litellm.proxy.proxy_cli  # noqa: F401
    import litellm.proxy.proxy_server  # noqa: F401

    with tempfile.TemporaryDirectory(prefix="probe-") as folder:
        run_jobs(spec["jobs"], float(spec.get("timeout", 60)), int(spec.get("parallel", 1)),
                 folder)
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
