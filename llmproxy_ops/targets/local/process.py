"""Local runtime: the stock `litellm` console script of this venv, detached in the background."""

from __future__ import annotations

import json
import os
import secrets
import shutil
import signal
import sys
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx

from llmproxy_ops import fsutil
from llmproxy_ops.errors import RuntimeStateError, StackError, UsageError
from llmproxy_ops.render.litellm_hooks import with_hooks_on_path
from llmproxy_ops.runtime import identity, ownership, process, recovery
from llmproxy_ops.runtime.api import StopResult

PID_FILE = "litellm.pid"
# A rollout's new proxy starts from this subfolder of the environment's run dir, then the
# environment adopts it (targets/local/runtime.py): both belong to one environment.
ROLLOUT_DIR = "next"
LOG_FILE = "litellm.log"
METRICS_DIR_VAR = "PROMETHEUS_MULTIPROC_DIR"
METRICS_DIR_PREFIX = "metrics-"
STATE_FILE = "state.json"
LOG_TAIL_LINES = 30
SERVER_FLAGS = {"uvicorn": [], "gunicorn": ["--run_gunicorn"], "granian": ["--run_granian"]}
LAUNCHER_MODULE = "llmproxy_ops.launcher"  # LiteLLM's CLI, served as that module says
# Lowest priority, under os.environ and the env file. The cost map: start-up must not depend
# on GitHub (it retries for seconds offline); the map bundled with the pinned litellm fits it.
# Unbuffered: a crash during start-up must leave its last lines in the log.
CHILD_ENV_DEFAULTS = {"LITELLM_LOCAL_MODEL_COST_MAP": "True", "PYTHONUNBUFFERED": "1"}
_MIN_SECRET_LEN = 8


@dataclass(frozen=True)
class LaunchSpec:
    """How to start litellm; env values are secrets and never reach argv, state or repr."""

    config_path: Path
    env: dict[str, str] = field(default_factory=dict, repr=False)
    host: str = "127.0.0.1"
    port: int = 4000
    workers: int = 1
    server: str = "uvicorn"
    startup_timeout: float = 90.0
    # Served through llmproxy_ops/launcher (asyncio's event loop for every server; uvicorn: one
    # SO_REUSEPORT socket per worker instead of LiteLLM's shared one, which pins bursts of
    # connections to one worker, and a new proxy can start beside this one on the same port:
    # a rollout). False: LiteLLM's own CLI exactly as shipped (the seeds' way, benchmarks).
    reuse_port: bool = True
    drain_timeout: float = 60.0
    # stack.metrics: the workers share a fresh PROMETHEUS_MULTIPROC_DIR (one per start), so
    # /metrics counts each of them once and a restart starts from zero, as Prometheus expects
    metrics: bool = False
    # stack.workers_max_rss: the supervisor recycles a worker past it (MiB; None: off)
    max_rss_mib: int | None = None
    # A rollout's new proxy: also on 127.0.0.1:private_port (checked there on its own), and
    # new connections stay on the `steer_behind` sockets of the old one until it is steered.
    private_port: int | None = None
    steer_behind: int = 0
    steer_file: Path | None = None

    @property
    def shares_port(self) -> bool:
        return self.reuse_port and self.server == "uvicorn"

    @property
    def per_worker_sockets(self) -> bool:
        return self.shares_port and self.workers > 1

    @property
    def probe_url(self) -> str:
        """Where this very process answers (its private port during a rollout)."""
        if self.private_port:
            return base_url("127.0.0.1", self.private_port)
        return base_url(self.host, self.port)

    @property
    def serving(self) -> str:
        """How it serves, for logs and reports: e.g. "uvicorn x2, a socket per worker"."""
        sockets = ", a socket per worker" if self.per_worker_sockets else ""
        return f"{self.server} x{self.workers}{sockets}"


