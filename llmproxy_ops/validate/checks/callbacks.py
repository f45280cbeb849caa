"""callback-settings: logging callbacks that cannot work without their environment variables.

The table lists what LiteLLM 1.108.7's integrations read at start (they raise or log and drop
events without them); mlflow's tracking URI is our deployments' requirement (without it mlflow
writes to a local ./mlruns folder inside the container, which nobody reads).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator

from llmproxy_ops.findings import Finding, JsonPath, Severity
from llmproxy_ops.validate.checks._common import env_file_name, get_in, make, stack_settings
from llmproxy_ops.validate.context import CheckContext

CALLBACK_ENV: dict[str, tuple[str, ...]] = {
    "mlflow": ("MLFLOW_TRACKING_URI",),
    "langfuse": ("LANGFUSE_PUBLIC_KEY", "LANGFUSE_SECRET_KEY"),  # integrations/langfuse
    "datadog": ("DD_API_KEY", "DD_SITE"),  # integrations/datadog/datadog.py raises without them
    "braintrust": ("BRAINTRUST_API_KEY",),  # braintrust_logging.validate_environment
    "lago": ("LAGO_API_KEY", "LAGO_API_BASE", "LAGO_API_EVENT_CODE"),  # lago.py
    "openmeter": ("OPENMETER_API_KEY",),  # openmeter.py
    "posthog": ("POSTHOG_API_KEY",),  # posthog.py
}
CALLBACK_KEYS = ("success_callback", "failure_callback", "callbacks")


def configured_callbacks(ctx: CheckContext) -> Iterator[tuple[str, JsonPath]]:
    """(callback name, path) for every string callback in litellm_settings."""
    for key in CALLBACK_KEYS:
        value = get_in(ctx.spec.root, "litellm_settings", key)
        if isinstance(value, list):
            for i, item in enumerate(value):
                if isinstance(item, str):
                    yield item, ("litellm_settings", key, i)


def config_env_names(ctx: CheckContext) -> set[str]:
    """Variables the config itself sets: environment_variables and stack.environment."""
    names: set[str] = set()
    section = get_in(ctx.spec.root, "environment_variables")
    if isinstance(section, dict):
        names.update(str(k) for k, v in section.items() if v not in (None, ""))
    stack = stack_settings(ctx.spec)
    if stack is not None:
        names.update(k for k, v in stack.environment.items() if v)
    return names


def check_callback_settings(ctx: CheckContext) -> Iterable[Finding]:
    available = config_env_names(ctx)
    if ctx.env is not None:
        available.update(k for k, v in ctx.env.items() if v)
    severity = Severity.ERROR if ctx.env is not None else Severity.WARNING
    reported: set[tuple[str, str]] = set()
    for name, path in configured_callbacks(ctx):
        for var in CALLBACK_ENV.get(name, ()):
            if var in available or (name, var) in reported:
                continue
            reported.add((name, var))
            yield make(
                ctx,
                severity,
                "callback-settings",
                f"callback '{name}' needs {var}, which is not set",
                path,
                f"set {var} in {env_file_name(ctx.spec)}, "
                "environment_variables or stack.environment",
            )
