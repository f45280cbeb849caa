"""master-key-format: LiteLLM's docs require the master key to start with `sk-`.

Measured with 1.108.7: chat requests still pass with a key like `deo`, but LiteLLM's key
handling (hashing, the UI login, virtual-key checks) branches on the `sk-` prefix, so a key
without it is outside what LiteLLM supports and tests.
"""

from __future__ import annotations

from collections.abc import Iterable

from llmproxy_ops.findings import Finding, Severity
from llmproxy_ops.validate.checks._common import env_file_name, get_in, make
from llmproxy_ops.validate.checks.secrets import MASTER_KEY_PATH
from llmproxy_ops.validate.context import CheckContext
from llmproxy_ops.validate.secrets import env_ref_name

PREFIX = "sk-"


def check_master_key_format(ctx: CheckContext) -> Iterable[Finding]:
    value = get_in(ctx.spec.root, *MASTER_KEY_PATH)
    if not isinstance(value, str) or not value:
        return
    name = env_ref_name(value)
    if name is None:
        if not value.startswith(PREFIX):
            yield make(
                ctx,
                Severity.ERROR,
                "master-key-format",
                "general_settings.master_key does not start with 'sk-' (LiteLLM requires it)",
                MASTER_KEY_PATH,
                "use a key of the form sk-<random> (e.g. sk- + `openssl rand -hex 32`)",
            )
        return
    resolved = ctx.env.get(name) if ctx.env is not None else None
    if resolved and not resolved.startswith(PREFIX):
        # never echo the value: it is the proxy's admin credential
        yield make(
            ctx,
            Severity.ERROR,
            "master-key-format",
            f"{name} (general_settings.master_key) does not start with 'sk-' (LiteLLM requires it)",
            MASTER_KEY_PATH,
            f"set {name}=sk-<random> in {env_file_name(ctx.spec)} "
            "(e.g. sk- + `openssl rand -hex 32`)",
        )
