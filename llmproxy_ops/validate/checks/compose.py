"""compose-db-password / compose-redis-password: the stack's passwords must be in the env file.

The rendered compose file never holds it: the db service reads POSTGRES_PASSWORD from the
env file, and mlflow (and litellm with use_db) build their connection URLs from it inside
the container, so it must also be URL-safe (no `@ : / ? #`, which would break the URL).
REDIS_PASSWORD likewise, whenever the stack brings its Redis (render/stack_redis.py): the
redis service writes it into its config file as one word.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

from llmproxy_ops.findings import Finding, JsonPath, Severity
from llmproxy_ops.render import stack_redis
from llmproxy_ops.targets.compose.settings import ComposeSettings
from llmproxy_ops.targets.registry import target_of
from llmproxy_ops.validate.checks._common import env_file_name, get_in, make, stack_settings
from llmproxy_ops.validate.context import CheckContext

PASSWORD_VAR = "POSTGRES_PASSWORD"
REDIS_VAR = stack_redis.PASSWORD_VAR
GENERATE = "python3 -c 'import secrets; print(secrets.token_urlsafe(24))'"
_URL_SAFE = re.compile(r"[A-Za-z0-9._~-]+")  # RFC 3986 unreserved: needs no percent-encoding


def _compose(ctx: CheckContext, *, publishing_mlflow: bool = False) -> ComposeSettings | None:
    """stack.compose, on every target that runs its services (`publishing_mlflow`: only on
    those that may publish MLflow's port)."""
    stack = stack_settings(ctx.spec)
    if stack is None or not target_of(stack).runs_compose_services:
        return None
    if publishing_mlflow and not target_of(stack).publishes_mlflow:
        return None
    try:
        return stack.compose(ctx.spec.name)
    except (TypeError, ValueError, AttributeError):
        return None  # malformed stack.compose: the schema stage reports it


def check_compose_env(ctx: CheckContext) -> Iterable[Finding]:
    settings = _compose(ctx)
    if settings is None or not settings.db.enabled or ctx.env is None:
        return
    yield from _password_findings(
        ctx, PASSWORD_VAR, "compose-db-password", ("stack", "compose", "db"),
        needed_by="the db service",
        breaks="that break the postgresql:// URLs built from it",
    )


def check_mlflow_published(ctx: CheckContext) -> Iterable[Finding]:
    """mlflow-published: MLflow has no authentication; on a host port every local user (and
    every process) reads the traces, prompts and answers included."""
    settings = _compose(ctx, publishing_mlflow=True)  # Swarm publishes nginx's ports only
    if settings is None or not settings.mlflow.enabled or settings.mlflow_port is None:
        return
    yield make(
        ctx, Severity.WARNING, "mlflow-published",
        f"MLflow is published on 127.0.0.1:{settings.mlflow_port} without authentication: "
        "every user of this machine can read its traces (prompts and answers)",
        ("stack", "compose", "mlflow", "port"),
        "remove mlflow.port and reach MLflow through an SSH tunnel or `docker compose exec` "
        "(SECURITY.md, \"Reaching the admin UI and MLflow\")",
    )


def check_stack_redis_env(ctx: CheckContext) -> Iterable[Finding]:
    stack = stack_settings(ctx.spec)
    if stack is None or not target_of(stack).runs_compose_services or ctx.env is None:
        return
    try:
        if not stack_redis.brings_redis(ctx.spec):
            return
        processes = stack_redis.serving_processes(ctx.spec)
    except (TypeError, ValueError, AttributeError):
        return  # malformed stack section: the schema stage reports it
    yield from _password_findings(
        ctx, REDIS_VAR, "compose-redis-password", _redis_reason(ctx),
        needed_by="the redis service",
        why=f" ({processes} LiteLLM processes share their rate-limit counters through it)",
        breaks="the redis service's config file would split",
    )


def _password_findings(ctx: CheckContext, var: str, code: str, path: JsonPath, *,
                       needed_by: str, breaks: str, why: str = "") -> Iterable[Finding]:
    """`var` must be in the env file and URL-safe (one word, no percent-encoding)."""
    value = (ctx.env or {}).get(var, "")
    if not value:
        yield make(
            ctx, Severity.ERROR, code, f"{needed_by} needs {var}, which is not set{why}", path,
            f"add {var}=<random> to {env_file_name(ctx.spec)} (e.g. {GENERATE})",
        )
    elif not _URL_SAFE.fullmatch(value):
        yield make(
            ctx, Severity.ERROR, code, f"{var} has characters {breaks}", path,
            "use letters, digits and . _ ~ - only (token_urlsafe output is fine)",
        )


def _redis_reason(ctx: CheckContext) -> JsonPath:
    """Where the spec asks for the Redis: the switch, the workers, the replicas, or the check."""
    for path in (("stack", "compose", "redis", "enabled"), ("stack", "workers"),
                 ("stack", "compose", "litellm", "replicas")):
        if get_in(ctx.spec.root, *path) is not None:
            return path
    return ("router_settings", "optional_pre_call_checks")
