"""salt-key-missing / salt-key-placeholder / litellm-db-*: LiteLLM with a database.

LITELLM_SALT_KEY encrypts the credentials LiteLLM stores in its database; without it
LiteLLM falls back to the master key, so a master-key rotation would make them unreadable.
It must be set before the first start and never change (`keys rotate` refuses it).
The compose renderer builds DATABASE_URL inside the litellm container as
postgresql://<db user>:$POSTGRES_PASSWORD@db:5432/litellm (render/compose.py), so the db
service must run and a DATABASE_URL in the env file is not what the container uses.
"""

from __future__ import annotations

from collections.abc import Iterable
from urllib.parse import urlsplit

from llmproxy_ops.envfile import SALT_KEY_VAR
from llmproxy_ops.findings import Finding, JsonPath, Severity
from llmproxy_ops.targets.registry import target_of
from llmproxy_ops.validate.checks._common import env_file_name, make, stack_settings
from llmproxy_ops.validate.context import CheckContext
from llmproxy_ops.validate.secrets import is_placeholder

DATABASE_URL_VAR = "DATABASE_URL"
USE_DB_PATH: JsonPath = ("stack", "compose", "litellm", "use_db")
MIN_SALT_LENGTH = 16


def check_salt_key(ctx: CheckContext) -> Iterable[Finding]:
    uses_db, path = _uses_db(ctx)
    if not uses_db:
        return
    yield from _db_service(ctx)
    if ctx.env is None:
        return
    value = ctx.env.get(SALT_KEY_VAR, "")
    env_file = env_file_name(ctx.spec)
    if not value:
        yield make(
            ctx,
            Severity.ERROR,
            "salt-key-missing",
            f"LiteLLM uses a database here but {SALT_KEY_VAR} is not set; it encrypts the "
            "credentials LiteLLM stores there and can never change once used",
            path,
            f"add {SALT_KEY_VAR}=<random> to {env_file} before the first start (e.g. "
            "python3 -c 'import secrets; print(secrets.token_urlsafe(32))'), and back it up",
        )
    elif is_placeholder(value) or len(value) < MIN_SALT_LENGTH:
        # never echo the value: it decrypts every stored credential
        yield make(
            ctx,
            Severity.ERROR,
            "salt-key-placeholder",
            f"{SALT_KEY_VAR} looks like a placeholder or is too short "
            f"(under {MIN_SALT_LENGTH} characters)",
            path,
            f"set a random value in {env_file} before the first start; once LiteLLM has "
            "stored credentials it must never change",
        )


def _uses_db(ctx: CheckContext) -> tuple[bool, JsonPath]:
    """Whether LiteLLM talks to a database, and where the spec says so."""
    stack = stack_settings(ctx.spec)
    if stack is None:
        return False, ()
    if target_of(stack).runs_compose_services:
        try:
            return stack.compose(ctx.spec.name).use_db, USE_DB_PATH
        except (TypeError, ValueError, AttributeError):
            return False, ()  # malformed stack.compose: the schema stage reports it
    # The local runtime hands the env file to litellm: a DATABASE_URL there means a database.
    return bool(ctx.env and ctx.env.get(DATABASE_URL_VAR)), ("stack", "runtime")


def _db_service(ctx: CheckContext) -> Iterable[Finding]:
    stack = stack_settings(ctx.spec)
    if stack is None or not target_of(stack).runs_compose_services:
        return
    cs = stack.compose(ctx.spec.name)
    if not cs.db.enabled:
        yield make(
            ctx,
            Severity.ERROR,
            "litellm-db-disabled",
            "use_db is on but the db service is disabled: the container's DATABASE_URL "
            f"(postgresql://{cs.db_user}:…@db:5432/litellm) names a service that does not run",
            USE_DB_PATH,
            "enable stack.compose.db, or set use_db: false",
        )
    url = (ctx.env or {}).get(DATABASE_URL_VAR)
    if url and _host(url) != "db":
        yield make(
            ctx,
            Severity.WARNING,
            "litellm-db-url-ignored",
            f"{DATABASE_URL_VAR} in the environment points at another host; the compose "
            "stack ignores it and connects litellm to its db service",
            USE_DB_PATH,
            f"remove {DATABASE_URL_VAR} from {env_file_name(ctx.spec)} for compose "
            "environments (it is built from POSTGRES_PASSWORD in the container)",
        )


def _host(url: str) -> str | None:
    try:
        return urlsplit(url).hostname
    except ValueError:
        return None
