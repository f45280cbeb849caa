"""env-implicit: variables LiteLLM reads from its environment without the config naming them.

LiteLLM 1.108.7 takes the master key from LITELLM_MASTER_KEY when general_settings has none
(proxy/auth/master_key_boot_check.py: it refuses to start without one), the cache's Redis
from REDIS_HOST and REDIS_PORT (or REDIS_URL) when `cache: true` names no host
(proxy_server.py, _redis.py), and the database from DATABASE_URL when the config stores
models there but names no database_url. A file validated alone (--no-env) comes without its
environment, so such a variable is unknown, not missing: the file's needs are named (a
warning each). In a project environment the master key is judged as LiteLLM's boot check
judges it (master-key-refused, an error when the env file lacks it); the stack brings its
own Redis and database URLs.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from llmproxy_ops.findings import Finding, JsonPath, Severity
from llmproxy_ops.validate.checks._common import make
from llmproxy_ops.validate.context import CheckContext

CODE = "env-implicit"
_REDIS_CACHES = ("redis", "redis-semantic")
_REDIS_TARGETS = ("host", "url", "redis_url", "startup_nodes", "sentinel_nodes")


@dataclass(frozen=True)
class Need:
    names: tuple[str, ...]  # read together (any one of `alternative` instead)
    why: str
    path: JsonPath
    alternative: tuple[str, ...] = ()


def _section(config: Mapping[str, Any], key: str) -> Mapping[str, Any]:
    value = config.get(key)
    return value if isinstance(value, Mapping) else {}


def implicit_needs(config: Mapping[str, Any]) -> list[Need]:
    """What this config needs from the environment without naming it (os.environ/)."""
    needs = []
    general = _section(config, "general_settings")
    settings = _section(config, "litellm_settings")
    if general.get("master_key") is None:
        path: JsonPath = ("general_settings",) if "general_settings" in config else ()
        needs.append(Need(("LITELLM_MASTER_KEY",), "general_settings.master_key is not set "
                          "(LiteLLM refuses to start without a master key)", path))
    params = _section(settings, "cache_params")
    if settings.get("cache") is True and params.get("type", "redis") in _REDIS_CACHES and not any(
        params.get(k) for k in _REDIS_TARGETS
    ):
        needs.append(Need(("REDIS_HOST", "REDIS_PORT"), "litellm_settings.cache is on and "
                          "cache_params names no Redis host", ("litellm_settings", "cache"),
                          ("REDIS_URL",)))
    if general.get("store_model_in_db") is True and not general.get("database_url"):
        needs.append(Need(("DATABASE_URL",), "general_settings.store_model_in_db is on and "
                          "no database_url is set", ("general_settings", "store_model_in_db")))
    declared = _section(config, "environment_variables")
    return [n for n in needs if not any(declared.get(v) for v in (*n.names, *n.alternative))]


def implicit_names(config: Mapping[str, Any]) -> list[str]:
    return [name for need in implicit_needs(config) for name in need.names]


def check_implicit_env(ctx: CheckContext) -> Iterable[Finding]:
    if ctx.env is not None:
        return  # a project environment: see the module docstring
    for need in implicit_needs(ctx.spec.root):
        names = " and ".join(need.names)
        other = f" (or {' or '.join(need.alternative)})" if need.alternative else ""
        verb = "them" if len(need.names) > 1 else "it"
        yield make(
            ctx, Severity.WARNING, CODE,
            f"LiteLLM reads {names}{other} from its environment: {need.why}; this file needs "
            f"{verb} where it runs (not checked: no environment was given)",
            need.path,
            f"set {names} where LiteLLM runs, or validate the project environment (--env)",
        )
