"""What a smoke test of an environment expects, derived from its spec."""

from __future__ import annotations

from typing import Any

from llmproxy_ops.render import stack_redis
from llmproxy_ops.spec.model import Spec


def rate_limits_enforced(spec: Spec) -> bool:
    return stack_redis.rate_limits_enforced(spec.root)


# The smoke test proves an rpm with rpm+1 real requests (each one a provider call): above
# this a burst costs too much for a check (a group with rpm 100000 would get 100001 calls).
MAX_PROVEN_RPM = 100


def enforced_rpm(spec: Spec) -> dict[str, int]:
    """Model group → requests/min LiteLLM will enforce for it, where that is predictable and
    cheap enough to prove with a burst (rpm ≤ MAX_PROVEN_RPM).

    Skipped: groups with a deployment without rpm (no group limit), and every group when
    several processes count separately (Redis forced off): the effective limit is then
    unknowable. Wherever several processes serve, the deployment brings a Redis by default.
    """
    if not rate_limits_enforced(spec) or not stack_redis.shares_counters(spec):
        return {}
    totals: dict[str, int | None] = {}
    for entry in spec.model_list:
        name, rpm = _group_and_rpm(entry)
        if name is not None:
            prev = totals.get(name, 0)
            totals[name] = None if prev is None or rpm is None else prev + rpm
    return {name: rpm for name, rpm in totals.items() if rpm and rpm <= MAX_PROVEN_RPM}


def _group_and_rpm(entry: Any) -> tuple[str | None, int | None]:
    if not isinstance(entry, dict) or not isinstance(entry.get("model_name"), str):
        return None, None
    params = entry.get("litellm_params")
    rpm = params.get("rpm") if isinstance(params, dict) else None
    return entry["model_name"], rpm if isinstance(rpm, int) and not isinstance(rpm, bool) else None


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
