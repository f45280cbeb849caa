"""`validate config` remembers LiteLLM's verdict on an unchanged config, and only then.

Each run is the real command; `stages.litellm` in its JSON says whether LiteLLM was started
or its cached verdict used. Invalidation by each input is unit-tested (test_probe_cache.py);
here: the whole loop on a project, `--no-cache`, and a changed config after a cached run.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

pytestmark = pytest.mark.integration


@pytest.fixture
def project(tmp_path: Path) -> Path:
    (tmp_path / "configs" / "environments").mkdir(parents=True)
    (tmp_path / ".env").write_text("LITELLM_MASTER_KEY=sk-Zq8vN2xK7pLm4RtY9wBc3HjD6fCACHE\n")
    (tmp_path / ".env").chmod(0o600)
    (tmp_path / ".env.example").write_text("LITELLM_MASTER_KEY=\n")
    (tmp_path / "configs" / "environments" / "dev.yaml").write_text(textwrap.dedent("""\
        general_settings: {master_key: os.environ/LITELLM_MASTER_KEY}
        litellm_settings: {callbacks: [hooks.handler]}
        router_settings: {optional_pre_call_checks: [enforce_model_rate_limits]}
        model_list:
          - model_name: m
            litellm_params: {model: openai/gpt-4o-mini, api_key: dummy, mock_response: hi, rpm: 5}
        """))
    (tmp_path / "configs" / "environments" / "hooks.py").write_text("handler = None\n")
    return tmp_path


def run(project: Path, *args: str) -> tuple[int, dict]:
    env = {k: v for k, v in os.environ.items() if k != "LITELLM_MASTER_KEY"}
    done = subprocess.run(
        [sys.executable, "-m", "llmproxy_ops", "validate", "config", "--env", "dev",
         "--format", "json", *args],
        cwd=project, env=env, capture_output=True, text=True, timeout=300, check=False)
    return done.returncode, json.loads(done.stdout)


def stage(project: Path, *args: str) -> str:
    code, doc = run(project, *args)
    assert (code, doc["findings"]) == (0, []), doc
    return doc["stages"]["litellm"]


def entries(project: Path) -> list[str]:
    folder = project / "build" / ".validate-cache"
    return sorted(p.name for p in folder.iterdir()) if folder.is_dir() else []


def test_a_rerun_uses_the_verdict_and_a_change_starts_litellm_again(project: Path) -> None:
    assert stage(project, "--no-cache") == "started"
    assert entries(project) == []  # --no-cache neither reads nor writes
    assert stage(project) == "started"
    assert len(entries(project)) == 1
    assert stage(project) == "cached"
    layer = project / "configs" / "environments" / "dev.yaml"
    layer.write_text(layer.read_text().replace("rpm: 5", "rpm: 6"))
    assert stage(project) == "started"
    assert stage(project) == "cached"
    hooks = project / "configs" / "environments" / "hooks.py"
    hooks.write_text("handler = 'changed'\n")  # a callback file's content decides too
    assert stage(project) == "started"
    assert stage(project, "--no-cache") == "started"
    assert len(entries(project)) == 3


def test_a_cached_verdict_still_gets_the_current_findings(project: Path) -> None:
    """The cache holds LiteLLM's verdict only: shape and meaning are checked on every run,
    and an environment value (never part of the key) is judged as it is now."""
    assert stage(project) == "started"
    (project / ".env").write_text("LITELLM_MASTER_KEY=sk-1234\n")  # publicly known
    code, doc = run(project)
    assert code == 1 and doc["stages"]["litellm"] == "started"  # weakness class: new key
    assert {f["code"] for f in doc["findings"]} >= {"master-key-refused"}
