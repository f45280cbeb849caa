"""What this project relies on LiteLLM doing, checked against the pinned version.

Every check here is a fact the validator, the renderer or the ops commands build on (see
../shared/ENVIRONMENT.md). `make upgrade-litellm` runs this module (marker `litellm_contract`)
right after switching the pin, so an upgrade that changes one of them fails here, by name,
before anything else is trusted.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
import yaml

from tests.integration.conftest import LITELLM_BIN, LiteLLMProcess, run_litellm

pytestmark = [pytest.mark.integration, pytest.mark.litellm_contract]

KEY = "sk-contract-0123456789abcdef0123456789abcdef"
CONFIG = {
    "model_list": [
        {
            "model_name": "limited",
            # mock_response answers without calling any provider
            "litellm_params": {"model": "openai/gpt-4o-mini", "mock_response": "hi", "rpm": 2},
        },
        {
            "model_name": "unlimited",
            "litellm_params": {"model": "openai/gpt-4o-mini", "mock_response": "hello"},
        },
    ],
    # `rmp` is a typo LiteLLM must keep ignoring silently: the validator exists for it
    "router_settings": {"optional_pre_call_checks": ["enforce_model_rate_limits"], "rmp": 10},
    "litellm_settings": {"json_logs": True, "num_retries": 0},
    "general_settings": {"master_key": "os.environ/LITELLM_MASTER_KEY"},
}


def _write(tmp: Path, config: dict[str, object]) -> Path:
    path = tmp / "config.yaml"
    path.write_text(yaml.safe_dump(config, sort_keys=False))
    return path


@pytest.fixture(scope="module")
def proxy(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiteLLMProcess]:
    tmp = tmp_path_factory.mktemp("contract")
    env = {"LITELLM_MASTER_KEY": KEY}
    with run_litellm(_write(tmp, CONFIG), env, tmp / "litellm.log") as running:
        yield running


def _chat(proxy: LiteLLMProcess, model: str, key: str | None = KEY) -> httpx.Response:
    headers = {"Authorization": f"Bearer {key}"} if key else {}
    body = {"model": model, "messages": [{"role": "user", "content": "x"}]}
    return httpx.post(proxy.url + "/v1/chat/completions", json=body, headers=headers, timeout=30)


def test_mock_response_answers_without_a_provider(proxy: LiteLLMProcess) -> None:
    reply = _chat(proxy, "unlimited")
    assert reply.status_code == 200, reply.text
    assert reply.json()["choices"][0]["message"]["content"] == "hello"


def test_deployment_rpm_is_enforced_with_enforce_model_rate_limits(proxy: LiteLLMProcess) -> None:
    codes = [_chat(proxy, "limited").status_code for _ in range(3)]
    assert codes == [200, 200, 429]


def test_requests_without_the_master_key_are_rejected(proxy: LiteLLMProcess) -> None:
    # no database here: the codes are LiteLLM's (see ENVIRONMENT.md); what matters is "not 2xx"
    assert _chat(proxy, "unlimited", key=None).status_code >= 400
    assert _chat(proxy, "unlimited", key="sk-wrong").status_code >= 400


def test_json_logs_write_one_json_object_per_line(proxy: LiteLLMProcess) -> None:
    _chat(proxy, "unlimited", key="sk-wrong")  # logs an auth error
    lines = [ln for ln in proxy.log_tail(200_000).splitlines() if ln.startswith("{")]
    assert lines, proxy.log_tail()
    assert all(isinstance(json.loads(ln), dict) for ln in lines)
    assert any(json.loads(ln).get("level") == "ERROR" for ln in lines)


def test_unknown_router_keys_are_ignored_with_a_log_warning_at_most(proxy: LiteLLMProcess) -> None:
    # served although the config says `rmp`: since 1.108 a WARNING line in the log is all
    # LiteLLM says about a router key (other sections: nothing), so `validate` must stop it
    models = httpx.get(proxy.url + "/v1/models", headers={"Authorization": f"Bearer {KEY}"})
    assert sorted(m["id"] for m in models.json()["data"]) == ["limited", "unlimited"]
    said = [json.loads(ln) for ln in proxy.log_tail(200_000).splitlines() if "rmp" in ln]
    assert [(m["level"], m["message"]) for m in said] == [
        ("WARNING", "Key 'rmp' is not a valid argument for Router.__init__(). Ignoring this key.")
    ]


@pytest.mark.parametrize(
    ("master_key", "env_key", "headline"),
    [
        # empty, not unset: LiteLLM's import loads the nearest .env above its own folder
        # (python-dotenv's find_dotenv), which in a project venv is the project's .env
        (None, "", "the master key is empty."),
        ("sk-1234", KEY, "the master key is a publicly known default."),
    ],
)
def test_an_empty_or_public_master_key_refuses_to_start(
    tmp_path: Path, master_key: str | None, env_key: str, headline: str
) -> None:
    # new in 1.108 (proxy/auth/master_key_boot_check.py): the proxy exits instead of serving
    config: dict[str, object] = {k: v for k, v in CONFIG.items() if k != "general_settings"}
    if master_key:
        config["general_settings"] = {"master_key": master_key}
    done = subprocess.run(
        [str(LITELLM_BIN), "--config", str(_write(tmp_path, config)), "--port", "0"],
        env={**os.environ, "LITELLM_LOCAL_MODEL_COST_MAP": "True", "LITELLM_MASTER_KEY": env_key},
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode != 0
    assert f"LiteLLM proxy refused to start: {headline}" in done.stdout + done.stderr


def test_validate_config_flag_runs_the_config_loader(tmp_path: Path) -> None:
    done = subprocess.run(
        [str(LITELLM_BIN), "--config", str(_write(tmp_path, CONFIG)), "--validate_config"],
        env={**os.environ, "LITELLM_LOCAL_MODEL_COST_MAP": "True", "LITELLM_MASTER_KEY": KEY},
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stdout + done.stderr


def test_pinned_version_is_installed() -> None:
    from importlib.metadata import version

    from llmproxy_ops import LITELLM_PIN

    assert version("litellm") == LITELLM_PIN, sys.executable
