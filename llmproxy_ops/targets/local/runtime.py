"""`stack.runtime: local` behind the Runtime protocol: one stock litellm process of this venv.

Rollout: the new proxy starts beside the old one on the same port (every uvicorn worker has
its own SO_REUSEPORT socket) while new connections stay on the old one; it is checked on a
private port of its own; then new connections are steered to it (runtime/steer.py) and the
old proxy drains: its workers stop accepting, finish in-flight requests and streams (up to
stack.drain_timeout) and exit. Nothing ever stops serving the port.
"""

from __future__ import annotations

import os
import signal
import subprocess
import time
from dataclasses import replace
from pathlib import Path
from typing import Any

from llmproxy_ops import netutil
from llmproxy_ops.commands import run_command
from llmproxy_ops.errors import RuntimeStateError, StackError, UsageError
from llmproxy_ops.render import stack_redis
from llmproxy_ops.render.build import CONFIG_FILE
from llmproxy_ops.runtime.api import (
    Build,
    Check,
    Endpoint,
    RolloutResult,
    Status,
    StopResult,
    Unit,
    WorkerView,
    timed,
)
from llmproxy_ops.runtime.local_fake import LocalFakeProvider, environment
from llmproxy_ops.targets.local.process import (
    ROLLOUT_DIR,
    LaunchSpec,
    LocalRuntime,
    RuntimeStatus,
    base_url,
)
from llmproxy_ops.targets.local.redis import LocalRedis

NEXT_DIR = ROLLOUT_DIR  # the rollout's new proxy, until it takes over
STEER_FILE = "steer"
_STEER_WAIT_S = 5.0
_SETTLE_S = 0.3  # connections already queued on the old sockets are accepted meanwhile
_KILL_SLACK_S = 15.0


