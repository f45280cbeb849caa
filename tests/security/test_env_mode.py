"""Finding 20: an env file others can read is an error in production (a warning elsewhere)."""

from __future__ import annotations

from pathlib import Path

import pytest

ENV = """\
model_list:
  - model_name: mock
    litellm_params: {model: openai/mock, mock_response: hi, api_key: dummy}
general_settings: {master_key: os.environ/LITELLM_MASTER_KEY}
"""
KEY = "sk-3x7Lq9VbN2mR8wT4zK6pY1cH5dF0gJ-aE_sU"


@pytest.fixture
def project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "configs/environments").mkdir(parents=True)
    for name in ("prod", "dev"):
        (tmp_path / f"configs/environments/{name}.yaml").write_text(ENV)
    (tmp_path / ".env").write_text(f"LITELLM_MASTER_KEY={KEY}\n")
    (tmp_path / ".env.example").write_text("LITELLM_MASTER_KEY=\n")
    (tmp_path / ".env").chmod(0o644)
    return tmp_path


def test_finding_20_a_readable_env_file_is_an_error_in_production(project: Path, cli) -> None:  # noqa: ANN001
    prod = cli("validate", "config", "--no-litellm-load", "--env", "prod")
    assert prod.exit_code == 1
    assert ("error[env-file-readable] stack.env_file: env file .env is readable by others "
            "(mode 0644); it holds the secrets of a production environment") in prod.output
    dev = cli("validate", "config", "--no-litellm-load", "--env", "dev")
    assert dev.exit_code == 0
    assert "warning[env-file-readable]" in dev.output
    (project / ".env").chmod(0o600)
    assert cli("validate", "config", "--no-litellm-load", "--env", "prod").exit_code == 0
