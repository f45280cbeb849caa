"""The LiteLLM stage's cache: keyed by what decides the verdict, private, never a secret."""

from __future__ import annotations

import json
import os
import stat
import textwrap
from pathlib import Path

import pytest

from llmproxy_ops.spec import load_files
from llmproxy_ops.validate import probe_cache
from llmproxy_ops.validate.litellm_load import plan_probe
from llmproxy_ops.validate.probe_cache import ProbeCache, cache_key
from llmproxy_ops.validate.probe_server import ProbeResult

STRONG = "sk-Zq8vN2xK7pLm4RtY9wBc3HjD6fCACHEtest"
CONFIG = """\
    general_settings: {master_key: os.environ/LITELLM_MASTER_KEY}
    litellm_settings: {callbacks: [hooks.handler, llmproxy_auth_status.handler]}
    model_list:
      - model_name: m
        litellm_params: {model: openai/gpt-4o-mini, api_key: os.environ/OPENAI_API_KEY, rpm: 5}
    """
SERVES = ProbeResult("spec", True, 200, ("m",))


@pytest.fixture
def project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "c.yaml").write_text(textwrap.dedent(CONFIG))
    (tmp_path / "hooks.py").write_text("handler = None\n")
    return tmp_path


def key(project: Path, env: dict[str, str] | None = None) -> str:
    env = {"LITELLM_MASTER_KEY": STRONG, "OPENAI_API_KEY": "sk-openai-real"} if env is None else env
    return cache_key(plan_probe(load_files([project / "c.yaml"]), env))


def test_a_stored_verdict_is_found_again_and_nothing_else_is(project: Path) -> None:
    cache = ProbeCache(project / "build")
    plan = plan_probe(load_files([project / "c.yaml"]), {"LITELLM_MASTER_KEY": STRONG})
    assert cache.get(plan) is None
    assert cache.put(plan, SERVES)
    assert cache.get(plan) == SERVES


def test_each_input_that_decides_the_verdict_changes_the_key(project, monkeypatch) -> None:
    base = key(project)
    # the same inputs, another run: the same key (the master key's stand-in is random)
    assert key(project) == base
    # a value of the environment is no input (LiteLLM gets dummies), its name is
    assert key(project, {"LITELLM_MASTER_KEY": STRONG, "OPENAI_API_KEY": "other"}) == base
    assert key(project, {"LITELLM_MASTER_KEY": STRONG}) != base
    assert key(project, {"LITELLM_MASTER_KEY": STRONG, "OPENAI_API_KEY": "x", "NEW": "y"}) == base
    # ...except the master key's weakness (LiteLLM's boot check), by class
    assert key(project, {"LITELLM_MASTER_KEY": "sk-1234", "OPENAI_API_KEY": "x"}) != base
    # the rendered config
    text = (project / "c.yaml").read_text()
    (project / "c.yaml").write_text(text.replace("rpm: 5", "rpm: 6"))
    assert key(project) != base
    (project / "c.yaml").write_text(text)
    assert key(project) == base
    # a callback file's content
    (project / "hooks.py").write_text("handler = 1\n")
    assert key(project) != base
    (project / "hooks.py").write_text("handler = None\n")
    # the installed LiteLLM
    monkeypatch.setattr(probe_cache, "installed_litellm", lambda: "1.109.0")
    assert key(project) != base


def test_files_are_private_and_hold_no_value_of_the_environment(project: Path) -> None:
    cache = ProbeCache(project / "build")
    env = {"LITELLM_MASTER_KEY": STRONG, "OPENAI_API_KEY": "sk-openai-real-value"}
    plan = plan_probe(load_files([project / "c.yaml"]), env)
    assert cache.put(plan, SERVES, env.values())
    folder = project / "build" / ".validate-cache"
    assert stat.S_IMODE(folder.stat().st_mode) == 0o700
    [entry] = folder.iterdir()
    assert stat.S_IMODE(entry.stat().st_mode) == 0o600
    text = entry.read_text()
    assert STRONG not in text and "sk-openai-real-value" not in text
    assert json.loads(text)["inputs"]["env_names"] == ["LITELLM_MASTER_KEY", "OPENAI_API_KEY"]


def test_a_verdict_holding_a_secret_is_not_written(project: Path) -> None:
    cache = ProbeCache(project / "build")
    plan = plan_probe(load_files([project / "c.yaml"]), {"LITELLM_MASTER_KEY": STRONG})
    leaky = ProbeResult("spec", False, error_type="ValueError", message=f"bad key {STRONG}")
    assert not cache.put(plan, leaky, [STRONG])
    assert cache.get(plan) is None


def test_entries_that_are_links_or_readable_by_others_are_ignored(project: Path) -> None:
    cache = ProbeCache(project / "build")
    plan = plan_probe(load_files([project / "c.yaml"]), {"LITELLM_MASTER_KEY": STRONG})
    cache.put(plan, SERVES)
    [entry] = (project / "build" / ".validate-cache").iterdir()
    entry.chmod(0o644)
    assert cache.get(plan) is None
    entry.chmod(0o600)
    real = entry.with_name("real.json")
    entry.rename(real)
    entry.symlink_to(real)
    assert cache.get(plan) is None
    entry.unlink()
    real.rename(entry)
    assert cache.get(plan) == SERVES


def test_a_folder_that_is_a_link_is_never_written_through(project: Path, tmp_path: Path) -> None:
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir(mode=0o700)
    (project / "build").mkdir()
    (project / "build" / ".validate-cache").symlink_to(elsewhere)
    plan = plan_probe(load_files([project / "c.yaml"]), {"LITELLM_MASTER_KEY": STRONG})
    assert not ProbeCache(project / "build").put(plan, SERVES)
    assert os.listdir(elsewhere) == []
