import json
import shutil
from pathlib import Path

import pytest

from tests.conftest import REPO

BAD = """
model_list:
  - model_name: gemini
    litellm_params:
      model: gemini/gemini-2.5-pro
      api_key: os.environ/GEMINI_API_KEY
      rmp: 10
      rpd: 50
general_settings:
  mater_key: sk-x
"""


def test_findings_are_one_line_each_sorted_and_exit_1(cli, write, in_tmp):
    write("bad.yaml", BAD)
    result = cli("validate", "config", "--no-litellm-load", "--no-env", "bad.yaml")
    assert result.exit_code == 1
    assert result.output.splitlines() == [
        "bad.yaml:6:7: error[unknown-key] model_list[0].litellm_params.rmp: unknown key 'rmp' in "
        "model_list[0].litellm_params (hint: did you mean 'rpm'?)",
        "bad.yaml:7:7: error[unknown-key] model_list[0].litellm_params.rpd: unknown key 'rpd' in "
        "model_list[0].litellm_params (hint: LiteLLM has no requests-per-day limit; use rpm/tpm for "
        "rate limits, or a budget (max_budget + budget_duration, e.g. '1d') to cap daily use)",
        # the typo leaves no master key: LiteLLM then reads LITELLM_MASTER_KEY, which a file
        # validated alone (--no-env) does not come with: unknown, not missing
        "bad.yaml:8:1: warning[env-implicit] general_settings: LiteLLM reads LITELLM_MASTER_KEY "
        "from its environment: general_settings.master_key is not set (LiteLLM refuses to start "
        "without a master key); this file needs it where it runs (not checked: no environment "
        "was given) (hint: set LITELLM_MASTER_KEY where LiteLLM runs, or validate the project "
        "environment (--env))",
        "bad.yaml:9:3: error[unknown-key] general_settings.mater_key: unknown key 'mater_key' in "
        "general_settings (hint: did you mean 'master_key'?)",
        "bad.yaml: 3 error(s), 1 warning(s)",
    ]


def test_json_format_is_stable_for_ci(cli, write, in_tmp):
    write("bad.yaml", BAD)
    result = cli("validate", "config", "--no-litellm-load", "--no-env", "--format", "json", "bad.yaml")
    assert result.exit_code == 1
    doc = json.loads(result.output)
    assert (doc["ok"], doc["errors"], doc["warnings"], doc["subject"]) == (False, 3, 1, "bad.yaml")
    assert doc["findings"][0] == {
        "severity": "error", "code": "unknown-key", "file": "bad.yaml", "line": 6, "col": 7,
        "path": "model_list[0].litellm_params.rmp",
        "message": "unknown key 'rmp' in model_list[0].litellm_params", "hint": "did you mean 'rpm'?",
    }


def test_env_checks_name_the_models_that_need_a_variable(cli, write, in_tmp, monkeypatch):
    monkeypatch.delenv("GEMINI_API_KEY", raising=False)
    write("ok.yaml", BAD.replace("      rmp: 10\n      rpd: 50\n", "").replace("mater_key: sk-x", "master_key: os.environ/MK"))
    write(".env", "MK=sk-Zq8vN2xK7pLm4RtY9wBc3HjD6f\n").chmod(0o600)
    write(".env.example", "MK=\nGEMINI_API_KEY=\n")
    result = cli("validate", "config", "--no-litellm-load", "ok.yaml")
    assert result.exit_code == 1
    assert result.output.splitlines()[0] == (
        "ok.yaml:5:7: error[env-missing] model_list[0].litellm_params.api_key: GEMINI_API_KEY is not "
        "set (needed by gemini) (hint: add GEMINI_API_KEY=... to .env (or export it))"
    )
    write(".env", "MK=sk-Zq8vN2xK7pLm4RtY9wBc3HjD6f\nGEMINI_API_KEY=AIza-from-the-env-file\n")
    assert cli("validate", "config", "--no-litellm-load", "ok.yaml").exit_code == 0


def test_warnings_alone_pass_unless_strict(cli, write, in_tmp):
    write("w.yaml", "model_list:\n  - model_name: m\n    litellm_params: {model: openai/gpt-4o-mini, api_key: dummy, rpm: 3}\n"
          "general_settings: {master_key: os.environ/MK}\n")
    ok = cli("validate", "config", "--no-litellm-load", "--no-env", "w.yaml")
    assert ok.exit_code == 0 and "warning[rate-limit-not-enforced]" in ok.output
    assert cli("validate", "config", "--no-litellm-load", "--no-env", "--strict", "w.yaml").exit_code == 1


@pytest.mark.parametrize(
    ("files", "text", "expected"),
    [
        (["x.yaml"], "a: [1\n", "x.yaml:2:1: error: YAML syntax error: did not find expected ',' or ']'"),
        (["x.yaml"], "", "x.yaml:1:1: error: file is empty"),
        (["x.yaml"], "- 1\n", "x.yaml:1:1: error: top level is a list, expected a mapping of config sections"),
        (["nope.yaml"], None, "nope.yaml:1:1: error: file not found"),
    ],
)
def test_bad_input_is_a_located_error_not_a_crash(cli, write, in_tmp, files, text, expected):
    if text is not None:
        write(files[0], text)
    result = cli("validate", "config", "--no-litellm-load", *files)
    assert result.exit_code == 1
    assert result.output.splitlines()[0] == expected


