"""Two stages: schema for shape, then small checks for meaning; one Finding type for both."""

from __future__ import annotations

from pathlib import Path

from llmproxy_ops.findings import Finding, ValidationResult
from llmproxy_ops.spec.model import Spec
from llmproxy_ops.validate.context import CheckContext


def validate_spec(
    spec: Spec,
    *,
    env: dict[str, str] | None = None,
    env_example: frozenset[str] | None = None,
    env_file: Path | None = None,
    litellm_load: bool = False,
) -> ValidationResult:
    """Every finding for `spec` (loading, shape, meaning, and with `litellm_load` LiteLLM's own
    start-up), collected, never stopping early."""
    from llmproxy_ops.validate.semantic import run_checks
    from llmproxy_ops.validate.shape import check_shape

    result = ValidationResult(list(spec.findings))
    result.extend(check_shape(spec.root, spec.locate))
    result.extend(run_checks(CheckContext(spec, env, env_example, env_file)))
    if litellm_load:
        result.extend(_load_findings(spec, env, result))
    return result


def _load_findings(
    spec: Spec, env: dict[str, str] | None, result: ValidationResult
) -> list[Finding]:
    from llmproxy_ops.validate.litellm_load import check_litellm_starts

    found = check_litellm_starts(spec, env)
    if any(f.code == "master-key-refused" for f in result.findings):
        # the same refusal, already reported with LiteLLM's own words and a fix
        found = [f for f in found if "UnsafeMasterKeyError" not in f.message]
    return found
