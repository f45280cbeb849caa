"""Find the litellm this run directory started when its pid/state files are lost or corrupt.

Every child gets RUN_DIR_MARKER=<run dir> in its environment (never in argv, which other
users can read); the leader of its process group (setsid) is what `down` stops.
"""

from __future__ import annotations

import os
from pathlib import Path

RUN_DIR_MARKER = "LLMPROXY_OPS_RUN_DIR"


def marker_env(run_dir: Path) -> dict[str, str]:
    return {RUN_DIR_MARKER: str(run_dir.resolve())}


def started_from(run_dir: Path) -> list[int]:
    """Process-group leaders (alive, not zombies) whose environment names this run dir."""
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
        if wanted in environ and fields[0] != "Z" and int(fields[2]) == pid and mine:
            found.append(pid)
    return sorted(found)