class LocalEnvRuntime:
    kind = "local"

    def __init__(self, spec: Any, secrets: tuple[str, ...] = ()):
        self.env_name = spec.name
        self.stack = spec.stack
        self.proc = LocalRuntime(spec.stack.run_dir / spec.name)
        self.fake = LocalFakeProvider(self.proc.run_dir)
        self.redis = LocalRedis(self.proc.run_dir)
        self.secrets = secrets

    # ---- protocol ----------------------------------------------------------------------------

    def start(self, build: Build) -> Status:
        # a running proxy may be using them (or a crashed one left them: reused)
        fake_before, redis_before = self.fake.status().running, self.redis.status().running
        try:
            launch = self._launch(build)  # starts Redis and the fake provider first when needed
            self.proc.up(launch)
        except BaseException:
            if not fake_before:
                self.fake.down()  # a failed start leaves nothing running
            if not redis_before:
                self.redis.down()
            raise
        return self.status()

    def stop(
        self, *, grace: float = 10.0, volumes: bool = False, only: tuple[str, ...] = ()
    ) -> StopResult:
        del only  # one process: the proxy is the only service
        if volumes:
            raise UsageError(
                f"--volumes is for the compose runtime; {self.env_name} runs locally (no volumes)"
            )
        r = self.proc.down(grace=grace)
        # after the proxy: no request of it is cut
        companions = [m for m in (self.fake.down(), self.redis.down()) if m]
        message = "; ".join([r.message, *companions])
        return StopResult(r.was_running or bool(companions), message, r.forced, r.duration_s)

    def status(self) -> Status:
        st = _status(self.env_name, self.proc.status())
        fake, redis = self.fake.status(), self.redis.status()
        if not st.running:
            left = [f"{n} (pid {c.pid})" for n, c in (("fake provider", fake),
                                                       ("redis-server", redis)) if c.running]
            if left:  # the proxy crashed or was killed: say what is left, down stops it
                return replace(st, note=f"{st.note or 'not running'}; still running: "
                               f"{', '.join(left)} (stop with down, or up reuses it)")
            return st
        # no unit url: that marks a proxy replica (key rotation verifies keys on each)
        units = []
        if fake.running:
            units.append(Unit("fake-provider", "running",
                              "healthy" if fake.healthy else "unhealthy",
                              detail=f"pid {fake.pid}, {fake.url}"))
        if redis.running:
            units.append(Unit("redis", "running", "healthy" if redis.healthy else "unhealthy",
                              detail=f"pid {redis.pid}, 127.0.0.1:{redis.port}"))
        return replace(st, units=(*st.units, *units),
                       healthy=st.healthy and all(u.health == "healthy" for u in units))

    def logs(self, lines: int = 50, service: str | None = None) -> list[str]:
        if service not in (None, "litellm"):
            raise UsageError(f"--service is for the compose runtime; {self.env_name} runs locally")
        return self.proc.logs(lines)

    def endpoint(self) -> Endpoint:
        return Endpoint(base_url(self.stack.host, self.stack.port))

    def exec(
        self, service: str, argv: list[str], *, timeout: float = 60.0, input: str | None = None
    ) -> subprocess.CompletedProcess[str]:
        """Locally every service is this machine: run argv here."""
        return run_command(self.exec_command(service, argv), timeout=timeout,
                           secrets=self.secrets, input=input)

    def exec_command(self, service: str, argv: list[str]) -> list[str]:
        del service
        return list(argv)

    def rollout(self, build: Build, check: Check) -> RolloutResult:
        old = self.proc.status()
        if not old.running:
            return self._start_checked(build, check)
        if not (self.proc.recorded().get("shares_port") and self._launch(build).shares_port):
            return self._restart(build, check, old)
        return self._beside(build, check, old)

    # ---- rollout -----------------------------------------------------------------------------

    def _beside(self, build: Build, check: Check, old: RuntimeStatus) -> RolloutResult:
        nxt = LocalRuntime(self.proc.run_dir / NEXT_DIR, litellm_bin=self.proc.litellm_bin)
        nxt.log_path = self.proc.log_path  # one log for the environment, both processes append
        nxt.run_dir.mkdir(parents=True, exist_ok=True)
        steer_file = nxt.run_dir / STEER_FILE
        steer_file.unlink(missing_ok=True)
        launch = self._launch(
            build, private_port=netutil.free_port(), steer_behind=old.workers or 1,
            steer_file=steer_file,
        )
        out = RolloutResult()
        started: dict[str, RuntimeStatus] = {}

        def start_new() -> str:
            started["st"] = nxt.up(launch)
            return f"pid {started['st'].pid}, healthy on {launch.probe_url}"

        out.steps.append(timed("start the new proxy beside the old one", start_new))
        if not out.ok:
            return out
        new_pid = started["st"].pid or 0
        out.steps.append(timed("check the new proxy on its own port", lambda: check(
            launch.probe_url)))
        if out.ok:
            out.steps.append(timed("steer new connections to the new proxy", lambda: _signal(
                new_pid, signal.SIGUSR1, steer_file, "steered")))
        if not out.ok:  # the old proxy never stopped serving: retire the new one
            out.steps.append(timed("stop the new proxy (the old one keeps serving)",
                                   lambda: nxt.down(grace=10.0).message))
            return out
        time.sleep(_SETTLE_S)
        out.changed = True
        grace = self.stack.drain_timeout + _KILL_SLACK_S
        out.steps.append(timed(f"drain the old proxy (pid {old.pid}, up to "
                               f"{self.stack.drain_timeout:g} s)", lambda: _drained(
                                   self.proc, grace)))
        self.proc.adopt(nxt)
        out.steps.append(timed("hand connections back to the kernel's hash", lambda: _unsteer(
            new_pid, steer_file)))
        out.steps.append(timed("check the new proxy: serving, none of its workers restarted",
                               self._settled))
        out.gap_s = 0.0
        return out

    def _settled(self) -> str:
        """A worker that died during the rollout (its supervisor restarted it quietly) fails
        the rollout, which is then rolled back."""
        st = self.proc.status()
        if not st.healthy:
            raise RuntimeStateError(f"the new proxy (pid {st.pid}) is not healthy: {st.note}")
        if st.restarts:
            raise RuntimeStateError(
                f"a worker of the new proxy died during the rollout ({st.last_exit})",
                hint=f"see llmproxy-ops logs --env {self.env_name}")
        return "healthy, no worker restarted"

    def _restart(self, build: Build, check: Check, old: RuntimeStatus) -> RolloutResult:
        """Servers that cannot share the port (gunicorn, granian): stop, then start; a gap."""
        t0 = time.monotonic()
        out = RolloutResult()
        why = f"{old.server} cannot share the port: stop, then start (a gap)"
        out.changed = True
        out.steps.append(timed(f"stop the old proxy ({why})", lambda: self.proc.down().message))
        started = self._start_checked(build, check)
        out.steps += started.steps
        out.gap_s = round(time.monotonic() - t0, 3) if out.ok else None
        return out

    def _start_checked(self, build: Build, check: Check) -> RolloutResult:
        out = RolloutResult()
        out.steps.append(timed("start the proxy", lambda: _healthy_in(self.proc.up(
            self._launch(build)))))
        if out.ok:
            out.steps.append(timed("check the proxy", lambda: check(self.endpoint().url)))
        return out

    def _launch(self, build: Build, **extra: Any) -> LaunchSpec:
        stack = build.spec.stack
        env = build.env
        if stack_redis.brings_redis(build.spec):
            # the running one (a rollout keeps it, with its password) or a new one
            redis = stack.local_raw.get("redis") or {}
            self.redis.up(port=redis.get("port"), password=env.get(stack_redis.PASSWORD_VAR))
            env = {**env, **self.redis.environment()}
        if stack.local_fake_provider:
            # the running one (a rollout keeps it) or a new one; its URL wins over the env file
            env = {**env, **environment(self.fake.up().url or "")}
        return LaunchSpec(
            config_path=Path(build.dir) / CONFIG_FILE, env=env, host=stack.host,
            port=stack.port, workers=stack.workers, server=stack.server,
            startup_timeout=stack.startup_timeout, drain_timeout=stack.drain_timeout,
            metrics=stack.metrics, max_rss_mib=stack.workers_max_rss, **extra,
        )


