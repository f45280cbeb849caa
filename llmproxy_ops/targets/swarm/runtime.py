"""`stack.runtime: swarm` behind the Runtime protocol: the rendered stack.yml on Docker Swarm.

Swarm itself carries out a rollout: a new build changes the service definitions (configs are
named by digest, secrets by a keyed digest of their value), and `docker stack deploy`
makes Swarm replace LiteLLM's tasks one at a time, start-first, each gated by its health
check and a monitor window, rolling back by itself on failure. This module creates the
versioned secrets, deploys, and waits for Swarm to say the update completed.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import os
import subprocess
import time
from pathlib import Path
from typing import Any

from llmproxy_ops.commands import run_command, scrub
from llmproxy_ops.errors import CommandFailed, RuntimeStateError, StackError
from llmproxy_ops.runtime.api import (
    Build,
    Check,
    Endpoint,
    RolloutResult,
    Status,
    StopResult,
    Unit,
    timed,
)
from llmproxy_ops.targets.compose.runtime import ComposeEnvRuntime
from llmproxy_ops.targets.swarm.render import (
    SECRET_NAME_VAR,
    STACK_FILE,
    STOP_DELAY_S,
    all_secret_vars,
)

NAMESPACE_LABEL = "com.docker.stack.namespace"
OWNER_LABEL = "llmproxy-ops.stack"
_POLL_S = 2.0


class SwarmRuntime:
    kind = "swarm"

    def __init__(self, spec: Any, secrets: tuple[str, ...] = ()):
        self.spec = spec
        self.ss = spec.stack.swarm(spec.name)
        self.cs = spec.stack.compose(spec.name)
        self.stack = self.ss.stack
        self.timeout = spec.stack.startup_timeout
        self.secrets = secrets
        self.docker = "docker"

    # ---- protocol ----------------------------------------------------------------------------

    def start(self, build: Build) -> Status:
        self._require_swarm()
        self._require_data_node()
        started = time.monotonic()
        self._deploy(build)
        self._wait_converged(started)
        st = self.status()
        return Status(st.env, st.kind, st.running, st.healthy, st.url, st.units, st.facts,
                      st.note, round(time.monotonic() - started, 3))

    def stop(
        self, *, grace: float = 10.0, volumes: bool = False, only: tuple[str, ...] = ()
    ) -> StopResult:
        del grace  # each service's stop_grace_period applies
        started = time.monotonic()
        if only:
            for name in only:  # scale to 0: the service definition stays for a later restart
                self._docker(["service", "scale", "--detach", f"{self.stack}_{name}=0"])
            return StopResult(True, f"scaled to 0: {', '.join(only)}")
        was_running = bool(self._services())
        if was_running:
            self._docker(["stack", "rm", self.stack])
        self._wait_gone()
        self._remove_owned("secret")
        if volumes:
            for vol in self._ls("volume", NAMESPACE_LABEL):
                self._docker(["volume", "rm", vol])
        took = round(time.monotonic() - started, 3)
        kept = "volumes removed" if volumes else "volumes kept"
        what = "stopped" if was_running else "nothing was running"
        return StopResult(was_running, f"{what}: swarm stack {self.stack} ({kept}) in {took:g} s",
                          duration_s=took)

    def status(self) -> Status:
        units = tuple(self._unit(s) for s in self._services())
        running = any(u.state == "running" for u in units)
        healthy = bool(units) and all(u.ok for u in units)
        url = self.endpoint().url if running else None
        note = None if units else f"swarm stack {self.stack}"
        return Status(self.spec.name, self.kind, running, healthy, url, units,
                      (("stack", self.stack),), note)

    def logs(self, lines: int = 50, service: str | None = None) -> list[str]:
        names = [service] if service else [s["Name"][len(self.stack) + 1:]
                                           for s in self._services()]
        out: list[str] = []
        for name in names:
            text = self._docker(["service", "logs", "--no-task-ids", "--tail",
                                 str(max(lines, 0)), f"{self.stack}_{name}"]).stdout
            out += scrub(text, self.secrets).splitlines()
        return out

    def endpoint(self) -> Endpoint:
        # nginx in front: the same address and certificate rules as the compose runtime.
        return ComposeEnvRuntime.endpoint(self)  # type: ignore[arg-type]

    def exec(
        self, service: str, argv: list[str], *, timeout: float = 60.0, input: str | None = None
    ) -> subprocess.CompletedProcess[str]:
        return run_command(self.exec_command(service, argv), timeout=timeout,
                           secrets=self.secrets, input=input)

    def exec_command(self, service: str, argv: list[str]) -> list[str]:
        return [self.docker, "exec", "-i", self.container_of(service), *argv]

    def rollout(self, build: Build, check: Check) -> RolloutResult:
        del check  # task addresses are on the overlay network: Swarm's health checks gate
        out = RolloutResult()
        if not self.status().running:
            out.steps.append(timed("start the stack", lambda: _healthy(self.start(build))))
            return out
        started = time.monotonic()
        out.changed = True
        out.steps.append(timed("docker stack deploy (Swarm rolls the changed services "
                               "start-first, health-gated)", lambda: self._deploy(build)))
        if not out.failed:
            out.steps.append(timed("wait until Swarm reports every update completed",
                                   lambda: self._wait_converged(started)))
        if not out.failed:
            out.steps.append(timed("wait until the replaced tasks drained and exited",
                                   self._wait_replaced_gone))
        if not out.failed:
            out.steps.append(timed("remove configs and secrets no service uses",
                                   self._remove_unused))
        out.gap_s = 0.0  # start-first: a replica stops only after its successor is healthy
        return out

    # ---- secrets -----------------------------------------------------------------------------

    def secret_names(self, env: dict[str, str]) -> dict[str, str]:
        """Variable → versioned secret name: a keyed digest of the value, so a new value is a
        new secret (and a rolling update) while the name tells nothing about the value."""
        salt = self._salt()
        names = {}
        for var in all_secret_vars(self.spec):
            if not env.get(var):
                raise StackError(
                    f"{var} is not set: the swarm stack needs it as a Docker secret",
                    hint=f"add {var}=... to {self.spec.stack.env_file}",
                )
            digest = hmac.new(salt, env[var].encode(), hashlib.sha256).hexdigest()[:12]
            names[var] = f"{self.stack}_{var[:40]}_{digest}"
        return names

    def _ensure_secrets(self, env: dict[str, str]) -> dict[str, str]:
        names = self.secret_names(env)
        existing = set(self._ls("secret", OWNER_LABEL, value=self.stack, field="{{.Name}}"))
        for var, name in names.items():
            if name not in existing:
                # The value goes in on stdin: never on a command line.
                self._docker(["secret", "create", "--label", f"{OWNER_LABEL}={self.stack}",
                              "--label", f"llmproxy-ops.var={var}", name, "-"], input=env[var])
        return names

    def _salt(self) -> bytes:
        path = Path(self.spec.stack.run_dir) / f"swarm-{self.stack}.salt"
        if not path.is_file():
            path.parent.mkdir(parents=True, exist_ok=True)
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            with os.fdopen(fd, "w") as f:
                f.write(os.urandom(32).hex())
        return bytes.fromhex(path.read_text().strip())

    # ---- docker ------------------------------------------------------------------------------

    def _deploy(self, build: Build) -> str:
        stack_file = Path(build.dir) / STACK_FILE
        if not stack_file.is_file():
            raise StackError(f"stack file not found: {stack_file}",
                             hint="render the environment first")
        names = self._ensure_secrets(build.env)
        env = {**os.environ, **{SECRET_NAME_VAR.format(v): n for v, n in names.items()}}
        # --resolve-image never: local images (no registry) are used as they are.
        cmd = [self.docker, "stack", "deploy", "--prune", "--resolve-image", "never",
               "--detach=true", "-c", STACK_FILE, self.stack]
        try:
            proc = subprocess.run(cmd, cwd=build.dir, env=env, capture_output=True, text=True,
                                  timeout=300, check=False)
        except subprocess.TimeoutExpired:
            raise StackError(f"docker stack deploy {self.stack} timed out") from None
        if proc.returncode != 0:
            raise StackError(f"docker stack deploy {self.stack} failed (exit {proc.returncode})",
                             details=scrub(proc.stderr, self.secrets).strip()[-3000:])
        return "deployed"

    def _wait_converged(self, started: float) -> str:
        """Every service has its replicas running (healthy: Swarm reports a task with a health
        check running only once it is) and no update in progress; a rollback is a failure."""
        while True:
            services = self._services()
            rolled = [s["Name"] for s in services if _update_state(s).startswith("rollback")]
            if rolled:
                raise StackError(f"Swarm rolled back the update of {', '.join(rolled)}",
                                 hint="see llmproxy-ops logs; the previous build keeps serving")
            stuck = self._unschedulable()
            if stuck:  # Swarm keeps such a task pending forever: say why now
                raise StackError(
                    f"Swarm cannot place a task of {stuck}: no node has the CPU or memory it "
                    "reserves (a start-first update runs one more LiteLLM task than replicas)",
                    hint="lower stack.compose.<service>.cpus_reserved / memory_reserved, or "
                    "add a node", details=self._task_errors())
            pending = [s["Name"] for s in services if not _converged(s)]
            if services and not pending:
                return f"converged in {time.monotonic() - started:.1f} s"
            if time.monotonic() - started > self.timeout:
                raise StackError(
                    f"swarm stack {self.stack} did not converge within {self.timeout:g} s: "
                    f"{', '.join(pending) or 'no services'}",
                    hint=f"docker stack ps {self.stack} --no-trunc shows why tasks fail",
                    details=self._task_errors())
            time.sleep(_POLL_S)

    def _wait_replaced_gone(self) -> str:
        """Swarm reports an update completed once it told the last old task to stop; that task
        keeps serving through its stop delay and drain (stop_grace_period). Until it exits, a
        client may still meet the old build (an old master key, say): wait it out."""
        deadline = time.monotonic() + STOP_DELAY_S + self.spec.stack.drain_timeout + 60
        started = time.monotonic()
        while True:
            out = self._docker(["stack", "ps", self.stack, "--filter", "desired-state=shutdown",
                                "--format", "{{.Name}} {{.CurrentState}}"]).stdout
            draining = [line.split()[0] for line in out.splitlines()
                        if line.split()[1:2] == ["Running"]]
            if not draining:
                return f"none left after {time.monotonic() - started:.1f} s"
            if time.monotonic() > deadline:
                raise StackError(f"replaced tasks still running: {', '.join(draining)}",
                                 hint=f"docker stack ps {self.stack} shows them")
            time.sleep(1.0)

    def _unschedulable(self) -> str | None:
        out = self._docker(["stack", "ps", self.stack, "--no-trunc", "--filter",
                            "desired-state=running", "--format",
                            "{{.Name}}\t{{.CurrentState}}\t{{.Error}}"]).stdout
        for line in out.splitlines():
            name, state, error = (line.split("\t") + ["", ""])[:3]
            if state.startswith("Pending") and "insufficient resources" in error:
                return name
        return None

    def _task_errors(self) -> str:
        try:
            out = self._docker(["stack", "ps", self.stack, "--no-trunc", "--format",
                                "{{.Name}} {{.CurrentState}} {{.Error}}"]).stdout
        except CommandFailed as exc:
            return exc.message
        return "\n".join(out.splitlines()[:30])

    def _services(self) -> list[dict[str, Any]]:
        ids = self._ls("service", NAMESPACE_LABEL, value=self.stack, field="{{.ID}}")
        if not ids:
            return []
        out = self._docker(["service", "inspect", *ids]).stdout
        rows: list[dict[str, Any]] = json.loads(out)
        for row in rows:
            row["Name"] = row["Spec"]["Name"]
            row["Running"] = self._running_tasks(row["ID"])
        return sorted(rows, key=lambda r: r["Name"])

    def _running_tasks(self, service_id: str) -> int:
        out = self._docker(["service", "ps", service_id, "--filter", "desired-state=running",
                            "--format", "{{.CurrentState}}"]).stdout
        return sum(1 for line in out.splitlines() if line.startswith("Running"))

    def _unit(self, s: dict[str, Any]) -> Unit:
        want = _desired(s)
        name = s["Name"][len(self.stack) + 1:]
        state = "running" if s["Running"] else ("stopped" if want == 0 else "starting")
        health = "healthy" if s["Running"] >= want > 0 else "unhealthy"
        update = _update_state(s)
        detail = f"{s['Running']}/{want} tasks" + (f", update {update}" if update else "")
        return Unit(name, state, health, None, detail)

    def container_of(self, service: str) -> str:
        """A running container of the service on this node (exec needs a local one)."""
        ids = self._docker(["ps", "-q", "--filter",
                            f"label=com.docker.swarm.service.name={self.stack}_{service}",
                            "--filter", "status=running"]).stdout.split()
        if not ids:
            raise RuntimeStateError(f"service {service} of stack {self.stack} has no running "
                                    "container on this node")
        return ids[0]

    def _remove_unused(self) -> str:
        """Old versions of configs and secrets: `rm` refuses the ones a service still uses."""
        removed = 0
        for kind, label in (("config", NAMESPACE_LABEL), ("secret", OWNER_LABEL)):
            for name in self._ls(kind, label, value=self.stack, field="{{.Name}}"):
                try:
                    self._docker([kind, "rm", name])
                    removed += 1
                except CommandFailed:
                    pass  # in use by the running services
        return f"removed {removed}"

    def _remove_owned(self, kind: str) -> None:
        for name in self._ls(kind, OWNER_LABEL, value=self.stack, field="{{.Name}}"):
            self._docker([kind, "rm", name], check=False)

    def _wait_gone(self) -> None:
        """`stack rm` returns at once; containers and the network go afterwards."""
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            if not (self._ls("network", NAMESPACE_LABEL) or self._docker(
                    ["ps", "-aq", "--filter", f"label={NAMESPACE_LABEL}={self.stack}"]
            ).stdout.strip()):
                return
            time.sleep(_POLL_S)
        raise StackError(f"swarm stack {self.stack} still has containers 120 s after stack rm")

    def _ls(self, kind: str, label: str, *, value: str | None = None,
            field: str = "{{.Name}}") -> list[str]:
        flt = f"label={label}={value or self.stack}"
        return self._docker([kind, "ls", "--filter", flt, "--format", field]).stdout.split()

    def _require_swarm(self) -> None:
        state = self._docker(["info", "--format", "{{.Swarm.LocalNodeState}}"]).stdout.strip()
        if state != "active":
            raise StackError(f"this Docker engine is not in a swarm (state: {state or 'none'})",
                             hint="docker swarm init (one node) or docker swarm join")

    def _require_data_node(self) -> None:
        label = f"{self.ss.data_label}=true"
        if not (self.cs.db.enabled or self.cs.mlflow.enabled or self.cs.nginx.enabled):
            return
        nodes = self._docker(["node", "ls", "-q", "--filter", f"node.label={label}"]).stdout
        if not nodes.strip():
            raise StackError(
                f"no swarm node has the label {label}: Postgres, MLflow, Redis and nginx are "
                "placed there (their volumes and published ports live on that node)",
                hint=f"docker node update --label-add {label} <node>",
            )

    def _docker(self, args: list[str], *, input: str | None = None,
                check: bool = True) -> subprocess.CompletedProcess[str]:
        try:
            return run_command([self.docker, *args], timeout=120, secrets=self.secrets,
                               input=input)
        except CommandFailed:
            if check:
                raise
            return subprocess.CompletedProcess(args, 1, "", "")


def _desired(s: dict[str, Any]) -> int:
    mode = s["Spec"].get("Mode", {})
    return int(mode.get("Replicated", {}).get("Replicas", 1)) if "Replicated" in mode else 1


def _update_state(s: dict[str, Any]) -> str:
    return str((s.get("UpdateStatus") or {}).get("State", ""))


def _converged(s: dict[str, Any]) -> bool:
    return s["Running"] == _desired(s) and _update_state(s) in ("", "completed")


def _healthy(st: Status) -> str:
    return f"healthy in {st.time_to_healthy_s or 0:.1f} s"
