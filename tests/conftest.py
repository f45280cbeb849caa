"""Shared fixtures. LiteLLM must never try to reach GitHub for its cost map in tests."""

from __future__ import annotations

import os
import socket
import subprocess
import textwrap
from collections.abc import Callable
from pathlib import Path

import pytest

os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")

REPO = Path(__file__).resolve().parents[1]

# Distinctive fake secret values: a test that renders with them asserts none leaks anywhere.
DISTINCT_SECRETS = {
    "LITELLM_MASTER_KEY": "sk-MASTERsecretZZ1111",
    "LITELLM_SALT_KEY": "SALTsecretZZ2222",
    "POSTGRES_PASSWORD": "PGsecretZZ3333",
    "ANTHROPIC_API_KEY": "sk-ant-ANTsecretZZ4444",
    "OPENAI_API_KEY": "sk-OAIsecretZZ5555",
    "FAKE_PROVIDER_KEY": "FAKEsecretZZ6666",
    "OPENROUTER_API_KEY": "sk-or-ORsecretZZ7777",
    "GEMINI_API_KEY": "GEMsecretZZ8888",
    "GITHUB_API_KEY": "ghp_GHsecretZZ9999",
}


@pytest.fixture
def write(tmp_path: Path) -> Callable[[str, str], Path]:
    """write("a/b.yaml", yaml_text) -> path, dedented, under tmp_path."""

    def _write(name: str, text: str) -> Path:
        path = tmp_path / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textwrap.dedent(text).lstrip("\n"), encoding="utf-8")
        return path

    return _write


@pytest.fixture
def in_tmp(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Run the test from tmp_path so relative paths in findings are short and stable."""
    monkeypatch.chdir(tmp_path)
    return tmp_path


def free_port() -> int:
    """A TCP port free on 127.0.0.1 right now (tests bind their servers to it)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


ENGINE_HINT = "run `make docker` (scripts/provision-docker.sh) — CI provides the engine"


@pytest.fixture(scope="session")
def docker_engine() -> None:
    """Fails (never skips) without a reachable engine: these tests must run in CI."""
    try:
        proc = subprocess.run(
            ["docker", "info"], capture_output=True, text=True, timeout=60, check=False
        )
    except (FileNotFoundError, subprocess.TimeoutExpired) as exc:
        pytest.fail(f"no Docker engine ({exc}): {ENGINE_HINT}", pytrace=False)
    if proc.returncode != 0:
        pytest.fail(
            f"`docker info` failed: {proc.stderr.strip()[-500:]}\n{ENGINE_HINT}", pytrace=False
        )