def _status(env: str, st: RuntimeStatus) -> Status:
    if not st.running:
        return Status(env, "local", False, False, note=st.note, facts=(("log", str(st.log_path)),))
    pids = ", ".join(str(w.get("pid")) for w in st.worker_records)
    workers = f", workers {pids}" if pids else ""
    unit = Unit("litellm", "running", "healthy" if st.healthy else "unhealthy", st.url,
                f"pid {st.pid}{workers}", restarts=st.restarts, last_exit=st.last_exit,
                id=str(st.pid), workers=_worker_views(st))
    guard = f"{st.max_rss_mib} MiB per worker" if st.max_rss_mib else "off"
    facts: tuple[tuple[str, Any], ...] = (
        ("pid", st.pid), ("uptime_s", st.uptime_s), ("started_at", st.started_at),
        ("server", st.server), ("workers", st.workers), ("memory_guard", guard),
        ("log", str(st.log_path)),
    )
    return Status(env, "local", True, st.healthy, st.url, (unit,), facts, st.note,
                  st.time_to_healthy_s)


def _worker_views(st: RuntimeStatus) -> tuple[WorkerView, ...]:
    """The supervisor's record, slot by slot (its file is ours, but read as untrusted)."""
    def number(value: Any) -> int:
        return value if isinstance(value, int) and not isinstance(value, bool) else 0

    return tuple(
        WorkerView(slot, number(r.get("pid")),
                   r["rss_mib"] if number(r.get("rss_mib")) else None,
                   number(r.get("recycles")), number(r.get("restarts")),
                   str(r.get("last_exit") or "")[:60])
        for slot, r in enumerate(st.worker_records))


def _healthy_in(st: RuntimeStatus) -> str:
    return f"pid {st.pid}, healthy in {st.time_to_healthy_s or 0:.1f} s"


def _drained(proc: LocalRuntime, grace: float) -> str:
    # Past the drain timeout the old proxy is killed: said, but not a failure of the new build
    # (which already serves): rolling back would only cut more.
    result = proc.down(grace=grace)
    late = " (it had not finished: requests still open were cut)" if result.forced else ""
    return result.message + late


def _signal(pid: int, sig: signal.Signals, steer_file: Path, expect: str) -> str:
    """Signal the new proxy's supervisor and wait for its answer in steer_file."""
    # The supervisor only: its workers would die of SIGUSR1's default action.
    try:
        os.kill(pid, sig)
    except ProcessLookupError:
        raise RuntimeStateError(f"the new proxy (pid {pid}) is gone") from None
    deadline = time.monotonic() + _STEER_WAIT_S
    while time.monotonic() < deadline:
        answer = steer_file.read_text().strip() if steer_file.is_file() else ""
        if answer == expect:
            return expect
        if answer.startswith("error"):
            raise StackError(f"connection steering failed: {answer}")
        time.sleep(0.05)
    raise StackError(f"the new proxy (pid {pid}) did not answer {sig.name} within "
                     f"{_STEER_WAIT_S:g} s")


def _unsteer(pid: int, steer_file: Path) -> str:
    """Not a failure when it does not answer: the program only picks among the new sockets."""
    try:
        return _signal(pid, signal.SIGUSR2, steer_file, "unsteered")
    except (StackError, RuntimeStateError) as exc:
        return f"kept the steering program ({exc.message})"