@dataclass(frozen=True)
class RuntimeStatus:
    running: bool
    healthy: bool
    log_path: Path
    pid: int | None = None
    host: str | None = None
    port: int | None = None
    config_path: Path | None = None
    server: str | None = None
    workers: int | None = None
    started_at: str | None = None
    uptime_s: float | None = None
    time_to_healthy_s: float | None = None
    note: str | None = None
    # the supervisor's record per worker: pid, restarts, last_exit, last_exit_at, recycles,
    # rss_mib (launcher.py's WorkerRecord)
    worker_records: tuple[dict[str, Any], ...] = ()
    max_rss_mib: int | None = None  # the memory guard's limit (None: off)

    @property
    def restarts(self) -> int:
        counts = (w.get("restarts") for w in self.worker_records)
        return sum(c for c in counts if isinstance(c, int) and c > 0)

    @property
    def recycles(self) -> int:
        """Workers the memory guard replaced (not crashes: nothing was dropped)."""
        counts = (w.get("recycles") for w in self.worker_records)
        return sum(c for c in counts if isinstance(c, int) and c > 0)

    @property
    def last_exit(self) -> str:
        """How the worker that died last ended ("killed by SIGSEGV at 12:00:01"), or ""."""
        died = [w for w in self.worker_records if isinstance(w.get("last_exit_at"), int | float)]
        if not died:
            return ""
        last = max(died, key=lambda w: float(w["last_exit_at"]))
        when = datetime.fromtimestamp(float(last["last_exit_at"]), UTC).strftime("%H:%M:%S")
        return f"{str(last.get('last_exit'))[:60]} at {when} UTC"

    @property
    def url(self) -> str | None:
        return None if self.host is None or self.port is None else base_url(self.host, self.port)


def base_url(host: str, port: int) -> str:
    """URL to reach a server bound to host:port from this machine."""
    probe = {"0.0.0.0": "127.0.0.1", "": "127.0.0.1", "::": "::1"}.get(host, host)
    if ":" in probe:
        probe = f"[{probe}]"
    return f"http://{probe}:{port}"


def liveliness(url: str, timeout: float = 2.0) -> bool:
    try:
        return httpx.get(f"{url}/health/liveliness", timeout=timeout).status_code == 200
    except httpx.HTTPError:
        return False


