"""duplicate-deployment, rate-limit-*, callback-settings and unknown-model-group."""

from __future__ import annotations

import textwrap
from pathlib import Path

from llmproxy_ops.findings import Finding, Severity
from llmproxy_ops.spec import load_files
from llmproxy_ops.validate.checks.callbacks import check_callback_settings
from llmproxy_ops.validate.checks.deployments import check_duplicate_deployment
from llmproxy_ops.validate.checks.model_groups import check_unknown_model_group
from llmproxy_ops.validate.checks.rate_limits import (
    check_rate_limit_not_enforced,
    check_rate_limit_per_worker,
)
from llmproxy_ops.validate.context import CheckContext


def load(tmp_path: Path, text: str, **kw: object) -> CheckContext:
    path = tmp_path / "c.yaml"
    path.write_text(textwrap.dedent(text))
    return CheckContext(load_files([path]), **kw)  # type: ignore[arg-type]


def where(f: Finding) -> tuple[str, int]:
    return Path(f.location.file).name, f.location.line


def test_duplicate_deployment_points_at_the_first(tmp_path: Path) -> None:
    ctx = load(
        tmp_path,
        """\
        model_list:
          - model_name: claude
            litellm_params: {model: anthropic/claude-sonnet-4-5, api_key: os.environ/K}
          - model_name: claude
            litellm_params: {api_key: os.environ/K, model: anthropic/claude-sonnet-4-5}
          - model_name: claude
            litellm_params: {model: anthropic/claude-sonnet-4-5, api_key: os.environ/K2}
        """,
    )
    [f] = check_duplicate_deployment(ctx)
    assert (f.severity, f.code, where(f)) == (Severity.ERROR, "duplicate-deployment", ("c.yaml", 4))
    assert f.message == "'claude': same model_name and litellm_params as the deployment at line 2"
    assert f.hint == (
        "remove one of them; to send more traffic to a deployment use litellm_params.weight"
    )


RATED = """\
model_list:
  - model_name: fast
    litellm_params: {model: openai/gpt-4o, rpm: 10}
  - model_name: slow
    litellm_params: {model: openai/gpt-4o-mini, tpm: 1000}
  - model_name: free
    litellm_params: {model: openai/gpt-4o}
"""


def test_rate_limit_not_enforced(tmp_path: Path) -> None:
    [f] = check_rate_limit_not_enforced(load(tmp_path, RATED))
    assert (f.severity, f.code, where(f)) == (
        Severity.WARNING,
        "rate-limit-not-enforced",
        ("c.yaml", 3),
    )
    assert f.message == (
        "rpm/tpm of fast, slow are not enforced: LiteLLM uses them only for routing and "
        "weights and does not reject requests above them"
    )
    assert f.hint == "add 'enforce_model_rate_limits' to router_settings.optional_pre_call_checks"
    enforced = RATED + "router_settings:\n  optional_pre_call_checks: [enforce_model_rate_limits]\n"
    assert list(check_rate_limit_not_enforced(load(tmp_path, enforced))) == []


def test_rate_limit_per_worker_only_where_no_redis_is_shared(tmp_path: Path) -> None:
    base = RATED + "router_settings:\n  optional_pre_call_checks: [enforce_model_rate_limits]\n"
    off = "stack:\n  workers: 4\n  local: {redis: {enabled: false}}\n"
    [f] = check_rate_limit_per_worker(load(tmp_path, base + off))
    assert (f.severity, f.code, where(f)) == (
        Severity.WARNING,
        "rate-limit-per-worker",
        ("c.yaml", 12),  # the switch that turned the deployment's Redis off
    )
    assert f.message == (
        "rpm/tpm of fast, slow are counted per worker: with 4 workers and no Redis the "
        "effective limit is 4 × the configured value"
    )
    assert f.hint == (
        "remove stack.local.redis.enabled: false (the deployment then brings a Redis), "
        "set router_settings.redis_host/redis_port (or redis_url) so workers share counters, "
        "or divide the limits by 4"
    )
    replicas = "stack:\n  runtime: compose\n  compose: {redis: {enabled: false}, litellm: {replicas: 3}}\n"
    [f] = check_rate_limit_per_worker(load(tmp_path, base + replicas))
    assert f.message == (
        "rpm/tpm of fast, slow are counted per LiteLLM process: with 3 processes (workers × "
        "replicas) and no Redis the effective limit is 3 × the configured value"
    )
    # the deployment brings its Redis (every runtime that starts LiteLLM), or the user's
    assert list(check_rate_limit_per_worker(load(tmp_path, base + "stack:\n  workers: 4\n"))) == []
    redis = base + "  redis_host: localhost\n" + off
    assert list(check_rate_limit_per_worker(load(tmp_path, redis))) == []
    assert list(check_rate_limit_per_worker(load(tmp_path, base))) == []  # one worker


