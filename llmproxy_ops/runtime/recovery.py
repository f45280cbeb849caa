"""Find what a run directory started when its pid/state files are lost or corrupt.

Every child gets RUN_DIR_MARKER=<run dir> in its environment (never in argv, which other
users can read); the leader of its process group (setsid) is what `down` stops. Companions
(the fake provider, redis-server) also carry ROLE_MARKER, so that a litellm is never taken
for one of them, nor they for it.
"""

from __future__ import annotations

import os
from pathlib import Path

RUN_DIR_MARKER = "LLMPROXY_OPS_RUN_DIR"
ROLE_MARKER = "LLMPROXY_OPS_ROLE"


def marker_env(run_dir: Path, role: str | None = None) -> dict[str, str]:
    """The markers of a child started from run_dir; `role` names a companion."""
    return {RUN_DIR_MARKER: str(run_dir.resolve()), **({ROLE_MARKER: role} if role else {})}


def started_from(run_dir: Path, role: str | None = None) -> list[int]:
    """Process-group leaders (alive, not zombies) whose environment names this run dir, and
    this companion role (None: no role, the litellm itself)."""
    wanted = f"{RUN_DIR_MARKER}={run_dir.resolve()}".encode()
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit() or int(entry.name) == os.getpid():
            continue
        try:
            environ = (entry / "environ").read_bytes().split(b"\0")
            fields = (entry / "stat").read_text().rsplit(")", 1)[-1].split()
            # our own processes only: root must not stop another user's process that merely
            # copied the marker into its environment
            mine = os.stat(entry).st_uid == os.geteuid()
        except OSError:
            continue
        pid = int(entry.name)
        roles = [v for v in environ if v.startswith(f"{ROLE_MARKER}=".encode())]
        role_ok = roles == ([f"{ROLE_MARKER}={role}".encode()] if role else [])
        if wanted in environ and role_ok and fields[0] != "Z" and int(fields[2]) == pid and mine:
            found.append(pid)
    return sorted(found)


def stop_marked(run_dir: Path, role: str, grace: float) -> list[int]:
    """Stop the companions of `role` run_dir started that no state file describes any more."""
    from llmproxy_ops.runtime import process

    leaders = started_from(run_dir, role)
    for pid in leaders:
        process.stop_group(pid, grace)
    return leaders
