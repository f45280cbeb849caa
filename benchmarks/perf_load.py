"""Load generation for perf.py: one wrk run per point, plus the CPU the serving processes used."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import Any

LUA = Path(__file__).resolve().parent / "lua" / "chat.lua"
_TICK_S = 1.0 / os.sysconf("SC_CLK_TCK")
_MARK = "BENCH_JSON "


@dataclass(frozen=True)
class Target:
    """Where one setup is reached: a 127.0.0.1 URL, the model and the key; `groups` are the
    process groups whose CPU counts (the proxy's, and nginx's when it is in front)."""

    url: str
    groups: tuple[int, ...]
    key: str | None = None
    model: str = "bench-model"
    stream_model: str | None = None  # the proxies route streams to the upstream's SSE path
    path: str = "/v1/chat/completions"
    stream_path: str | None = None  # the bare upstream answers SSE on another path
    insecure_tls: bool = False


def wrk_binary() -> str:
    found = shutil.which("wrk")
    if found is None:
        raise SystemExit("wrk is not installed: apt-get install -y wrk")
    return found


def run_point(target: Target, stream: bool, connections: int, duration: float) -> dict[str, Any]:
    """One bounded wrk run; the result has req/s, latency percentiles (ms), errors and CPU."""
    if not target.url.startswith(("http://127.0.0.1:", "https://127.0.0.1:")):
        raise ValueError(f"benchmarks only load 127.0.0.1, not {target.url}")
    before = group_cpu(target.groups)
    raw = _wrk(target, stream, connections, duration)
    after = group_cpu(target.groups)
    return _point(raw, before, after)


def _wrk(target: Target, stream: bool, connections: int, duration: float) -> dict[str, Any]:
    path = (target.stream_path or target.path) if stream else target.path
    env = {
        **os.environ,
        "BENCH_PATH": path,
        "BENCH_MODEL": (target.stream_model or target.model) if stream else target.model,
        "BENCH_KEY": target.key or "",
        "BENCH_STREAM": "1" if stream else "0",
    }
    # One thread is plenty for a few hundred req/s and leaves the cores to the proxy; the
    # bare upstream (tens of thousands req/s) gets two so wrk is less of its own limit.
    threads = 2 if target.key is None and connections > 1 else 1
    argv = [wrk_binary(), f"-t{threads}", f"-c{connections}", f"-d{duration:g}s"]
    argv += ["--timeout", "10s", "-s", str(LUA), target.url.rstrip("/") + path]
    done = subprocess.run(argv, env=env, capture_output=True, text=True, timeout=duration + 60)
    for line in done.stdout.splitlines():
        if line.startswith(_MARK):
            return dict(json.loads(line[len(_MARK) :]))
    raise RuntimeError(f"wrk gave no result (exit {done.returncode}): {done.stderr.strip()[:300]}")


def _point(
    raw: dict[str, Any], before: dict[int, float], after: dict[int, float]
) -> dict[str, Any]:
    seconds = raw["duration_us"] / 1e6
    requests = raw["requests"]
    socket_errors = sum(raw[k] for k in ("connect", "read", "write", "timeout"))
    per_pid = {pid: after[pid] - before.get(pid, 0.0) for pid in after}
    cpu_s = sum(max(0.0, v) for v in per_pid.values())
    busy = sorted((v for v in per_pid.values() if v > 0.05 * max(cpu_s, 1e-9)), reverse=True)
    return {
        "requests": requests,
        "rps": requests / seconds if seconds else 0.0,
        "p50_ms": raw["p50_us"] / 1e3,
        "p90_ms": raw["p90_us"] / 1e3,
        "p99_ms": raw["p99_us"] / 1e3,
        "max_ms": raw["max_us"] / 1e3,
        "http_errors": raw["status"],
        "socket_errors": socket_errors,
        "cpu_s": cpu_s,
        "cpu_ms_per_req": 1e3 * cpu_s / requests if requests else None,
        # CPU seconds of the busiest processes: shows whether load spread over the workers.
        "busiest_pids_cpu_s": [round(v, 2) for v in busy[:4]],
    }


def group_cpu(groups: tuple[int, ...]) -> dict[int, float]:
    """utime+stime (seconds) of every live process in the given process groups, by pid."""
    found = {}
    for pid, fields in _group_stats(groups):
        # utime is field 14 and stime 15 of stat(5); `fields` starts at field 3 (state).
        found[pid] = (int(fields[11]) + int(fields[12])) * _TICK_S
    return found


def group_memory(groups: tuple[int, ...]) -> list[dict[str, Any]]:
    """RSS and PSS (MiB) of every live process in the groups. PSS splits pages shared by
    several processes (e.g. workers forked from one parent) among them, so PSS adds up."""
    out = []
    for pid, _ in _group_stats(groups):
        try:
            rss = _kib_field(Path(f"/proc/{pid}/status").read_text(), "VmRSS:")
            pss = _kib_field(Path(f"/proc/{pid}/smaps_rollup").read_text(), "Pss:")
            name = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")[:3]
        except OSError:
            continue  # exited meanwhile
        command = " ".join(Path(a.decode()).name for a in name if a)
        out.append({"pid": pid, "command": command, "rss_mib": rss / 1024, "pss_mib": pss / 1024})
    return out


def _kib_field(text: str, label: str) -> float:
    for line in text.splitlines():
        if line.startswith(label):
            return float(line.split()[1])
    return 0.0


def _group_stats(groups: tuple[int, ...]) -> list[tuple[int, list[str]]]:
    """(pid, stat fields from `state` on) of every live process in the process groups."""
    wanted, found = set(groups), []
    for entry in os.scandir("/proc"):
        if not entry.name.isdigit():
            continue
        try:
            stat = Path(entry.path, "stat").read_text()
        except OSError:
            continue  # exited meanwhile
        fields = stat.rsplit(")", 1)[1].split()
        if int(fields[2]) in wanted:  # after the command name: state ppid pgrp ...
            found.append((int(entry.name), fields))
    return found
