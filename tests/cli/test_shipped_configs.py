"""Every shipped environment and both seed examples validate clean and render."""

from __future__ import annotations

from pathlib import Path

import pytest

from llmproxy_ops.envfile import example_names
from llmproxy_ops.spec import load_environment
from llmproxy_ops.spec.resolve import available_environments
from tests.conftest import REPO

CONFIG_DIRS = [REPO / "configs", REPO / "configs/examples/claude-gateway", REPO / "configs/examples/home-gateway"]
SHIPPED = [(d, e) for d in CONFIG_DIRS for e in available_environments(d)]


@pytest.fixture
def full_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """An env file giving every variable .env.example documents a plausible value."""
    monkeypatch.chdir(REPO)
    for name in example_names(REPO / ".env.example"):
        monkeypatch.delenv(name, raising=False)
    values = {name: f"test-value-{name.lower()}" for name in example_names(REPO / ".env.example")}
    values["LITELLM_MASTER_KEY"] = "sk-test-Zq8vN2xK7pLm4RtY9wBc3HjD6f"
    env_file = tmp_path / "test.env"
    env_file.write_text("".join(f"{k}={v}\n" for k, v in values.items()), encoding="utf-8")
    env_file.chmod(0o600)  # as `init` writes it: readable by others is a warning
    return env_file


@pytest.mark.parametrize(("configs", "env"), SHIPPED, ids=[f"{d.name}:{e}" for d, e in SHIPPED])
def test_shipped_environment_validates_clean_and_renders(cli, full_env, tmp_path, configs, env):
    rel = str(configs.relative_to(REPO))
    result = cli("validate", "config", "--no-litellm-load", "--configs", rel, "--env", env, "--env-file", str(full_env))
    assert result.exit_code == 0, result.output
    findings = [ln for ln in result.output.splitlines() if "warning[" in ln or "error[" in ln]
    # clean but for one: a local Copilot environment before its `copilot login` (ops/copilot.py)
    assert [ln for ln in findings if "warning[copilot-not-logged-in]" not in ln] == [], result.output
    # stage 3: the pinned LiteLLM starts on it. Compose environments use the mlflow callback,
    # which the stack's image installs (litellm[proxy,mlflow]) and this venv does not.
    started = cli("validate", "config", "--configs", rel, "--env", env, "--env-file", str(full_env))
    assert started.exit_code == 0, started.output
    warned = [ln for ln in started.output.splitlines() if "warning[litellm-start]" in ln]
    assert all(
        "cannot start here: Could not build the 'mlflow' callback configured in litellm_settings: "
        "No module named 'mlflow'" in ln for ln in warned
    ), warned
    out = tmp_path / "build"
    rendered = cli("render", "--configs", rel, "--env", env, "--env-file", str(full_env), "--out", str(out))
    assert rendered.exit_code == 0, rendered.output
    assert (out / "config.yaml").is_file()
    secrets = {line.split("=", 1)[1] for line in full_env.read_text().splitlines()}
    for path in out.iterdir():
        text = path.read_text(encoding="utf-8")
        assert not [s for s in secrets if s in text], f"{path.name} contains an env value"


def test_the_seeds_rpd_is_reported_with_what_to_use_instead(cli, tmp_path, full_env):
    home = REPO / "configs/examples/home-gateway"
    overlay = tmp_path / "seed-overlay.yaml"
    overlay.write_text(
        f"layers: [{home}/environments/prod.yaml]\n"
        "model_list:\n"
        "  - model_name: google/gemini-2.5-pro\n"
        "    litellm_params: {model: gemini/gemini-2.5-pro, rpd: 50}\n",
        encoding="utf-8",
    )
    result = cli("validate", "config", "--no-litellm-load", "--env-file", str(full_env), str(overlay))
    assert result.exit_code == 1
    [line] = [ln for ln in result.output.splitlines() if "error[" in ln]
    assert line.startswith(f"{overlay}:4:52: error[unknown-key] model_list[1].litellm_params.rpd: unknown key 'rpd'")
    assert "LiteLLM has no requests-per-day limit" in line
    assert "rpd: 50" in (home / "providers/gemini.yaml").read_text()  # the example says what to use instead


def test_examples_reproduce_the_seed_deployments():
    claude = load_environment(REPO / "configs/examples/claude-gateway", "prod")
    assert claude.model_groups() == ["claude-sonnet-4-5-20250929", "claude-haiku-4-5-20251001"]
    assert claude.litellm_config()["litellm_settings"]["request_timeout"] == 600
    home = load_environment(REPO / "configs/examples/home-gateway", "prod").litellm_config()
    params = {(m["model_name"], m["litellm_params"]["model"]): m["litellm_params"] for m in home["model_list"]}
    assert params[("openai/gpt-oss-20b-or", "openrouter/openai/gpt-oss-20b:free")]["rpm"] == 18
    assert params[("google/gemini-2.5-pro", "gemini/gemini-2.5-pro")]["tpm"] == 125000
    assert params[("openai/gpt-4o-mini", "github/gpt-4o-mini")]["rpm"] == 2
    copilot = params[("openai/gpt-4o-mini", "github_copilot/gpt-4o-mini-2024-07-18")]
    assert copilot["extra_headers"]["Copilot-Integration-Id"] == "vscode-chat"
    assert params[("gemma-3-12b", "lm_studio/google/gemma-3-12b")]["api_base"] == "os.environ/LM_STUDIO_API_BASE"
    assert home["litellm_settings"]["success_callback"] == ["mlflow"]
    assert home["litellm_settings"]["drop_params"] is True
    assert home["general_settings"]["master_key"] == "os.environ/LITELLM_MASTER_KEY"
