"""Restart an environment's litellm so it reads the env file again, as gap-free as it can.

local: one process on a fixed port, so stop → start (a measured gap). compose: each litellm
replica is recreated on its own (`up -d --no-deps --force-recreate --wait`), only while the
others are healthy, and nginx is reloaded after each so it resolves the new container.
"""

from __future__ import annotations

import json
import subprocess
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import partial

from llmproxy_ops.errors import OpsError, RuntimeStateError
from llmproxy_ops.pipeline import Target, runtime_of, start_target
from llmproxy_ops.render.compose import LITELLM_PORT, litellm_names
from llmproxy_ops.runtime.compose import ComposeRuntime, run_command
from llmproxy_ops.runtime.local import LocalRuntime, base_url
from llmproxy_ops.spec.model import Spec

_CLIENT_SLACK_S = 120.0


@dataclass(frozen=True)
class StepResult:
    name: str
    ok: bool
    duration_s: float
    detail: str = ""


@dataclass(frozen=True)
class Replica:
    name: str
    url: str  # reachable from this machine


@dataclass
class RestartOutcome:
    steps: list[StepResult] = field(default_factory=list)
    gap_s: float | None = None  # time with no healthy litellm at all (None: not reached)

    @property
    def ok(self) -> bool:
        return all(s.ok for s in self.steps)


def timed(name: str, action: Callable[[], str | None]) -> StepResult:
    """Run a zero-argument callable; an OpsError becomes a failed step, not an exception."""
    t0 = time.monotonic()
    try:
        detail = action() or ""
        ok = True
    except OpsError as exc:
        detail, ok = (
            exc.message + (f" ({exc.details.strip()[-300:]})" if exc.details else ""),
            False,
        )
    return StepResult(name, ok, round(time.monotonic() - t0, 3), str(detail))


class LocalRestarter:
    """The local runtime: stop the process, then validate → render → start again."""

    def __init__(self, target: Target, spec: Spec, runtime: LocalRuntime):
        self.target, self.spec, self.runtime = target, spec, runtime

    def require_healthy(self) -> None:
        st = self.runtime.status()
        if not (st.running and st.healthy):
            raise RuntimeStateError(
                f"environment '{self.spec.name}' is not running and healthy "
                f"({st.note or 'unhealthy'})",
                hint=f"start it first (llmproxy-ops up --env {self.spec.name}): rotation "
                "verifies the new key against the running proxy",
            )

    def replicas(self) -> list[Replica]:
        return [Replica("litellm", base_url(self.spec.stack.host, self.spec.stack.port))]

    def restart(self) -> RestartOutcome:
        t0 = time.monotonic()
        out = RestartOutcome([timed("stop litellm", lambda: self.runtime.down().message)])
        out.steps.append(timed("start litellm (validate, render, start)", self._start))
        if out.ok:
            out.gap_s = round(time.monotonic() - t0, 3)
        return out

    def _start(self) -> str:
        _, _, st = start_target(self.target)
        return f"healthy in {getattr(st, 'time_to_healthy_s', 0) or 0:.1f} s"


class ComposeRestarter:
    """Rolling recreate of the litellm services of one compose project."""

    def __init__(self, spec: Spec, runtime: ComposeRuntime):
        cs = spec.stack.compose(spec.name)
        self.spec, self.runtime = spec, runtime
        self.names, self.nginx = litellm_names(cs), cs.nginx.enabled
        self.timeout = spec.stack.startup_timeout

    def require_healthy(self) -> None:
        bad = self._unhealthy(self.names)
        if bad:
            raise RuntimeStateError(
                f"compose project {self.runtime.project}: not healthy: {', '.join(bad)}",
                hint=f"start it first (llmproxy-ops up --env {self.spec.name}) and check status",
            )

    def replicas(self) -> list[Replica]:
        return [Replica(n, f"http://{self.container_ip(n)}:{LITELLM_PORT}") for n in self.names]

    def restart(self) -> RestartOutcome:
        out, gap = RestartOutcome(), 0.0
        for name in self.names:
            others = [n for n in self.names if n != name]
            if others:  # never take a replica down unless every other one serves
                out.steps.append(
                    timed(f"check {', '.join(others)} healthy", partial(self._require, others))
                )
            if not out.ok:
                return out
            step = timed(f"recreate {name} and wait until healthy", partial(self.recreate, name))
            out.steps.append(step)
            # Behind nginx with other healthy replicas there is no moment without a proxy.
            gap += 0.0 if others and self.nginx else step.duration_s
            # nginx resolved the upstream names at start and keeps connections to the old
            # container in its pool: a reload re-resolves and starts with fresh pools
            if self.nginx and step.ok:
                out.steps.append(timed("reload nginx", self.reload_nginx))
            if not out.ok:
                return out
        out.gap_s = round(gap, 3)
        return out

    # ---- docker compose ----------------------------------------------------------------------

    def recreate(self, name: str) -> str:
        wait = f"{self.timeout:g}"
        self._compose(
            ["up", "-d", "--no-deps", "--force-recreate", "--wait", "--wait-timeout", wait, name],
            timeout=self.timeout + _CLIENT_SLACK_S,
        )
        return "healthy"

    def reload_nginx(self) -> str:
        # A reload re-resolves the upstream names (the recreated container may have a new
        # address); old workers finish their requests first.
        self._compose(["exec", "-T", "nginx", "nginx", "-s", "reload"], timeout=60)
        return "reloaded"

    def container_ip(self, name: str) -> str:
        cid = self._compose(["ps", "-q", name], timeout=30).stdout.strip()
        if not cid:
            raise RuntimeStateError(f"service {name} has no container")
        out = run_command([self.runtime.docker, "inspect", cid], timeout=30).stdout
        networks = json.loads(out)[0]["NetworkSettings"]["Networks"]
        ips = [n["IPAddress"] for n in networks.values() if n.get("IPAddress")]
        if not ips:
            raise RuntimeStateError(f"service {name} has no network address")
        return str(ips[0])

    def _unhealthy(self, names: list[str]) -> list[str]:
        states = {s.name: s for s in self.runtime.status().services}
        return [
            n for n in names if n not in states or not states[n].ok or states[n].health != "healthy"
        ]

    def _require(self, names: list[str]) -> str:
        bad = self._unhealthy(names)
        if bad:
            raise RuntimeStateError(
                f"not healthy: {', '.join(bad)}; not taking another replica down"
            )
        return "healthy"

    def _compose(self, args: list[str], *, timeout: float) -> subprocess.CompletedProcess[str]:
        return run_command(
            self.runtime.base_command() + args, timeout=timeout, secrets=self.runtime.secrets
        )


Restarter = LocalRestarter | ComposeRestarter


def restarter_for(target: Target, spec: Spec, secrets: tuple[str, ...]) -> Restarter:
    runtime = runtime_of(spec, secrets)
    if isinstance(runtime, ComposeRuntime):
        return ComposeRestarter(spec, runtime)
    return LocalRestarter(target, spec, runtime)
