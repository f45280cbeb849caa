"""guardrail-params: each guardrail's litellm_params, checked with LiteLLM's own pydantic types.

The generated schema leaves guardrail bodies open (their shape depends on the guardrail type);
LiteLLM validates some of them only when the guardrail is first built, e.g. a tool_permission
rule's `decision` must be exactly "allow" or "deny".
"""

from __future__ import annotations

import functools
from collections.abc import Iterable, Iterator
from typing import TYPE_CHECKING, Any

from llmproxy_ops.findings import Finding, JsonPath, Severity
from llmproxy_ops.validate.checks._common import make
from llmproxy_ops.validate.context import CheckContext

if TYPE_CHECKING:  # pydantic and LiteLLM's types load only for a config with guardrails
    from pydantic import BaseModel


@functools.cache
def _models() -> tuple[type[BaseModel], type[BaseModel]]:
    from litellm.types.guardrails import LitellmParams
    from litellm.types.proxy.guardrails.guardrail_hooks.tool_permission import ToolPermissionRule

    return LitellmParams, ToolPermissionRule


def _errors(
    model: type[BaseModel], value: dict[str, Any], base: JsonPath
) -> Iterator[tuple[JsonPath, str]]:
    from pydantic import ValidationError

    try:
        model(**value)
    except ValidationError as exc:
        for err in exc.errors():
            value = err.get("input")
            if isinstance(value, str) and value.startswith("os.environ/"):
                continue  # resolved at start; its value is checked by the env checks
            yield (*base, *err["loc"]), err["msg"]
    except (TypeError, ValueError) as exc:  # a type's own validator raising plainly
        yield base, str(exc)


def _guardrail_problems(params: dict[str, Any], base: JsonPath) -> Iterator[tuple[JsonPath, str]]:
    general, rule_model = _models()
    yield from _errors(general, params, base)
    rules = params.get("rules")
    if params.get("guardrail") == "tool_permission" and isinstance(rules, list):
        for i, rule in enumerate(rules):
            if isinstance(rule, dict):
                yield from _errors(rule_model, rule, (*base, "rules", i))


def check_guardrail_params(ctx: CheckContext) -> Iterable[Finding]:
    guardrails = ctx.spec.root.get("guardrails")
    if not isinstance(guardrails, list):
        return
    for i, item in enumerate(guardrails):
        params = item.get("litellm_params") if isinstance(item, dict) else None
        if not isinstance(params, dict):
            continue
        name = item.get("guardrail_name", f"guardrails[{i}]")
        for path, msg in _guardrail_problems(params, ("guardrails", i, "litellm_params")):
            yield make(
                ctx,
                Severity.ERROR,
                "guardrail-params",
                f"guardrail '{name}': {path[-1]}: {msg}",
                path,
                "LiteLLM rejects this when it builds the guardrail; see its guardrail docs",
            )
