"""The one place that names the deployment targets (`stack.runtime`).

Adding a target is one package (`targets/<name>/` with a `facts.py` holding its `INFO`) and
one line here; nothing outside `targets/` compares a target's name
(tests/unit/test_target_names.py), it asks the target's facts (docs/targets.md).
"""

from __future__ import annotations

from llmproxy_ops.spec.model import Spec, StackSettings
from llmproxy_ops.targets.compose import facts as compose
from llmproxy_ops.targets.info import Hooks, TargetInfo
from llmproxy_ops.targets.kubernetes import facts as kubernetes
from llmproxy_ops.targets.local import facts as local
from llmproxy_ops.targets.swarm import facts as swarm

TARGETS: dict[str, TargetInfo] = {
    "local": local.INFO,
    "compose": compose.INFO,
    "swarm": swarm.INFO,
    "kubernetes": kubernetes.INFO,
}


def _unknown(name: str) -> TargetInfo:
    """What an unregistered `stack.runtime` is taken to be until something runs it: a single
    process elsewhere, with nothing of its own (the schema stage reports the name; asking for
    its runtime raises UsageError)."""
    return TargetInfo(
        name=name, summary="not a registered target", live=False,
        runs_compose_services=False, runs_in_this_venv=False, has_volumes=False,
        publishes_mlflow=False, starts_fake_provider=False, redis=None, redis_section=None,
        copilot=None, serving_processes=lambda spec: spec.stack.workers, decides_redis=None,
        secrets_store="", backup_access="", key_rotation="", apply_guarantee="",
        hooks=Hooks(runtime="", rotation=local.INFO.hooks.rotation),
    )


def target_named(name: str) -> TargetInfo:
    # a malformed stack.runtime (a list, a number) is the schema stage's to report
    known = TARGETS.get(name) if isinstance(name, str) else None
    return known or _unknown(str(name))


def target_of(spec: Spec | StackSettings) -> TargetInfo:
    """The target `stack.runtime` names (of a spec, or of its stack settings)."""
    stack = spec.stack if isinstance(spec, Spec) else spec
    return target_named(stack.runtime)


def names() -> list[str]:
    return sorted(TARGETS)


def copilot_logins() -> list[tuple[str, str]]:
    """(target, where it keeps the login) for every target that keeps a Copilot login."""
    return [(t.name, t.copilot.kept_in) for t in TARGETS.values() if t.copilot is not None]
