"""Compose runtime: the rendered build/<env>/docker-compose.yml, driven by `docker compose`."""

from __future__ import annotations

import json
import os
import subprocess
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from llmproxy_ops.commands import run_command, scrub
from llmproxy_ops.errors import CommandFailed, StackError
from llmproxy_ops.runtime.api import StopResult

LOG_TAIL_LINES = 40
# `up --wait` has its own timeout; this one only catches a hung docker client.
_CLIENT_SLACK_S = 120.0


@dataclass(frozen=True)
class ServiceState:
    name: str
    state: str          # running, exited, restarting, created...
    health: str         # healthy, unhealthy, starting, or "" (no healthcheck)
    exit_code: int | None = None
    ports: tuple[str, ...] = ()
    container: str = ""  # its container id (one row per container)
    # The engine restarted it this often (restart: unless-stopped hides a crash otherwise),
    # and how it ended the last time ("exit code 139 at 12:00:01 UTC").
    restarts: int = 0
    last_exit: str = ""

    @property
    def ok(self) -> bool:
        return self.state == "running" and self.health in ("healthy", "")


@dataclass(frozen=True)
class ComposeStatus:
    project: str
    compose_file: Path
    services: tuple[ServiceState, ...] = ()
    time_to_healthy_s: float | None = None

    @property
    def running(self) -> bool:
        return any(s.state == "running" for s in self.services)

    @property
    def healthy(self) -> bool:
        return bool(self.services) and all(s.ok for s in self.services)

    def failing(self) -> list[ServiceState]:
        return [s for s in self.services if not s.ok]


@dataclass
class ComposeRuntime:
    """One compose project (e.g. llmproxy-prod) from one rendered compose file."""

    project: str
    compose_file: Path
    startup_timeout: float = 300.0
    docker: str = "docker"
    secrets: tuple[str, ...] = field(default=(), repr=False)  # scrubbed from shown output
    # What the compose file's `secrets:` read from the `docker compose` process's
    # environment (render/service_secrets.py); `up`, `run` and `start` need it.
    secret_env: dict[str, str] = field(default_factory=dict, repr=False)

    # ---- verbs -------------------------------------------------------------------------------

    def up(self) -> ComposeStatus:
        """`up -d --wait`: returns once every service is healthy, else names the failing ones."""
        if not self.compose_file.is_file():
            raise StackError(f"compose file not found: {self.compose_file}",
                             hint="render the environment first")
        wait = f"{self.startup_timeout:g}"
        started = time.monotonic()
        try:
            self._compose(["up", "-d", "--wait", "--wait-timeout", wait],
                          timeout=self.startup_timeout + _CLIENT_SLACK_S)
        except CommandFailed as exc:
            raise self._start_failed(exc) from None
        took = round(time.monotonic() - started, 3)
        status = self.status()
        return ComposeStatus(status.project, status.compose_file, status.services, took)

    def down(self, *, volumes: bool = False) -> StopResult:
        """Stop and remove the containers; named volumes (the database) stay unless `volumes`."""
        was_running = self.status().running
        started = time.monotonic()
        self._compose(["down", "--remove-orphans", *(["--volumes"] if volumes else [])],
                      timeout=_CLIENT_SLACK_S)
        took = round(time.monotonic() - started, 3)
        kept = "volumes removed" if volumes else "volumes kept"
        what = "stopped" if was_running else "nothing was running"
        message = f"{what}: compose project {self.project} ({kept}) in {took:g} s"
        return StopResult(was_running, message, duration_s=took, volumes_removed=volumes)

    def status(self) -> ComposeStatus:
        out = self._compose(["ps", "--all", "--format", "json"], timeout=60).stdout
        rows = parse_ps(out)
        crashes = self.restarts([str(r.get("ID", "")) for r in rows if r.get("ID")])
        services = tuple(sorted((_service_state(r, crashes) for r in rows),
                                key=lambda s: s.name))
        return ComposeStatus(self.project, self.compose_file, services)

    def restarts(self, ids: list[str]) -> dict[str, tuple[int, str]]:
        """Container id (as given) → (restart count, how it last ended): `docker inspect`
        counts restarts, the engine's `die` events keep the exit codes."""
        if not ids:
            return {}
        try:
            found = json.loads(run_command([self.docker, "inspect", *ids], timeout=60).stdout)
        except (CommandFailed, ValueError):
            return {}
        counts = {i: (c.get("RestartCount") or 0) for i in ids for c in found
                  if isinstance(c, dict) and str(c.get("Id", "")).startswith(i)}
        crashed = [i for i, n in counts.items() if n]
        exits = self._exits(crashed) if crashed else {}
        return {i: (n, exits.get(i, "")) for i, n in counts.items()}

    def _exits(self, ids: list[str]) -> dict[str, str]:
        """The last `die` event per container: its exit code and time (the engine keeps its
        recent events; an older one is simply not shown)."""
        argv = [self.docker, "events", "--since", "24h", "--until", "0s", "--filter", "event=die",
                "--format", "{{.Actor.ID}} {{.Actor.Attributes.exitCode}} {{.Time}}"]
        for i in ids:
            argv += ["--filter", f"container={i}"]
        try:
            out = run_command(argv, timeout=30).stdout
        except CommandFailed:
            return {}
        last: dict[str, str] = {}
        for line in out.splitlines():
            parts = line.split()
            match = [i for i in ids if parts and parts[0].startswith(i)]
            if len(parts) == 3 and match and parts[2].isdigit():
                when = time.strftime("%H:%M:%S", time.gmtime(int(parts[2])))
                last[match[0]] = f"exit code {parts[1]} at {when} UTC"
        return last

    def logs(self, lines: int = 50, service: str | None = None) -> list[str]:
        args = ["logs", "--no-color", "--tail", str(max(lines, 0))]
        out = self._compose(args + ([service] if service else []), timeout=60).stdout
        return scrub(out, self.secrets).splitlines()

    def port(self, service: str, container_port: int) -> str:
        """The host address a container port is published on (e.g. 127.0.0.1:32768)."""
        out = self._compose(["port", service, str(container_port)], timeout=30).stdout
        return out.strip()

    # ---- helpers -----------------------------------------------------------------------------

    def base_command(self) -> list[str]:
        # Without its file (never rendered, or build/ removed) compose still finds a running
        # project by name for ps/logs/down.
        file = ["-f", str(self.compose_file)] if self.compose_file.is_file() else []
        return [self.docker, "compose", "-p", self.project, *file]

    def process_env(self) -> dict[str, str] | None:
        """The environment of a `docker compose` process: ours plus the secret values (never
        argv, never a file); None: inherit."""
        return {**os.environ, **self.secret_env} if self.secret_env else None

    def run(self, args: list[str], *, timeout: float) -> subprocess.CompletedProcess[str]:
        return run_command(self.base_command() + args, timeout=timeout, secrets=self.secrets,
                           env=self.process_env())

    def _compose(self, args: list[str], *, timeout: float) -> subprocess.CompletedProcess[str]:
        return self.run(args, timeout=timeout)

    def _start_failed(self, exc: CommandFailed) -> StackError:
        try:
            failing = self.status().failing()
        except (CommandFailed, StackError):
            failing = []
        names = ", ".join(f"{s.name} ({_describe(s)})" for s in failing) or "unknown service"
        sections = [f"--- {s.name}: last {LOG_TAIL_LINES} log lines ---\n" + "\n".join(
            self._tail(s.name)) for s in failing]
        details = "\n".join([scrub(exc.stderr.strip(), self.secrets), *sections]).strip()
        return StackError(
            f"compose project {self.project} did not become healthy within "
            f"{self.startup_timeout:g} s: {names}",
            hint="see the logs above; fix and run up again, or stop it with down",
            details=details or None,
        )

    def _tail(self, service: str) -> list[str]:
        try:
            return self.logs(LOG_TAIL_LINES, service)
        except CommandFailed as exc:
            return [f"(logs unavailable: {exc.message})"]


