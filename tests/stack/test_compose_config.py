"""Every shipped compose environment renders a file Docker Compose accepts, compose-lint
finds nothing high in, and which never shows a secret value (not even interpolated, not
even with the values in the environment `docker compose` runs with)."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from llmproxy_ops.render.build import render_build
from llmproxy_ops.spec import load_environment
from llmproxy_ops.targets.compose.project import secret_environment
from tests.conftest import DISTINCT_SECRETS, REPO

pytestmark = pytest.mark.stack

SHIPPED = [("configs", "ci"), ("configs", "prod"), ("configs/examples/home-gateway", "prod")]
SECRETS = DISTINCT_SECRETS


def _render(configs: str, env: str, tmp_path: Path) -> Path:
    env_file = tmp_path / ".env"
    env_file.write_text("".join(f"{k}={v}\n" for k, v in SECRETS.items()), encoding="utf-8")
    (tmp_path / "certs").mkdir(exist_ok=True)
    out = tmp_path / "build" / env
    render_build(load_environment(REPO / configs, env), out, env_file=env_file)
    return out / "docker-compose.yml"


@pytest.mark.parametrize(("configs", "env"), SHIPPED)
def test_docker_compose_config_accepts_it_and_shows_no_secret(configs, env, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)  # certs/ and build/ relative to the project root
    compose = _render(configs, env, tmp_path)
    base = ["docker", "compose", "-f", str(compose)]
    quiet = subprocess.run([*base, "config", "--quiet"], capture_output=True, text=True, check=False)
    assert (quiet.returncode, quiet.stderr) == (0, "")
    # the values as the runtime hands them to `docker compose` (its environment)
    env = {**os.environ, **secret_environment(compose, SECRETS)}
    full = subprocess.run([*base, "config"], capture_output=True, text=True, check=True,
                          env=env).stdout
    assert "environment: POSTGRES_PASSWORD" in full  # a secret, named...
    files = "".join(p.read_text() for p in compose.parent.iterdir())
    for value in SECRETS.values():
        assert value not in files  # ...no value in a rendered file
        assert value not in full  # ...nor in what `config` shows
    for name, service in yaml.safe_load(full)["services"].items():  # no service reads .env
        paths = [e["path"] if isinstance(e, dict) else e for e in service.get("env_file", [])]
        assert all(p.endswith("/runtime.env") for p in paths), (name, paths)


@pytest.mark.parametrize(("configs", "env"), SHIPPED)
def test_compose_lint_finds_nothing_high(configs, env, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    compose = _render(configs, env, tmp_path)
    lint = shutil.which("compose-lint", path=str(Path(sys.executable).parent)) or "compose-lint"
    # --no-env: lint the rendered file alone (no service reads an env file holding secrets;
    # runtime.env holds non-secret settings).
    proc = subprocess.run([lint, "check", "--no-env", "--format", "json", str(compose)],
                          capture_output=True, text=True, check=False)
    assert proc.returncode in (0, 1), proc.stdout + proc.stderr  # 2 would be a lint error
    findings = json.loads(proc.stdout)["findings"]
    doc = yaml.safe_load(compose.read_text(encoding="utf-8"))
    high = [f for f in findings if f["severity"] in ("high", "critical")
            and not _is_copilot_token_dir(f, doc)]
    assert high == [], json.dumps(high, indent=1)


def _is_copilot_token_dir(finding: dict, doc: dict) -> bool:
    """CL-0020 is a naming check: GITHUB_COPILOT_TOKEN_DIR has TOKEN in its name, but its value
    is the folder LiteLLM keeps Copilot's login in (a path), not a credential. The name is
    LiteLLM's, and the value must reach any image (ours or the official one), so the rendering
    sets it; only that exact key with an absolute-path value is let through."""
    if finding["rule_id"] != "CL-0020" or "GITHUB_COPILOT_TOKEN_DIR" not in finding["message"]:
        return False
    env = doc["services"][finding["service"]].get("environment", {})
    return str(env.get("GITHUB_COPILOT_TOKEN_DIR", "")).startswith("/")
