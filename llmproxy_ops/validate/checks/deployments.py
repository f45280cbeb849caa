"""duplicate-deployment: two model_list entries LiteLLM would load as the same deployment twice."""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Iterable
from typing import Any

from llmproxy_ops.findings import Finding, Location, Severity
from llmproxy_ops.validate.checks._common import Deployment, deployments, make
from llmproxy_ops.validate.context import CheckContext


def _identity(name: object, params: object) -> str:
    # canonical JSON: key order and YAML style do not make two deployments different (the
    # located containers are dicts and lists: json walks them without a plain copy)
    return json.dumps([name, params], sort_keys=True, default=repr)


def _where(first: Location, here: Location) -> str:
    return f"line {first.line}" if first.file == here.file else f"{first.file}:{first.line}"


_ROUGH = ("model", "api_base")


def _rough(dep: Deployment) -> tuple[Any, ...]:
    """What two duplicates have in common for sure: a cheap key to compare first (equal
    identities give equal keys; equal keys may still be different deployments)."""
    values = (dep.entry.get("model_name"), *(dep.params.get(k) for k in _ROUGH))
    return tuple(v if isinstance(v, str | int | float | None) else _identity(v, None)
                 for v in values)


def check_duplicate_deployment(ctx: CheckContext) -> Iterable[Finding]:
    complete = [(d, _rough(d)) for d in deployments(ctx.spec)  # incomplete: shape problems
                if "litellm_params" in d.entry and "model_name" in d.entry]
    alike = Counter(rough for _, rough in complete)
    seen: dict[str, Location] = {}
    for dep, rough in complete:
        if alike[rough] < 2:
            continue  # nothing else even looks like it: no need for its canonical form
        key = _identity(dep.entry["model_name"], dep.entry["litellm_params"])
        here = ctx.spec.locate(dep.path)
        if key not in seen:
            seen[key] = here
            continue
        yield make(
            ctx,
            Severity.ERROR,
            "duplicate-deployment",
            f"'{dep.name}': same model_name and litellm_params as the deployment at "
            f"{_where(seen[key], here)}",
            dep.path,
            "remove one of them; to send more traffic to a deployment use litellm_params.weight",
        )
