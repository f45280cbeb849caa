"""`stack.runtime: compose` behind the Runtime protocol: the rendered compose project.

Rollout: the litellm replicas are recreated from the new build one at a time, each only
while every other one is healthy, checked on its own container address, and nginx is
reloaded after each so it resolves the new container (its old workers finish their
requests first).
"""

from __future__ import annotations

import json
import subprocess
from pathlib import Path
from typing import Any

from llmproxy_ops.errors import RuntimeStateError
from llmproxy_ops.render.compose import COMPOSE_FILE, LITELLM_PORT, litellm_names, project_name
from llmproxy_ops.runtime.api import (
    Build,
    Check,
    Endpoint,
    RolloutResult,
    Status,
    StopResult,
    Unit,
    register,
    timed,
)
from llmproxy_ops.runtime.compose import ComposeRuntime, ComposeStatus, run_command
from llmproxy_ops.runtime.local import base_url

_CLIENT_SLACK_S = 120.0


class ComposeEnvRuntime:
    kind = "compose"

    def __init__(self, spec: Any, secrets: tuple[str, ...] = ()):
        self.spec = spec
        cs = spec.stack.compose(spec.name)
        self.names, self.nginx = litellm_names(cs), cs.nginx.enabled
        self.timeout = spec.stack.startup_timeout
        self.compose = ComposeRuntime(
            project=project_name(cs),
            compose_file=spec.stack.build_dir / spec.name / COMPOSE_FILE,
            startup_timeout=spec.stack.startup_timeout,
            secrets=secrets,
        )

    # ---- protocol ----------------------------------------------------------------------------

    def start(self, build: Build) -> Status:
        st = self._for(build).up()
        return self._status(st)

    def stop(
        self, *, grace: float = 10.0, volumes: bool = False, only: tuple[str, ...] = ()
    ) -> StopResult:
        del grace  # compose's own stop timeout applies
        if only:  # e.g. the database's clients around a restore; the db keeps running
            running = self.compose.status().running
            run_command([*self.compose.base_command(), "stop", *only], timeout=180,
                        secrets=self.compose.secrets)
            return StopResult(running, f"stopped services {', '.join(only)}")
        r = self.compose.down(volumes=volumes)
        return StopResult(r.was_running, r.message, duration_s=r.duration_s)

    def status(self) -> Status:
        return self._status(self.compose.status())

    def logs(self, lines: int = 50, service: str | None = None) -> list[str]:
        return self.compose.logs(lines, service)

    def endpoint(self) -> Endpoint:
        """nginx's HTTPS port when it is in front, trusting certs/cert.pem when it is there (a
        self-signed certificate from `llmproxy-ops certs self-signed` names 127.0.0.1)."""
        cs = self.spec.stack.compose(self.spec.name)
        if not cs.nginx.enabled:
            return Endpoint(base_url(self.spec.stack.host, self.spec.stack.port))
        nginx = cs.nginx_settings
        host = "127.0.0.1" if nginx.bind in ("0.0.0.0", "::", "") else nginx.bind
        cert = Path(nginx.certs_dir) / "cert.pem"
        return Endpoint(f"https://{host}:{nginx.https_port}", str(cert) if cert.is_file() else True)

    def exec(
        self, service: str, argv: list[str], *, timeout: float = 60.0, input: str | None = None
    ) -> subprocess.CompletedProcess[str]:
        return run_command(self.exec_command(service, argv), timeout=timeout,
                           secrets=self.compose.secrets, input=input)

    def exec_command(self, service: str, argv: list[str]) -> list[str]:
        return [*self.compose.base_command(), "exec", "-T", service, *argv]

    def rollout(self, build: Build, check: Check) -> RolloutResult:
        compose, out = self._for(build), RolloutResult()
        if not self.compose.status().running:
            out.steps.append(timed("start the stack", lambda: _healthy(compose.up())))
            return out
        gap = 0.0
        for name in self.names:
            others = [n for n in self.names if n != name]
            if others:  # never take a replica down unless every other one serves
                out.steps.append(timed(f"check {', '.join(others)} healthy",
                                       lambda o=others: self._require(o)))  # type: ignore[misc]
            if out.failed:  # (no step yet with one replica: nothing failed)
                return out
            out.changed = True
            step = timed(f"recreate {name} from the new build and wait until healthy",
                         lambda n=name: self._recreate(compose, n))  # type: ignore[misc]
            out.steps.append(step)
            gap += 0.0 if others and self.nginx else step.duration_s
            if step.ok:
                out.steps.append(timed(f"check {name} on its own", lambda n=name: check(
                    f"http://{self.container_ip(n)}:{LITELLM_PORT}")))  # type: ignore[misc]
            if self.nginx and step.ok:
                out.steps.append(timed("reload nginx", self.reload_nginx))
            if out.failed:  # (no step yet with one replica: nothing failed)
                return out
        out.gap_s = round(gap, 3)
        return out

    # ---- docker ------------------------------------------------------------------------------

    def _for(self, build: Build) -> ComposeRuntime:
        c = self.compose
        return ComposeRuntime(c.project, Path(build.dir) / COMPOSE_FILE, c.startup_timeout,
                              c.docker, c.secrets)

    def _recreate(self, compose: ComposeRuntime, name: str) -> str:
        wait = f"{self.timeout:g}"
        args = ["up", "-d", "--no-deps", "--force-recreate", "--wait", "--wait-timeout", wait, name]
        run_command(compose.base_command() + args, timeout=self.timeout + _CLIENT_SLACK_S,
                    secrets=compose.secrets)
        return "healthy"

    def reload_nginx(self) -> str:
        # A reload re-resolves the upstream names (the recreated container may have a new
        # address); old workers finish their requests first.
        self.exec("nginx", ["nginx", "-s", "reload"])
        return "reloaded"

    def container_ip(self, name: str) -> str:
        cid = run_command([*self.compose.base_command(), "ps", "-q", name], timeout=30).stdout
        if not cid.strip():
            raise RuntimeStateError(f"service {name} has no container")
        out = run_command([self.compose.docker, "inspect", cid.strip()], timeout=30).stdout
        networks = json.loads(out)[0]["NetworkSettings"]["Networks"]
        ips = [n["IPAddress"] for n in networks.values() if n.get("IPAddress")]
        if not ips:
            raise RuntimeStateError(f"service {name} has no network address")
        return str(ips[0])

    def _require(self, names: list[str]) -> str:
        states = {s.name: s for s in self.compose.status().services}
        bad = [n for n in names if n not in states or states[n].health != "healthy"]
        if bad:
            raise RuntimeStateError(
                f"not healthy: {', '.join(bad)}; not taking another replica down"
            )
        return "healthy"

    def _status(self, st: ComposeStatus) -> Status:
        units = []
        for s in st.services:
            url = None
            if s.name in self.names and s.state == "running":
                try:
                    url = f"http://{self.container_ip(s.name)}:{LITELLM_PORT}"
                except RuntimeStateError:
                    url = None
            units.append(Unit(s.name, s.state, s.health, url, ", ".join(s.ports)))
        facts: tuple[tuple[str, Any], ...] = (
            ("project", st.project), ("compose_file", str(st.compose_file)),
        )
        url = self.endpoint().url if st.running else None
        note = None if st.services else f"compose project {st.project}"
        return Status(self.spec.name, "compose", st.running, st.healthy, url, tuple(units),
                      facts, note, st.time_to_healthy_s)


def _healthy(st: ComposeStatus) -> str:
    return f"healthy in {st.time_to_healthy_s or 0:.1f} s"


register("compose", ComposeEnvRuntime)
