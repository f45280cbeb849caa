"""The probe process (litellm_probe) from the caller's side: started early, fed jobs, read back.

Started before the caller has a job, so LiteLLM's import overlaps the caller's own work; then
each job is written into the server's private folder (config and stand-ins for the user's
modules) and sent on stdin. The process runs isolated (see litellm_probe): `-I`, a private
working directory, LITELLM_MODE=PRODUCTION (LiteLLM then loads no `.env`), no proxy, no keys.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from llmproxy_ops.render.litellm_hooks import HOOKS_DIR

DEFAULT_TIMEOUT = 90.0
PROGRAM = Path(__file__).with_name("litellm_probe.py")  # run by path: it imports none of ours
IMPORT_ALLOWANCE = 120.0  # LiteLLM's import on a loaded machine, on top of the jobs' share
_DEAD_PROXY = "http://127.0.0.1:9"  # the discard port: any accidental request fails at once


@dataclass(frozen=True)
class ProbeJob:
    id: str
    config: Path
    env: dict[str, str] = field(default_factory=dict)
    unset: tuple[str, ...] = ()
    mode: str = "start"  # or "validate_config": LiteLLM's own `--validate_config`
    cwd: Path | None = None  # default: the config's folder
    trust: tuple[Path, ...] = ()  # folders code may run from besides the libraries

    def as_json(self) -> dict[str, Any]:
        return {"id": self.id, "config": str(self.config), "env": self.env,
                "unset": list(self.unset), "cwd": str(self.cwd or self.config.parent),
                "mode": self.mode, "trust": [str(t) for t in self.trust]}


@dataclass(frozen=True)
class ProbeResult:
    id: str
    started: bool
    status: int | None = None
    models: tuple[str, ...] = ()
    error_type: str | None = None
    message: str = ""
    frames: tuple[str, ...] = ()
    accepted: bool | None = None  # mode validate_config: did LiteLLM call the config valid

    @property
    def serves(self) -> bool:
        return self.started and self.status == 200

    @classmethod
    def from_json(cls, raw: Mapping[str, Any]) -> ProbeResult:
        error = raw.get("error") or {}
        return cls(
            id=str(raw["id"]), started=bool(raw.get("started")), status=raw.get("status"),
            models=tuple(raw.get("models") or ()), error_type=error.get("type"),
            message=str(error.get("message", "")), frames=tuple(error.get("frames") or ()),
            accepted=raw.get("accepted"),
        )

    def as_json(self) -> dict[str, Any]:
        error = ({"type": self.error_type, "message": self.message, "frames": list(self.frames)}
                 if self.error_type else None)
        return {"id": self.id, "started": self.started, "status": self.status,
                "models": list(self.models), "error": error, "accepted": self.accepted}


def probe_environment() -> dict[str, str]:
    """The probe's base environment: nothing of ours leaks in (no keys, no DATABASE_URL)."""
    keep = ("PATH", "HOME", "LANG", "LC_ALL", "TMPDIR", "VIRTUAL_ENV")
    env = {name: os.environ[name] for name in keep if name in os.environ}
    env.update({
        "LITELLM_LOCAL_MODEL_COST_MAP": "True",
        # LiteLLM loads the nearest .env at import in its default DEV mode (python-dotenv,
        # found from the venv's folder upwards: the project's own .env)
        "LITELLM_MODE": "PRODUCTION",
        "HTTP_PROXY": _DEAD_PROXY, "HTTPS_PROXY": _DEAD_PROXY,
        "http_proxy": _DEAD_PROXY, "https_proxy": _DEAD_PROXY, "NO_PROXY": "", "no_proxy": "",
    })
    return env


def probe_command(*, parallel: int = 1, timeout: float = DEFAULT_TIMEOUT) -> list[str]:
    """`-I`: no PYTHONPATH, no user site, no script or working folder on sys.path."""
    return [sys.executable, "-I", str(PROGRAM), "--parallel", str(parallel),
            "--timeout", f"{timeout:g}", "--path", str(HOOKS_DIR)]


class ProbeServer:
    """One probe process: LiteLLM imported once, one fork per job; `close()` always."""

    def __init__(self, *, parallel: int = 1, timeout: float = DEFAULT_TIMEOUT) -> None:
        self.timeout = timeout
        self.parallel = parallel
        # the process's working folder and the jobs' folders: private (0700), removed at close
        self.folder = Path(tempfile.mkdtemp(prefix="llmproxy-ops-probe-"))
        self.proc = subprocess.Popen(
            probe_command(parallel=parallel, timeout=timeout), cwd=self.folder,
            env=probe_environment(), stdin=subprocess.PIPE, stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL, text=True, start_new_session=True,
        )
        self._jobs = 0

    def job_folder(self) -> Path:
        """A fresh private folder for one job's config and stand-in modules."""
        self._jobs += 1
        path = self.folder / f"job{self._jobs}"
        path.mkdir(mode=0o700)
        return path

    def run(self, jobs: Iterable[ProbeJob]) -> dict[str, ProbeResult]:
        """Every job's result; a job the process did not finish in time is a Timeout."""
        todo = list(jobs)
        assert self.proc.stdin is not None and self.proc.stdout is not None
        deadline = time.monotonic() + IMPORT_ALLOWANCE + self.timeout * -(
            -len(todo) // self.parallel)
        try:
            self.proc.stdin.write("".join(json.dumps(j.as_json()) + "\n" for j in todo))
            self.proc.stdin.close()
        except BrokenPipeError:
            pass  # the process died at import: every job is reported below
        results = self._read(deadline)
        for job in todo:  # a probe killed part-way: the rest did not finish in time
            results.setdefault(job.id, ProbeResult(
                job.id, False, error_type="Timeout",
                message=f"LiteLLM did not finish starting within {self.timeout:g} s",
            ))
        return results

    def _read(self, deadline: float) -> dict[str, ProbeResult]:
        import selectors

        assert self.proc.stdout is not None
        results: dict[str, ProbeResult] = {}
        with selectors.DefaultSelector() as selector:
            selector.register(self.proc.stdout, selectors.EVENT_READ)
            while (left := deadline - time.monotonic()) > 0 and selector.select(left):
                line = self.proc.stdout.readline()
                if not line:
                    break
                result = ProbeResult.from_json(json.loads(line))
                results[result.id] = result
        return results

    def close(self) -> None:
        if self.proc.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.proc.pid, signal.SIGKILL)
        self.proc.wait()
        for stream in (self.proc.stdin, self.proc.stdout):
            if stream is not None and not stream.closed:
                stream.close()
        shutil.rmtree(self.folder, ignore_errors=True)

    def __enter__(self) -> ProbeServer:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.close()

