"""Backups are authenticated before anything in them is trusted: an HMAC-SHA256 of
manifest.json with a key that never leaves the operator's machine.

The manifest lists the sha256 and size of every other file, so a valid HMAC over it vouches
for the whole folder once the file checks pass. An unkeyed checksum (what backups had
before) does not: whoever crafts a folder recomputes it. A folder without a valid HMAC is
reported by `verify` and refused by `restore` before a single byte of it reaches psql or
pg_restore (a dump is SQL: restoring a crafted one runs whatever it says).

The key is 32 random bytes, hex in a 0600 file (default `<run_dir>/backup.key`), created by
the first `backup create`. Moving a backup to another machine: copy the key with it over a
channel you trust, or check the folder yourself and `backup sign` it there (SECURITY.md).
"""

from __future__ import annotations

import hashlib
import hmac
import os
import secrets
import stat
from dataclasses import dataclass
from pathlib import Path

from llmproxy_ops import fsutil
from llmproxy_ops.errors import BackupError

MAC_FILE = "manifest.hmac"
SCHEME = "hmac-sha256"
KEY_FILE = "backup.key"
_KEY_BYTES = 32
_MAX_KEY_FILE = 1024
_MAX_MAC_FILE = 1024


@dataclass(frozen=True)
class BackupKey:
    """The key file; read on use, created only by `backup create`."""

    path: Path

    def exists(self) -> bool:
        return self.path.is_file()

    def load(self) -> bytes:
        """The key; BackupError when it is missing, malformed or readable by others."""
        try:
            fd = os.open(self.path, os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC)
        except FileNotFoundError:
            raise BackupError(
                f"no backup key at {self.path}: no backup was made on this machine",
                hint="a backup made elsewhere needs that machine's key (copy it here, mode "
                "0600) or `llmproxy-ops backup sign FOLDER` after checking it yourself",
            ) from None
        except OSError as exc:
            raise BackupError(f"cannot read the backup key {self.path}: {exc.strerror}") from None
        with os.fdopen(fd, "rb") as fh:
            info = os.fstat(fh.fileno())
            raw = fh.read(_MAX_KEY_FILE + 1)
        if stat.S_IMODE(info.st_mode) & 0o077 or info.st_uid != os.geteuid():
            raise BackupError(
                f"the backup key {self.path} is readable or owned by someone else "
                f"(mode {stat.S_IMODE(info.st_mode):04o}): anyone who reads it can forge backups",
                hint=f"chmod 600 {self.path} (and make a new key if it may have leaked)",
            )
        try:
            key = bytes.fromhex(raw.decode("ascii").strip())
        except (UnicodeDecodeError, ValueError):
            key = b""
        if len(key) != _KEY_BYTES:
            raise BackupError(f"the backup key {self.path} is not {_KEY_BYTES} bytes of hex")
        return key

    def load_or_create(self) -> bytes:
        if not self.path.exists() and not self.path.is_symlink():
            fsutil.ensure_private_dir(self.path.parent)
            fsutil.write_private(self.path, (secrets.token_hex(_KEY_BYTES) + "\n").encode())
        return self.load()

    def key_id(self) -> str:
        return key_id(self.load())


def key_id(key: bytes) -> str:
    """Which key signed a backup (shown in errors); says nothing about the key itself."""
    return hashlib.sha256(b"llmproxy-ops backup key id\0" + key).hexdigest()[:16]


def mac_line(key: bytes, manifest: bytes) -> str:
    digest = hmac.new(key, manifest, hashlib.sha256).hexdigest()
    return f"{SCHEME} {key_id(key)} {digest}\n"


def sign_folder(folder: Path, key: bytes, manifest: bytes) -> None:
    fsutil.atomic_write_text(folder / MAC_FILE, mac_line(key, manifest), mode=0o600)


def authenticate(folder: Path, manifest: bytes, key: bytes) -> list[str]:
    """[] when manifest.hmac is this key's HMAC of `manifest`; else what is wrong."""
    try:
        fd = os.open(folder / MAC_FILE, os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC)
    except FileNotFoundError:
        return [f"{MAC_FILE}: missing; the backup is not authenticated (made by an older "
                "version or not by this tool)"]
    except OSError as exc:
        return [f"{MAC_FILE}: unreadable ({exc.strerror})"]
    with os.fdopen(fd, "rb") as fh:
        parts = fh.read(_MAX_MAC_FILE).decode("ascii", "replace").split()
    if len(parts) != 3 or parts[0] != SCHEME:
        return [f"{MAC_FILE}: malformed"]
    if parts[1] != key_id(key):
        return [f"{MAC_FILE}: signed with another backup key (id {parts[1]}); this "
                f"machine's key is {key_id(key)}"]
    expected = mac_line(key, manifest).split()[2]
    if not hmac.compare_digest(parts[2], expected):
        return [f"manifest.json: HMAC does not match {MAC_FILE} (the manifest was edited)"]
    return []


def record_mac(key: bytes, text: str) -> str:
    """The MAC of a verify record (verify.json is in the folder too: it must not be forgeable)."""
    return hmac.new(key, b"verify\0" + text.encode(), hashlib.sha256).hexdigest()
