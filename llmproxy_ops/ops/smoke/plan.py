"""What a smoke test of an environment expects, derived from its spec."""

from __future__ import annotations

from typing import Any

from llmproxy_ops.render.env_manifest import ENV_REF_PREFIX
from llmproxy_ops.spec.model import Spec

ENFORCE_CHECK = "enforce_model_rate_limits"


def master_key_variable(spec: Spec) -> str | None:
    """The variable general_settings.master_key refers to (None for a literal or no key)."""
    settings = spec.root.get("general_settings")
    key = settings.get("master_key") if isinstance(settings, dict) else None
    if isinstance(key, str) and key.startswith(ENV_REF_PREFIX):
        return key[len(ENV_REF_PREFIX):]
    return None


def rate_limits_enforced(spec: Spec) -> bool:
    router = spec.root.get("router_settings")
    checks = router.get("optional_pre_call_checks") if isinstance(router, dict) else None
    return isinstance(checks, list) and ENFORCE_CHECK in checks


def enforced_rpm(spec: Spec) -> dict[str, int]:
    """Model group → requests/min LiteLLM will enforce for it, where that is predictable.

    Skipped: groups with a deployment without rpm (no group limit), and every group when
    several workers count separately (no Redis): the effective limit is then unknowable.
    """
    if not rate_limits_enforced(spec) or (spec.stack.workers > 1 and not _has_redis(spec)):
        return {}
    totals: dict[str, int | None] = {}
    for entry in spec.model_list:
        name, rpm = _group_and_rpm(entry)
        if name is not None:
            prev = totals.get(name, 0)
            totals[name] = None if prev is None or rpm is None else prev + rpm
    return {name: rpm for name, rpm in totals.items() if rpm}


def _group_and_rpm(entry: Any) -> tuple[str | None, int | None]:
    if not isinstance(entry, dict) or not isinstance(entry.get("model_name"), str):
        return None, None
    params = entry.get("litellm_params")
    rpm = params.get("rpm") if isinstance(params, dict) else None
    return entry["model_name"], rpm if isinstance(rpm, int) and not isinstance(rpm, bool) else None


def _has_redis(spec: Spec) -> bool:
    router = spec.root.get("router_settings")
    if isinstance(router, dict) and any(k.startswith("redis") for k in router):
        return True
    if spec.stack.runtime == "swarm":  # the stack brings its own Redis when it needs one
        from llmproxy_ops.render.swarm import needs_redis

        return needs_redis(spec)
    return False


def anthropic_groups(spec: Spec) -> list[str]:
    """Model groups with an Anthropic deployment, in model_list order (Messages route checks)."""
    groups: list[str] = []
    for entry in spec.model_list:
        params = entry.get("litellm_params") if isinstance(entry, dict) else None
        model = params.get("model") if isinstance(params, dict) else None
        name = entry.get("model_name") if isinstance(entry, dict) else None
        if isinstance(model, str) and model.startswith("anthropic/") and isinstance(name, str):
            groups.append(name)
    return list(dict.fromkeys(groups))
