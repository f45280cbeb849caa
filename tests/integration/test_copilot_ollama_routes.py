"""GitHub Copilot and Ollama through the stock proxy, against the fake: the device login runs
once (our `copilot login`), the editor headers arrive, and a proxy restart does not log in again."""

from __future__ import annotations

import os
import shutil
import signal
import stat
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from click.testing import Result
from typer.testing import CliRunner

from llmproxy_ops.cli.main import app
from llmproxy_ops.errors import CopilotLoginError
from llmproxy_ops.ops import copilot
from llmproxy_ops.ops.copilot import copilot_token_dir
from llmproxy_ops.pipeline import Target, runtime_for, start_target, validate_target
from llmproxy_ops.testing.fake_provider import FakeProvider
from tests.conftest import REPO, free_port

pytestmark = pytest.mark.integration

MASTER = "sk-test-master-key-copilot-routes"
KEYS = {
    "OPENROUTER_API_KEY": "sk-or-test-openrouter-key",
    "GEMINI_API_KEY": "test-gemini-key",
    "GITHUB_API_KEY": "test-github-token",
    "LM_STUDIO_API_KEY": "test-lm-studio-key",
}
COPILOT_DEPLOYMENT = "github_copilot/gpt-4o-mini-2024-07-18"
ENV = "copilot"
# The fake environment as shipped, on a free port, plus one deployment for the ollama/ route
# (the seed itself uses ollama_chat/).
LAYER = """layers:
  - fake.yaml
model_list:
  - model_name: llama3.2-generate
    litellm_params: {{model: ollama/llama3.2, api_base: os.environ/OLLAMA_API_BASE}}
stack:
  port: {port}
"""


@pytest.fixture(scope="module")
def fake() -> Iterator[FakeProvider]:
    with FakeProvider(accepted_keys=list(KEYS.values())) as provider:
        yield provider


@pytest.fixture(scope="module")
def project(tmp_path_factory: pytest.TempPathFactory, fake: FakeProvider) -> Iterator[Path]:
    root = tmp_path_factory.mktemp("copilot")
    configs = root / "configs"
    shutil.copytree(REPO / "configs/examples/home-gateway", configs)
    (configs / "environments" / f"{ENV}.yaml").write_text(LAYER.format(port=free_port()))
    shutil.copy(REPO / ".env.example", root / ".env.example")
    env = {
        "LITELLM_MASTER_KEY": MASTER,
        **KEYS,
        "FAKE_PROVIDER_OPENAI_BASE": fake.openai_base,
        "FAKE_PROVIDER_GEMINI_BASE": fake.gemini_base,
        "LM_STUDIO_API_BASE": fake.openai_base,
        "OLLAMA_API_BASE": fake.url,
        "GITHUB_COPILOT_DEVICE_CODE_URL": fake.url + "/login/device/code",
        "GITHUB_COPILOT_ACCESS_TOKEN_URL": fake.url + "/login/oauth/access_token",
        "GITHUB_COPILOT_API_KEY_URL": fake.url + "/copilot_internal/v2/token",
    }
    (root / ".env").write_text("".join(f"{k}={v}\n" for k, v in env.items()))
    (root / ".env").chmod(0o600)  # secrets: a readable env file is a finding of its own
    cwd = Path.cwd()
    os.chdir(root)
    try:
        yield root
    finally:
        runtime_for(_target(root))[1].stop()
        os.chdir(cwd)


def _target(root: Path) -> Target:
    return Target(env=ENV, configs_dir=root / "configs")


def _ops(root: Path, *args: str) -> Result:
    """`llmproxy-ops ARGS --env copilot` in-process (the login itself is LiteLLM's, a child)."""
    argv = [*args, "--env", ENV, "--configs", str(root / "configs")]
    return CliRunner().invoke(app, argv, catch_exceptions=False)


def _chat(url: str, model: str, *, stream: bool = False) -> httpx.Response:
    body = {
        "model": model,
        "stream": stream,
        "messages": [{"role": "user", "content": "say hello"}],
    }
    return httpx.post(
        url + "/v1/chat/completions",
        json=body,
        timeout=60,
        headers={"Authorization": f"Bearer {MASTER}"},
    )


def _copilot(fake: FakeProvider) -> dict:
    return httpx.get(fake.url + "/_fake/copilot", timeout=5).json()


def test_before_login_validation_warns_and_status_says_so(project):
    found = validate_target(_target(project)).result.warnings
    assert [f.code for f in found] == ["copilot-not-logged-in"]
    assert found[0].hint == f"run: llmproxy-ops copilot login --env {ENV}"
    status = _ops(project, "copilot", "status")
    assert status.exit_code == 1 and "not logged in" in status.output


def test_login_names_an_unreachable_device_code_address(project, fake):
    """LiteLLM alone retries 3 times at once, then only says it failed: we wait, then say where."""
    spec = validate_target(_target(project)).spec
    closed = f"http://127.0.0.1:{free_port()}/login/device/code"
    place = copilot.local_place(spec, {"GITHUB_COPILOT_DEVICE_CODE_URL": closed})
    with pytest.raises(CopilotLoginError) as failed:
        copilot.login(place, ENV, on_prompt=lambda _: None, reach_timeout=1)
    assert failed.value.message == (
        f"Copilot login: cannot reach the device-code address {closed} from where the proxy "
        "runs ([Errno 111] Connection refused; waited 1 s)"
    )
    assert _copilot(fake)["device_codes"] == 0
    assert not (copilot_token_dir(spec) / "access-token").exists()