def secret_environment(compose_file: Path, values: Mapping[str, str]) -> dict[str, str]:
    """The variables a rendered compose file's top-level `secrets:` read from the `docker
    compose` process's environment, with their values from `values` (the env file)."""
    try:
        doc = yaml.safe_load(compose_file.read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError):
        return {}
    secrets = doc.get("secrets") if isinstance(doc, dict) else None
    names = [s.get("environment") for s in (secrets or {}).values() if isinstance(s, dict)]
    return {n: values[n] for n in names if isinstance(n, str) and n in values}


def parse_ps(out: str) -> list[dict[str, Any]]:
    """`docker compose ps --format json`: one object per line (v2.21+) or one JSON array."""
    text = out.strip()
    if not text:
        return []
    if text.startswith("["):
        rows = json.loads(text)
        return [r for r in rows if isinstance(r, dict)]
    return [json.loads(line) for line in text.splitlines() if line.strip()]


def _service_state(row: dict[str, Any],
                   crashes: dict[str, tuple[int, str]] | None = None) -> ServiceState:
    container = str(row.get("ID", ""))
    restarts, last_exit = (crashes or {}).get(container, (0, ""))
    ports = tuple(sorted(
        f"{p.get('URL')}:{p.get('PublishedPort')}->{p.get('TargetPort')}"
        for p in row.get("Publishers") or [] if p.get("PublishedPort")
    ))
    code = row.get("ExitCode")
    return ServiceState(
        name=str(row.get("Service", row.get("Name", "?"))),
        state=str(row.get("State", "")),
        health=str(row.get("Health", "")),
        exit_code=code if isinstance(code, int) else None,
        ports=ports,
        container=container,
        restarts=restarts,
        last_exit=last_exit,
    )


def _describe(s: ServiceState) -> str:
    if s.state != "running":
        return f"{s.state}" + (f", exit code {s.exit_code}" if s.exit_code is not None else "")
    return s.health or s.state


