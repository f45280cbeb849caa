"""Copilot's login in a compose stack: logged in once into the named volume, served by every
litellm replica, and kept when a replica is recreated (the device flow never runs again).

Runs against the fake provider's image; LLMPROXY_FAKE_PROVIDER_IMAGE names another build of
it (e.g. one made from a branch) when the default tag predates the Copilot routes.
"""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import httpx
import pytest
from typer.testing import CliRunner

from llmproxy_ops.cli.main import app
from llmproxy_ops.pipeline import Target, runtime_for, start_target
from llmproxy_ops.targets.compose.project import ComposeRuntime
from tests.conftest import free_port
from tests.project_folder import write_project

pytestmark = pytest.mark.stack

ENV = "copilot"
PROJECT = "llmproxy-copilot"
VOLUME = f"{PROJECT}_github-copilot-auth"
MASTER = "sk-copilot-stack-4d1e9b2a7c"
FAKE = "http://fake-provider:9000"
FAKE_IMAGE = os.environ.get("LLMPROXY_FAKE_PROVIDER_IMAGE", "llmproxy-ops/fake-provider:latest")
COPILOT = "copilot-gpt"
LAYER = f"""\
layers:
  - ci.yaml
model_list:
  # the home gateway's Copilot deployment (providers/github-copilot.yaml) under its own name:
  # its group there, openai/gpt-4o-mini, is also the model of ci's fake-openai
  - model_name: copilot-gpt
    litellm_params:
      model: github_copilot/gpt-4o-mini-2024-07-18
      extra_headers:
        editor-version: "vscode/1.85.1"
        editor-plugin-version: "copilot/1.155.0"
        Copilot-Integration-Id: "vscode-chat"
        user-agent: "GithubCopilot/1.155.0"
  - model_name: llama3.2
    litellm_params: {{model: ollama_chat/llama3.2, api_base: os.environ/OLLAMA_API_BASE}}
litellm_settings: {{success_callback: [], failure_callback: []}}
stack:
  port: @PORT@
  # not secrets: LiteLLM reads them from its environment (runtime.env); a container gets
  # only the secrets its config names, as files
  environment:
    GITHUB_COPILOT_DEVICE_CODE_URL: {FAKE}/login/device/code
    GITHUB_COPILOT_ACCESS_TOKEN_URL: {FAKE}/login/oauth/access_token
    GITHUB_COPILOT_API_KEY_URL: {FAKE}/copilot_internal/v2/token
  compose:
    project: {PROJECT}
    litellm: {{replicas: 2, cpus: 1.0, memory: 1g}}
    db: {{enabled: false}}
    mlflow: {{enabled: false}}
    nginx: {{enabled: false}}
    fake_provider: {{enabled: true, image: {FAKE_IMAGE}}}
"""


def _free_pair() -> int:
    """A port p with p+1 free too: replica i is published on stack.port + i."""
    for _ in range(50):
        port = free_port()
        if port < 65535 and _free(port + 1):
            return port
    raise AssertionError("no two adjacent free ports")


def _free(port: int) -> bool:
    import socket

    with socket.socket() as s:
        try:
            s.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def _chat(port: int, model: str) -> httpx.Response:
    body = {"model": model, "messages": [{"role": "user", "content": "say hello"}]}
    return httpx.post(
        f"http://127.0.0.1:{port}/v1/chat/completions",
        json=body,
        timeout=60,
        headers={"Authorization": f"Bearer {MASTER}"},
    )


def _ops(*args: str) -> object:
    return CliRunner().invoke(app, [*args, "--env", ENV], catch_exceptions=False)


