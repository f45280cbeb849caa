"""A file validated alone: what LiteLLM reads from the environment by itself is unknown, not
missing (issue 22, 3): a warning naming it; a project environment lacking it is an error."""

from __future__ import annotations

import textwrap
from pathlib import Path

from llmproxy_ops.findings import format_path
from llmproxy_ops.spec import load_files
from llmproxy_ops.validate import validate_spec
from llmproxy_ops.validate.checks.implicit_env import implicit_names
from llmproxy_ops.validate.litellm_load import job_env

MODELS = """\
model_list:
  - model_name: m
    litellm_params: {model: openai/gpt-4o-mini, api_key: dummy, mock_response: hi}
router_settings: {optional_pre_call_checks: [enforce_model_rate_limits]}
"""


def findings(tmp_path: Path, text: str, env: dict[str, str] | None = None):
    path = tmp_path / "c.yaml"
    path.write_text(textwrap.dedent(text) + MODELS)
    result = validate_spec(load_files([path]), env=env)
    return [(f.severity.value, f.code, format_path(f.path), f.message) for f in result.sorted]


def test_no_master_key_alone_is_a_warning_naming_the_variable(tmp_path: Path) -> None:
    assert findings(tmp_path, "general_settings: {}\n") == [(
        "warning", "env-implicit", "general_settings",
        "LiteLLM reads LITELLM_MASTER_KEY from its environment: general_settings.master_key is "
        "not set (LiteLLM refuses to start without a master key); this file needs it where it "
        "runs (not checked: no environment was given)",
    )]


def test_no_master_key_in_a_known_environment_stays_an_error(tmp_path: Path) -> None:
    got = findings(tmp_path, "general_settings: {}\n", env={})
    assert [(s, c) for s, c, _, _ in got] == [("error", "master-key-refused")]
    assert findings(tmp_path, "general_settings: {}\n",
                    env={"LITELLM_MASTER_KEY": "sk-Zq8vN2xK7pLm4RtY9wBc3HjD6f"}) == []


def test_a_publicly_known_key_in_the_file_is_still_refused_alone(tmp_path: Path) -> None:
    got = findings(tmp_path, "general_settings: {master_key: sk-1234}\n")
    assert ("error", "master-key-refused") in [(s, c) for s, c, _, _ in got]


def test_the_caches_redis_and_the_models_database(tmp_path: Path) -> None:
    text = """\
        general_settings: {master_key: os.environ/MK, store_model_in_db: true}
        litellm_settings: {cache: true}
        """
    got = [(c, p, m.split(":")[0]) for _, c, p, m in findings(tmp_path, text)]
    assert got == [
        ("env-implicit", "general_settings.store_model_in_db", "LiteLLM reads DATABASE_URL from its environment"),
        ("env-implicit", "litellm_settings.cache",
         "LiteLLM reads REDIS_HOST and REDIS_PORT (or REDIS_URL) from its environment"),
    ]
    # a host in cache_params, a database_url, or environment_variables: nothing implicit
    assert implicit_names({"general_settings": {"master_key": "x"}, "litellm_settings": {
        "cache": True, "cache_params": {"type": "redis", "host": "r"}}}) == []
    assert implicit_names({"environment_variables": {"LITELLM_MASTER_KEY": "sk-x"}}) == []
    assert implicit_names({"general_settings": {"master_key": "x"}, "litellm_settings": {
        "cache": True, "cache_params": {"type": "local"}}}) == []


def test_litellm_gets_stand_ins_for_them_when_the_environment_is_unknown() -> None:
    config = {"litellm_settings": {"cache": True}}
    alone = job_env(config, None)
    assert {"LITELLM_MASTER_KEY", "REDIS_HOST", "REDIS_PORT"} <= set(alone.values)
    assert alone.decisive["LITELLM_MASTER_KEY"] == "strong"
    known = job_env(config, {})  # a project environment: missing stays missing
    assert {"LITELLM_MASTER_KEY"} <= set(known.unset) and "REDIS_HOST" not in known.values
