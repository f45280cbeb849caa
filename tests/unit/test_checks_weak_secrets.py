"""weak-master-key / no-master-key / env-file-readable (issue 14 §4)."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from llmproxy_ops.findings import Severity
from llmproxy_ops.spec import load_files
from llmproxy_ops.validate.checks.weak_secrets import check_env_file_mode, check_weak_master_key
from llmproxy_ops.validate.context import CheckContext

REF = "general_settings:\n  master_key: os.environ/LITELLM_MASTER_KEY\n"
GOOD = "sk-Zq8vN2xK7pLm4RtY9wBc3HjD6fGs1QaE"


def _ctx(tmp_path: Path, text: str, *, env: dict[str, str] | None = None, name: str = "prod",
         env_file: Path | None = None) -> CheckContext:
    path = tmp_path / "c.yaml"
    path.write_text(textwrap.dedent(text), encoding="utf-8")
    spec = load_files([path])
    spec.name = name
    return CheckContext(spec, env=env, env_example=frozenset(), env_file=env_file)


@pytest.mark.parametrize(
    ("value", "why"),
    [
        ("sk-change-me", "a placeholder or demo value"),
        ("changeme", "a placeholder or demo value"),
        ("sk-1234", "sk-1234, the public demo key (LiteLLM 1.108.7 refuses to start with it)"),
        ("sk-Zq8vN2xK7pLm4", "too short (13 characters after the prefix, at least 16)"),
        ("sk-abababababababababab", "a placeholder or demo value"),
        ("sk-aaaabbbbccccddddeeeeffff", "low-entropy (not random enough)"),
    ],
)
def test_weak_master_key_from_the_env_file_is_an_error_outside_dev(tmp_path, monkeypatch, value, why):
    monkeypatch.chdir(tmp_path)  # no .env.example here
    ctx = _ctx(tmp_path, REF, env={"LITELLM_MASTER_KEY": value})
    [f] = check_weak_master_key(ctx)
    assert (f.severity, f.code, f.path) == (Severity.ERROR, "weak-master-key", ("general_settings", "master_key"))
    assert f.message == (
        f"LITELLM_MASTER_KEY (general_settings.master_key) is {why}: anyone who guesses it is the proxy's admin"
    )
    if value != "sk-1234":
        assert value not in f.message + (f.hint or "")  # never echoed


def test_the_env_example_placeholder_is_named_and_dev_only_warns(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / ".env.example").write_text("LITELLM_MASTER_KEY=sk-ZZexampleONLY0000aa11\n")
    env = {"LITELLM_MASTER_KEY": "sk-ZZexampleONLY0000aa11"}
    [prod] = check_weak_master_key(_ctx(tmp_path, REF, env=env))
    assert prod.message.endswith("is the placeholder from .env.example: anyone who guesses it is the proxy's admin")
    assert prod.hint.endswith("set LITELLM_MASTER_KEY=... in .env (only the dev environment may keep it)")
    [dev] = check_weak_master_key(_ctx(tmp_path, REF, env=env, name="dev"))
    assert dev.severity is Severity.WARNING


def test_a_generated_key_passes_and_no_env_cannot_judge(tmp_path):
    assert list(check_weak_master_key(_ctx(tmp_path, REF, env={"LITELLM_MASTER_KEY": GOOD}))) == []
    assert list(check_weak_master_key(_ctx(tmp_path, REF, env=None))) == []


@pytest.mark.parametrize(("host", "found"), [("0.0.0.0", 1), ("192.168.1.5", 1), ("127.0.0.1", 0), ("::1", 0)])
def test_no_master_key_beyond_loopback_is_an_error(tmp_path, host, found):
    ctx = _ctx(tmp_path, f"model_list: []\nstack:\n  host: '{host}'\n")
    findings = list(check_weak_master_key(ctx))
    assert len(findings) == found
    if found:
        assert (findings[0].severity, findings[0].code) == (Severity.ERROR, "no-master-key")
        assert findings[0].message == (
            f"no general_settings.master_key while the proxy listens on {host}: anyone who reaches "
            "it is admin; LiteLLM 1.108.7 also refuses to start without one"
        )


def test_env_file_readable_by_others_is_a_warning_naming_chmod(tmp_path):
    env_file = tmp_path / "prod.env"
    env_file.write_text(f"LITELLM_MASTER_KEY={GOOD}\n")
    env_file.chmod(0o644)
    # outside production a warning (tests/security covers prod's error)
    [f] = check_env_file_mode(_ctx(tmp_path, REF, env={}, env_file=env_file, name="dev"))
    assert (f.severity, f.code) == (Severity.WARNING, "env-file-readable")
    assert f.message == f"env file {env_file} is readable by others (mode 0644); it holds the secrets"
    assert f.hint == f"chmod 600 {env_file}"
    env_file.chmod(0o600)
    assert list(check_env_file_mode(_ctx(tmp_path, REF, env={}, env_file=env_file))) == []

