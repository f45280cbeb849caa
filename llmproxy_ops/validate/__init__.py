"""Two stages: schema for shape, then small checks for meaning; one Finding type for both."""

from __future__ import annotations

from pathlib import Path

from llmproxy_ops.findings import ValidationResult
from llmproxy_ops.spec.model import Spec
from llmproxy_ops.validate.context import CheckContext


def validate_spec(
    spec: Spec,
    *,
    env: dict[str, str] | None = None,
    env_example: frozenset[str] | None = None,
    env_file: Path | None = None,
) -> ValidationResult:
    """Every finding for `spec` (loading, shape, meaning), collected, never stopping early."""
    from llmproxy_ops.validate.semantic import run_checks
    from llmproxy_ops.validate.shape import check_shape

    result = ValidationResult(list(spec.findings))
    result.extend(check_shape(spec.root, spec.locate))
    result.extend(run_checks(CheckContext(spec, env, env_example, env_file)))
    return result