class LocalRuntime:
    """One litellm process per run directory (e.g. .run/dev/)."""

    def __init__(self, run_dir: Path, litellm_bin: Path | None = None):
        self.run_dir = Path(run_dir)
        self.litellm_bin = litellm_bin or Path(sys.executable).parent / "litellm"
        self.pid_path = self.run_dir / PID_FILE
        self.log_path = self.run_dir / LOG_FILE
        self.state_path = self.run_dir / STATE_FILE

    # ---- verbs -------------------------------------------------------------------------------

    def up(self, launch: LaunchSpec) -> RuntimeStatus:
        """Start litellm in the background and wait until it answers /health/liveliness.

        With launch.steer_behind the port is held by our running proxy, on purpose (a rollout).
        """
        config = self._preflight(launch)
        fsutil.ensure_private_dir(self.run_dir)  # logs can hold prompts (LITELLM_LOG=DEBUG)
        offset = self._write_marker(launch, config)
        started = time.time()
        # One per start: a rollout's new proxy runs beside the old one, each keeps its own.
        token = secrets.token_hex(4)
        workers_file = self.env_dir / f"workers-{token}.json"
        metrics_dir = self._fresh_metrics_dir(token) if launch.metrics else None
        argv = self._argv(launch, config)
        env = self._child_env(launch, workers_file, metrics_dir)
        pid, ident = identity.spawn(argv, env, self.log_path)
        state = {**self._state(pid, launch, config, started), "workers_file": str(workers_file),
                 "metrics_dir": str(metrics_dir or ""), "identity": ident.to_json()}
        self._save(pid, state)
        try:
            self._wait_healthy(pid, launch, offset)
        except BaseException:  # a failed or interrupted (Ctrl-C) start leaves no process behind
            self._kill(pid, grace=5.0)
            self._forget()
            self._forget_workers(state)
            raise
        state["time_to_healthy_s"] = round(time.time() - started, 3)
        state["listening_on"] = sorted(ownership.group_ports(pid))  # the real ports
        self._save(pid, state)
        return self.status()

    def down(self, grace: float = 10.0) -> StopResult:
        """SIGTERM the group, SIGKILL after `grace`; not running is a result, not an error."""
        pid, state = self._read_pid(), self._read_state()
        if pid is None or not self._is_ours(pid, state):
            return self._down_unrecorded(pid, grace)
        t0 = time.monotonic()
        forced = self._kill(pid, grace)
        self._forget()
        self._forget_workers(state)
        took = round(time.monotonic() - t0, 3)
        how = f"killed with SIGKILL after {grace:g} s grace" if forced else "stopped"
        message = f"{how}: litellm (pid {pid}) in {took:g} s"
        return StopResult(
            was_running=True, pid=pid, message=message, forced=forced, duration_s=took
        )

    def _down_unrecorded(self, pid: int | None, grace: float) -> StopResult:
        """No usable pid/state: stop what this run dir started, found by its env marker."""
        leaders = self._marked()
        self._forget()
        if not leaders:
            stale = f" (removed stale pid file for pid {pid})" if pid is not None else ""
            return StopResult(was_running=False, pid=pid, message=f"litellm is not running{stale}")
        t0 = time.monotonic()
        forced = any([self._kill(leader, grace) for leader in leaders])
        took = round(time.monotonic() - t0, 3)
        pids = ", ".join(map(str, leaders))
        message = (
            f"stopped: litellm (pid {pids}) in {took:g} s, found by its run-dir marker "
            f"because {self.state_path.name}/{self.pid_path.name} did not describe it"
        )
        return StopResult(
            was_running=True, pid=leaders[0], message=message, forced=forced, duration_s=took
        )

    def status(self) -> RuntimeStatus:
        """Recorded state plus a live check: is the pid ours and does it answer liveliness."""
        pid, state = self._read_pid(), self._read_state()
        if pid is None or not self._is_ours(pid, state):
            leaders = self._marked()
            if leaders:
                return RuntimeStatus(
                    running=True, healthy=False, log_path=self.log_path, pid=leaders[0],
                    note=f"running, but {self.state_path} is missing or unreadable: "
                    "its address is unknown; stop it with down, then up",
                )
        if pid is None:
            return self._stopped_status("not running")
        if not self._is_ours(pid, state):
            return self._stopped_status(
                f"not running (stale pid file: pid {pid} is not this litellm)"
            )
        return self._running_status(pid, state)

    def recorded(self) -> dict[str, Any]:
        """What state.json says about the running process (empty when nothing runs)."""
        return self._read_state()

    def adopt(self, other: LocalRuntime) -> None:
        """Take over the process another run directory started (a rollout's new proxy)."""
        pid, state = other._read_pid(), other._read_state()
        if pid is None or not self._is_ours(pid, state):
            raise RuntimeStateError(f"nothing to take over in {other.run_dir}")
        self._save(pid, {**state, "log_path": str(self.log_path)})
        other._forget()

    def _stopped_status(self, note: str) -> RuntimeStatus:
        return RuntimeStatus(running=False, healthy=False, log_path=self.log_path, note=note)

    def logs(self, lines: int = 50) -> list[str]:
        return process.tail_lines(self.log_path, lines)

    # ---- start-up ----------------------------------------------------------------------------

    def _preflight(self, launch: LaunchSpec) -> Path:
        if launch.server not in SERVER_FLAGS:
            choices = ", ".join(SERVER_FLAGS)
            raise UsageError(f"unknown server {launch.server!r}", hint=f"choose one of: {choices}")
        config = Path(launch.config_path).resolve()
        if not config.is_file():
            raise StackError(f"config file not found: {config}", hint="render the config first")
        self._refuse_if_running()
        if not launch.steer_behind and process.port_in_use(launch.host, launch.port):
            raise RuntimeStateError(
                f"port {launch.port} on {launch.host} is already in use by another process",
                hint="stop whatever listens there or choose another port",
            )
        return config

    def _refuse_if_running(self) -> None:
        pid, state = self._read_pid(), self._read_state()
        leaders = self._marked()
        if leaders and (pid is None or not self._is_ours(pid, state)):
            raise RuntimeStateError(
                f"litellm started from {self.run_dir} is still running (pid {leaders[0]}) "
                f"but {self.state_path.name} does not describe it",
                hint="stop it with down (it finds the process by its run-dir marker)",
            )
        if pid is None:
            return
        if self._is_ours(pid, state):
            url = base_url(state["host"], state["port"])
            raise RuntimeStateError(
                f"litellm is already running (pid {pid}, {url})",
                hint="stop it first, or check it with status",
            )
        self._forget()  # a stale pid file from a dead (or recycled) pid

    def _argv(self, launch: LaunchSpec, config: Path) -> list[str]:
        # Only paths and numbers: argv is world-readable in /proc, secrets go in the environment.
        # With per-worker sockets: the same CLI, through the module that gives each its socket.
        python = str(self.litellm_bin.parent / "python")
        head = [python, "-m", LAUNCHER_MODULE] if launch.reuse_port else [str(self.litellm_bin)]
        argv = [*head, "--config", str(config), "--host", launch.host]
        argv += ["--port", str(launch.port), "--num_workers", str(launch.workers)]
        return argv + SERVER_FLAGS[launch.server]

    def _child_env(
        self, launch: LaunchSpec, workers_file: Path, metrics_dir: Path | None = None
    ) -> dict[str, str]:
        rollout = {
            "LLMPROXY_PORT": str(launch.port),
            # gunicorn and granian keep their own workers: no supervisor, no fork server
            "LLMPROXY_SUPERVISE": "1" if launch.shares_port else "0",
            "LLMPROXY_WORKERS_FILE": str(workers_file),
            "LLMPROXY_DRAIN_TIMEOUT": f"{launch.drain_timeout:g}",
            "LLMPROXY_PRIVATE_PORT": str(launch.private_port or ""),
            "LLMPROXY_STEER_BEHIND": str(launch.steer_behind or ""),
            "LLMPROXY_STEER_FILE": str(launch.steer_file or ""),
            "LLMPROXY_MAX_RSS_MB": str(launch.max_rss_mib or ""),
        }
        # the marker lets `down` find this process if state.json is ever lost (recovery.py)
        marker = recovery.marker_env(self.env_dir)
        # set for the launcher itself: its fork server imports LiteLLM (and prometheus_client,
        # which picks its multiprocess mode at import) before any worker exists
        metrics = {METRICS_DIR_VAR: str(metrics_dir)} if metrics_dir else {}
        env = {**CHILD_ENV_DEFAULTS, **os.environ, **launch.env, **rollout, **marker, **metrics}
        return with_hooks_on_path(env)

    def _write_marker(self, launch: LaunchSpec, config: Path) -> int:
        """Append a start marker; return the offset where this start's output begins."""
        stamp = datetime.now(UTC).isoformat(timespec="seconds")
        marker = (
            f"===== llmproxy-ops: starting litellm at {stamp} "
            f"(config {config}, {launch.host}:{launch.port}, "
            f"{launch.serving}) =====\n"
        )
        with process.open_log(self.log_path) as log:
            log.write(marker.encode())
            return log.tell()

    def _wait_healthy(self, pid: int, launch: LaunchSpec, offset: int) -> None:
        url = launch.probe_url
        deadline = time.monotonic() + launch.startup_timeout
        while time.monotonic() < deadline:
            code = process.exit_status(pid)
            if code is not None or not process.pid_alive(pid):
                if code is None:  # it is exiting or exited just now: collect its code
                    code = process.wait_exit_status(pid, timeout=2.0)
                how = f"with code {code}" if code is not None else ""
                raise self._start_failed(f"litellm exited {how} during start-up", launch, offset)
            ours = ownership.group_ports(pid)
            if launch.port in ours and liveliness(url):
                return
            # a rollout's new proxy also listens on its private port (checked on its own there)
            if ours - {launch.port, launch.private_port}:
                raise self._start_failed(self._moved(pid, launch, ours), launch, offset)
            time.sleep(0.2)
        message = f"litellm did not become healthy within {launch.startup_timeout:g} s ({url})"
        raise self._start_failed(message, launch, offset)

    def _moved(self, pid: int, launch: LaunchSpec, ours: set[int]) -> str:
        others = ownership.foreign_listeners(launch.port, pid)
        holder = f"pid {others[0]} holds port {launch.port}" if others else "it was busy"
        ports = ", ".join(map(str, sorted(ours)))
        return (
            f"litellm (pid {pid}) listens on port {ports}, not {launch.port}: {holder} "
            f"(LiteLLM moves off port 4000 silently when it is in use); stopped it"
        )

    def _start_failed(self, message: str, launch: LaunchSpec, offset: int) -> StackError:
        tail = process.tail_lines(self.log_path, LOG_TAIL_LINES, start_offset=offset)
        details = _scrub("\n".join(tail), launch.env.values())
        return StackError(
            " ".join(message.split()), hint=f"full log: {self.log_path}", details=details
        )

    # ---- state -------------------------------------------------------------------------------

    def _state(self, pid: int, launch: LaunchSpec, config: Path, started: float) -> dict[str, Any]:
        return {
            "pid": pid,
            "config_path": str(config),
            "host": launch.host,
            "port": launch.port,
            "server": launch.server,
            "workers": launch.workers,
            "max_rss_mib": launch.max_rss_mib,
            "shares_port": launch.shares_port,
            "started_at": datetime.fromtimestamp(started, UTC).isoformat(timespec="seconds"),
            "started_epoch": started,
            "time_to_healthy_s": None,
            "log_path": str(self.log_path),
        }

    def _save(self, pid: int, state: dict[str, Any]) -> None:
        process.atomic_write_text(self.state_path, json.dumps(state, indent=2) + "\n")
        process.atomic_write_text(self.pid_path, f"{pid}\n")

    def _forget(self) -> None:
        self.pid_path.unlink(missing_ok=True)
        self.state_path.unlink(missing_ok=True)

    def _forget_workers(self, state: dict[str, Any]) -> None:
        """The stopped proxy's worker record and metrics folder, if they are ours (never a
        path elsewhere: state.json is read as someone else's file)."""
        path = Path(str(state.get("workers_file") or ""))
        if path.parent == self.env_dir and path.name.startswith("workers-"):
            path.unlink(missing_ok=True)
        metrics = self.metrics_dir(state)
        if metrics is not None:
            shutil.rmtree(metrics, ignore_errors=True)

    def metrics_dir(self, state: dict[str, Any]) -> Path | None:
        """The running proxy's PROMETHEUS_MULTIPROC_DIR, if state.json names one of ours."""
        path = Path(str(state.get("metrics_dir") or ""))
        ours = path.parent == self.env_dir and path.name.startswith(METRICS_DIR_PREFIX)
        return path if ours and path.is_dir() and not path.is_symlink() else None

    def _fresh_metrics_dir(self, token: str) -> Path:
        # empty at each start: samples of a previous run's pids would be summed into this one's
        path = self.env_dir / f"{METRICS_DIR_PREFIX}{token}"
        path.mkdir(mode=0o700)
        return path

    def workers(self, state: dict[str, Any]) -> list[dict[str, Any]]:
        """The supervisor's record of its workers (pid, restarts, last exit); [] if none."""
        path = Path(str(state.get("workers_file") or ""))
        if path.parent != self.env_dir or not path.name.startswith("workers-"):
            return []
        doc = process.read_json_object(path)
        found = doc.get("workers") if doc.get("supervisor") == state.get("pid") else None
        return [w for w in found if isinstance(w, dict)] if isinstance(found, list) else []

    @property
    def env_dir(self) -> Path:
        """The environment's run dir (a rollout's new proxy runs from its subfolder)."""
        return self.run_dir.parent if self.run_dir.name == ROLLOUT_DIR else self.run_dir

    def _marked(self) -> list[int]:
        """Leaders carrying this environment's marker, but the one the other folder records.

        The marker names the environment, not the folder: an adopted rollout proxy keeps the
        environment it was started with. The other folder's recorded pid is not ours to judge:
        the old proxy during a rollout, or the new one beside it.
        """
        other = self.env_dir / ROLLOUT_DIR if self.run_dir == self.env_dir else self.env_dir
        skip = LocalRuntime(other, litellm_bin=self.litellm_bin)._read_pid()
        return [p for p in recovery.started_from(self.env_dir) if p != skip]

    def _read_pid(self) -> int | None:
        try:
            return int(self.pid_path.read_text().strip())
        except (FileNotFoundError, ValueError):
            return None

    def _read_state(self) -> dict[str, Any]:
        return process.read_json_object(self.state_path)

    def _is_ours(self, pid: int, state: dict[str, Any]) -> bool:
        """The pid is the litellm we started with our config (identity.py): a recycled pid,
        or one a forged state names, must never be signalled."""
        config = state.get("config_path")
        if not config or state.get("pid") != pid or not process.pid_alive(pid):
            return False
        argv = process.cmdline(pid)
        launcher = any(Path(arg).name == "litellm" for arg in argv) or LAUNCHER_MODULE in argv
        return config in argv and launcher and identity.matches(pid, state.get("identity"))

    def _running_status(self, pid: int, state: dict[str, Any]) -> RuntimeStatus:
        started = state.get("started_epoch")
        port = state["port"]
        ours = port in ownership.group_ports(pid)
        others = [] if ours else ownership.foreign_listeners(port, pid)
        note = None if ours else (
            f"port {port} is held by pid {others[0]}, not this litellm" if others
            else f"this litellm does not listen on port {port}"
        )
        return RuntimeStatus(
            running=True,
            healthy=ours and liveliness(base_url(state["host"], port)),
            note=note,
            log_path=self.log_path,
            pid=pid,
            host=state["host"],
            port=state["port"],
            config_path=Path(state["config_path"]),
            server=state.get("server"),
            workers=state.get("workers"),
            started_at=state.get("started_at"),
            uptime_s=round(time.time() - started, 1) if started else None,
            time_to_healthy_s=state.get("time_to_healthy_s"),
            worker_records=tuple(self.workers(state)),
            max_rss_mib=state.get("max_rss_mib"),
        )

    def _kill(self, pid: int, grace: float) -> bool:
        """Stop the whole group (gunicorn/granian workers too); True if SIGKILL was needed."""
        process.signal_group(pid, signal.SIGTERM)
        if process.wait_group_gone(pid, grace):
            return False
        process.signal_group(pid, signal.SIGKILL)
        if not process.wait_group_gone(pid, 5.0):
            raise StackError(f"litellm process group {pid} survived SIGKILL")
        return True


def _scrub(text: str, secrets: Any) -> str:
    """Replace known secret values (from the env file) in text that is shown to people."""
    for value in sorted({str(v) for v in secrets}, key=len, reverse=True):
        if len(value) >= _MIN_SECRET_LEN:
            text = text.replace(value, "***")
    return text
