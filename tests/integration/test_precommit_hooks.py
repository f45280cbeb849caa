"""The shipped pre-commit hooks, run by the real `pre-commit` on a scratch git repository.

`pre-commit try-repo` runs this checkout's .pre-commit-hooks.yaml (uncommitted changes
included) against the staged files of a scratch project, as a user's `git commit` would: a
bad change is refused with the located finding, a good one passes. The hooks run the
llmproxy-ops of this venv (language `unsupported`: the one on PATH) with LiteLLM's stage.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from tests.conftest import REPO

pytestmark = pytest.mark.integration

KEY = "sk-Zq8vN2xK7pLm4RtY9wBc3HjD6fPRECOMMIT"
BASE = """\
    general_settings: {master_key: os.environ/LITELLM_MASTER_KEY}
    router_settings: {optional_pre_call_checks: [enforce_model_rate_limits]}
    model_list:
      - model_name: m
        litellm_params: {model: openai/gpt-4o-mini, api_key: dummy, mock_response: hi, rpm: 5}
    """
LITELLM_FILE = """\
    model_list:
      - model_name: m
        litellm_params: {model: openai/gpt-4o-mini, api_key: os.environ/OPENAI_API_KEY}
    """


def git(repo: Path, *args: str) -> None:
    subprocess.run(["git", *args], cwd=repo, check=True, capture_output=True)


@pytest.fixture
def scratch(tmp_path: Path) -> Path:
    repo = tmp_path / "scratch"
    (repo / "configs" / "environments").mkdir(parents=True)
    (repo / "configs" / "base.yaml").write_text(textwrap.dedent(BASE))
    (repo / "configs" / "environments" / "dev.yaml").write_text("layers: [../base.yaml]\n")
    (repo / "configs" / "environments" / "other.yaml").write_text(
        "general_settings: {master_key: os.environ/LITELLM_MASTER_KEY}\nmodel_list: []\n")
    (repo / "deploy").mkdir()
    (repo / "deploy" / "litellm_config.yaml").write_text(textwrap.dedent(LITELLM_FILE))
    (repo / ".env").write_text(f"LITELLM_MASTER_KEY={KEY}\n")
    (repo / ".env").chmod(0o600)
    (repo / ".env.example").write_text("LITELLM_MASTER_KEY=\n")
    (repo / ".gitignore").write_text(".env\nbuild/\n")
    git(repo, "init", "-q", "-b", "main")
    git(repo, "add", ".")
    git(repo, "-c", "user.name=t", "-c", "user.email=t@example.com", "commit", "-q", "-m", "init")
    return repo


def try_repo(repo: Path, hook: str) -> subprocess.CompletedProcess[str]:
    """`pre-commit try-repo` of this checkout's hook on the scratch repo's staged files."""
    env = {**os.environ, "PRE_COMMIT_HOME": str(repo.parent / "pre-commit-home"),
           "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}"}
    env.pop("LITELLM_MASTER_KEY", None)
    pre_commit = shutil.which("pre-commit", path=env["PATH"])
    assert pre_commit, "pre-commit is not installed (the test extra has it)"
    return subprocess.run([pre_commit, "try-repo", str(REPO), hook], cwd=repo, env=env,
                          capture_output=True, text=True, timeout=600, check=False)


def commit_try(repo: Path, path: str, old: str, new: str, hook: str,
               ) -> subprocess.CompletedProcess[str]:
    """Edit `path` (old -> new), stage it and run `hook` on the staged change."""
    file = repo / path
    file.write_text(file.read_text().replace(old, new))
    git(repo, "add", path)
    return try_repo(repo, hook)


def test_the_environment_hook_refuses_a_bad_change_and_passes_a_good_one(scratch: Path):
    refused = commit_try(scratch, "configs/base.yaml", "rpm: 5", "rmp: 5", "llmproxy-ops-validate")
    assert refused.returncode == 1, refused.stdout
    assert ("configs/base.yaml:5:84: error[unknown-key] model_list[0].litellm_params.rmp: "
            "unknown key 'rmp' in model_list[0].litellm_params (hint: did you mean 'rpm'?)"
            ) in refused.stdout
    # the one environment reading base.yaml was checked; the other one was not touched
    assert "environment 'dev': 1 error(s)" in refused.stdout
    assert "environment 'other'" not in refused.stdout
    passed = commit_try(scratch, "configs/base.yaml", "rmp: 5", "rpm: 6", "llmproxy-ops-validate")
    assert passed.returncode == 0, passed.stdout
    assert "llmproxy-ops validate (the environments the commit touches)....." in passed.stdout
    assert passed.stdout.rstrip().endswith("Passed")


def test_the_file_hook_checks_each_litellm_config_alone(scratch: Path):
    config, hook = "deploy/litellm_config.yaml", "llmproxy-ops-validate-litellm-config"
    refused = commit_try(scratch, config, "model: openai/", "model: openia/", hook)
    assert refused.returncode == 1, refused.stdout
    assert ("deploy/litellm_config.yaml:3:22: error[unknown-provider] "
            "model_list[0].litellm_params.model: 'm': unknown provider 'openia'") in refused.stdout
    # alone, the master key LiteLLM reads from its environment is named, not missing
    assert "warning[env-implicit] $: LiteLLM reads LITELLM_MASTER_KEY" in refused.stdout
    passed = commit_try(scratch, config, "openia/gpt-4o-mini", "openai/gpt-4.1-mini", hook)
    assert passed.returncode == 0, passed.stdout
    assert passed.stdout.rstrip().endswith("Passed")
