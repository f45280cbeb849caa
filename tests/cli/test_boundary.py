"""One error boundary per command: exit 3 with a crash log for bugs, 130 on Ctrl-C."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import typer.main

from llmproxy_ops.cli.boundary import guard, is_guarded
from llmproxy_ops.cli.main import app
from tests.conftest import REPO

OPS = Path(sys.executable).parent / "llmproxy-ops"


def _commands(cmd, prefix: str = "") -> list:
    if hasattr(cmd, "commands"):  # a group (typer ships its own click)
        return [c for name, sub in cmd.commands.items() for c in _commands(sub, f"{prefix} {name}")]
    return [(prefix.strip(), cmd)]


def test_every_command_is_wrapped_exactly_once():
    commands = _commands(typer.main.get_command(app))
    assert len(commands) >= 18
    unguarded = [name for name, cmd in commands if not is_guarded(cmd.callback)]
    assert unguarded == []
    # not stacked: exactly one boundary frame in each command's chain of wrappers
    boundary_code = guard(lambda: None).__code__
    for name, cmd in commands:
        chain, fn = [], cmd.callback
        while fn is not None:
            chain.append(fn.__code__ is boundary_code)
            fn = getattr(fn, "__wrapped__", None)
        assert chain.count(True) == 1, name


def test_a_crash_after_the_library_call_is_exit_3_with_a_log(tmp_path, cli, monkeypatch):
    # `backup list` used to run its listing outside the boundary: a crash there skipped exit 3
    shutil.copytree(REPO / "configs", tmp_path / "configs")
    # (A manifest.json that is a folder used to be the crash; it is now an unreadable backup.)
    def crash(*args, **kwargs):
        raise IsADirectoryError(21, "Is a directory")

    monkeypatch.setattr("llmproxy_ops.cli.backup_cmd.list_backups", crash)
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("BACKUP_DATABASE_URL", "postgresql://u:p@127.0.0.1:9/")
    result = cli("backup", "list", "--env", "dev")
    assert result.exit_code == 3
    first = result.output.splitlines()[0]
    assert first.startswith("internal error: an unexpected exception; details in ")
    log = Path(first.rsplit(" ", 1)[1])
    assert "IsADirectoryError" in log.read_text()
    log.unlink()


def test_ctrl_c_anywhere_in_a_command_exits_130(tmp_path):
    # `backup create --include-secrets` reads the passphrase from stdin: block it there
    env = {**os.environ, "BACKUP_DATABASE_URL": "postgresql://u:p@127.0.0.1:9/"}
    proc = subprocess.Popen(
        [str(OPS), "backup", "create", "--env", "dev", "--include-secrets"],
        cwd=REPO, env=env, text=True,
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
        # Ctrl-C at a terminal reaches a process whose SIGINT is at its default. A run started
        # in the background of a non-interactive shell (`cmd &`) inherits SIGINT ignored, and
        # Python then installs no KeyboardInterrupt handler: the command would read on.
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
    )
    try:
        deadline = time.monotonic() + 60
        # blocked in read(0, ...): the prompt itself (the syscall and its fd), not any pipe
        while not Path(f"/proc/{proc.pid}/syscall").read_text().startswith("0 0x0 "):
            assert proc.poll() is None and time.monotonic() < deadline
            time.sleep(0.05)
        proc.send_signal(signal.SIGINT)
        out, err = proc.communicate(timeout=20)
    finally:
        proc.kill()
    assert (proc.returncode, out, err) == (130, "", "interrupted\n")


def test_a_sub_app_invoked_on_its_own_has_the_boundary_too(tmp_path, monkeypatch):
    from typer.testing import CliRunner

    from llmproxy_ops.cli import config_cmd

    monkeypatch.chdir(tmp_path)
    result = CliRunner().invoke(config_cmd.app, ["show", "--env", "dev"], catch_exceptions=False)
    assert result.exit_code == 1
    assert "error: no environment 'dev'" in result.output