MLFLOW = """\
litellm_settings:
  success_callback: [mlflow]
  failure_callback: [mlflow, langfuse]
"""


def test_callback_settings_with_env(tmp_path: Path) -> None:
    env = {"LANGFUSE_PUBLIC_KEY": "pk", "LANGFUSE_SECRET_KEY": "sk"}
    found = list(check_callback_settings(load(tmp_path, MLFLOW, env=env)))
    assert [(f.severity, f.code, f.message, f.hint, where(f)) for f in found] == [
        (
            Severity.ERROR,
            "callback-settings",
            "callback 'mlflow' needs MLFLOW_TRACKING_URI, which is not set",
            "set MLFLOW_TRACKING_URI in .env, environment_variables or stack.environment",
            ("c.yaml", 2),
        ),
    ]


def test_callback_settings_without_env_is_a_warning_from_config_sources(tmp_path: Path) -> None:
    found = list(check_callback_settings(load(tmp_path, MLFLOW)))
    assert [(f.severity, f.message) for f in found] == [
        (Severity.WARNING, "callback 'mlflow' needs MLFLOW_TRACKING_URI, which is not set"),
        (Severity.WARNING, "callback 'langfuse' needs LANGFUSE_PUBLIC_KEY, which is not set"),
        (Severity.WARNING, "callback 'langfuse' needs LANGFUSE_SECRET_KEY, which is not set"),
    ]
    configured = MLFLOW.replace("  failure_callback: [mlflow, langfuse]\n", "") + (
        "environment_variables: {MLFLOW_TRACKING_URI: 'http://mlflow:5000'}\n"
    )
    assert list(check_callback_settings(load(tmp_path, configured))) == []
    in_stack = (
        "litellm_settings:\n  callbacks: [mlflow]\n"
        "stack:\n  environment: {MLFLOW_TRACKING_URI: x}\n"
    )
    assert list(check_callback_settings(load(tmp_path, in_stack))) == []


GROUPS = """\
model_list:
  - model_name: claude-sonnet
    litellm_params: {model: anthropic/claude-sonnet-4-5}
  - model_name: gpt-4o
    litellm_params: {model: openai/gpt-4o}
  - model_name: "openai/*"
    litellm_params: {model: "openai/*"}
router_settings:
  fallbacks:
    - claude-sonnet: [gpt-4o, openai/gpt-4.1]
    - "*": [claude-sonet]
  context_window_fallbacks: [{gpt-4o: [claude-sonnet]}]
  model_group_alias: {claude: claude-sonnet, gpt: {model: gpt4o, hidden: true}}
litellm_settings:
  default_fallbacks: [claude]
"""


def test_unknown_model_groups(tmp_path: Path) -> None:
    found = list(check_unknown_model_group(load(tmp_path, GROUPS)))
    assert [(f.severity, f.code, f.message, f.hint, where(f)) for f in found] == [
        (
            Severity.ERROR,
            "unknown-model-group",
            "router_settings.fallbacks names model group "
            "'claude-sonet', which no model_list entry defines",
            "did you mean 'claude-sonnet'?",
            ("c.yaml", 11),
        ),
        (
            Severity.ERROR,
            "unknown-model-group",
            "router_settings.model_group_alias names model "
            "group 'gpt4o', which no model_list entry defines",
            "did you mean 'gpt-4o'?",
            ("c.yaml", 13),
        ),
    ]


def test_odd_shapes_do_not_crash(tmp_path: Path) -> None:
    ctx = load(
        tmp_path,
        """\
        model_list: {a: 1}
        router_settings:
          fallbacks: [gpt-4o, {"*": 3}, [1]]
          optional_pre_call_checks: enforce_model_rate_limits
          model_group_alias: [a]
        litellm_settings: [1]
        stack: {workers: many, environment: [1]}
        """,
    )
    checks = (
        check_duplicate_deployment,
        check_rate_limit_not_enforced,
        check_rate_limit_per_worker,
        check_callback_settings,
        check_unknown_model_group,
    )
    assert [f for check in checks for f in check(ctx)] == []