def test_usage_errors_exit_2(cli, write, in_tmp):
    write("a.yaml", "litellm_settings: {}\n")
    both = cli("validate", "config", "--no-litellm-load", "--env", "dev", "a.yaml")
    assert both.exit_code == 2
    assert "error: give either --env or files, not both" in both.output
    assert cli("validate", "config").exit_code == 2
    assert cli("validate", "config", "--no-litellm-load", "--format", "xml", "a.yaml").exit_code == 2


def test_unknown_environment_lists_the_known_ones(cli, in_tmp):
    shutil.copytree(REPO / "configs", in_tmp / "configs")
    result = cli("validate", "config", "--no-litellm-load", "--env", "staging")
    assert result.exit_code == 1
    assert result.output.splitlines() == [
        "configs/environments/staging.yaml:1:1: error: no environment 'staging'",
        "  hint: environments in configs: ci, claude-code, dev, k8s, prod",
    ]


def test_a_bug_exits_3_with_a_log_and_no_traceback_on_screen(cli, write, in_tmp, monkeypatch):
    import llmproxy_ops.cli.validate_cmd as cmd

    def boom(*_a, **_k):
        raise RuntimeError("secret-ish internal state")

    monkeypatch.setattr(cmd, "validate_target", boom)
    write("a.yaml", "litellm_settings: {}\n")
    result = cli("validate", "config", "--no-litellm-load", "a.yaml")
    assert result.exit_code == 3
    assert "internal error: an unexpected exception; details in" in result.output
    assert "secret-ish" not in result.output and "Traceback" not in result.output
    log = result.output.split("details in ")[1].split()[0]
    assert "RuntimeError: secret-ish internal state" in Path(log).read_text(encoding="utf-8")


def _json_failure(result) -> dict:
    doc = json.loads(result.stdout)  # exactly one document on stdout, nothing else
    assert (doc["ok"], doc["errors"], doc["warnings"]) == (False, 1, 0)
    [finding] = doc["findings"]
    assert doc["exit_code"] == result.exit_code
    return finding


@pytest.mark.parametrize(
    ("args", "text", "expected"),
    [
        (
            ["bad.yaml"], "a: [1, 2\nb: 3\n",
            {"code": "load-error", "file": "bad.yaml", "line": 2, "col": 2,
             "message": "YAML syntax error: did not find expected ',' or ']'"},
        ),
        (
            ["missing.yaml"], None,
            {"code": "load-error", "file": "missing.yaml", "line": 1, "col": 1,
             "message": "file not found"},
        ),
        (
            ["--env", "nope"], None,
            {"code": "load-error", "file": "configs/environments/nope.yaml", "line": 1, "col": 1,
             "message": "no environment 'nope': there is no environments/ folder in {tmp}/configs "
                        "(looked for {tmp}/configs/environments/nope.yaml)"},
        ),
        (
            ["--env", "dev", "bad.yaml"], "a: 1\n",
            {"code": "usage-error", "file": "<command line>", "line": 1, "col": 1,
             "message": "give either --env or files, not both"},
        ),
    ],
)
def test_json_format_is_one_json_document_for_every_failure(cli, in_tmp, args, text, expected):
    if text is not None:
        (in_tmp / "bad.yaml").write_text(text)
    result = cli("validate", "config", "--no-env", "--format", "json", *args)
    assert result.exit_code == (2 if expected["code"] == "usage-error" else 1)
    finding = _json_failure(result)
    expected = {**expected, "message": expected["message"].format(tmp=in_tmp)}
    assert {k: finding[k] for k in expected} == expected
    assert finding["severity"] == "error"


def test_json_format_reports_an_internal_error_as_json_with_exit_3(cli, in_tmp, monkeypatch):
    def broken(*_a, **_k):
        raise RuntimeError("a bug")

    monkeypatch.setattr("llmproxy_ops.cli.validate_cmd.validate_target", broken)
    (in_tmp / "a.yaml").write_text("a: 1\n")
    result = cli("validate", "config", "--format", "json", "a.yaml")
    assert result.exit_code == 3
    finding = _json_failure(result)
    assert finding["code"] == "internal-error" and finding["file"] == "<llmproxy-ops>"
    log = Path(finding["message"].rsplit(" ", 1)[1])
    assert "RuntimeError: a bug" in log.read_text()
    log.unlink()


def test_cli_strict_fails_on_no_key_with_a_public_host(cli, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "c.yaml").write_text("model_list: []\nstack:\n  host: 0.0.0.0\n")
    result = cli("validate", "config", "--strict", "c.yaml")
    assert result.exit_code == 1
    assert "error[no-master-key] general_settings: no general_settings.master_key" in result.output
