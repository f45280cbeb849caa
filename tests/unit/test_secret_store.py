"""The env file as secret store: atomic 0600 writes, 0600 dated backups, refused values."""

from __future__ import annotations

import io
import re
import stat
from pathlib import Path

import pytest
import typer

from llmproxy_ops.cli import keys_cmd
from llmproxy_ops.envfile import generate_master_key, read_env_file
from llmproxy_ops.errors import UsageError
from llmproxy_ops.ops.secret_store import (
    SecretStore,
    check_value,
    read_secret,
    replace_assignment,
    salt_fingerprint,
)

ORIGINAL = "# secrets\nLITELLM_MASTER_KEY=sk-old-master-key-1234\nOTHER='a b'\n"


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


@pytest.fixture
def store(tmp_path: Path) -> SecretStore:
    path = tmp_path / ".env"
    path.write_text(ORIGINAL, encoding="utf-8")
    path.chmod(0o600)
    return SecretStore(path)


def test_set_replaces_one_value_keeps_the_rest_and_is_0600(store: SecretStore) -> None:
    store.set("LITELLM_MASTER_KEY", "sk-new-master-key-5678")
    assert (
        store.path.read_text()
        == "# secrets\nLITELLM_MASTER_KEY=sk-new-master-key-5678\nOTHER='a b'\n"
    )
    assert mode(store.path) == 0o600
    assert read_env_file(store.path)["OTHER"] == "a b"


def test_set_appends_a_new_variable(store: SecretStore) -> None:
    store.set("ANTHROPIC_API_KEY", "sk-ant-new value")
    assert store.path.read_text() == ORIGINAL + "ANTHROPIC_API_KEY='sk-ant-new value'\n"


def test_every_change_keeps_a_dated_0600_backup_and_never_overwrites_one(
    store: SecretStore,
) -> None:
    first = store.set("LITELLM_MASTER_KEY", "sk-second-key-000001")
    second = store.set("LITELLM_MASTER_KEY", "sk-third-key-0000002")
    assert first is not None and second is not None and first != second
    assert re.fullmatch(r"\.env\.bak-\d{8}T\d{6}Z(-\d+)?", first.name)
    assert first.read_text() == ORIGINAL  # the version before the first change
    assert read_env_file(second)["LITELLM_MASTER_KEY"] == "sk-second-key-000001"
    assert mode(first) == 0o600 and mode(second) == 0o600
    assert store.backups() == sorted([first, second])


def test_backup_name_collision_gets_a_suffix(store: SecretStore) -> None:
    backups = [store.backup() for _ in range(3)]
    assert len(set(backups)) == 3
    assert all(b.read_text() == ORIGINAL for b in backups)


def test_restore_puts_the_backup_back_atomically(store: SecretStore) -> None:
    backup = store.set("LITELLM_MASTER_KEY", "sk-new-master-key-5678")
    store.restore(backup)
    assert store.path.read_text() == ORIGINAL
    assert mode(store.path) == 0o600


def test_write_is_atomic_no_temp_files_left(store: SecretStore) -> None:
    store.set("X", "1")
    names = sorted(p.name for p in store.path.parent.iterdir())
    # .env.lock: the lock every read-modify-write holds (it stays: see fsutil.locked)
    assert [n for n in names if not n.startswith(".env.bak-")] == [".env", ".env.lock"]


def test_a_value_the_reader_cannot_round_trip_is_refused_and_restored(store: SecretStore) -> None:
    with pytest.raises(Exception, match="single quote"):
        store.set("OTHER", "it's")
    assert store.path.read_text() == ORIGINAL


@pytest.mark.parametrize(
    ("value", "master", "message"),
    [
        ("", False, "refusing an empty value for V"),
        ("a\nb", False, "refusing a value with a line break for V"),
        ("a\rb", False, "refusing a value with a line break for V"),
        ("no-prefix-key-123456", True, "refusing a master key without the 'sk-' prefix for V"),
    ],
)
def test_bad_values_are_refused_without_echo(value: str, master: bool, message: str) -> None:
    with pytest.raises(UsageError) as err:
        check_value("V", value, master=master)
    assert err.value.message == message
    if value:
        assert value not in str(err.value) + (err.value.hint or "")


def test_good_values_pass() -> None:
    check_value("V", "anything at all")
    check_value("V", generate_master_key(), master=True)


def test_generated_master_keys_are_strong() -> None:
    keys = {generate_master_key() for _ in range(50)}
    assert len(keys) == 50
    for key in keys:
        assert re.fullmatch(r"sk-[A-Za-z0-9_-]{43,}", key)  # 32 bytes URL-safe = 43 chars


def test_read_secret_from_stdin_strips_one_newline() -> None:
    assert read_secret(None, stdin=io.StringIO("sk-abc\n")) == "sk-abc"
    assert read_secret(Path("-"), stdin=io.StringIO("x y\r\n")) == "x y"
    assert read_secret(None, stdin=io.StringIO("a\n\n")) == "a\n"  # then refused by check_value


def test_read_secret_from_file(tmp_path: Path) -> None:
    path = tmp_path / "new.key"
    path.write_text("value-from-file\n")
    assert read_secret(path) == "value-from-file"
    with pytest.raises(UsageError, match="cannot read"):
        read_secret(tmp_path / "missing")


def test_read_secret_on_a_terminal_uses_getpass(monkeypatch: pytest.MonkeyPatch) -> None:
    class Tty(io.StringIO):
        def isatty(self) -> bool:
            return True

    asked: list[str] = []
    monkeypatch.setattr("getpass.getpass", lambda prompt: asked.append(prompt) or "typed")
    assert read_secret(None, stdin=Tty(), prompt="new: ") == "typed"
    assert asked == ["new: "]


def test_replace_assignment_handles_export_duplicates_and_no_final_newline() -> None:
    text = "export A=1\nB=2\nA=3"
    assert replace_assignment(text, "A", "9") == "A=9\nB=2\n"
    assert replace_assignment("B=2", "C", "x") == "B=2\nC=x\n"


def test_salt_fingerprint_is_a_short_sha256_never_the_value() -> None:
    fp = salt_fingerprint("my-salt-value-123")
    assert fp == "sha256:" + __import__("hashlib").sha256(b"my-salt-value-123").hexdigest()[:16]
    assert re.fullmatch(r"sha256:[0-9a-f]{16}", fp) and "salt" not in fp
    assert salt_fingerprint("other") != fp


def _options(group: typer.Typer) -> list[tuple[str, list[str]]]:
    out = []
    for info in group.registered_commands:
        click_cmd = typer.main.get_command_from_info(
            info, pretty_exceptions_short=True, rich_markup_mode=None
        )
        out += [(click_cmd.name or "", p.opts) for p in click_cmd.params]
    return out


def test_no_command_takes_a_secret_in_argv() -> None:
    options = _options(keys_cmd.rotate)
    flags = {opt for _, opts in options for opt in opts}
    allowed = {"--env", "-e", "--configs", "--env-file", "--dry-run", "--from-file", "variable"}
    assert flags == allowed
    for flag in flags:
        assert not re.search(r"key|value|secret|token|password", flag), flag