def test_login_runs_the_device_flow_once_into_a_private_folder(project, fake):
    login = _ops(project, "copilot", "login", "--timeout", "60")
    assert login.exit_code == 0, login.output
    assert "open https://github.com/login/device and enter the code " in login.output
    assert f"copilot: {ENV} logged in" in login.output
    token_dir = copilot_token_dir(validate_target(_target(project)).spec)
    assert token_dir == project / ".run" / ENV / "github_copilot"
    assert stat.S_IMODE(token_dir.stat().st_mode) == 0o700
    for name in ("access-token", "api-key.json"):
        assert stat.S_IMODE((token_dir / name).stat().st_mode) == 0o600
    token = (token_dir / "access-token").read_text()
    assert token.startswith("gho_") and token not in login.output
    counters = _copilot(fake)
    assert (counters["device_codes"], counters["access_tokens"]) == (1, 1)
    assert counters["access_token_polls"] == 2  # authorization_pending, then the token
    again = _ops(project, "copilot", "login")
    assert again.exit_code == 0 and "already logged in" in again.output
    assert _copilot(fake)["device_codes"] == 1
    status = _ops(project, "copilot", "status")
    assert status.exit_code == 0 and "copilot key expires " in status.output
    runtime = _ops(project, "status")  # the proxy's own status names the login too
    assert runtime.exit_code == 1 and f"{ENV}: not running" in runtime.output
    assert "copilot: logged in; token folder: " in runtime.output


def test_every_route_through_the_proxy_and_a_restart_keeps_the_login(project, fake):
    before = _copilot(fake)
    for round_ in range(2):  # start, then restart: the login is read again, never redone
        validated, _, status = start_target(_target(project))
        assert validated.result.warnings == [] and status.url
        fake.reset()
        try:
            copilot = _chat(status.url, COPILOT_DEPLOYMENT)
            assert copilot.status_code == 200, copilot.text
            ollama = _chat(status.url, "llama3.2")
            streamed = _chat(status.url, "llama3.2", stream=True)
            generate = _chat(status.url, "llama3.2-generate")
        finally:
            runtime_for(_target(project))[1].stop()
        for answer in (ollama, generate):
            assert answer.status_code == 200, answer.text
            assert (
                answer.json()["choices"][0]["message"]["content"] == "Hello from the fake provider."
            )
        assert streamed.status_code == 200 and "data: [DONE]" in streamed.text
        seen = {(r.path, r.stream) for r in fake.requests()}
        assert {
            ("/copilot/chat/completions", False),
            ("/api/chat", False),
            ("/api/chat", True),
            ("/api/generate", False),
        } <= seen, (round_, seen)
        chat = next(r for r in fake.requests() if r.path == "/copilot/chat/completions")
        assert chat.headers["editor-version"] == "vscode/1.85.1"  # the seed's extra_headers
        assert chat.headers["editor-plugin-version"] == "copilot/1.155.0"
        assert chat.headers["copilot-integration-id"] == "vscode-chat"
        assert chat.status == 200
    after = _copilot(fake)
    assert (after["device_codes"], after["access_tokens"]) == (before["device_codes"], 1)
    assert after["chats"] == before["chats"] + 2


def test_login_gives_up_at_the_timeout_and_on_ctrl_c(project, fake):
    """Never typed: the fake keeps answering authorization_pending. Runs after the other tests
    with --force, so their login is gone too (this module's last test)."""
    httpx.post(fake.url + "/_fake/copilot", json={"pending_polls": 1000}, timeout=5)
    try:
        late = _ops(project, "copilot", "login", "--force", "--timeout", "3")
        assert late.exit_code == 1
        assert "error: Copilot login did not finish within 3s" in late.output
        cmd = [
            sys.executable,
            "-m",
            "llmproxy_ops",
            "copilot",
            "login",
            "--force",
            "--env",
            ENV,
            "--configs",
            str(project / "configs"),
        ]
        child = subprocess.Popen(
            cmd,
            cwd=project,
            stdout=subprocess.PIPE,
            text=True,
            stderr=subprocess.STDOUT,
            env={**os.environ, "PYTHONPATH": str(REPO)},
            # Ctrl-C as a terminal delivers it: with SIGINT at its default. A run started in
            # the background of a shell without job control inherits SIGINT ignored, and a
            # Python started so keeps ignoring it (two CI runs started with `&` hung here)
            preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
        )
        assert child.stdout is not None
        for line in child.stdout:  # interrupt once the code is on screen, as a user would
            if "enter the code" in line:
                child.send_signal(signal.SIGINT)
                break
        assert child.wait(timeout=60) == 130
        assert "interrupted" in child.stdout.read()
        child.stdout.close()
    finally:
        httpx.post(fake.url + "/_fake/copilot", json={"pending_polls": 1}, timeout=5)
