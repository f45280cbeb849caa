"""What a key rotation will do on an environment's runtime: steps and the expected gap."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from llmproxy_ops.envfile import SALT_KEY_VAR
from llmproxy_ops.errors import UsageError
from llmproxy_ops.render.env_manifest import env_references
from llmproxy_ops.spec.model import Spec
from llmproxy_ops.targets.info import RestartPlan, load
from llmproxy_ops.targets.registry import target_named, target_of

SALT_KEY_REFUSAL = (
    f"{SALT_KEY_VAR} cannot be rotated: LiteLLM encrypts the credentials it stores in its "
    "database (model keys added through the API or UI, virtual-key secrets) with it, and a "
    "new salt key makes every one of them unreadable"
)
SALT_KEY_HINT = "keep it unchanged for the life of the database (back it up with the env file)"
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
    target = target_of(spec)
    restart: RestartPlan = load(f"{target.hooks.rotation}:plan")(spec)
    replicas = restart.replicas
    groups = groups_using(spec, variable) if kind == "provider" else ()
    steps = (
        f"back up {env_file} to {env_file.name}.bak-<UTC time> (mode 0600)",
        _write_step(kind, variable, env_file),
        *restart.steps,
        *_scrape_step(spec, kind),
        _verify_step(kind, variable, replicas, groups),
        "on any failure: restore the backup, restart the same way, say so and exit 1",
    )
    return RotationPlan(
        spec.name, kind, variable, env_file, spec.stack.runtime, replicas, restart.nginx, steps,
        restart.gap_expected, restart.gap_note, groups
    )


def done_text(plan: RotationPlan) -> str:
    """How the restart went without a gap, in the target's words (`keys rotate`'s report)."""
    text: str = load(f"{target_named(plan.runtime).hooks.rotation}:done_text")(plan.replicas)
    return text


def _write_step(kind: str, variable: str, env_file: Path) -> str:
    if kind == "master":
        return f"write a new {variable} (sk- + 32 random bytes, URL-safe) to {env_file} (0600)"
    return f"write the new {variable} (read from stdin or --from-file) to {env_file} (0600)"


def _scrape_step(spec: Spec, kind: str) -> tuple[str, ...]:
    """Said before, as the 401s clients may meet are: Prometheus holds one master key too, and
    the replicas change theirs one at a time (LiteLLM has a single master key, no overlap)."""
    if kind != "master" or not spec.stack.metrics or not target_of(spec).runs_compose_services:
        return ()
    return ("while the replicas roll over, Prometheus (it scrapes /metrics with the master key) "
            "gets 401 from the ones holding the other key: up == 0 for them, so "
            "LiteLLMProxyDown may fire during the rollout; it resolves once every replica and "
            "Prometheus hold the new key",)


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
