"""Stage 2 of `validate`: semantic checks over the merged spec, in a fixed order.

Checks tolerate any shape (the schema stage reports shapes), so nothing here catches:
an exception from a check is a bug and must surface as one.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable

from llmproxy_ops.findings import Finding
from llmproxy_ops.validate.checks.callback_modules import check_callback_modules
from llmproxy_ops.validate.checks.callbacks import check_callback_settings
from llmproxy_ops.validate.checks.compose import (
    check_compose_env,
    check_mlflow_published,
    check_stack_redis_env,
)
from llmproxy_ops.validate.checks.copilot import check_copilot_runtime
from llmproxy_ops.validate.checks.deployments import check_duplicate_deployment
from llmproxy_ops.validate.checks.env import check_env_missing, check_env_undocumented
from llmproxy_ops.validate.checks.guardrails import check_guardrail_params
from llmproxy_ops.validate.checks.implicit_env import check_implicit_env
from llmproxy_ops.validate.checks.master_key import (
    check_master_key_boot,
    check_master_key_format,
)
from llmproxy_ops.validate.checks.memory_guard import check_workers_max_rss
from llmproxy_ops.validate.checks.metrics import check_metrics
from llmproxy_ops.validate.checks.model_groups import check_unknown_model_group
from llmproxy_ops.validate.checks.providers import check_unknown_model, check_unknown_provider
from llmproxy_ops.validate.checks.rate_limits import (
    check_rate_limit_not_enforced,
    check_rate_limit_per_worker,
)
from llmproxy_ops.validate.checks.salt_key import check_salt_key
from llmproxy_ops.validate.checks.secrets import check_literal_secret, check_weak_demo_key
from llmproxy_ops.validate.checks.server import check_server_crash_unprotected
from llmproxy_ops.validate.checks.shell_refs import check_shell_env_reference
from llmproxy_ops.validate.checks.target import check_target
from llmproxy_ops.validate.checks.unread import check_unread_setting
from llmproxy_ops.validate.checks.weak_secrets import check_env_file_mode, check_weak_master_key
from llmproxy_ops.validate.context import CheckContext

Check = Callable[[CheckContext], Iterable[Finding]]

CHECKS: tuple[Check, ...] = (
    check_env_missing,
    check_env_undocumented,
    check_shell_env_reference,
    check_unread_setting,
    check_literal_secret,
    check_weak_demo_key,
    check_master_key_format,
    check_weak_master_key,
    check_env_file_mode,
    check_master_key_boot,
    check_implicit_env,
    check_unknown_provider,
    check_unknown_model,
    check_duplicate_deployment,
    check_rate_limit_not_enforced,
    check_rate_limit_per_worker,
    check_callback_settings,
    check_metrics,
    check_callback_modules,
    check_unknown_model_group,
    check_guardrail_params,
    check_compose_env,
    check_mlflow_published,
    check_stack_redis_env,
    check_salt_key,
    check_copilot_runtime,
    check_target,  # the target's own checks (targets/<name>/checks.py)
    check_server_crash_unprotected,
    check_workers_max_rss,
)


def run_checks(ctx: CheckContext) -> list[Finding]:
    """Every finding of every check, in check order then document order."""
    return [finding for check in CHECKS for finding in check(ctx)]
