"""`stack.runtime: compose` behind the Runtime protocol: the rendered compose project.

Rollout behind nginx (runtime/nginx_upstream.py steers and drains):
- two or more replicas: one at a time, and only while every other one is healthy, a replica
  is marked down in nginx's upstream (reload: new requests go to the others), drained (the
  old nginx workers finish its requests and streams, up to stack.drain_timeout), recreated
  from the new build, checked on its own container address, and put back;
- one replica: surge. A second container of the service starts from the new build
  (`up --scale 2 --no-recreate`), is checked on its own, nginx sends new requests to it
  only, the old container drains and is removed. A new container that fails its check is
  removed while the old one never stopped serving.
Without nginx each replica is a published host port, recreated in place: that port has no
answer until the new container is healthy (`gap_s` says how long). nginx itself is
recreated only when its own files changed (a short gap, said in the step).
"""

from __future__ import annotations

import hashlib
import json
import re
import subprocess
from functools import cached_property
from pathlib import Path
from typing import Any

import httpx
import yaml

from llmproxy_ops.commands import run_command
from llmproxy_ops.errors import RuntimeStateError
from llmproxy_ops.render.compose import (
    COMPOSE_FILE,
    LITELLM_PORT,
    NGINX_FILE,
    NGINX_LIVENESS_PATH,
    NGINX_UPSTREAM_FILE,
    litellm_names,
    project_name,
)
from llmproxy_ops.runtime.api import (
    Build,
    Check,
    Endpoint,
    RolloutResult,
    Status,
    Step,
    StopResult,
    Unit,
    timed,
)
from llmproxy_ops.runtime.nginx_upstream import NginxUpstream
from llmproxy_ops.targets.compose.project import (
    ComposeRuntime,
    ComposeStatus,
    ServiceState,
    secret_environment,
)
from llmproxy_ops.targets.local.process import base_url

_CLIENT_SLACK_S = 120.0


PROMETHEUS = "prometheus"  # the stack's own, with stack.metrics (render/compose.py)
# the service of one replica (litellm) or of each of several (litellm-1, litellm-2, ...)
_LITELLM_SERVICE = re.compile(r"litellm(-[0-9]+)?")


