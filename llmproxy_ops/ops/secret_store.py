"""The env file as the secret store: atomic 0600 writes, dated 0600 backups, no echo.

Values enter through stdin or a file only: argv is readable by every user in /proc
(`ps`), so no command takes a secret as an option. Every read-modify-write holds an
exclusive lock (fsutil.locked): two `keys rotate` at once lose no update.
"""

from __future__ import annotations

import getpass
import hashlib
import os
import re
import sys
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import TextIO

from llmproxy_ops.envfile import format_assignment, read_env_file, write_env_text
from llmproxy_ops.errors import EnvFileError, UsageError
from llmproxy_ops.fsutil import locked

MASTER_PREFIX = "sk-"
BACKUP_INFIX = ".bak-"
STAMP_FORMAT = "%Y%m%dT%H%M%SZ"
_ASSIGNMENT = re.compile(r"^\s*(?:export\s+)?([A-Za-z_][A-Za-z0-9_]*)\s*=")


def salt_fingerprint(value: str) -> str:
    """A stable, non-reversible id of a salt key for backup manifests: never the value."""
    return "sha256:" + hashlib.sha256(value.encode("utf-8")).hexdigest()[:16]


def check_value(name: str, value: str, *, master: bool = False) -> None:
    """Refuse values that cannot be stored or used; messages never quote the value."""
    if not value:
        raise UsageError(f"refusing an empty value for {name}")
    if "\n" in value or "\r" in value:
        raise UsageError(
            f"refusing a value with a line break for {name}",
            hint="give the value on one line (a trailing newline is fine)",
        )
    if master and not value.startswith(MASTER_PREFIX):
        raise UsageError(
            f"refusing a master key without the '{MASTER_PREFIX}' prefix for {name}",
            hint="LiteLLM requires master keys to start with sk-",
        )


def read_secret(
    source: Path | None, *, stdin: TextIO | None = None, prompt: str = "value: "
) -> str:
    """The value from a file, or stdin (`None` or `-`); a terminal is asked without echo."""
    if source is not None and str(source) != "-":
        try:
            text = source.read_text(encoding="utf-8")
        except OSError as exc:
            raise UsageError(f"cannot read {source}: {exc.strerror}") from None
    else:
        stream = stdin or sys.stdin
        text = getpass.getpass(prompt) if stream.isatty() else stream.read()
    # One trailing newline is how `echo`/editors end a file; anything else is the value.
    return text[:-2] if text.endswith("\r\n") else text[:-1] if text.endswith("\n") else text


@dataclass(frozen=True)
class SecretStore:
    """One env file; every change keeps the previous version as a dated backup."""

    path: Path

    def values(self) -> dict[str, str]:
        return read_env_file(self.path)

    def get(self, name: str) -> str | None:
        return self.values().get(name)

    def set(self, name: str, value: str) -> Path | None:
        """Write name=value (other lines kept); the backup of the previous file, if any."""
        with locked(self.path):
            backup = self.backup() if self.path.exists() else None
            write_env_text(self.path, replace_assignment(self._text(), name, value))
            if self.get(name) != value:  # the dotenv reader must see exactly what was written
                self._write_back(backup)
                raise EnvFileError(
                    f"{name} did not read back as written; {self.path} was restored")
        return backup

    def revert(self, name: str, backup: Path | None) -> None:
        """Put `name` back as `backup` had it (absent: removed); every other line stays as it
        is now, so a change another process made meanwhile is kept."""
        with locked(self.path):
            old = read_env_file(backup).get(name) if backup is not None else None
            text = self._text()
            if old is None:
                text = "".join(ln for ln in text.splitlines(keepends=True)
                               if not ((m := _ASSIGNMENT.match(ln)) and m.group(1) == name))
            else:
                text = replace_assignment(text, name, old)
            write_env_text(self.path, text)

    def backup(self) -> Path:
        """Copy the file to `<name>.bak-<UTC stamp>` (0600); never replaces an existing backup."""
        data = self.path.read_bytes()
        stamp = datetime.now(UTC).strftime(STAMP_FORMAT)
        base = self.path.with_name(f"{self.path.name}{BACKUP_INFIX}{stamp}")
        for n in range(100):
            candidate = base if n == 0 else base.with_name(f"{base.name}-{n}")
            try:
                fd = os.open(candidate, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            except FileExistsError:
                continue
            with os.fdopen(fd, "wb") as fh:
                os.fchmod(fh.fileno(), 0o600)  # umask cannot widen it, but be explicit
                fh.write(data)
                fh.flush()
                os.fsync(fh.fileno())
            return candidate
        raise EnvFileError(f"too many backups of {self.path} within one second")

    def restore(self, backup: Path | None) -> None:
        """Put a backup's content back in place (atomically, 0600); None removes the file."""
        with locked(self.path):
            self._write_back(backup)

    def _write_back(self, backup: Path | None) -> None:
        if backup is None:
            self.path.unlink(missing_ok=True)
            return
        write_env_text(self.path, backup.read_text(encoding="utf-8"))

    def backups(self) -> list[Path]:
        return sorted(self.path.parent.glob(f"{self.path.name}{BACKUP_INFIX}*"))

    def _text(self) -> str:
        return self.path.read_text(encoding="utf-8") if self.path.exists() else ""


def replace_assignment(text: str, name: str, value: str) -> str:
    """`text` with every assignment of `name` replaced by one new line (appended if absent)."""
    line = format_assignment(name, value)
    out: list[str] = []
    for old in text.splitlines(keepends=True):
        match = _ASSIGNMENT.match(old)
        if match and match.group(1) == name:
            if line:
                out.append(line)
                line = ""
            continue
        out.append(old)
    if line:
        if out and not out[-1].endswith("\n"):
            out.append("\n")
        out.append(line)
    return "".join(out)
