"""The one command runner: the right install hint, and no secret in what a failure shows."""

from __future__ import annotations

import sys

import pytest

from llmproxy_ops.commands import run_command, scrub
from llmproxy_ops.errors import CommandFailed, StackError

SECRET = "sk-a-secret-of-some-length"


@pytest.mark.parametrize(("program", "hint"), [
    ("docker", "install Docker"),
    ("/usr/local/bin/redis-cli", "apt-get install -y redis-tools"),
    ("pg_dump", "apt-get install -y postgresql-client"),
    ("some-tool", "install some-tool and put it on PATH"),
])
def test_a_missing_program_names_what_to_install_for_it(
        program: str, hint: str, tmp_path: object, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PATH", str(tmp_path))
    name = program.rsplit("/", 1)[-1]
    with pytest.raises(StackError) as err:
        run_command([name], timeout=5)
    assert hint in (err.value.hint or ""), err.value.hint
    if name != "docker":
        assert "Docker" not in (err.value.hint or "")


def test_a_failure_shows_its_output_without_the_secrets() -> None:
    code = f"import sys; print('out {SECRET}'); sys.exit('err {SECRET}')"
    with pytest.raises(CommandFailed) as err:
        run_command([sys.executable, "-c", code], timeout=30, secrets=[SECRET])
    shown = f"{err.value} {err.value.stdout} {err.value.stderr} {err.value.details}"
    assert "out ***" in shown and "err ***" in shown and SECRET not in shown


def test_a_timeout_shows_its_output_without_the_secrets() -> None:
    code = f"import time; print('{SECRET}', flush=True); time.sleep(30)"
    with pytest.raises(CommandFailed) as err:
        run_command([sys.executable, "-c", code], timeout=2, secrets=[SECRET])
    assert "timed out after 2 s" in err.value.stderr
    assert SECRET not in err.value.stdout and "***" in err.value.stdout


def test_scrub_replaces_the_longest_first_and_keeps_short_values_unless_asked() -> None:
    assert scrub("a sk-abcdefgh-longer b", ["sk-abcdefgh", "sk-abcdefgh-longer"]) == "a *** b"
    assert scrub("pw: abc", ["abc"]) == "pw: abc"
    assert scrub("pw: abc", ["abc"], min_len=1) == "pw: ***"