class ComposeEnvRuntime:
    kind = "compose"

    def __init__(self, spec: Any, secrets: tuple[str, ...] = ()):
        self.spec = spec
        self._restarts_before: dict[str, int] = {}
        cs = spec.stack.compose(spec.name)
        self.names, self.nginx = litellm_names(cs), cs.nginx.enabled
        self.timeout = spec.stack.startup_timeout
        self.drain = spec.stack.drain_timeout
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
        out, before = RolloutResult(), self.upstream.reloads  # 0 when nothing steers nginx
        try:
            self._rollout(build, check, out)
        finally:
            out.client_reloads = self.upstream.reloads - before
        return out

    def _rollout(self, build: Build, check: Check, out: RolloutResult) -> RolloutResult:
        compose = self._for(build)
        st = self.compose.status()
        if not st.running:
            out.steps.append(timed("start the stack", lambda: _healthy(compose.up())))
            return out
        # A replica the engine restarts during the rollout (a crash: restart: unless-stopped
        # brings it back quietly) fails the rollout, which is then rolled back.
        self._restarts_before = {s.container: s.restarts for s in st.services
                                 if s.name in self.names}
        gap = self._prepare(compose, build, out)
        if out.failed:
            return out
        if self.nginx and len(self.names) == 1:
            self._surge(compose, check, out)
            out.gap_s = None if out.failed else gap
        else:
            for name in self.names:
                step = self._replace(compose, name, check, out)
                if step is None or out.failed:
                    return out
                # Behind nginx another replica serves meanwhile; without nginx each replica
                # is its own published port, which has nothing while its container is replaced.
                gap += 0.0 if self.nginx else step.duration_s
            out.gap_s = round(gap, 3)
        if not out.failed:
            out.steps.append(timed("check every replica: healthy, none restarted during the "
                                   "rollout" + (", answering through nginx" if self.nginx else ""),
                                   self._settled))
        if not out.failed and self.container_ids(PROMETHEUS) and PROMETHEUS in build_services(
                Path(build.dir) / COMPOSE_FILE):
            # Last, once every replica runs the new build: Prometheus sends the master key,
            # which a rotation changes without changing anything compose can see (the value
            # comes from the environment), and its targets or rules may have changed. It
            # serves no client; its samples stay in its volume.
            out.steps.append(timed("recreate prometheus (the key and targets of the new build)",
                                   lambda: self._recreate(compose, PROMETHEUS)))
        dropped = [] if out.failed else dropped_services(
            Path(build.dir) / COMPOSE_FILE, {s.name for s in self.compose.status().services})
        if dropped:
            # Last, once no replica runs a build that uses them (a rollback starts them
            # again, as added services); their volumes are kept.
            out.steps.append(timed(f"remove the services the new build drops: "
                                   f"{', '.join(dropped)}",
                                   lambda: self._retire([i for name in dropped
                                                         for i in self.container_ids(name)])))
        return out

    # ---- rollout steps -----------------------------------------------------------------------

    def _prepare(self, compose: ComposeRuntime, build: Build, out: RolloutResult) -> float:
        """Stopped services started, nginx recreated when its own files changed: the gap."""
        stopped = self._stopped()
        if stopped:  # e.g. mlflow around a restore (ops/backup/restart.py)
            out.steps.append(timed(f"start the stopped services {', '.join(stopped)}",
                                   lambda: self._start_stopped(compose, stopped)))
        existing = {s.name for s in self.compose.status().services}
        added = added_services(Path(build.dir) / COMPOSE_FILE, existing, skip=self.names)
        if added and not out.failed:  # e.g. the Redis a second worker brings: up before them
            out.steps.append(timed(f"start the services the new build adds: {', '.join(added)}",
                                   lambda: self._start_stopped(compose, added)))

        if out.failed or not (self.nginx and self._nginx_changed(build)):
            return 0.0
        # No second nginx can hold its ports, so it restarts (SIGQUIT: in-flight requests
        # finish first); said in the step and counted in gap_s.
        out.changed = True
        step = timed("recreate nginx: its own settings changed (a short gap while it restarts)",
                     lambda: self._recreate(compose, "nginx"))
        out.steps.append(step)
        return step.duration_s

    def _replace(self, compose: ComposeRuntime, name: str, check: Check,
                 out: RolloutResult) -> Step | None:
        """One replica, recreated in place: out of nginx and drained first, back in after."""
        others = [n for n in self.names if n != name]
        if others:  # never take a replica out unless every other one serves
            out.steps.append(timed(f"check {', '.join(others)} healthy",
                                   lambda: self._require(others)))
            if out.failed:
                return None
        if self.nginx and others:
            out.steps.append(timed(
                f"take {name} out of nginx's upstream (down) and drain it (up to "
                f"{self.drain:g} s)", lambda: self._out_and_drain([name])))
            if out.failed:
                return None
        out.changed = True
        step = timed(f"recreate {name} from {_label(compose)} and wait until healthy",
                     lambda: self._recreate(compose, name))
        out.steps.append(step)
        if step.ok:
            out.steps.append(timed(f"check {name} on its own", lambda: check(
                f"http://{self.container_ip(name)}:{LITELLM_PORT}")))
        if self.nginx and not out.failed:
            # Reload, even with one replica: a recreated container may have a new address.
            out.steps.append(timed(f"put {name} back in nginx's upstream",
                                   self._all_in))
        return step

    def _surge(self, compose: ComposeRuntime, check: Check, out: RolloutResult) -> None:
        """One replica behind nginx: a second container from the new build first, then the
        old one drained and retired, so nothing ever serves zero replicas."""
        name = self.names[0]
        old = self.container_ids(name)
        step = timed(f"start a second {name} from {_label(compose)} beside the old one (surge)",
                     lambda: self._scale(compose, name, len(old) + 1))
        out.steps.append(step)
        new = [c for c in self.container_ids(name) if c not in old]
        if step.ok and not new:
            out.steps.append(Step("find the new container", False, 0.0,
                                  f"compose started no new {name} container"))
        if step.ok and new:
            out.steps.append(timed(f"check the new {name} on its own", lambda: check(
                f"http://{self.address(new[0])}:{LITELLM_PORT}")))
        if out.failed:  # the old container never stopped serving: only the new one goes
            out.steps.append(timed(f"remove the new {name} container",
                                   lambda: self._retire(new, grace=0)))
            return
        out.changed = True
        out.steps.append(timed(
            f"steer nginx to the new {name} (old one down) and drain the old one (up to "
            f"{self.drain:g} s)",
            lambda: self._drain_addresses([self.address(c) for c in old],
                                          [self.address(new[0])])))
        if out.failed:
            return
        out.steps.append(timed(f"retire the old {name} container", lambda: self._retire(old)))
        out.steps.append(timed("put nginx back on its rendered upstream", self._all_in))

    def _all_in(self) -> str:
        """Back to the rendered list: every replica by service name (resolved at reload)."""
        workers = self.upstream.steer([(n, False) for n in self.names])
        return f"reloaded; {len(workers)} old worker(s) finish their requests"

    def _out_and_drain(self, down: list[str]) -> str:
        workers = self.upstream.steer([(n, n in down) for n in self.names])
        return self.upstream.drain(workers, self.drain)

    def _drain_addresses(self, old: list[str], new: list[str]) -> str:
        workers = self.upstream.steer([(a, True) for a in old] + [(a, False) for a in new])
        return self.upstream.drain(workers, self.drain)

    @cached_property
    def upstream(self) -> NginxUpstream:  # one per runtime: it counts the reloads
        return NginxUpstream(lambda argv, **kw: self.exec("nginx", argv, **kw))

    # ---- docker ------------------------------------------------------------------------------

    def _scale(self, compose: ComposeRuntime, name: str, count: int) -> str:
        # --no-recreate: the running container keeps its (old) build; the added one is
        # created from the new compose file (checked with Compose v2.40).
        wait = f"{self.timeout:g}"
        args = ["up", "-d", "--no-deps", "--no-recreate", "--scale", f"{name}={count}",
                "--wait", "--wait-timeout", wait, name]
        compose.run(args, timeout=self.timeout + _CLIENT_SLACK_S)
        return "healthy"

    def _nginx_changed(self, build: Build) -> bool:
        """Whether the running nginx container was made from other nginx files than `build`'s
        (the digest labels render/compose.py puts on it)."""
        ids = self.container_ids("nginx")
        if not ids:
            return False
        out = run_command([self.compose.docker, "inspect", ids[0]], timeout=30).stdout
        labels = json.loads(out)[0]["Config"].get("Labels") or {}
        for name in (NGINX_FILE, NGINX_UPSTREAM_FILE):
            path = Path(build.dir) / name
            digest = hashlib.sha256(path.read_bytes()).hexdigest()[:16] if path.is_file() else None
            if digest and labels.get(f"llmproxy-ops.sha256.{name}") != digest:
                return True
        return False

    def _stopped(self) -> list[str]:
        """Services besides litellm and nginx that exist but do not run."""
        return [s.name for s in self.compose.status().services
                if s.name not in (*self.names, "nginx") and s.state != "running"]

    def _start_stopped(self, compose: ComposeRuntime, names: list[str]) -> str:
        # --no-recreate: started as they were (a database is never recreated by a rollout).
        args = ["up", "-d", "--no-deps", "--no-recreate", "--wait", "--wait-timeout",
                f"{self.timeout:g}", *names]
        compose.run(args, timeout=self.timeout + _CLIENT_SLACK_S)
        return "healthy"

    def _retire(self, ids: list[str], grace: int = 10) -> str:
        if not ids:
            return "nothing to remove"
        # Drained already (or never in nginx's list): the grace only covers LiteLLM's own
        # shutdown.
        run_command([self.compose.docker, "stop", "-t", str(grace), *ids], timeout=120)
        run_command([self.compose.docker, "rm", *ids], timeout=60)
        return f"removed {len(ids)} container(s)"

    def container_ids(self, name: str) -> list[str]:
        out = run_command([*self.compose.base_command(), "ps", "-q", name], timeout=30).stdout
        return out.split()

    # ---- docker ------------------------------------------------------------------------------

    def _for(self, build: Build) -> ComposeRuntime:
        """The project as `build` renders it, with the secret values its services get."""
        c, file = self.compose, Path(build.dir) / COMPOSE_FILE
        return ComposeRuntime(c.project, file, c.startup_timeout, c.docker, c.secrets,
                              secret_environment(file, build.env))

    def _recreate(self, compose: ComposeRuntime, name: str) -> str:
        wait = f"{self.timeout:g}"
        args = ["up", "-d", "--no-deps", "--force-recreate", "--wait", "--wait-timeout", wait, name]
        compose.run(args, timeout=self.timeout + _CLIENT_SLACK_S)
        return "healthy"

    def container_ip(self, name: str) -> str:
        ids = self.container_ids(name)
        if not ids:
            raise RuntimeStateError(f"service {name} has no container")
        return self.address(ids[-1])

    def address(self, container: str) -> str:
        out = run_command([self.compose.docker, "inspect", container], timeout=30).stdout
        networks = json.loads(out)[0]["NetworkSettings"]["Networks"]
        ips = [n["IPAddress"] for n in networks.values() if n.get("IPAddress")]
        if not ips:
            raise RuntimeStateError(f"container {container[:12]} has no network address")
        return str(ips[0])

    def _require(self, names: list[str]) -> str:
        services = self.compose.status().services
        states = {s.name: s for s in services}
        bad = [n for n in names if n not in states or states[n].health != "healthy"]
        if bad:
            raise RuntimeStateError(
                f"not healthy: {', '.join(bad)}; not taking another replica down"
            )
        self._none_restarted(services)
        return "healthy, none restarted"

    def _none_restarted(self, services: tuple[ServiceState, ...]) -> None:
        before = self._restarts_before
        crashed = [s for s in services if s.name in self.names
                   and s.restarts > before.get(s.container, 0)]
        if crashed:
            said = "; ".join(f"{s.name} ({s.last_exit or 'exit unknown'})" for s in crashed)
            raise RuntimeStateError(f"restarted by the engine during the rollout: {said}",
                                    hint=f"see llmproxy-ops logs --env {self.spec.name}")

    def _settled(self) -> str:
        """The end of a rollout: every replica healthy, none restarted since it began, and
        (behind nginx) the public endpoint answering after the last reload."""
        self._require(self.names)
        if not self.nginx:
            return "every replica healthy, none restarted"
        endpoint = self.endpoint()
        try:
            r = httpx.get(f"{endpoint.url}{NGINX_LIVENESS_PATH}", verify=endpoint.verify_tls,
                          timeout=10)
        except httpx.HTTPError as exc:
            raise RuntimeStateError(f"nginx ({endpoint.url}): {type(exc).__name__}") from None
        if r.status_code != 200:
            raise RuntimeStateError(f"nginx ({endpoint.url}) answered HTTP {r.status_code}")
        return "every replica healthy, none restarted; nginx answers"

    def _status(self, st: ComposeStatus) -> Status:
        units = []
        for s in st.services:
            url = None
            if s.name in self.names and s.state == "running":
                try:
                    url = f"http://{self.container_ip(s.name)}:{LITELLM_PORT}"
                except RuntimeStateError:
                    url = None
            units.append(Unit(s.name, s.state, s.health, url, ", ".join(s.ports),
                              restarts=s.restarts, last_exit=s.last_exit, id=s.container))
        facts: tuple[tuple[str, Any], ...] = (
            ("project", st.project), ("compose_file", str(st.compose_file)),
        )
        url = self.endpoint().url if st.running else None
        note = None if st.services else f"compose project {st.project}"
        return Status(self.spec.name, "compose", st.running, st.healthy, url, tuple(units),
                      facts, note, st.time_to_healthy_s)


