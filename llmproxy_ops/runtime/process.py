"""Process and file primitives for the local runtime (POSIX, /proc based)."""

from __future__ import annotations

import errno
import json
import os
import signal
import socket
import time
from collections import deque
from pathlib import Path
from typing import Any

from llmproxy_ops import fsutil

# A JSON log line can hold a whole traceback; keep its head and its tail (where the error is).
_LINE_HEAD = 300
_LINE_TAIL = 1500
_TAIL_WINDOW = 4 * 1024 * 1024


def atomic_write_text(path: Path, text: str) -> None:
    """Readers never see half a file (see llmproxy_ops.fsutil)."""
    fsutil.atomic_write_text(path, text)


def read_json_object(path: Path) -> dict[str, Any]:
    """A state file's JSON object; {} when it is missing, unreadable or not an object."""
    try:
        state = json.loads(path.read_text())
    except (FileNotFoundError, ValueError):
        return {}
    return state if isinstance(state, dict) else {}


def open_log(path: Path) -> Any:
    """A log for appending, created 0600 (and narrowed to 0600 if older): with DEBUG
    logging it holds prompts. A symlink planted in its place is refused."""
    fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT | os.O_NOFOLLOW | os.O_CLOEXEC,
                 0o600)
    os.fchmod(fd, 0o600)
    return os.fdopen(fd, "ab")


def spawn_detached(argv: list[str], env: dict[str, str], log_path: Path) -> int:
    """Start argv in a new session (Ctrl-C of the caller does not reach it), output appended to log.

    posix_spawn instead of Popen: the child outlives any Popen object, whose finaliser
    would warn "subprocess is still running"; exit codes are collected with exit_status().
    """
    fd = os.open(log_path, os.O_WRONLY | os.O_APPEND | os.O_CREAT | os.O_NOFOLLOW, 0o600)
    os.fchmod(fd, 0o600)
    try:
        actions = [
            (os.POSIX_SPAWN_OPEN, 0, os.devnull, os.O_RDONLY, 0),
            (os.POSIX_SPAWN_DUP2, fd, 1),
            (os.POSIX_SPAWN_DUP2, fd, 2),
        ]
        return os.posix_spawn(argv[0], argv, env, file_actions=actions, setsid=True)
    finally:
        os.close(fd)


# Exit codes of children reaped by pid_alive(), so a later exit_status() still has them.
_REAPED: dict[int, int] = {}


def exit_status(pid: int) -> int | None:
    """Reap our exited child: its exit code (negative signal number), else None."""
    if pid in _REAPED:
        return _REAPED.pop(pid)
    try:
        reaped, status = os.waitpid(pid, os.WNOHANG)
    except ChildProcessError:
        return None
    return os.waitstatus_to_exitcode(status) if reaped else None


def wait_exit_status(pid: int, timeout: float) -> int | None:
    """exit_status() of a child seen dying: a zombie whose other threads are still exiting
    cannot be reaped yet, so poll briefly."""
    deadline = time.monotonic() + timeout
    while (code := exit_status(pid)) is None and time.monotonic() < deadline:
        time.sleep(0.05)
    return code


def pid_alive(pid: int) -> bool:
    """True if pid runs and is not a zombie (a zombie still answers kill(pid, 0))."""
    _reap(pid)
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return _proc_state(pid) != "Z"


def _reap(pid: int) -> bool:
    """Reap pid if it is our exited child; False only while it is our child and not reaped."""
    # When this interpreter started the child (tests, a long-lived caller) nobody else reaps it.
    try:
        reaped, status = os.waitpid(pid, os.WNOHANG)
    except (ChildProcessError, OSError):
        return True  # not our child (or already reaped): its parent or init reaps it
    if reaped:
        _REAPED[pid] = os.waitstatus_to_exitcode(status)
    return reaped != 0


def _proc_state(pid: int) -> str | None:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    # The command name is in parentheses and may contain spaces; the state follows the last ')'.
    return stat.rsplit(")", 1)[-1].split()[0]


def cmdline(pid: int) -> list[str]:
    """The argv of a process, or [] if it is gone or unreadable."""
    try:
        raw = Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return []
    return [part.decode(errors="replace") for part in raw.split(b"\0") if part]


def group_alive(pgid: int) -> bool:
    """True if any process of the group still exists (the kernel keeps a live group's id unused)."""
    try:
        os.killpg(pgid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def signal_group(pgid: int, sig: signal.Signals) -> bool:
    """Send sig to a whole process group; False if the group is already gone."""
    try:
        os.killpg(pgid, sig)
    except ProcessLookupError:
        return False
    return True


def wait_group_gone(pgid: int, timeout: float) -> bool:
    """Poll until the leader is reaped and no member of the group is left."""
    deadline = time.monotonic() + timeout
    while True:
        settled = _reap(pgid)
        # A multi-threaded leader shows "Z" while its other threads still exit, before
        # waitpid can reap it: a child of ours only counts as gone once reaped.
        if not group_alive(pgid) or (_only_zombies(pgid) and (settled or _reap(pgid))):
            return True
        if time.monotonic() >= deadline:
            return False
        time.sleep(0.05)


def stop_group(pgid: int, grace: float = 5.0) -> None:
    """SIGTERM a helper's process group, SIGKILL it if still there after `grace`."""
    signal_group(pgid, signal.SIGTERM)
    if not wait_group_gone(pgid, grace):
        signal_group(pgid, signal.SIGKILL)
        wait_group_gone(pgid, 5.0)


def _only_zombies(pgid: int) -> bool:
    # The leader may be a zombie of some other parent that has not reaped it yet; its
    # workers are what matter, and they are listed in /proc with the same pgid.
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            fields = (entry / "stat").read_text().rsplit(")", 1)[-1].split()
        except OSError:
            continue
        if int(fields[2]) == pgid and fields[0] != "Z":
            return False
    return True


def port_in_use(host: str, port: int) -> bool:
    """True if binding host:port fails because something else holds it."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as sock:
        # uvicorn sets SO_REUSEADDR too, so a socket in TIME_WAIT must not count as in use.
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((host, port))
        except OSError as exc:
            if exc.errno == errno.EADDRINUSE:
                return True
            raise
    return False


def tail_lines(path: Path, lines: int, start_offset: int = 0) -> list[str]:
    """The last `lines` lines of a file from start_offset on, long lines shortened in the middle."""
    if lines <= 0:
        return []
    try:
        with path.open("rb") as fh:
            size = fh.seek(0, os.SEEK_END)
            # A long-lived log can be huge: only the last window is read.
            begin = max(start_offset, size - _TAIL_WINDOW)
            fh.seek(begin)
            if begin > start_offset:
                fh.readline()  # drop the partial line the window starts in
            kept = deque(fh, maxlen=lines)
    except FileNotFoundError:
        return []
    return [_shorten(raw.decode(errors="replace").rstrip("\r\n")) for raw in kept]


def _shorten(line: str) -> str:
    if len(line) <= _LINE_HEAD + _LINE_TAIL:
        return line
    cut = len(line) - _LINE_HEAD - _LINE_TAIL
    return f"{line[:_LINE_HEAD]} …[{cut} chars]… {line[-_LINE_TAIL:]}"
