"""File writes that never follow links: a temp file in the same folder, then os.replace.

Readers (and a crash at any moment) see the old file or the new one, never half of one; the
mode is set on the temp file before any byte is written, so a secret is never readable by
others even briefly. Every write goes through a descriptor of the folder opened with
O_NOFOLLOW, and every file is created with O_EXCL | O_NOFOLLOW relative to it: a symlink
planted as the folder, the file or the temp file is refused or replaced, never written
through (issue 23, finding 2).
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import secrets
import stat
from collections.abc import Iterator
from pathlib import Path
from typing import BinaryIO

from llmproxy_ops.errors import UnsafePathError

PRIVATE_DIR = 0o700
PRIVATE_FILE = 0o600
_NEW = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC
_DIR = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC


def open_folder(folder: Path) -> int:
    """A descriptor of `folder`; UnsafePathError when it is a symlink (or not a folder)."""
    try:
        return os.open(folder, _DIR)
    except OSError as exc:
        if folder.is_symlink():
            raise UnsafePathError(
                f"{folder} is a symlink; refusing to write through it",
                hint="point the setting at the real folder",
            ) from None
        raise UnsafePathError(f"cannot open folder {folder}: {exc.strerror}") from None


def ensure_private_dir(folder: Path) -> Path:
    """Create `folder` (and parents) with mode 0700; an existing one is narrowed to 0700.

    A symlink in its place is refused: the files written into it may hold secrets."""
    folder.mkdir(parents=True, exist_ok=True, mode=PRIVATE_DIR)
    fd = open_folder(folder)
    try:
        if stat.S_IMODE(os.fstat(fd).st_mode) != PRIVATE_DIR:
            os.fchmod(fd, PRIVATE_DIR)
    finally:
        os.close(fd)
    return folder


def atomic_write_bytes(path: Path, data: bytes, *, mode: int = 0o644) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    folder = open_folder(path.parent)
    try:
        tmp = f".{path.name}.{secrets.token_hex(6)}.tmp"
        fd = os.open(tmp, _NEW, mode, dir_fd=folder)
        try:
            os.fchmod(fd, mode)  # the umask may have narrowed it; never widened
            with os.fdopen(fd, "wb") as handle:
                handle.write(data)
                handle.flush()
                os.fsync(handle.fileno())
            # A symlink at `path` is replaced by the file, not followed.
            os.replace(tmp, path.name, src_dir_fd=folder, dst_dir_fd=folder)
        except BaseException:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(tmp, dir_fd=folder)
            raise
    finally:
        os.close(folder)


def atomic_write_text(path: Path, text: str, *, mode: int = 0o644) -> None:
    atomic_write_bytes(path, text.encode("utf-8"), mode=mode)


@contextlib.contextmanager
def create_private(path: Path) -> Iterator[BinaryIO]:
    """A new 0600 file (it must not exist: O_EXCL, no link followed), fsynced on close."""
    folder = open_folder(path.parent)
    try:
        fd = os.open(path.name, _NEW, PRIVATE_FILE, dir_fd=folder)
    except FileExistsError:
        raise UnsafePathError(f"{path} already exists; refusing to write over it") from None
    finally:
        os.close(folder)
    with os.fdopen(fd, "wb") as handle:
        os.fchmod(handle.fileno(), PRIVATE_FILE)
        yield handle
        handle.flush()
        os.fsync(handle.fileno())


def write_private(path: Path, data: bytes) -> None:
    """`data` into a new 0600 file (see create_private)."""
    with create_private(path) as handle:
        handle.write(data)


@contextlib.contextmanager
def locked(path: Path) -> Iterator[None]:
    """An exclusive lock for a read-modify-write of `path` across processes.

    The lock is a 0600 file beside it (`<name>.lock`): `path` itself is replaced by rename on
    every write, so a lock held on it would guard a file that is no longer there."""
    lock = path.with_name(f"{path.name}.lock")
    lock.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(lock, os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW | os.O_CLOEXEC, PRIVATE_FILE)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)  # closing releases the lock
