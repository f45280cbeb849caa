"""Running another program: the one way every runtime and operation does it.

A command is data (argv, environment, input, timeout, the secrets its output may echo). A
failure raises CommandFailed with the exit code and the output, every known secret value
replaced by ***; a program that is not installed raises StackError naming what to install
for that program, not for whichever runtime happened to call it.
"""

from __future__ import annotations

import os
import subprocess
from collections.abc import Iterable

from llmproxy_ops.errors import CommandFailed, StackError

_MIN_SECRET_LEN = 8  # shorter values are too common to replace (and no secret we accept)
_DOCKER = "install Docker with Compose v2 (scripts/provision-docker.sh)"
_APT = "install it from Debian: apt-get install -y {}"
INSTALL_HINTS = {
    "docker": _DOCKER,
    "redis-server": _APT.format("redis-server"),
    "redis-cli": _APT.format("redis-tools"),
    "psql": _APT.format("postgresql-client"),
    "pg_dump": _APT.format("postgresql-client"),
    "pg_restore": _APT.format("postgresql-client"),
    "nginx": _APT.format("nginx-light"),
    "kubectl": "put kubectl on PATH (scripts/install-test-deps.sh extracts one into .tools/bin)",
}


def install_hint(program: str) -> str:
    name = os.path.basename(program)
    return INSTALL_HINTS.get(name, f"install {name} and put it on PATH")


def scrub(text: str, secrets: Iterable[str], *, min_len: int = _MIN_SECRET_LEN) -> str:
    """Replace known secret values in text that is shown to people (longest first, so a
    secret containing another is replaced whole). `min_len`: shorter values of an env file
    are too common to replace; a caller whose every value is a credential passes 1."""
    for value in sorted({str(v) for v in secrets}, key=len, reverse=True):
        if len(value) >= min_len:
            text = text.replace(value, "***")
    return text


def run_command(cmd: list[str], *, timeout: float, secrets: Iterable[str] = (),
                input: str | None = None,
                env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    """Run cmd; a failure raises CommandFailed with the command, exit code and output."""
    secrets = tuple(secrets)
    shown = [scrub(arg, secrets) for arg in cmd]  # secrets travel in env or stdin; even so
    try:
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, check=False,
                              input=input, env=env)
    except FileNotFoundError:
        raise StackError(f"{cmd[0]} not found on PATH", hint=install_hint(cmd[0])) from None
    except subprocess.TimeoutExpired as exc:
        raise CommandFailed(shown, -1, scrub(_text(exc.stdout), secrets),
                            f"timed out after {timeout:g} s") from None
    if proc.returncode != 0:
        stderr = scrub(proc.stderr, secrets)
        failed = CommandFailed(shown, proc.returncode, scrub(proc.stdout, secrets), stderr)
        failed.details = stderr.strip()[-4000:] or None
        raise failed
    return proc


def _text(value: bytes | str | None) -> str:
    if isinstance(value, bytes):
        return value.decode(errors="replace")
    return value or ""
