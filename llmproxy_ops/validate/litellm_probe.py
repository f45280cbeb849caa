"""Child process: the pinned LiteLLM, imported once, starts config files up to where it would serve.

Run as `python -I litellm_probe.py [--parallel N] [--timeout S] [--path DIR]...`: imports
LiteLLM at once, then reads one JSON job per line on stdin (until EOF) and prints one JSON
result per line. The caller starts it before it has a job, so the import (the expensive part)
runs while the caller loads and checks the layers.

Each job runs LiteLLM's real `litellm --config F` entry point (`proxy_cli.run_server`: config
read, secret manager, database settings, worker config) with one replacement: `uvicorn.run`
does not bind a socket. Instead it runs the app's lifespan exactly as uvicorn would (config
loading, router construction, guardrails, callbacks, the master-key boot check), then asks the
app for `GET /v1/models` in memory, as a client would once the port is open. Every job runs in
a fork of the pristine process, so no job sees another's module state.

Validation never executes user code (DESIGN decision 10): a config from a pull request may sit
next to a `.py` that LiteLLM would import. So the process is isolated (`-I`: no PYTHONPATH, no
working directory on sys.path; LITELLM_MODE=PRODUCTION: LiteLLM loads no `.env`), and every
job's child confines itself before LiteLLM reads the config: no code runs from a file outside
the interpreter's own libraries and the trusted folders (`--path`: the shipped hooks; the
job's own folder, holding the config and inert stand-ins for the user's modules), whatever
sys.path says (LiteLLM itself puts `../..` and the working directory on it), and no program
is started. This module imports nothing from llmproxy_ops: it must stay a plain LiteLLM process.
"""

from __future__ import annotations

import argparse
import gc
import importlib.abc
import json
import os
import signal
import sys
import sysconfig
import traceback
from collections.abc import Sequence
from typing import Any

os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")

# what the in-memory server saw; set in the forked child only
_SERVED: dict[str, Any] = {}
# audit events that start another program: refused in a job's child
_SPAWN_EVENTS = frozenset({
    "subprocess.Popen", "os.system", "os.posix_spawn", "os.spawn", "os.exec", "os.fork",
    "os.forkpty", "pty.spawn",
})


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
        _SERVED.update(
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


# --- confinement (in a job's child, before LiteLLM sees the config)

def _real(path: str) -> str:
    return os.path.realpath(path)


def _inside(path: str, roots: Sequence[str]) -> bool:
    real = _real(path)
    return any(real == root or real.startswith(root + os.sep) for root in roots)


def library_roots() -> list[str]:
    """The interpreter's standard library and site-packages: installed code, not the user's."""
    paths = sysconfig.get_paths()
    names = ("stdlib", "platstdlib", "purelib", "platlib")
    return sorted({_real(paths[n]) for n in names if paths.get(n)})


class _Confine(importlib.abc.MetaPathFinder):
    """Finds modules as the other finders do, and refuses any found outside the trusted roots."""

    def __init__(self, roots: Sequence[str]) -> None:
        self.roots = roots

    def find_spec(self, name: str, path: Any = None, target: Any = None) -> Any:
        for finder in sys.meta_path:
            find = getattr(finder, "find_spec", None)
            if finder is self or find is None:
                continue
            spec = find(name, path, target)
            if spec is None:
                continue
            places = [spec.origin] if spec.has_location and spec.origin else []
            places += list(spec.submodule_search_locations or [])
            outside = [p for p in places if not _inside(p, self.roots)]
            if outside:
                raise ImportError(f"llmproxy-ops probe: module '{name}' is outside the "
                                  f"installed libraries ({outside[0]}); validation never "
                                  "imports it", name=name)
            return spec
        return None


def confine(roots: Sequence[str]) -> None:
    """From now on no code runs from a file outside `roots`, and no program starts."""
    real_roots = [_real(r) for r in roots]

    def audit(event: str, args: tuple[Any, ...]) -> None:
        if event == "exec":
            filename = getattr(args[0], "co_filename", "") or ""
            if not filename.startswith("<") and not _inside(filename, real_roots):
                raise PermissionError(f"llmproxy-ops probe: refusing to run {filename} "
                                      "(validation never executes user code)")
        elif event in _SPAWN_EVENTS:
            raise PermissionError(f"llmproxy-ops probe: refusing to start a program ({event})")

    sys.path[:] = [p for p in sys.path if p and _inside(p, real_roots)]
    sys.meta_path.insert(0, _Confine(real_roots))
    sys.addaudithook(audit)


# --- one job, in its forked child

def _run_job(job: dict[str, Any], trusted: Sequence[str]) -> dict[str, Any]:
    import uvicorn
    from litellm.proxy.proxy_cli import run_server

    os.environ.update(job.get("env", {}))
    for name in job.get("unset", []):
        os.environ.pop(name, None)
    os.chdir(job.get("cwd") or os.path.dirname(job["config"]))
    confine([*library_roots(), *trusted, *job.get("trust", [])])
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


def _start_child(job: dict[str, Any], timeout: float, out: str, trusted: Sequence[str]) -> int:
    pid = os.fork()
    if pid:
        return pid
    signal.alarm(max(1, int(timeout)))  # a hang ends as SIGALRM: never waits forever
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, 1)
    os.dup2(devnull, 2)  # LiteLLM's banners and logs are not the verdict
    try:
        result = _run_job(job, trusted)
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


def run_jobs(jobs: list[dict[str, Any]], timeout: float, parallel: int, folder: str,
             trusted: Sequence[str] = ()) -> None:
    """Up to `parallel` forks at a time; one JSON line per job on stdout as each ends."""
    todo = list(enumerate(jobs))
    running: dict[int, tuple[dict[str, Any], str]] = {}
    while todo or running:
        while todo and len(running) < parallel:
            n, job = todo.pop(0)
            out = os.path.join(folder, f"{n}.json")
            running[_start_child(job, timeout, out, trusted)] = (job, out)
        pid, status = os.wait()
        if pid not in running:
            continue
        job, out = running.pop(pid)
        result = _collect(out, status, timeout)
        sys.stdout.write(json.dumps({"id": job["id"], **result}) + "\n")
        sys.stdout.flush()


def import_litellm() -> None:
    """The expensive part, once. The collector stays off meanwhile: an import of this size
    allocates millions of objects that all live until exit, and each full collection would
    walk them again (about a third of the import's time); frozen after, no child walks them."""
    gc.disable()
    try:
        import litellm.proxy.proxy_cli  # noqa: F401
        import litellm.proxy.proxy_server  # noqa: F401
    finally:
        gc.enable()
    gc.freeze()


def main(argv: list[str]) -> int:
    import tempfile

    parser = argparse.ArgumentParser(prog="litellm_probe")
    parser.add_argument("--parallel", type=int, default=1)
    parser.add_argument("--timeout", type=float, default=60.0)
    parser.add_argument("--trust", action="append", default=[], help="a folder code may run from")
    parser.add_argument("--path", action="append", default=[], help="put on sys.path (trusted)")
    args = parser.parse_args(argv)
    sys.path.extend(args.path)  # -I left PYTHONPATH out: the shipped hooks come this way
    import_litellm()
    jobs = [json.loads(line) for line in sys.stdin if line.strip()]
    with tempfile.TemporaryDirectory(prefix="probe-") as folder:
        run_jobs(jobs, args.timeout, args.parallel, folder, [*args.trust, *args.path])
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
