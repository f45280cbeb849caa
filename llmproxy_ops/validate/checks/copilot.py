"""copilot-runtime-unsupported: github_copilot/ models on a runtime that keeps no login.

LiteLLM serves Copilot only with a device login in GITHUB_COPILOT_TOKEN_DIR, and since 1.108
it refuses to run that login inside the proxy: without one it drops those deployments when it
starts. `llmproxy-ops copilot login` writes the login where the local and compose runtimes
read it (spec/copilot.py: LOGIN_KEPT_IN); elsewhere it would land where no replica reads it.
"""

from __future__ import annotations

from collections.abc import Iterable

from llmproxy_ops.findings import Finding, Severity
from llmproxy_ops.spec.copilot import LOGIN_KEPT_IN, first_copilot_model, keeps_login
from llmproxy_ops.validate.checks._common import make
from llmproxy_ops.validate.context import CheckContext


def check_copilot_runtime(ctx: CheckContext) -> Iterable[Finding]:
    index = first_copilot_model(ctx.spec)
    if index is None or keeps_login(ctx.spec):
        return
    kept = " or ".join(f"{name} ({where})" for name, where in LOGIN_KEPT_IN.items())
    yield make(
        ctx, Severity.ERROR, "copilot-runtime-unsupported",
        f"github_copilot/ models on the {ctx.spec.stack.runtime} runtime, which keeps no "
        f"Copilot login: LiteLLM would drop these deployments when it starts",
        ("model_list", index, "litellm_params", "model"),
        f"serve Copilot models from an environment on the {kept} runtime",
    )
