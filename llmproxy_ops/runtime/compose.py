"""Compose runtime: the rendered build/<env>/docker-compose.yml, driven by `docker compose`."""

from __future__ import annotations

import json
import os
import subprocess
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from llmproxy_ops.errors import CommandFailed, StackError

LOG_TAIL_LINES = 40
_MIN_SECRET_LEN = 8
# `up --wait` has its own timeout; this one only catches a hung docker client.
_CLIENT_SLACK_S = 120.0


@dataclass(frozen=True)
class ServiceState:
    name: str
    state: str          # running, exited, restarting, created...
    health: str         # healthy, unhealthy, starting, or "" (no healthcheck)
    exit_code: int | None = None
    ports: tuple[str, ...] = ()

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


@dataclass(frozen=True)
class ComposeStopResult:
    was_running: bool
    message: str
    volumes_removed: bool = False
    duration_s: float = 0.0


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

    def down(self, *, volumes: bool = False) -> ComposeStopResult:
        """Stop and remove the containers; named volumes (the database) stay unless `volumes`."""
        was_running = self.status().running
        started = time.monotonic()
        self._compose(["down", "--remove-orphans", *(["--volumes"] if volumes else [])],
                      timeout=_CLIENT_SLACK_S)
        took = round(time.monotonic() - started, 3)
        kept = "volumes removed" if volumes else "volumes kept"
        what = "stopped" if was_running else "nothing was running"
        message = f"{what}: compose project {self.project} ({kept}) in {took:g} s"
        return ComposeStopResult(was_running, message, volumes, took)

    def status(self) -> ComposeStatus:
        out = self._compose(["ps", "--all", "--format", "json"], timeout=60).stdout
        services = tuple(sorted((_service_state(r) for r in parse_ps(out)), key=lambda s: s.name))
        return ComposeStatus(self.project, self.compose_file, services)

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


def run_command(cmd: list[str], *, timeout: float, secrets: Iterable[str] = (),
                input: str | None = None,
                env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    """Run cmd; a failure raises CommandFailed with the command, exit code and output."""
    try:
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, check=False,
                              input=input, env=env)
    except FileNotFoundError:
        hint = "install Docker with Compose v2 (scripts/provision-docker.sh)"
        raise StackError(f"{cmd[0]} not found on PATH", hint=hint) from None
    except subprocess.TimeoutExpired as exc:
        raise CommandFailed(cmd, -1, _text(exc.stdout), f"timed out after {timeout:g} s") from None
    if proc.returncode != 0:
        stderr = scrub(proc.stderr, secrets)
        failed = CommandFailed(cmd, proc.returncode, scrub(proc.stdout, secrets), stderr)
        failed.details = stderr.strip()[-4000:] or None
        raise failed
    return proc


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


def scrub(text: str, secrets: Iterable[str]) -> str:
    """Replace known secret values (from the env file) in text that is shown to people."""
    for value in sorted({str(v) for v in secrets}, key=len, reverse=True):
        if len(value) >= _MIN_SECRET_LEN:
            text = text.replace(value, "***")
    return text


def _service_state(row: dict[str, Any]) -> ServiceState:
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
    )


def _describe(s: ServiceState) -> str:
    if s.state != "running":
        return f"{s.state}" + (f", exit code {s.exit_code}" if s.exit_code is not None else "")
    return s.health or s.state


def _text(value: bytes | str | None) -> str:
    if isinstance(value, bytes):
        return value.decode(errors="replace")
    return value or ""
