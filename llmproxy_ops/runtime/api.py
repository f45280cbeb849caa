"""The one runtime protocol, its result shapes, and the registry keyed by `stack.runtime`.

A runtime is one module of its target's package (`targets/<name>/`): a class with the methods
of `Runtime`, named by the target's `runtime` hook (targets/registry.py). The CLI and ops only
ever hold a `Runtime`; they never ask which kind.

    start(build)            start the proxy from a rendered build; refuse when running
    stop(grace, volumes, only)  stop it (only: just these services, the rest keeps running);
                            not running is a result, not an error
    status()                one `Status` shape for every runtime (text and JSON below)
    logs(lines, service)    the last lines of its log(s)
    endpoint()              where clients reach it, and how to verify its TLS
    rollout(build, check)   replace the running build by `build` with no request dropped;
                            `check(url)` (health + smoke test) gates every new instance
    exec(service, argv)     run a command next to the proxy (compose: in a service)
    exec_command(service, argv)  the command line exec runs, for callers that stream
                            through it themselves (pg_dump into a file)

A render-only runtime (e.g. one that only writes manifests for a cluster) names a class
whose start/rollout raise RuntimeStateError naming what to run instead.
"""

from __future__ import annotations

import subprocess
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from llmproxy_ops.errors import OpsError, UsageError
from llmproxy_ops.targets.info import load
from llmproxy_ops.targets.registry import TARGETS, names

if TYPE_CHECKING:
    from llmproxy_ops.spec.model import Spec


@dataclass(frozen=True)
class Build:
    """A rendered build folder and what the proxy needs at start (secrets: never shown)."""

    spec: Spec = field(repr=False)
    dir: Path
    env: dict[str, str] = field(default_factory=dict, repr=False)
    id: str | None = None  # release id (ops/apply/releases.py), None for a plain render


@dataclass(frozen=True)
class Endpoint:
    url: str
    verify_tls: bool | str = True


@dataclass(frozen=True)
class WorkerView:
    """One worker slot of a unit: who serves it, its resident memory, and how often it was
    replaced by the memory guard (recycles) or restarted after dying (restarts)."""

    slot: int
    pid: int
    rss_mib: int | None = None
    recycles: int = 0
    restarts: int = 0
    last_exit: str = ""

    def as_dict(self) -> dict[str, Any]:
        return {"slot": self.slot, "pid": self.pid, "rss_mib": self.rss_mib,
                "recycles": self.recycles, "restarts": self.restarts,
                "last_exit": self.last_exit or None}

    @property
    def text(self) -> str:
        rss = f"{self.rss_mib} MiB" if self.rss_mib is not None else "RSS unknown"
        parts = [f"worker {self.slot} pid {self.pid}", rss]
        if self.recycles:
            parts.append(f"recycled {self.recycles} time{'s' if self.recycles != 1 else ''}")
        if self.restarts:
            last = f" (last: {self.last_exit})" if self.last_exit else ""
            parts.append(f"restarted {self.restarts} time"
                         f"{'s' if self.restarts != 1 else ''}{last}")
        return ", ".join(parts)


@dataclass(frozen=True)
class Unit:
    """One serving part: the local process, or one compose service."""

    name: str
    state: str  # running, exited, restarting, created, stopped
    health: str = ""  # healthy, unhealthy, starting, "" (no health check)
    url: str | None = None  # where it answers from this machine (per-replica checks)
    detail: str = ""  # pid, published ports...
    # How often it (or one of its workers) died and was restarted since it started, and how
    # the last one ended ("killed by SIGSEGV", "exit code 139"): a crash is never silent.
    restarts: int = 0
    last_exit: str = ""
    id: str = ""  # what a restart count belongs to: a container id, a supervisor pid
    # its worker processes, where the runtime sees them (the local supervisor's record):
    # WorkerView per slot; () elsewhere (a container's workers are inside it)
    workers: tuple[WorkerView, ...] = ()

    @property
    def ok(self) -> bool:
        return self.state == "running" and self.health in ("healthy", "")

    @property
    def restart_text(self) -> str:
        last = f" (last: {self.last_exit})" if self.last_exit else ""
        return f"restarted {self.restarts} time{'s' if self.restarts != 1 else ''}{last}"


