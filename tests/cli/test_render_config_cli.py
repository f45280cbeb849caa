import re
import shutil
import stat

import pytest

from tests.conftest import REPO


@pytest.fixture
def project(in_tmp, monkeypatch):
    """A copy of the shipped configs with a valid env file, run from its folder."""
    shutil.copytree(REPO / "configs", in_tmp / "configs")
    shutil.copy(REPO / ".env.example", in_tmp / ".env.example")
    (in_tmp / ".env").write_text("LITELLM_MASTER_KEY=sk-test-0123456789\n", encoding="utf-8")
    monkeypatch.delenv("LITELLM_MASTER_KEY", raising=False)
    return in_tmp


def test_render_writes_the_build_and_is_deterministic(cli, project):
    first = cli("render", "--env", "dev")
    assert first.exit_code == 0, first.output
    assert first.output.splitlines()[-1] == (
        "rendered dev → build/dev/ (config.yaml, env-manifest.json, llmproxy_auth_status.py, runtime.env; written)"
    )
    before = {p.name: p.read_bytes() for p in (project / "build/dev").iterdir()}
    again = cli("render", "--env", "dev")
    assert again.output.splitlines()[-1].endswith("; unchanged)")
    assert {p.name: p.read_bytes() for p in (project / "build/dev").iterdir()} == before
    assert b"sk-test-0123456789" not in b"".join(before.values())


def test_failed_validation_writes_nothing_and_keeps_the_previous_build(cli, project):
    assert cli("render", "--env", "dev").exit_code == 0
    before = {p.name: p.read_bytes() for p in (project / "build/dev").iterdir()}
    dev = project / "configs/environments/dev.yaml"
    dev.write_text(dev.read_text() + "  rmp: 5\n", encoding="utf-8")  # under litellm_settings
    result = cli("render", "--env", "dev")
    assert result.exit_code == 1
    assert "error[unknown-key] litellm_settings.rmp" in result.output
    assert "error: 1 error(s) in the configuration; nothing was written or started" in result.output
    assert {p.name: p.read_bytes() for p in (project / "build/dev").iterdir()} == before


def test_render_fails_on_a_missing_secret_naming_it(cli, project):
    (project / ".env").write_text("", encoding="utf-8")
    result = cli("render", "--env", "dev")
    assert result.exit_code == 1
    assert "LITELLM_MASTER_KEY is not set" in result.output
    assert not (project / "build").exists()


def test_config_show_annotates_provenance(cli, project):
    result = cli("config", "show", "--env", "dev", "--annotate")
    assert result.exit_code == 0
    lines = result.output.splitlines()
    assert lines[0] == "# layers, in merge order: configs/base.yaml, configs/providers/local-fake.yaml, configs/environments/dev.yaml"
    assert "  num_retries: 0  # configs/environments/dev.yaml:14:3" in lines
    assert "  request_timeout: 600  # configs/base.yaml:9:3" in lines


def test_config_diff_shows_what_differs(cli, project):
    same = cli("config", "diff", "dev", "dev")
    assert (same.exit_code, same.output) == (0, "no differences between dev and dev\n")
    diff = cli("config", "diff", "dev", "ci")
    assert diff.exit_code == 1
    assert diff.output.startswith("--- dev\n+++ ci\n")
    assert "-  num_retries: 0\n" not in diff.output  # both set it: no difference there
    assert "+- model_name: fake-openai\n" in diff.output


def test_init_creates_a_private_env_file_once(cli, in_tmp):
    first = cli("init")
    assert first.output == "created .env (mode 0600) with a new LITELLM_MASTER_KEY\n"
    assert stat.S_IMODE((in_tmp / ".env").stat().st_mode) == 0o600
    key_line = (in_tmp / ".env").read_text().splitlines()[-1]
    assert key_line.startswith("LITELLM_MASTER_KEY=sk-")
    assert key_line.split("=", 1)[1] not in first.output
    assert cli("init").output == ".env exists with a LITELLM_MASTER_KEY; left unchanged\n"


def test_init_adds_the_master_key_an_existing_env_file_lacks(cli, in_tmp):
    env = in_tmp / ".env"
    env.write_text("ANTHROPIC_API_KEY=sk-ant-x\nLITELLM_MASTER_KEY=\nOTHER='a b'")
    assert cli("init").output == "added a new LITELLM_MASTER_KEY to .env (it had none); other lines kept\n"
    lines = env.read_text().splitlines()
    assert lines[:2] == ["ANTHROPIC_API_KEY=sk-ant-x", "OTHER='a b'"]
    assert lines[2].startswith("LITELLM_MASTER_KEY=sk-") and len(lines) == 3
    assert env.stat().st_mode & 0o777 == 0o600


def test_init_env_writes_every_secret_the_stack_generates_and_never_replaces_one(cli, in_tmp):
    """A new user of the compose `prod` environment gets the master key and the stack's own
    secrets in one step (what validation would otherwise ask for one error at a time); a
    set value stays, an empty one is filled, no value is printed."""
    shutil.copytree(REPO / "configs", in_tmp / "configs")
    env = in_tmp / ".env"
    env.write_text("REDIS_PASSWORD=mine-and-kept\nPOSTGRES_PASSWORD=\n")
    done = cli("init", "--env", "prod")
    assert done.exit_code == 0, done.output
    assert done.output.splitlines() == [
        "added a new LITELLM_MASTER_KEY to .env (it had none); other lines kept",
        "added a new POSTGRES_PASSWORD (the db service's password)",
        "added a new LITELLM_SALT_KEY (LiteLLM's encryption key for stored credentials)",
        "REDIS_PASSWORD: already set in .env; left unchanged",
    ]
    values = dict(line.split("=", 1) for line in env.read_text().splitlines())
    assert values["REDIS_PASSWORD"] == "mine-and-kept"
    for name in ("LITELLM_MASTER_KEY", "POSTGRES_PASSWORD", "LITELLM_SALT_KEY"):
        assert len(values[name]) >= 40 and values[name] not in done.output
    assert re.fullmatch(r"[A-Za-z0-9_-]+", values["POSTGRES_PASSWORD"])  # URL-safe
    assert env.stat().st_mode & 0o777 == 0o600
    again = cli("init", "--env", "prod")
    assert env.read_text() == "".join(f"{k}={v}\n" for k, v in values.items())
    assert again.output.splitlines()[-1] == (
        "POSTGRES_PASSWORD, REDIS_PASSWORD, LITELLM_SALT_KEY: already set in .env; left unchanged")
    # the local dev environment's services generate their own (its Redis: under .run/)
    assert cli("init", "--env", "dev").output.splitlines() == [
        ".env exists with a LITELLM_MASTER_KEY; left unchanged"]
