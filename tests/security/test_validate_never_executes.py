"""`validate config` never runs Python from the config's folder or the project (issue 23, 3).

A config from a pull request may name a callback module it ships beside itself; LiteLLM
imports such modules (get_instance_fn), and before the fix the validator's LiteLLM stage did
too, from the config's folder, with the project's `.env` in reach. Here every planted module
would leave a marker file (with the `.env` it read) if it ran: beside the environment file, in
the project folder (LiteLLM puts the working folder on sys.path), as sitecustomize there, and
on the caller's PYTHONPATH under the name the config asks for (the caller's own interpreter
honours its PYTHONPATH; the LiteLLM stage must not). The LiteLLM stage still starts for real
(the shipped hook included).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from llmproxy_ops.validate.probe_server import (
    ProbeJob,
    ProbeServer,
    probe_command,
    probe_environment,
)

pytestmark = pytest.mark.integration

STRONG_KEY = "sk-Zq8vN2xK7pLm4RtY9wBc3HjD6fPROJECTenv"


def evil(marker: Path, project: Path) -> str:
    """A module that, if it ever runs, writes `marker` with the project's .env in it."""
    return textwrap.dedent(f"""\
        import pathlib
        env = pathlib.Path({str(project / '.env')!r})
        pathlib.Path({str(marker)!r}).write_text(env.read_text() if env.exists() else "ran")
        handler = object()
        """)


@pytest.fixture
def project(tmp_path: Path) -> Path:
    root = tmp_path / "project"
    (root / "configs" / "environments").mkdir(parents=True)
    (root / ".env").write_text(f"LITELLM_MASTER_KEY={STRONG_KEY}\n")
    (root / ".env").chmod(0o600)
    (root / ".env.example").write_text("LITELLM_MASTER_KEY=\n")
    (root / "configs" / "environments" / "pr.yaml").write_text(textwrap.dedent("""\
        general_settings: {master_key: os.environ/LITELLM_MASTER_KEY}
        litellm_settings:
          callbacks: [llmproxy_auth_status.handler, beside.handler, rootmod.handler]
        model_list:
          - model_name: m
            litellm_params: {model: openai/gpt-4o-mini, api_key: dummy, mock_response: hi}
        """))
    return root


def plant(project: Path, tmp_path: Path) -> list[Path]:
    """Modules in every place the old stage (or a careless one) would run them from."""
    on_path = tmp_path / "on-pythonpath"
    on_path.mkdir()
    places = {
        project / "configs" / "environments" / "beside.py": "beside",
        project / "rootmod.py": "rootmod",
        project / "sitecustomize.py": "site-project",
        project / "configs" / "environments" / "sitecustomize.py": "site-config",
        on_path / "rootmod.py": "rootmod-pythonpath",
    }
    markers = []
    for path, name in places.items():
        marker = tmp_path / f"MARKER-{name}"
        path.write_text(evil(marker, project))
        markers.append(marker)
    return markers


def validate(project: Path, tmp_path: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": str(tmp_path / "on-pythonpath")}
    env.pop("LITELLM_MASTER_KEY", None)
    return subprocess.run(
        [sys.executable, "-m", "llmproxy_ops", "validate", "config", "--env", "pr",
         "--format", "json", *args],
        cwd=project, env=env, capture_output=True, text=True, timeout=300, check=False,
    )


def test_planted_modules_never_run_and_litellm_still_starts(project: Path, tmp_path: Path):
    markers = plant(project, tmp_path)
    done = validate(project, tmp_path, "--no-cache")
    assert [m.name for m in markers if m.exists()] == []
    doc = json.loads(done.stdout)
    assert doc["stages"] == {"litellm": "started"}
    # the module beside the config was read (it defines `handler`); the one in the project
    # folder is not where LiteLLM's config loader looks, and is not installed: refused
    assert [(f["code"], f["path"], f["line"]) for f in doc["findings"]] == [
        ("callback-module", "litellm_settings.callbacks[2]", 3)]
    assert doc["findings"][0]["message"] == (
        "LiteLLM cannot load 'rootmod.handler': module 'rootmod' is neither beside the config "
        "(configs/environments/rootmod.py) nor installed")


def test_the_confinement_holds_without_the_stand_ins(tmp_path: Path):
    """The probe process itself refuses code from a folder it was not told to trust: LiteLLM
    finds `beside.py` next to the config and its loader runs it, unless confined."""
    folder = tmp_path / "cfg"
    folder.mkdir()
    marker = tmp_path / "MARKER-probe"
    (folder / "beside.py").write_text(evil(marker, tmp_path))
    config = folder / "config.yaml"
    config.write_text(textwrap.dedent("""\
        general_settings: {master_key: os.environ/LITELLM_MASTER_KEY}
        litellm_settings: {callbacks: [beside.handler]}
        model_list:
          - model_name: m
            litellm_params: {model: openai/gpt-4o-mini, api_key: dummy, mock_response: hi}
        """))
    job = ProbeJob("j", config, {"LITELLM_MASTER_KEY": STRONG_KEY})
    with ProbeServer(timeout=60) as server:
        result = server.run([job])["j"]
    assert not marker.exists()
    assert not result.serves
    assert "validation never executes user code" in result.message, result


def test_the_probe_process_is_isolated():
    command = probe_command()
    assert command[:2] == [sys.executable, "-I"]  # no PYTHONPATH, no cwd on sys.path
    env = probe_environment()
    assert env["LITELLM_MODE"] == "PRODUCTION"  # LiteLLM's import loads no .env
    assert not {"PYTHONPATH", "LITELLM_MASTER_KEY", "DATABASE_URL"} & set(env)
