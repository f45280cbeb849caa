"""What a key rotation will do on an environment's runtime: steps and the expected gap."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from llmproxy_ops.envfile import SALT_KEY_VAR
from llmproxy_ops.errors import UsageError
from llmproxy_ops.render.compose import litellm_names
from llmproxy_ops.render.env_manifest import env_references
from llmproxy_ops.spec.model import Spec

SALT_KEY_REFUSAL = (
    f"{SALT_KEY_VAR} cannot be rotated: LiteLLM encrypts the credentials it stores in its "
    "database (model keys added through the API or UI, virtual-key secrets) with it, and a "
    "new salt key makes every one of them unreadable"
)
SALT_KEY_HINT = "keep it unchanged for the life of the database (back it up with the env file)"
LOCAL_GAP = (
    "no gap expected: the new process starts beside the old one on the same port, is checked "
    "on its own, then takes the new connections while the old one drains"
)
SURGE_GAP = (
    "no gap expected: a second litellm container starts from the new build beside the running "
    "one, is checked on its own, then nginx sends it the new requests while the old one drains"
)
SINGLE_REPLICA_GAP = (
    "a gap is unavoidable: one litellm replica publishes its port itself (no nginx in front), "
    "so clients have no answer while it is recreated (about one start-up; measured); enable "
    "nginx or set stack.compose.litellm.replicas: 2 for clients that pick a port"
)
SWARM_GAP = (
    "no gap expected: Swarm replaces the litellm tasks one at a time, each new one started and "
    "healthy before an old one stops; a stopping task keeps serving while nginx may still "
    "route to it, then drains"
)
NO_NGINX_GAP = (
    "each replica is unavailable on its own published port while it is recreated (no nginx in "
    "front to route around it); replicas are replaced one at a time"
)


@dataclass(frozen=True)
class RotationPlan:
    environment: str
    kind: str  # "master" or "provider"
    variable: str
    env_file: Path
    runtime: str  # the runtime's kind: local, compose, swarm
    replicas: tuple[str, ...]  # litellm processes/services restarted, in order
    nginx: bool
    steps: tuple[str, ...]
    gap_expected: bool
    gap_note: str
    model_groups: tuple[str, ...] = ()  # provider: the groups the smoke test covers

    @property
    def rolling(self) -> bool:
        return not self.gap_expected


def referenced_variables(spec: Spec) -> list[str]:
    """Every `os.environ/VAR` the LiteLLM config reads, sorted."""
    return sorted({name for name, _ in env_references(spec.litellm_config())})


def groups_using(spec: Spec, variable: str) -> tuple[str, ...]:
    """Model groups with a deployment that reads `variable`, in model_list order."""
    config = spec.litellm_config()
    models = config.get("model_list") or []
    groups: list[str] = []
    for name, path in env_references(config):
        if name == variable and len(path) > 1 and path[0] == "model_list":
            entry = models[path[1]] if isinstance(path[1], int) else None
            group = entry.get("model_name") if isinstance(entry, dict) else None
            if isinstance(group, str) and group not in groups:
                groups.append(group)
    return tuple(groups)


def refuse_provider_variable(spec: Spec, variable: str, master_var: str) -> None:
    """UsageError unless `variable` is a provider key this spec reads."""
    if variable == SALT_KEY_VAR:
        raise UsageError(SALT_KEY_REFUSAL, hint=SALT_KEY_HINT)
    if variable == master_var:
        raise UsageError(
            f"{variable} is the master key", hint="rotate it with: llmproxy-ops keys rotate master"
        )
    names = [n for n in referenced_variables(spec) if n != master_var]
    if variable not in names:
        listed = ", ".join(names) or "none"
        raise UsageError(
            f"{variable} is not referenced by environment '{spec.name}'",
            hint=f"variables it reads (os.environ/...): {listed}",
        )


def plan_rotation(spec: Spec, *, kind: str, variable: str, env_file: Path) -> RotationPlan:
    runtime = spec.stack.runtime
    if runtime == "compose":
        cs = spec.stack.compose(spec.name)
        replicas, nginx = tuple(litellm_names(cs)), cs.nginx.enabled
    elif runtime == "swarm":  # one service of N tasks, named as Swarm names them
        cs = spec.stack.compose(spec.name)
        replicas = tuple(f"litellm.{i}" for i in range(1, cs.replicas + 1))
        nginx = cs.nginx.enabled
    else:
        replicas, nginx = ("litellm",), False
    groups = groups_using(spec, variable) if kind == "provider" else ()
    gap, note = _gap(runtime, len(replicas), nginx)
    steps = (
        f"back up {env_file} to {env_file.name}.bak-<UTC time> (mode 0600)",
        _write_step(kind, variable, env_file),
        *_restart_steps(spec, runtime, replicas, nginx),
        _verify_step(kind, variable, replicas, groups),
        "on any failure: restore the backup, restart the same way, say so and exit 1",
    )
    return RotationPlan(
        spec.name, kind, variable, env_file, runtime, replicas, nginx, steps, gap, note, groups
    )


def _gap(runtime: str, replicas: int, nginx: bool) -> tuple[bool, str]:
    if runtime == "swarm":
        return False, SWARM_GAP
    if runtime != "compose":
        return False, LOCAL_GAP
    if replicas == 1:
        return (False, SURGE_GAP) if nginx else (True, SINGLE_REPLICA_GAP)
    if not nginx:
        return True, NO_NGINX_GAP
    return False, (
        f"no gap expected: {replicas} replicas are replaced one at a time and nginx "
        f"keeps {replicas - 1} healthy upstream(s) throughout"
    )


def _write_step(kind: str, variable: str, env_file: Path) -> str:
    if kind == "master":
        return f"write a new {variable} (sk- + 32 random bytes, URL-safe) to {env_file} (0600)"
    return f"write the new {variable} (read from stdin or --from-file) to {env_file} (0600)"


def _restart_steps(spec: Spec, runtime: str, replicas: tuple[str, ...], nginx: bool) -> list[str]:
    if runtime == "swarm":
        tasks = spec.stack.compose(spec.name).replicas
        return [
            "validate and render a new build; docker stack deploy with new versions of the "
            f"changed secrets: Swarm replaces the {tasks} litellm task(s) one at a time, "
            "start-first, each gated by its health check, rolling back by itself on failure",
            "wait until the replaced tasks drained and exited (up to their stop_grace_period)",
        ]
    if runtime != "compose":
        where = f"{spec.stack.host}:{spec.stack.port}"
        return [
            f"validate and render a new build, start it beside the running litellm on {where}, "
            "smoke-test it on its own port, steer new connections to it and drain the old one "
            "(llmproxy-ops apply's rollout)"
        ]
    if nginx and len(replicas) == 1:
        name = replicas[0]
        return [
            f"start a second {name} container from the new build (docker compose up -d "
            f"--no-deps --no-recreate --scale {name}=2 --wait) and check it on its own",
            f"rewrite nginx's upstream (old container down, new one up), reload, and let the "
            f"old one drain (up to stack.drain_timeout, {spec.stack.drain_timeout:g} s)",
            f"remove the old {name} container; nginx back on its rendered upstream",
        ]
    steps = []
    for name in replicas:
        others = [r for r in replicas if r != name]
        check = f"check {', '.join(others)} healthy, then " if others else ""
        if nginx:
            steps.append(f"{check}mark {name} down in nginx's upstream, reload, and let its "
                         "requests and streams drain")
            check = ""
        steps.append(
            f"{check}recreate {name} (docker compose up -d --no-deps --force-recreate "
            f"--wait {name}) and wait until it is healthy"
        )
        if nginx:
            steps.append(f"put {name} back in nginx's upstream (reload)")
    return steps


def _verify_step(
    kind: str, variable: str, replicas: tuple[str, ...], groups: tuple[str, ...]
) -> str:
    where = ", ".join(replicas)
    if kind == "master":
        return f"verify on every replica ({where}): the new key is accepted, the old one rejected"
    listed = ", ".join(groups) or "no model group (only liveliness, models and auth checks)"
    return (
        f"smoke-test the groups that use {variable} ({listed}) on every replica ({where}), "
        "without rate-limit checks"
    )
