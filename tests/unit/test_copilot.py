"""Where Copilot's login lives: the compose volume on every replica, the local 0700 folder,
the warning before the first login, and the CLI's refusals."""

from __future__ import annotations

import stat
from pathlib import Path

import pytest
import yaml
from typer.testing import CliRunner

from llmproxy_ops.cli.main import app
from llmproxy_ops.errors import StackError
from llmproxy_ops.ops.copilot_target import login_place
from llmproxy_ops.pipeline import Target
from llmproxy_ops.render.build import render_files
from llmproxy_ops.runtime import copilot_token
from llmproxy_ops.spec import load_files

COPILOT = """
model_list:
  - model_name: m
    litellm_params: {model: openai/gpt-4o-mini, api_key: os.environ/OPENAI_API_KEY}
  - model_name: c
    litellm_params: {model: github_copilot/gpt-4o-mini-2024-07-18}
general_settings: {master_key: os.environ/LITELLM_MASTER_KEY}
stack:
  runtime: RUNTIME
  compose: {litellm: {replicas: REPLICAS}}
"""


def _spec(write, runtime: str = "compose", replicas: int = 2, copilot_model: bool = True):
    text = COPILOT.replace("RUNTIME", runtime).replace("REPLICAS", str(replicas))
    if not copilot_model:
        text = text.replace("github_copilot/", "openai/")
    return load_files([write("x.yaml", text)])


def _compose(spec) -> dict:
    return yaml.safe_load(render_files(spec, out_dir=Path("build/x"))["docker-compose.yml"])


def test_every_replica_mounts_the_login_volume(write, in_tmp):
    doc = _compose(_spec(write))
    assert doc["volumes"]["github-copilot-auth"] == {}
    for name in ("litellm-1", "litellm-2"):
        service = doc["services"][name]
        assert "github-copilot-auth:/app/github_copilot" in service["volumes"]
        assert service["environment"]["GITHUB_COPILOT_TOKEN_DIR"] == "/app/github_copilot"


def test_no_volume_without_copilot_models(write, in_tmp):
    doc = _compose(_spec(write, copilot_model=False))
    assert "github-copilot-auth" not in doc["volumes"]
    assert "GITHUB_COPILOT_TOKEN_DIR" not in str(doc)


def test_local_folder_is_private_and_under_the_run_dir(write, in_tmp):
    spec = _spec(write, runtime="local")
    env = copilot_token.local_environment(spec)
    folder = in_tmp / ".run" / spec.name / "github_copilot"
    assert env == {"GITHUB_COPILOT_TOKEN_DIR": str(folder)}
    assert stat.S_IMODE(folder.stat().st_mode) == 0o700
    assert copilot_token.local_environment(_spec(write, runtime="local", copilot_model=False)) == {}


def test_warning_until_the_local_login_exists(write, in_tmp):
    spec = _spec(write, runtime="local")
    finding = copilot_token.missing_login_finding(spec)
    assert finding is not None and finding.code == "copilot-not-logged-in"
    assert str(finding.location) == "x.yaml:5:22"  # the github_copilot/ model
    assert finding.hint == f"run: llmproxy-ops copilot login --env {spec.name}"
    folder = Path(copilot_token.local_environment(spec)["GITHUB_COPILOT_TOKEN_DIR"])
    (folder / "access-token").write_text("gho_x")
    assert copilot_token.missing_login_finding(spec) is None
    assert copilot_token.read_local(folder, "x").logged_in


def test_compose_login_state_is_unknown_without_docker(write, in_tmp):
    """Validation never needs Docker: it says it cannot tell (tests/stack reads the volume)."""
    spec = _spec(write)
    finding = copilot_token.missing_login_finding(spec, docker="/nonexistent/docker")
    assert finding is not None and finding.code == "copilot-login-unknown"
    assert finding.message == (
        "github_copilot/ models; the Copilot login in volume llmproxy-x-yaml_github-copilot-auth "
        "is unknown (`/nonexistent/docker volume` could not run: [Errno 2] No such file or "
        "directory: '/nonexistent/docker')"
    )
    assert str(finding.location) == "x.yaml:5:22"
    assert finding.hint == f"once Docker runs: llmproxy-ops copilot status --env {spec.name}"
    assert copilot_token.missing_login_finding(_spec(write, copilot_model=False), "/nonexistent") is None


def test_a_compose_environment_logs_in_through_compose_not_on_this_host(write, in_tmp):
    """The runtime protocol wraps ComposeRuntime; missing that ran compose logins on the host."""
    write("configs/environments/x.yaml", COPILOT.replace("RUNTIME", "compose").replace(
        "REPLICAS", "2"))
    with pytest.raises(StackError) as missing:  # the compose branch: it needs the rendered file
        login_place(Target(env="x", configs_dir=Path("configs")), for_login=False)
    assert missing.value.message == "build/x/docker-compose.yml is missing"
    assert missing.value.hint == "render it first: llmproxy-ops render --env x"


def test_login_refuses_an_environment_without_copilot(in_tmp):
    result = CliRunner().invoke(
        app,
        [
            "copilot",
            "login",
            "--env",
            "dev",
            "--configs",
            str(Path(__file__).parents[2] / "configs"),
        ],
    )
    assert result.exit_code == 2
    assert "error: environment 'dev' has no github_copilot/ models" in result.output


@pytest.mark.parametrize("runtime", ["swarm", "kubernetes"])
def test_a_runtime_that_keeps_no_login_is_refused_where_the_model_is_written(
        runtime, write, in_tmp):
    """On swarm a login would land on one node's volume (or this host's folder) and no
    replica would read it: validation says so at the model, and `copilot login` refuses."""
    write("configs/environments/x.yaml", COPILOT.replace("RUNTIME", runtime).replace(
        "REPLICAS", "2"))
    result = CliRunner().invoke(app, ["validate", "config", "--env", "x", "--no-env",
                                      "--configs", "configs"])
    assert result.exit_code == 1, result.output
    assert (f"error[copilot-runtime-unsupported] model_list[1].litellm_params.model: "
            f"github_copilot/ models on the {runtime} runtime") in result.output
    assert "configs/environments/x.yaml:5:22: " in result.output  # the model value
    login = CliRunner().invoke(app, ["copilot", "login", "--env", "x", "--configs", "configs"])
    assert login.exit_code == 2, login.output
    assert f"runs on {runtime}, which keeps no Copilot login" in login.output
    assert not Path(".run").exists()  # nothing written on this host


@pytest.mark.parametrize("runtime", ["local", "compose"])
def test_runtimes_that_keep_the_login_are_not_refused(runtime, write, in_tmp):
    from llmproxy_ops.validate import validate_spec

    found = validate_spec(_spec(write, runtime=runtime), env=None)
    assert "copilot-runtime-unsupported" not in {f.code for f in found.findings}
