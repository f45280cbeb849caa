"""compose-db-password: the compose stack's Postgres password must be in the env file.

The rendered compose file never holds it: the db service reads POSTGRES_PASSWORD from the
env file, and mlflow (and litellm with use_db) build their connection URLs from it inside
the container, so it must also be URL-safe (no `@ : / ? #`, which would break the URL).
"""

from __future__ import annotations

import re
from collections.abc import Iterable

from llmproxy_ops.findings import Finding, Severity
from llmproxy_ops.spec.compose_settings import ComposeSettings
from llmproxy_ops.validate.checks._common import env_file_name, make, stack_settings
from llmproxy_ops.validate.context import CheckContext

PASSWORD_VAR = "POSTGRES_PASSWORD"
_URL_SAFE = re.compile(r"[A-Za-z0-9._~-]+")  # RFC 3986 unreserved: needs no percent-encoding


def _compose(ctx: CheckContext) -> ComposeSettings | None:
    stack = stack_settings(ctx.spec)
    if stack is None or stack.runtime != "compose":
        return None
    try:
        return stack.compose(ctx.spec.name)
    except (TypeError, ValueError, AttributeError):
        return None  # malformed stack.compose: the schema stage reports it


def check_compose_env(ctx: CheckContext) -> Iterable[Finding]:
    settings = _compose(ctx)
    if settings is None or not settings.db.enabled or ctx.env is None:
        return
    path = ("stack", "compose", "db")
    value = ctx.env.get(PASSWORD_VAR, "")
    env_file = env_file_name(ctx.spec)
    if not value:
        yield make(
            ctx, Severity.ERROR, "compose-db-password",
            f"the db service needs {PASSWORD_VAR}, which is not set",
            path,
            f"add {PASSWORD_VAR}=<random> to {env_file} (e.g. "
            "python3 -c 'import secrets; print(secrets.token_urlsafe(24))')",
        )
    elif not _URL_SAFE.fullmatch(value):
        yield make(
            ctx, Severity.ERROR, "compose-db-password",
            f"{PASSWORD_VAR} has characters that break the postgresql:// URLs built from it",
            path,
            "use letters, digits and . _ ~ - only (token_urlsafe output is fine)",
        )