def test_copilot_login_survives_a_replica_recreate(docker_engine, tmp_path: Path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    port = _free_pair()
    env = {
        "LITELLM_MASTER_KEY": MASTER,
        "FAKE_PROVIDER_KEY": "fake-key-0123",
        "REDIS_PASSWORD": "redis-copilot-0123456789",  # 2 replicas share rate limits
        "OLLAMA_API_BASE": FAKE,
    }
    write_project(tmp_path, ENV, LAYER.replace("@PORT@", str(port)), env)
    target = Target(env=ENV)
    runtime = runtime_for(target)[1]
    assert runtime.kind == "compose"
    stack: ComposeRuntime = runtime.compose  # type: ignore[attr-defined]  # the test drives compose itself
    runtime.stop(volumes=True)  # a crashed earlier run
    try:
        # LiteLLM drops a Copilot deployment it cannot authenticate at start: log in first
        # (here GitHub is the fake, so it runs before the rest of the stack).
        rendered = _ops("render")
        assert rendered.exit_code == 0, rendered.output
        assert (f"warning[copilot-not-logged-in] model_list[3].litellm_params.model: "
                f"github_copilot/ models but no Copilot login in volume {VOLUME}") in _flat(rendered)
        with monkeypatch.context() as no_engine:  # validation still works, the state is unknown
            no_engine.setenv("DOCKER_HOST", "unix:///nonexistent/docker.sock")
            unknown = _ops("validate", "config", "--no-litellm-load")
            assert unknown.exit_code == 0, unknown.output
            assert (f"warning[copilot-login-unknown] model_list[3].litellm_params.model: "
                    f"github_copilot/ models; the Copilot login in volume {VOLUME} is unknown "
                    "(`docker volume inspect` failed: ") in _flat(unknown)
        compose = stack.base_command()  # names the rendered file now
        _run([*compose, "up", "-d", "--wait", "fake-provider"])
        login = _ops("copilot", "login", "--timeout", "120")
        assert login.exit_code == 0, login.output
        assert "open https://github.com/login/device and enter the code " in login.output
        assert f"token volume: {VOLUME}" in login.output
        # restart=True: the fake provider already runs, so compose counts the project as running
        start_target(target, restart=True)
        overall = _ops("status", "--format", "json")  # the runtime's status shows the login too
        assert json.loads(overall.output)["copilot"]["logged_in"] is True, overall.output
        admin = "http://" + _run([*compose, "port", "fake-provider", "9000"]).strip()
        for replica_port in (port, port + 1):  # every replica reads the one login
            answer = _chat(replica_port, COPILOT)
            assert answer.status_code == 200, answer.text
        assert _chat(port, "llama3.2").status_code == 200

        # compose reads the service's secrets from its environment: here from the env file
        _run([*compose, "--env-file", str(tmp_path / ".env"), "up", "-d", "--wait",
              "--force-recreate", "--no-deps", "litellm-1"])
        answer = _chat(port, COPILOT)
        assert answer.status_code == 200, answer.text
        counters = httpx.get(admin + "/_fake/copilot", timeout=5).json()
        assert (counters["device_codes"], counters["access_tokens"]) == (1, 1)
        assert counters["chats"] == 3

        status = _ops("copilot", "status", "--format", "json")
        assert status.exit_code == 0, status.output
        doc = json.loads(status.output)
        assert doc["logged_in"] is True and doc["expires_at"] > 0
        seen = httpx.get(admin + "/_fake/requests", timeout=5).json()["requests"]
        chat = next(r for r in seen if r["path"] == "/copilot/chat/completions")
        assert chat["headers"]["editor-version"] == "vscode/1.85.1"
    finally:
        runtime.stop(volumes=True)
    gone = subprocess.run(
        ["docker", "volume", "inspect", VOLUME],
        capture_output=True,
        text=True,
        check=False,
    )
    assert gone.returncode != 0  # down --volumes removes the login too


def _flat(result: object) -> str:
    """CLI output with rich's line wrapping undone."""
    return " ".join(result.output.split())  # type: ignore[attr-defined]


def _run(argv: list[str]) -> str:
    proc = subprocess.run(argv, capture_output=True, text=True, timeout=300, check=False)
    assert proc.returncode == 0, f"{argv}: {proc.stderr[-2000:]}"
    return proc.stdout