@dataclass(frozen=True)
class Status:
    """What is running; the same shape for every runtime."""

    env: str
    kind: str
    running: bool
    healthy: bool
    url: str | None = None
    units: tuple[Unit, ...] = ()
    facts: tuple[tuple[str, str], ...] = ()  # e.g. ("pid", "123"), ("log", "...")
    note: str | None = None
    time_to_healthy_s: float | None = None
    build: str | None = None  # running release id, when known
    drift: str | None = None  # set by ops: the configs render something else now

    def as_dict(self) -> dict[str, Any]:
        return {
            "env": self.env,
            "runtime": self.kind,
            "running": self.running,
            "healthy": self.healthy,
            "url": self.url,
            "build": self.build,
            "drift": self.drift,
            "note": self.note,
            "units": [
                {"name": u.name, "state": u.state, "health": u.health, "url": u.url,
                 "detail": u.detail, "restarts": u.restarts, "last_exit": u.last_exit or None,
                 "workers": [w.as_dict() for w in u.workers]}
                for u in self.units
            ],
            # what only this runtime knows (pid, compose project...): one key, so the
            # document's shape is the same on every runtime
            "facts": dict(self.facts),
        }

    def as_text(self) -> str:
        if not self.running:
            note = f" ({self.note})" if self.note and self.note != "not running" else ""
            return f"{self.env}: not running{note}"
        health = "healthy" if self.healthy else "NOT healthy"
        lines = [f"{self.env}: running on {self.kind}, {health}" + (
            f", url {self.url}" if self.url else "")]
        for u in self.units:
            mark = "ok" if u.ok and not u.restarts else "!!"
            lines.append(f"  {mark} {u.name:<14} {u.state:<10} {u.health or '-':<10} {u.detail}"
                         + (f"; {u.restart_text}" if u.restarts else ""))
            lines += [f"       {w.text}" for w in u.workers]
        lines += [f"  {name}: {value}" for name, value in self.facts]
        if self.build:
            lines.append(f"  build: {self.build}")
        if self.drift:
            lines.append(f"  {self.drift}")
        return "\n".join(line.rstrip() for line in lines)


@dataclass(frozen=True)
class StopResult:
    """What `down` (of a whole environment, one process or one compose project) did."""

    was_running: bool
    message: str
    forced: bool = False  # a process had to be killed after its grace
    duration_s: float = 0.0
    pid: int | None = None  # the process stopped, where one process was
    volumes_removed: bool = False  # named volumes (the database) went too


@dataclass(frozen=True)
class Step:
    name: str
    ok: bool
    duration_s: float
    detail: str = ""


@dataclass
class RolloutResult:
    steps: list[Step] = field(default_factory=list)
    gap_s: float | None = None  # measured time with nothing serving (0.0: none by design)
    changed: bool = False  # the old build stopped serving somewhere (a rollback has work)
    # reloads of a proxy in front of the clients (nginx): each closes the idle keep-alive
    # connections of the workers it retires, which HTTP/1.1 cannot make race-free
    client_reloads: int = 0

    @property
    def ok(self) -> bool:
        return bool(self.steps) and all(s.ok for s in self.steps)

    @property
    def failed(self) -> Step | None:
        return next((s for s in self.steps if not s.ok), None)


Check = Callable[[str], str | None]  # url -> detail; raises OpsError when it fails


class Runtime(Protocol):
    kind: str

    def start(self, build: Build) -> Status: ...
    def stop(
        self, *, grace: float = 10.0, volumes: bool = False, only: tuple[str, ...] = ()
    ) -> StopResult: ...
    def status(self) -> Status: ...
    def logs(self, lines: int = 50, service: str | None = None) -> list[str]: ...
    def endpoint(self) -> Endpoint: ...
    def rollout(self, build: Build, check: Check) -> RolloutResult: ...
    def exec(
        self, service: str, argv: list[str], *, timeout: float = 60.0, input: str | None = None
    ) -> subprocess.CompletedProcess[str]: ...
    def exec_command(self, service: str, argv: list[str]) -> list[str]: ...


Factory = Callable[["Spec", tuple[str, ...]], Runtime]  # (spec, secrets to scrub) -> runtime


def kinds() -> list[str]:
    return names()


def runtime_of(spec: Spec, secrets: tuple[str, ...] = ()) -> Runtime:
    """The runtime `stack.runtime` names; output it shows is scrubbed of `secrets`."""
    target = TARGETS.get(spec.stack.runtime)
    if target is None:
        raise UsageError(
            f"unknown stack.runtime '{spec.stack.runtime}'",
            hint=f"use one of: {', '.join(names())}",
        )
    factory: Factory = load(target.hooks.runtime)  # imported on first use
    return factory(spec, secrets)


def timed(name: str, action: Callable[[], str | None]) -> Step:
    """Run a step; an OpsError becomes a failed step (with its message), not an exception."""
    import time

    t0 = time.monotonic()
    try:
        detail, ok = action() or "", True
    except OpsError as exc:
        tail = f" ({exc.details.strip()[-300:]})" if exc.details else ""
        detail, ok = exc.message + tail, False
    return Step(name, ok, round(time.monotonic() - t0, 3), str(detail))

