"""run_checks as a whole: quiet on a valid config, never leaks a secret, survives odd shapes."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from llmproxy_ops.spec import load_files
from llmproxy_ops.validate.context import CheckContext
from llmproxy_ops.validate.semantic import CHECKS, run_checks

VALID = """\
model_list:
  - model_name: claude-sonnet-4-5
    litellm_params:
      model: anthropic/claude-sonnet-4-5
      api_key: os.environ/ANTHROPIC_API_KEY
      rpm: 10
  - model_name: gemini
    litellm_params: {model: gemini/gemini-2.5-flash, api_key: os.environ/GEMINI_API_KEY}
  - model_name: local
    litellm_params:
      {model: lm_studio/qwen3, api_base: "http://127.0.0.1:1234/v1", api_key: lm-studio}
general_settings:
  master_key: os.environ/LITELLM_MASTER_KEY
  database_url: os.environ/DATABASE_URL
litellm_settings:
  success_callback: [mlflow]
router_settings:
  optional_pre_call_checks: [enforce_model_rate_limits]
  redis_host: redis
  fallbacks: [{claude-sonnet-4-5: [gemini]}]
stack:
  workers: 2
  environment: {MLFLOW_TRACKING_URI: "http://mlflow:5000"}
"""
ENV = {
    "ANTHROPIC_API_KEY": "a",
    "GEMINI_API_KEY": "g",
    "LITELLM_MASTER_KEY": "sk-Zq8vN2xK7pLm4RtY9wBc3HjD6fGs1QaE",
    "DATABASE_URL": "postgresql://x",
    "LITELLM_SALT_KEY": "q3Zr8vN2xK7pLm4RtY9wBc",
}

SECRETS = [
    "sk-ant-api03-Zq8vN2xK7pLm4RtY9wBc3HjD6fGs1QaE5uIo0Zq8vN2xK7pLm4RtY",
    "sk-proj-a1B2c3D4e5F6g7H8i9J0kLmNoPqRsTuV",
    "AIzaSyD3f9Kq1LmN8pR2sT6uV0wX4yZ7aB5cE9g",
    "ghp_9fK2mQ7xLp4RtY8wBc3HjD6fGs1QaE5uIo0n",
    "AKIAQ3ZP7XK2M9LT4RWD",
    "9f86d081884c7d659a2feaa0c55ad015",
    "Hk7rTq2Lx9",
    "sk-9f86d081884c7d659a2feaa0c55ad015",
]
LEAKY = f"""\
model_list:
  - model_name: claude
    litellm_params: {{model: anthropic/claude-sonnet-4-5, api_key: {SECRETS[0]}}}
  - model_name: gpt
    litellm_params: {{model: openai/gpt-4o, api_key: {SECRETS[1]}, rpm: 5}}
  - model_name: bedrock
    litellm_params:
      model: bedrock/anthropic.claude-3-5-sonnet-20240620-v1:0
      aws_access_key_id: {SECRETS[4]}
      aws_secret_access_key: {SECRETS[5]}
general_settings:
  master_key: {SECRETS[7]}
  database_url: postgresql://llm:{SECRETS[6]}@db:5432/llm
environment_variables:
  GEMINI_API_KEY: {SECRETS[2]}
  GITHUB_TOKEN: {SECRETS[3]}
litellm_settings:
  success_callback: [langfuse]
"""


def load(tmp_path: Path, text: str) -> CheckContext:
    path = tmp_path / "c.yaml"
    path.write_text(textwrap.dedent(text))
    return CheckContext(load_files([path]))


def test_valid_config_has_no_findings(tmp_path: Path) -> None:
    spec = load(tmp_path, VALID).spec
    assert run_checks(CheckContext(spec, env=ENV, env_example=frozenset(ENV))) == []
    assert run_checks(CheckContext(spec)) == []


def test_findings_never_contain_secret_values(tmp_path: Path) -> None:
    spec = load(tmp_path, LEAKY).spec
    env = {"LITELLM_MASTER_KEY": SECRETS[5], "LANGFUSE_SECRET_KEY": SECRETS[1]}
    findings = run_checks(CheckContext(spec, env=env, env_example=frozenset()))
    codes = [f.code for f in findings]
    assert codes.count("literal-secret") == 8
    assert "rate-limit-not-enforced" in codes and "callback-settings" in codes
    for f in findings:
        text = f"{f.message} {f.hint}"
        assert not any(s in text for s in SECRETS), f


def test_every_check_survives_odd_shapes(tmp_path: Path) -> None:
    ctx = load(
        tmp_path,
        """\
        model_list:
          - just a string
          - model_name: [not, a, name]
            litellm_params: {model: {nested: map}, rpm: fast, api_key: [1, 2]}
          - model_name: no-params
          - litellm_params: null
        general_settings: [master_key]
        router_settings: {fallbacks: {a: b}, optional_pre_call_checks: 7, model_group_alias: 3}
        litellm_settings: {success_callback: mlflow, callbacks: {a: 1}, custom_provider_map: [1]}
        environment_variables: [A, B]
        stack: {workers: "2", env_file: 3, environment: "x=y", runtime: compose, compose: {db: 3, litellm: [1]}}
        guardrails: [1, {litellm_params: 3}, {guardrail_name: g, litellm_params: {guardrail: 5, mode: [x]}}]
        """,
    )
    odd = CheckContext(ctx.spec, env={}, env_example=frozenset())
    # every registered check runs on the odd shapes on its own (a new check is covered the day
    # it is registered); only the guardrail check types values (with LiteLLM's own pydantic
    # model); nothing crashes
    per_check = {check.__name__: list(check(odd)) for check in CHECKS}
    assert len(per_check) == len(CHECKS) > 20
    assert [(f.code, f.message) for f in run_checks(odd)] == [
        ("guardrail-params", "guardrail 'g': guardrail: Input should be a valid string"),
    ]
    top_level_list = load(tmp_path, "model_list: 3\ngeneral_settings: {master_key: 1234}\n")
    assert run_checks(CheckContext(top_level_list.spec, env={}, env_example=frozenset())) == []


@pytest.mark.parametrize("server", ["gunicorn", "granian"])
def test_a_server_the_launcher_cannot_protect_is_a_warning(tmp_path: Path, server: str) -> None:
    ctx = load(tmp_path, f"model_list: []\nstack: {{server: {server}}}\n")
    [finding] = [f for f in run_checks(ctx) if f.code == "server-crash-unprotected"]
    assert finding.message == (
        f"{server}'s workers collect garbage anywhere: under load LiteLLM on CPython 3.11 dies "
        "with SIGSEGV inside ContextVar.set (CPython gh-148891); only uvicorn's workers are "
        "kept to safe points by the launcher")
    assert finding.path == ("stack", "server") and finding.severity.value == "warning"
    uvicorn = load(tmp_path, "model_list: []\nstack: {server: uvicorn}\n")
    assert not [f for f in run_checks(uvicorn) if f.code == "server-crash-unprotected"]
