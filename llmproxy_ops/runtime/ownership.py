"""Who listens on a port, and is it ours: /proc/net/tcp{,6} socket inodes -> /proc/PID/fd.

LiteLLM's CLI moves to a random port, silently, when the requested port is 4000 and busy
(proxy_cli.py: `if port == 4000 and _is_port_in_use(port)`); a health check on 4000 then
answers for whatever holds it. A listener counts as ours only when its process is in the
process group of the litellm we started (started with setsid: group id = its pid).
"""

from __future__ import annotations

import os
from pathlib import Path

_LISTEN = "0A"  # TCP_LISTEN in /proc/net/tcp's `st` column


def listening_inodes() -> dict[str, int]:
    """Socket inode -> port, for every TCP socket in LISTEN state (IPv4 and IPv6)."""
    found: dict[str, int] = {}
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        try:
            rows = Path(table).read_text().splitlines()[1:]
        except OSError:
            continue
        for row in rows:
            fields = row.split()
            if len(fields) > 9 and fields[3] == _LISTEN:
                found[fields[9]] = int(fields[1].rsplit(":", 1)[1], 16)
    return found


def listeners(port: int | None = None) -> dict[int, set[int]]:
    """pid -> ports it listens on (only `port` when given)."""
    inodes = {i: p for i, p in listening_inodes().items() if port is None or p == port}
    out: dict[int, set[int]] = {}
    if not inodes:
        return out
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            ports = _socket_ports(entry, inodes)
            if ports:
                out[int(entry.name)] = ports
    return out


def _socket_ports(proc: Path, inodes: dict[str, int]) -> set[int]:
    ports: set[int] = set()
    try:
        fds = list((proc / "fd").iterdir())
    except OSError:
        return ports
    for fd in fds:
        try:
            target = os.readlink(fd)
        except OSError:
            continue
        if target.startswith("socket:[") and target[8:-1] in inodes:
            ports.add(inodes[target[8:-1]])
    return ports


def pgid_of(pid: int) -> int | None:
    try:
        return os.getpgid(pid)
    except OSError:
        return None


def group_ports(pgid: int) -> set[int]:
    """Every port a member of process group `pgid` listens on."""
    return {p for pid, ports in listeners().items() if pgid_of(pid) == pgid for p in ports}


def foreign_listeners(port: int, pgid: int) -> list[int]:
    """Pids outside group `pgid` that listen on `port`."""
    return sorted(pid for pid in listeners(port) if pgid_of(pid) != pgid)
