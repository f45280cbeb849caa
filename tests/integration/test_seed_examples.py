"""Both seed deployments, end to end: layered config → validate → render → stock litellm →
fake provider, with each provider's own route and auth header, proven by the smoke test."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from llmproxy_ops.ops.smoke.run import run_smoke
from llmproxy_ops.ops.smoke.target import SmokeRequest, smoke_target
from llmproxy_ops.pipeline import Target, runtime_for, start_target
from llmproxy_ops.testing.fake_provider import FakeProvider
from tests.conftest import REPO

pytestmark = pytest.mark.integration

KEYS = {
    "ANTHROPIC_API_KEY": "sk-ant-test-anthropic-key",
    "OPENROUTER_API_KEY": "sk-or-test-openrouter-key",
    "GEMINI_API_KEY": "test-gemini-key",
    "GITHUB_API_KEY": "test-github-token",
    "LM_STUDIO_API_KEY": "test-lm-studio-key",
}
MASTER = "sk-test-master-key-for-the-seeds"


@pytest.fixture(scope="module")
def fake() -> Iterator[FakeProvider]:
    with FakeProvider(accepted_keys=list(KEYS.values())) as provider:
        yield provider


@pytest.fixture
def project(tmp_path: Path, fake: FakeProvider, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A working folder with .env.example and an env file pointing every provider at the fake."""
    monkeypatch.chdir(tmp_path)
    shutil.copy(REPO / ".env.example", tmp_path / ".env.example")
    env = {
        "LITELLM_MASTER_KEY": MASTER, **KEYS,
        "FAKE_PROVIDER_URL": fake.anthropic_base,
        "FAKE_PROVIDER_OPENAI_BASE": fake.openai_base,
        "FAKE_PROVIDER_GEMINI_BASE": fake.gemini_base,
        "LM_STUDIO_API_BASE": fake.openai_base,
        "OLLAMA_API_BASE": fake.url,
    }
    (tmp_path / ".env").write_text("".join(f"{k}={v}\n" for k, v in env.items()), encoding="utf-8")
    for name in env:
        monkeypatch.delenv(name, raising=False)
    fake.reset()
    return tmp_path


def _seen(fake: FakeProvider) -> dict[str, set[tuple[str | None, str | None]]]:
    seen: dict[str, set[tuple[str | None, str | None]]] = {}
    for req in fake.requests():
        seen.setdefault(req.provider, set()).add((req.auth_header, req.api_key))
    return seen


def test_home_gateway_every_provider_route_through_the_stock_proxy(project, fake):
    target = Target(env="fake", configs_dir=REPO / "configs/examples/home-gateway")
    validated, _, status = start_target(target)
    try:
        assert status.healthy and validated.result.errors == []
        report = run_smoke(smoke_target(SmokeRequest(target=target)))
        assert report.ok, [(c.name, c.detail) for c in report.checks if not c.ok]
        names = {c.name for c in report.checks}
        for group in ["openai/gpt-oss-20b-or", "google/gemini-2.5-pro", "google/gemini-2.5-flash",
                      "openai/gpt-4o-mini", "gemma-3-12b", "llama3.2"]:
            assert f"chat: {group}" in names
        assert {"rpm: google/gemini-2.5-pro", "rpm: openai/gpt-oss-20b-or"} <= names
    finally:
        runtime_for(target)[1].stop()
    seen = _seen(fake)
    # each provider's own auth header carried the key from the env file
    assert ("authorization", KEYS["OPENROUTER_API_KEY"]) in seen["openai"]
    assert ("authorization", KEYS["GITHUB_API_KEY"]) in seen["openai"]
    assert ("authorization", KEYS["LM_STUDIO_API_KEY"]) in seen["openai"]
    assert seen["gemini"] == {("x-goog-api-key", KEYS["GEMINI_API_KEY"])}


def test_claude_gateway_through_the_cli(project, fake):
    def ops(*args: str) -> subprocess.CompletedProcess[str]:
        cmd = [sys.executable, "-m", "llmproxy_ops", *args, "--configs", str(REPO / "configs/examples/claude-gateway")]
        env = {**os.environ, "PYTHONPATH": str(REPO)}  # this checkout, installed or not
        return subprocess.run(cmd, capture_output=True, text=True, timeout=180, env=env)

    up = ops("up", "--env", "fake")
    try:
        assert up.returncode == 0, up.stdout + up.stderr
        assert "up: fake on local, healthy in " in up.stdout and MASTER not in up.stdout
        smoke = ops("smoke-test", "--env", "fake", "--junit-xml", "smoke.xml")
        assert smoke.returncode == 0, smoke.stdout + smoke.stderr
        assert MASTER not in smoke.stdout + Path("smoke.xml").read_text()
        assert 'failures="0"' in Path("smoke.xml").read_text()
        assert ops("up", "--env", "fake").returncode == 1  # refuses to start twice
    finally:
        down = ops("down", "--env", "fake")
    assert down.returncode == 0 and "stopped" in down.stdout
    assert _seen(fake)["anthropic"] == {("x-api-key", KEYS["ANTHROPIC_API_KEY"])}
    assert ops("status", "--env", "fake").returncode == 1
