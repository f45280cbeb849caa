"""copilot-runtime-unsupported: github_copilot/ models on a runtime that keeps no login.

LiteLLM serves Copilot only with a device login in GITHUB_COPILOT_TOKEN_DIR, and since 1.108
it refuses to run that login inside the proxy: without one it drops those deployments when it
starts. `llmproxy-ops copilot login` writes the login where the targets that keep one read it
(targets/<name>/facts.py: TargetInfo.copilot); elsewhere it would land where no replica
reads it.
"""

from __future__ import annotations

from collections.abc import Iterable

from llmproxy_ops.findings import Finding, Severity
from llmproxy_ops.spec.copilot import first_copilot_model
from llmproxy_ops.targets.registry import copilot_logins, target_of
from llmproxy_ops.validate.checks._common import make
from llmproxy_ops.validate.context import CheckContext


def check_copilot_runtime(ctx: CheckContext) -> Iterable[Finding]:
    index = first_copilot_model(ctx.spec)
    if index is None or target_of(ctx.spec).copilot is not None:
        return
    kept = " or ".join(f"{name} ({where})" for name, where in copilot_logins())
    yield make(
        ctx, Severity.ERROR, "copilot-runtime-unsupported",
        f"github_copilot/ models on the {ctx.spec.stack.runtime} runtime, which keeps no "
        f"Copilot login: LiteLLM would drop these deployments when it starts",
        ("model_list", index, "litellm_params", "model"),
        f"serve Copilot models from an environment on the {kept} runtime",
    )