def build_services(compose_file: Path) -> list[str]:
    """The services a build's compose file defines ([] when it cannot be read)."""
    try:
        doc = yaml.safe_load(compose_file.read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError):
        return []
    services = doc.get("services") if isinstance(doc, dict) else None
    return list(services) if isinstance(services, dict) else []


def added_services(compose_file: Path, existing: set[str], *, skip: list[str]) -> list[str]:
    """Backing services of a build's compose file that the running project lacks.

    Replicas are recreated with --no-deps, so a service a new build adds would never start.
    """
    names = build_services(compose_file)
    return [n for n in names if n not in existing and n not in (*skip, "nginx")]


def dropped_services(compose_file: Path, existing: set[str]) -> list[str]:
    """Backing services the running project has that a build's compose file no longer
    defines (Redis switched off; Prometheus with stack.metrics off). LiteLLM's replicas and
    nginx are the rollout's own; a file that cannot be read drops nothing."""
    names = build_services(compose_file)
    if not names:
        return []
    return sorted(n for n in existing
                  if n not in names and n != "nginx" and not _LITELLM_SERVICE.fullmatch(n))


def _label(compose: ComposeRuntime) -> str:
    """The build a step rolls to, as the steps name it (a rollback goes to an older one)."""
    folder = compose.compose_file.parent
    return f"build {folder.name}" if folder.name.isdigit() else "the new build"


def _healthy(st: ComposeStatus) -> str:
    return f"healthy in {st.time_to_healthy_s or 0:.1f} s"
