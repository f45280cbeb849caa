"""The master key as the pinned LiteLLM judges it at boot, and the `sk-` convention.

master-key-refused: LiteLLM 1.108 refuses to start with no master key, an empty one or a
publicly known one (litellm/proxy/auth/master_key_boot_check.py), unless it is told to
permit that. The verdict here is LiteLLM's own function, fed what LiteLLM would read: the
config's key (an os.environ/ reference resolved in the target environment), else
LITELLM_MASTER_KEY. With --no-env the environment is unknown and the config alone counts,
as when LiteLLM is started on the file in an empty environment.

master-key-format (warning): LiteLLM serves with any master key; only virtual keys must start
with `sk-`. Its key handling (hashing, UI login) branches on the prefix, so a key without it
is a convention broken, not a start-up failure.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from llmproxy_ops.findings import Finding, JsonPath, Severity
from llmproxy_ops.validate.checks._common import env_file_name, get_in, make
from llmproxy_ops.validate.checks.secrets import MASTER_KEY_PATH
from llmproxy_ops.validate.context import CheckContext
from llmproxy_ops.validate.secrets import env_ref_name

PREFIX = "sk-"
MASTER_KEY_ENV = "LITELLM_MASTER_KEY"
PERMIT_ENV = "LITELLM_DANGEROUSLY_PERMIT_WEAK_OR_UNSET_MASTER_KEY"
_FORMAT_HINT = "by convention keys look like sk-<random> (e.g. sk- + `openssl rand -hex 32`)"


def _boot_check() -> Any:
    from llmproxy_ops.validate.litellm_boot import boot_check

    return boot_check()


def boot_refusal_reason(key: str | None) -> str | None:
    """LiteLLM's reason to refuse `key` ('not_set', 'empty', 'publicly_known'), or None."""
    reason = _boot_check()._unsafe_reason(key)
    return None if reason is None else str(reason.value)


def check_master_key_boot(ctx: CheckContext) -> Iterable[Finding]:
    general = get_in(ctx.spec.root, "general_settings")
    if general is not None and not isinstance(general, dict):
        return  # the schema stage reports the shape
    general = general or {}
    known, key = _effective_key(ctx, general.get("master_key"))
    if not known:
        return
    boot = _boot_check()
    verdict = boot.master_key_boot_verdict(
        master_key=key, environment_master_key=(ctx.env or {}).get(MASTER_KEY_ENV),
        general_settings=general, config_file_path=None,
        override_env_is_on=str((ctx.env or {}).get(PERMIT_ENV, "")).lower() == "true",
        salt_key_is_set=True, database_is_configured=False,
    )
    if not isinstance(verdict, boot.UnsafeMasterKeyRefused):
        return
    headline = boot._REFUSAL_HEADLINE[verdict.reason]
    path: JsonPath = MASTER_KEY_PATH if "master_key" in general else ("general_settings",)
    if not general:
        path = ()
    yield make(
        ctx, Severity.ERROR, "master-key-refused",
        f"LiteLLM refuses to start: {headline}", path,
        f"write general_settings.master_key: os.environ/{MASTER_KEY_ENV} and put "
        f"{MASTER_KEY_ENV}=sk-<random> in {env_file_name(ctx.spec)} "
        "(sk- + `openssl rand -hex 32`)",
    )


def _effective_key(ctx: CheckContext, value: Any) -> tuple[bool, str | None]:
    """(known, key): what LiteLLM's boot check would see as the master key."""
    if value is None:
        if ctx.env is None:
            return False, None  # --no-env: LITELLM_MASTER_KEY is unknown (checks/implicit_env)
        return True, ctx.env.get(MASTER_KEY_ENV)
    if not isinstance(value, str):
        return False, None  # the schema stage reports the shape
    name = env_ref_name(value)
    if name is None:
        return True, value
    if ctx.env is None:
        return False, None  # --no-env: the referenced value is unknown
    return True, ctx.env.get(name)


def check_master_key_format(ctx: CheckContext) -> Iterable[Finding]:
    value = get_in(ctx.spec.root, *MASTER_KEY_PATH)
    if not isinstance(value, str) or not value.strip():
        return
    name = env_ref_name(value)
    if name is None:
        if not value.startswith(PREFIX):
            yield make(
                ctx, Severity.WARNING, "master-key-format",
                "general_settings.master_key does not start with 'sk-' (LiteLLM serves, but "
                "its key handling expects the prefix)",
                MASTER_KEY_PATH, _FORMAT_HINT,
            )
        return
    resolved = ctx.env.get(name) if ctx.env is not None else None
    if resolved and resolved.strip() and not resolved.startswith(PREFIX):
        # never echo the value: it is the proxy's admin credential
        yield make(
            ctx, Severity.WARNING, "master-key-format",
            f"{name} (general_settings.master_key) does not start with 'sk-' (LiteLLM serves, "
            "but its key handling expects the prefix)",
            MASTER_KEY_PATH, f"set {name}=sk-<random> in {env_file_name(ctx.spec)}; {_FORMAT_HINT}",
        )
