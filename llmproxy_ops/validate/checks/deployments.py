"""duplicate-deployment: two model_list entries LiteLLM would load as the same deployment twice."""

from __future__ import annotations

import json
from collections.abc import Iterable

from llmproxy_ops.findings import Finding, Location, Severity
from llmproxy_ops.validate.checks._common import deployments, make
from llmproxy_ops.validate.context import CheckContext


def _identity(name: object, params: object) -> str:
    # canonical JSON: key order and YAML style do not make two deployments different (the
    # located containers are dicts and lists: json walks them without a plain copy)
    return json.dumps([name, params], sort_keys=True, default=repr)


def _where(first: Location, here: Location) -> str:
    return f"line {first.line}" if first.file == here.file else f"{first.file}:{first.line}"


def check_duplicate_deployment(ctx: CheckContext) -> Iterable[Finding]:
    seen: dict[str, Location] = {}
    for dep in deployments(ctx.spec):
        if "litellm_params" not in dep.entry or "model_name" not in dep.entry:
            continue  # an incomplete entry is a shape problem, not a duplicate
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
