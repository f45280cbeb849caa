"""`keys rotate master|provider`: write, restart, verify, and roll back on any failure.

Key values live in this module's locals and the env file only: results carry names,
steps, timings and per-replica verdicts, never a value.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from llmproxy_ops.envfile import MASTER_KEY_VAR, generate_master_key
from llmproxy_ops.errors import UsageError
from llmproxy_ops.ops.keys.plan import RotationPlan, plan_rotation, refuse_provider_variable
from llmproxy_ops.ops.keys.restart import Restarter, StepResult, restarter_for, timed
from llmproxy_ops.ops.keys.verify import ReplicaCheck, smoke_replicas, verify_keys
from llmproxy_ops.ops.secret_store import SecretStore, check_value
from llmproxy_ops.pipeline import Target, env_file_of, load_target
from llmproxy_ops.render.env_manifest import master_key_variable
from llmproxy_ops.spec.model import Spec


@dataclass(frozen=True)
class RotateRequest:
    target: Target
    dry_run: bool = False
    variable: str | None = None  # provider rotation: the VAR
    value: str | None = field(default=None, repr=False)  # provider rotation: the new value
    on_written: Callable[[], None] | None = None  # called once the new value is on disk


@dataclass
class RotationResult:
    plan: RotationPlan
    dry_run: bool = False
    backup: Path | None = None
    steps: list[StepResult] = field(default_factory=list)
    verification: list[ReplicaCheck] = field(default_factory=list)
    gap_s: float | None = None
    client_reloads: int = 0  # nginx reloads in front of the clients during the restart
    rolled_back: bool = False
    rollback_steps: list[StepResult] = field(default_factory=list)
    rollback_verification: list[ReplicaCheck] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return self.dry_run or (
            not self.rolled_back and self._passed(self.steps, self.verification)
        )

    @property
    def rollback_ok(self) -> bool:
        return self.rolled_back and self._passed(self.rollback_steps, self.rollback_verification)

    @staticmethod
    def _passed(steps: list[StepResult], checks: list[ReplicaCheck]) -> bool:
        return (
            bool(steps) and all(s.ok for s in steps) and bool(checks) and all(c.ok for c in checks)
        )


# ---- master ------------------------------------------------------------------------------


def master_variable(spec: Spec) -> str:
    settings = spec.root.get("general_settings")
    literal = isinstance(settings, dict) and isinstance(settings.get("master_key"), str)
    var = master_key_variable(spec)
    if var is None and literal:
        raise UsageError(
            "general_settings.master_key is a literal in the layers, not a variable",
            hint="use master_key: os.environ/LITELLM_MASTER_KEY and keep the key in the env file",
        )
    return var or MASTER_KEY_VAR


def rotate_master(req: RotateRequest) -> RotationResult:
    spec = load_target(req.target)
    var, env_file = master_variable(spec), env_file_of(spec, req.target)
    plan = plan_rotation(spec, kind="master", variable=var, env_file=env_file)
    if req.dry_run:
        return RotationResult(plan, dry_run=True)
    store = SecretStore(env_file)
    old = _current(store, var)
    new = generate_master_key()
    check_value(var, new, master=True)
    restarter = restarter_for(req.target, spec, tuple(store.values().values()) + (new,))
    restarter.require_healthy()
    return _rotate(
        req,
        plan,
        store,
        restarter,
        new,
        verify=lambda: verify_keys(restarter.replicas(), new, old),
        verify_old=lambda: verify_keys(restarter.replicas(), old, new),
    )


# ---- provider ----------------------------------------------------------------------------


def rotate_provider(req: RotateRequest) -> RotationResult:
    spec = load_target(req.target)
    var, master = req.variable or "", master_variable(spec)
    refuse_provider_variable(spec, var, master)
    env_file = env_file_of(spec, req.target)
    plan = plan_rotation(spec, kind="provider", variable=var, env_file=env_file)
    if req.dry_run:
        return RotationResult(plan, dry_run=True)
    new = req.value or ""
    check_value(var, new)
    store = SecretStore(env_file)
    key = _current(store, master)
    restarter = restarter_for(req.target, spec, tuple(store.values().values()) + (new,))
    restarter.require_healthy()
    expected, groups = spec.model_groups(), list(plan.model_groups)

    def smoke() -> list[ReplicaCheck]:
        return smoke_replicas(restarter.replicas(), key, expected, groups)

    return _rotate(req, plan, store, restarter, new, verify=smoke, verify_old=smoke)


# ---- shared ------------------------------------------------------------------------------


def _current(store: SecretStore, var: str) -> str:
    value = store.get(var)
    if not value:
        raise UsageError(
            f"{var} is not set in {store.path}",
            hint="the running proxy's key must be in the env file to rotate from it",
        )
    return value


Verify = Callable[[], list[ReplicaCheck]]


def _rotate(
    req: RotateRequest,
    plan: RotationPlan,
    store: SecretStore,
    restarter: Restarter,
    new: str,
    *,
    verify: Verify,
    verify_old: Verify,
) -> RotationResult:
    result = RotationResult(plan)
    write = timed(
        f"write {plan.variable} to {store.path}", lambda: _write(result, store, plan, new)
    )
    result.steps.append(write)
    if not write.ok:
        return result  # nothing changed on disk (a refused value) or the old file was restored
    if req.on_written is not None:
        req.on_written()
    outcome = restarter.restart()
    result.steps += outcome.steps
    result.gap_s = outcome.gap_s
    result.client_reloads = outcome.client_reloads
    if outcome.ok:
        result.verification = verify()
    if not result.ok:
        _roll_back(result, store, restarter, verify_old)
    return result


def _write(result: RotationResult, store: SecretStore, plan: RotationPlan, value: str) -> str:
    result.backup = store.set(plan.variable, value)
    return f"previous version kept as {result.backup}" if result.backup else "new env file"


def _roll_back(
    result: RotationResult, store: SecretStore, restarter: Restarter, verify_old: Verify
) -> None:
    result.rolled_back = True
    restore = timed(
        f"restore {result.plan.variable} in {store.path} from {result.backup}",
        lambda: _restore(store, result.plan.variable, result.backup),
    )
    result.rollback_steps.append(restore)
    if not restore.ok:
        return
    outcome = restarter.restart()
    result.rollback_steps += outcome.steps
    if outcome.ok:
        result.rollback_verification = verify_old()


def _restore(store: SecretStore, variable: str, backup: Path | None) -> str:
    # only this variable: another rotation may have changed the file since (fsutil.locked)
    store.revert(variable, backup)
    return "restored"
