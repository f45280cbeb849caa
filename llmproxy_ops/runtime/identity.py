"""Is the pid a state file names still the process this tool started? Only then may it be
signalled.

A pid alone proves nothing: pids are recycled, and `.run/<env>/` may have been written by
someone else (a state folder copied in, a forged state.json). Before a signal, the live
process must match everything recorded when it was started, read from /proc right after the
spawn: its start time (clock ticks since boot) and the boot id (no recycled pid has both),
its owner (our uid), its executable, and a random token that only its environment holds
(/proc/PID/environ is readable by its owner alone, so a process of someone else, or one a
forger points at, cannot show it). The working directory is not compared: redis-server
changes into its `dir` after start. A program that rewrites its title over its environment
would lose the token: the local redis-server runs with `set-proc-title no`.
"""

from __future__ import annotations

import os
import secrets
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from llmproxy_ops.runtime import process

TOKEN_VAR = "LLMPROXY_OPS_INSTANCE"


@dataclass(frozen=True)
class Identity:
    start: int
    boot_id: str
    uid: int
    exe: str
    token: str

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_json(cls, raw: Any) -> Identity | None:
        """None for anything that is not a complete record (an older or forged state)."""
        if not isinstance(raw, dict):
            return None
        try:
            ident = cls(**raw)
        except TypeError:
            return None
        types = (int, str, int, str, str)
        values = (ident.start, ident.boot_id, ident.uid, ident.exe, ident.token)
        ok = all(isinstance(v, t) and not isinstance(v, bool) for v, t in zip(values, types,
                                                                               strict=True))
        return ident if ok and len(ident.token) >= 32 else None


def spawn(argv: list[str], env: dict[str, str], log_path: Path) -> tuple[int, Identity]:
    """process.spawn_detached with a fresh token in the child's environment; its identity."""
    token = secrets.token_hex(16)
    pid = process.spawn_detached(argv, {**env, TOKEN_VAR: token}, log_path)
    # posix_spawn returns after the exec: /proc already shows the new program.
    ident = observe(pid, token)
    if ident is None:
        ident = Identity(-1, "", -1, "", token)  # it died at once: matches nothing
    return pid, ident


def observe(pid: int, token: str) -> Identity | None:
    """What /proc says about pid now (with `token` as its claimed one), None if unreadable."""
    proc = Path(f"/proc/{pid}")
    try:
        fields = (proc / "stat").read_text().rsplit(")", 1)[1].split()
        return Identity(
            start=int(fields[19]),  # field 22 of stat; fields[0] is field 3
            boot_id=boot_id(),
            uid=os.stat(proc).st_uid,
            exe=os.readlink(proc / "exe"),
            token=token,
        )
    except (OSError, IndexError, ValueError):
        return None


def boot_id() -> str:
    try:
        return Path("/proc/sys/kernel/random/boot_id").read_text().strip()
    except OSError:
        return ""


def matches(pid: int, recorded: Any) -> bool:
    """True only when pid is alive and is, by every recorded fact, the process we started."""
    expected = Identity.from_json(recorded)
    if expected is None or expected.uid != os.geteuid() or not process.pid_alive(pid):
        return False
    if observe(pid, expected.token) != expected:
        return False
    return has_token(pid, expected.token)


def has_token(pid: int, token: str) -> bool:
    try:
        environ = Path(f"/proc/{pid}/environ").read_bytes().split(b"\0")
    except OSError:
        return False
    return f"{TOKEN_VAR}={token}".encode() in environ
