"""Two stages: schema for shape, then small checks for meaning; one Finding type for both."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from llmproxy_ops.findings import Finding, ValidationResult
from llmproxy_ops.spec.model import Spec
from llmproxy_ops.validate.context import CheckContext

if TYPE_CHECKING:
    from llmproxy_ops.validate.litellm_load import LiteLLMStage, ProbeBatch


@dataclass
class SpecCheck:
    """One spec to validate: what the checks see, and whether LiteLLM starts on it."""

    spec: Spec
    env: dict[str, str] | None = None
    env_example: frozenset[str] | None = None
    env_file: Path | None = None
    litellm_load: bool = False
    cache_dir: Path | None = None
    _stage: LiteLLMStage | None = field(default=None, repr=False)

    def begin(self, batch: ProbeBatch | None) -> None:
        """LiteLLM's stage first: its process imports LiteLLM while the other stages run."""
        if self.litellm_load and batch is not None:
            from llmproxy_ops.validate.litellm_load import LiteLLMStage

            self._stage = LiteLLMStage(self.spec, self.env, batch, cache_dir=self.cache_dir)

    def finish(self) -> ValidationResult:
        from llmproxy_ops.validate.semantic import run_checks
        from llmproxy_ops.validate.shape import check_shape

        spec = self.spec
        result = ValidationResult(list(spec.findings))
        result.extend(check_shape(spec.root, spec.locate))
        result.extend(run_checks(CheckContext(spec, self.env, self.env_example, self.env_file)))
        if self._stage is not None:
            # LiteLLM only ever sees dummies, so its verdict can only hold a secret the config
            # itself spells out: then the verdict is not kept
            literal = any(f.code == "literal-secret" for f in result.findings)
            found = self._stage.finish(_secret_values(spec, self.env), keep=not literal)
            result.extend(unreported_load_findings(found, result))
            result.stages["litellm"] = self._stage.source
        return result


def validate_specs(checks: list[SpecCheck]) -> list[ValidationResult]:
    """Every finding of every spec, collected, never stopping early; LiteLLM starts once
    (one process, a fork per spec) for all that need it."""
    from llmproxy_ops.validate.litellm_load import ProbeBatch

    batch = ProbeBatch() if any(c.litellm_load for c in checks) else None
    try:
        for check in checks:
            check.begin(batch)
        return [check.finish() for check in checks]
    finally:
        if batch is not None:
            batch.close()


def validate_spec(
    spec: Spec,
    *,
    env: dict[str, str] | None = None,
    env_example: frozenset[str] | None = None,
    env_file: Path | None = None,
    litellm_load: bool = False,
    cache_dir: Path | None = None,
) -> ValidationResult:
    """Every finding for `spec` (loading, shape, meaning, and with `litellm_load` LiteLLM's own
    start-up), collected, never stopping early. With `cache_dir`, LiteLLM's verdict is cached
    there."""
    [result] = validate_specs([SpecCheck(spec, env, env_example, env_file, litellm_load,
                                         cache_dir)])
    return result


def unreported_load_findings(found: list[Finding], result: ValidationResult) -> list[Finding]:
    """The LiteLLM stage's findings that the other stages did not already report."""
    # the same refusal, already reported with LiteLLM's own words and a fix
    if any(f.code == "master-key-refused" for f in result.findings):
        found = [f for f in found if "UnsafeMasterKeyError" not in f.message]
    # a module LiteLLM cannot load, already reported with its file (checks/callback_modules)
    unloadable = {f.path for f in result.findings if f.code == "callback-module"}
    return [f for f in found if f.path not in unloadable]


def _secret_values(spec: Spec, env: Mapping[str, str] | None) -> list[str]:
    """Values a cached verdict must never hold: those of the variables the config reads."""
    from llmproxy_ops.validate.litellm_load import MASTER_KEY_ENV, referenced_vars

    names = {*referenced_vars(spec.litellm_config()), MASTER_KEY_ENV}
    return [v for k, v in (env or {}).items() if v and k in names]
