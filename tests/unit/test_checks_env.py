"""env-missing / env-undocumented: os.environ references against the env and .env.example."""

from __future__ import annotations

import textwrap
from pathlib import Path

from llmproxy_ops.findings import Finding, Severity
from llmproxy_ops.spec import load_files
from llmproxy_ops.validate.checks.env import check_env_missing, check_env_undocumented, env_refs
from llmproxy_ops.validate.context import CheckContext

CONFIG = """\
model_list:
  - model_name: claude-sonnet-4-5
    litellm_params:
      model: anthropic/claude-sonnet-4-5
      api_key: os.environ/ANTHROPIC_API_KEY
  - model_name: claude-sonnet-4
    litellm_params:
      model: anthropic/claude-sonnet-4-20250514
      api_key: os.environ/ANTHROPIC_API_KEY
      extra_headers:
        X-Team: os.environ/TEAM_HEADER
general_settings:
  master_key: os.environ/LITELLM_MASTER_KEY
guardrails:
  - guardrail_name: pii
    litellm_params: {guardrail: presidio, api_base: os.environ/PRESIDIO_URL}
litellm_settings:
  callbacks: [os.environ/NOT_RESOLVED_BY_LITELLM]
stack:
  env_file: prod.env
"""


def load(tmp_path: Path, text: str = CONFIG, **kw: object) -> CheckContext:
    path = tmp_path / "c.yaml"
    path.write_text(textwrap.dedent(text))
    return CheckContext(load_files([path]), **kw)  # type: ignore[arg-type]


def where(f: Finding) -> tuple[str, int]:
    return Path(f.location.file).name, f.location.line


def test_references_follow_litellm_resolution(tmp_path: Path) -> None:
    refs = env_refs(load(tmp_path).spec)
    # a bare string in a list is not resolved by LiteLLM, so it is not a reference
    assert [r.name for r in refs] == [
        "ANTHROPIC_API_KEY",
        "TEAM_HEADER",
        "LITELLM_MASTER_KEY",
        "PRESIDIO_URL",
    ]


def test_missing_variable_once_naming_every_model(tmp_path: Path) -> None:
    env = {"TEAM_HEADER": "x", "LITELLM_MASTER_KEY": "", "PRESIDIO_URL": "http://p"}
    found = list(check_env_missing(load(tmp_path, env=env)))
    assert [(f.severity, f.code, f.message, f.hint, where(f)) for f in found] == [
        (
            Severity.ERROR,
            "env-missing",
            "ANTHROPIC_API_KEY is not set (needed by claude-sonnet-4-5, claude-sonnet-4)",
            "add ANTHROPIC_API_KEY=... to prod.env (or export it)",
            ("c.yaml", 5),
        ),
        (
            Severity.ERROR,
            "env-missing",
            "LITELLM_MASTER_KEY is empty (needed by general_settings.master_key)",
            "add LITELLM_MASTER_KEY=... to prod.env (or export it)",
            ("c.yaml", 13),
        ),
    ]


def test_env_checks_off(tmp_path: Path) -> None:
    ctx = load(tmp_path)
    assert list(check_env_missing(ctx)) == []
    assert list(check_env_undocumented(ctx)) == []


def test_undocumented_variable(tmp_path: Path) -> None:
    example = frozenset({"ANTHROPIC_API_KEY", "LITELLM_MASTER_KEY", "PRESIDIO_URL"})
    [f] = check_env_undocumented(load(tmp_path, env={}, env_example=example))
    assert (f.severity, f.code, where(f)) == (Severity.ERROR, "env-undocumented", ("c.yaml", 11))
    assert f.message == "TEAM_HEADER is not listed in .env.example (needed by claude-sonnet-4)"
    assert f.hint == "add a line 'TEAM_HEADER=' to .env.example (names only, never values)"


def test_all_set_and_documented_is_quiet(tmp_path: Path) -> None:
    names = ["ANTHROPIC_API_KEY", "TEAM_HEADER", "LITELLM_MASTER_KEY", "PRESIDIO_URL"]
    ctx = load(tmp_path, env={n: "v" for n in names}, env_example=frozenset(names))
    assert list(check_env_missing(ctx)) + list(check_env_undocumented(ctx)) == []
