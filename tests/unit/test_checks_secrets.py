"""literal-secret, weak-demo-key, master-key-format and the credential rules behind them."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from llmproxy_ops.findings import Finding, Severity
from llmproxy_ops.spec import load_files
from llmproxy_ops.validate import secrets
from llmproxy_ops.validate.checks.master_key import check_master_key_format
from llmproxy_ops.validate.checks.secrets import check_literal_secret, check_weak_demo_key
from llmproxy_ops.validate.context import CheckContext

ANTHROPIC = "sk-ant-api03-" + "Zq8vN2xK7pLm4RtY9wBc3HjD6fGs1QaE5uIo0" * 2
OPENAI = "sk-proj-" + "a1B2c3D4e5F6g7H8i9J0kLmNoPqRsTuV"
GOOGLE = "AIza" + "SyD3f9Kq1LmN8pR2sT6uV0wX4yZ7aB5cE9g"
GITHUB = "ghp_" + "9fK2mQ7xLp4RtY8wBc3HjD6fGs1QaE5uIo0n"
AWS = "AKIA" + "Q3ZP7XK2M9LT4RWD"
HEX_SECRET = "9f86d081884c7d659a2feaa0c55ad015"
DB_PASSWORD = "Hk7rTq2Lx9"


def load(tmp_path: Path, text: str, name: str = "c.yaml") -> CheckContext:
    path = tmp_path / name
    path.write_text(textwrap.dedent(text))
    return CheckContext(load_files([path]))


def where(f: Finding) -> tuple[str, int]:
    return Path(f.location.file).name, f.location.line


@pytest.mark.parametrize(
    ("value", "kind"),
    [
        (ANTHROPIC, "Anthropic API key"),
        (OPENAI, "OpenAI project key"),
        ("sk-or-v1-" + "0a1b2c3d4e5f60718293a4b5c6d7e8f9", "OpenRouter API key"),
        ("sk-" + "T3BlbkFJ9xq2Lm8Nz4Rw7Yp1Kc6Vb0Hd", "API key (sk-…)"),
        (GOOGLE, "Google API key"),
        (GITHUB, "GitHub token"),
        ("github_pat_" + "11AQ7ZK2P0x9Lm4Rt_8wBc3HjD6fGs", "GitHub token"),
        ("xoxb-" + "7392810465-Kq8vN2xK7pLm", "Slack token"),
        (AWS, "AWS access key id"),
    ],
)
def test_provider_key_formats_are_secrets_under_any_key(value: str, kind: str) -> None:
    hit = secrets.classify("description", value)
    assert hit is not None and hit.kind == kind


@pytest.mark.parametrize(
    "value",
    [
        "sk-1234",
        "sk-xxxx",
        "sk-xxxxxxxxxxxxxxxxxxxxxxxxxxxx",
        "sk-1234567890abcdef",
        "sk-your-openai-api-key-here",
        "sk-ant-xxxxxxxxxxxxxxxxxxxxxxxx",
        "dummy",
        "none",
        "EMPTY",
        "fake-key",
        "lm-studio",
        "ollama",
        "not-needed",
        "any-api-key-will-do",
        "sk-sidecar-1",
        "sk-litellm-master-key-for-dev",
        "os.environ/ANTHROPIC_API_KEY",
        "<your-key>",
    ],
)
def test_placeholders_and_references_are_not_secrets(value: str) -> None:
    assert secrets.classify("api_key", value) is None


def test_typed_runs_are_demo_keys_even_in_a_provider_format() -> None:
    assert secrets.classify("api_key", "xoxb-1234567890-abcdefghij") is None
    assert secrets.classify("api_key", "github_pat_11ABCDEFG0123456789_abcdefghij") is None


def test_entropy_rule_needs_credential_key_length_digits_and_entropy() -> None:
    assert secrets.classify("client_secret", HEX_SECRET) is not None
    assert secrets.classify("description", HEX_SECRET) is None  # not a credential-named key
    assert secrets.classify("api_key", "9f86d081884c7d6") is None  # 15 chars: too short
    assert secrets.classify("api_key", "aaaa1111aaaa1111") is None  # low entropy
    assert secrets.shannon_entropy("abcd") == 2.0


@pytest.mark.parametrize(
    ("key", "credential"),
    [
        ("api_key", True),
        ("master_key", True),
        ("aws_secret_access_key", True),
        ("client_secret", True),
        ("db_password", True),
        ("access_token", True),
        ("OPENAI_API_KEY", True),
        ("max_tokens", False),
        ("input_cost_per_token", False),
        ("auth_type", False),
        ("model", False),
        ("public_key", False),
        (3, False),
    ],
)
def test_credential_key_names(key: object, credential: bool) -> None:
    assert secrets.is_credential_key(key) is credential


@pytest.mark.parametrize(
    ("url", "password"),
    [
        (f"postgresql://llm:{DB_PASSWORD}@db:5432/llm", DB_PASSWORD),
        ("postgresql://llm:os.environ/DB_PASS@db/llm", None),
        ("postgresql://llm:${POSTGRES_PASSWORD}@db/llm", None),
        ("postgresql://<user>:<password>@<host>:<port>/<dbname>", None),
        ("postgresql://llm:password@db/llm", None),
        ("postgresql://llm@db/llm", None),
        ("https://example.com/a@b", None),
    ],
)
def test_url_passwords(url: str, password: str | None) -> None:
    assert secrets.url_password(url) == password


def test_redaction_shows_four_characters_and_length_only() -> None:
    assert secrets.redact(ANTHROPIC) == f"sk-a…, {len(ANTHROPIC)} chars"
    assert secrets.redact("hunter2") == "…, 7 chars"


def test_literal_secret_finding_names_the_group_and_redacts(tmp_path: Path) -> None:
    ctx = load(
        tmp_path,
        f"""\
        model_list:
          - model_name: claude-sonnet-4-5
            litellm_params:
              model: anthropic/claude-sonnet-4-5
              api_key: {ANTHROPIC}
        """,
    )
    [f] = check_literal_secret(ctx)
    assert (f.severity, f.code, where(f)) == (Severity.ERROR, "literal-secret", ("c.yaml", 5))
    assert f.message == (
        "literal Anthropic API key in 'claude-sonnet-4-5' litellm_params.api_key "
        f"(sk-a…, {len(ANTHROPIC)} chars)"
    )
    assert f.hint == (
        "move it to .env as ANTHROPIC_API_KEY=... and write os.environ/ANTHROPIC_API_KEY here; "
        "rotate it if this file was ever shared or committed"
    )


def test_literal_secret_in_database_url_and_environment_variables(tmp_path: Path) -> None:
    ctx = load(
        tmp_path,
        f"""\
        general_settings:
          database_url: postgresql://llm:{DB_PASSWORD}@db:5432/llm
        environment_variables:
          GEMINI_API_KEY: {GOOGLE}
        """,
    )
    found = [(f.message, f.hint, where(f)) for f in check_literal_secret(ctx)]
    assert found == [
        (
            "literal password in URL in general_settings.database_url (…, 10 chars)",
            "move it to .env as DATABASE_URL=... and write os.environ/DATABASE_URL here; "
            "rotate it if this file was ever shared or committed",
            ("c.yaml", 2),
        ),
        (
            "literal Google API key in environment_variables.GEMINI_API_KEY (AIza…, 39 chars)",
            "move it to .env as GEMINI_API_KEY=... and write os.environ/GEMINI_API_KEY here; "
            "rotate it if this file was ever shared or committed",
            ("c.yaml", 4),
        ),
    ]


def test_local_server_placeholders_are_fine(tmp_path: Path) -> None:
    ctx = load(
        tmp_path,
        """\
        model_list:
          - model_name: local
            litellm_params: {model: lm_studio/qwen, api_key: lm-studio, api_base: "http://localhost:1234/v1"}
          - model_name: ollama
            litellm_params: {model: ollama/llama3, api_key: dummy}
        general_settings:
          master_key: os.environ/LITELLM_MASTER_KEY
        """,
    )
    assert list(check_literal_secret(ctx)) == []
    assert list(check_weak_demo_key(ctx)) == []


def test_demo_master_key_is_a_warning_not_a_secret(tmp_path: Path) -> None:
    ctx = load(tmp_path, "general_settings:\n  master_key: sk-1234\n")
    assert list(check_literal_secret(ctx)) == []
    [f] = check_weak_demo_key(ctx)
    assert (f.severity, f.code, where(f)) == (Severity.WARNING, "weak-demo-key", ("c.yaml", 2))
    assert (
        f.message == "general_settings.master_key is a demo value (…, 7 chars); anyone can guess it"
    )
    assert f.hint == (
        "generate one (sk- + `openssl rand -hex 32`), put LITELLM_MASTER_KEY=... in .env "
        "and write os.environ/LITELLM_MASTER_KEY here"
    )


def test_real_looking_literal_master_key_is_an_error_only(tmp_path: Path) -> None:
    key = "sk-" + HEX_SECRET
    ctx = load(tmp_path, f"general_settings:\n  master_key: {key}\n")
    [f] = check_literal_secret(ctx)
    assert f.message == ("literal API key (sk-…) in general_settings.master_key (sk-9…, 35 chars)")
    assert "LITELLM_MASTER_KEY" in (f.hint or "")
    assert list(check_weak_demo_key(ctx)) == []


def test_master_key_without_sk_is_only_a_warning(tmp_path: Path) -> None:
    # LiteLLM 1.108.7 serves with such a key (the corpus differential test starts it)
    ctx = load(tmp_path, "general_settings:\n  master_key: deo\n")
    [f] = check_master_key_format(ctx)
    assert (f.severity, f.code, where(f)) == (Severity.WARNING, "master-key-format", ("c.yaml", 2))
    assert f.message == (
        "general_settings.master_key does not start with 'sk-' (LiteLLM serves, but its key "
        "handling expects the prefix)"
    )


def test_master_key_from_env_is_checked_without_printing_it(tmp_path: Path) -> None:
    text = "general_settings:\n  master_key: os.environ/LITELLM_MASTER_KEY\n"
    bad = CheckContext(load(tmp_path, text).spec, env={"LITELLM_MASTER_KEY": "hunter2-secret"})
    [f] = check_master_key_format(bad)
    assert f.message == (
        "LITELLM_MASTER_KEY (general_settings.master_key) does not start with 'sk-' "
        "(LiteLLM serves, but its key handling expects the prefix)"
    )
    assert "hunter2" not in f.message + (f.hint or "")
    good = CheckContext(bad.spec, env={"LITELLM_MASTER_KEY": "sk-" + HEX_SECRET})
    assert list(check_master_key_format(good)) == []
    assert list(check_master_key_format(CheckContext(bad.spec))) == []  # --no-env


@pytest.mark.parametrize(
    ("model", "key", "name"),
    [
        # the key's format names its provider, whatever the deployment's prefix says
        ("openai/claude-sonnet-4-5", ANTHROPIC, "ANTHROPIC_API_KEY"),
        ("claude-sonnet-4-5-20250929", ANTHROPIC, "ANTHROPIC_API_KEY"),
        # a generic sk- key: the deployment's provider names it; a bare model name does not
        ("openrouter/meta-llama/llama-3.3-70b-instruct", "sk-" + "Zq8vN2xK7pLm4RtY9wBc3HjD6f", "OPENROUTER_API_KEY"),
        ("gpt-4o", "sk-" + "Zq8vN2xK7pLm4RtY9wBc3HjD6f", "API_KEY"),
    ],
)
def test_literal_key_hint_names_the_variable_of_the_key_and_deployment(tmp_path: Path, model, key, name) -> None:
    ctx = load(
        tmp_path,
        f"""\
        model_list:
          - model_name: m
            litellm_params:
              model: {model}
              api_key: {key}
        """,
    )
    [f] = check_literal_secret(ctx)
    assert f.hint == (
        f"move it to .env as {name}=... and write os.environ/{name} here; "
        "rotate it if this file was ever shared or committed"
    )
