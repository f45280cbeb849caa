"""Helpers shared by the benchmark scripts: statistics, machine facts, result files."""

from __future__ import annotations

import argparse
import cProfile
import hashlib
import json
import os
import platform
import pstats
import shutil
import socket
import statistics
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from importlib import metadata
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
RESULTS = Path(__file__).resolve().parent / "results"

# The scripts run from a checkout (python benchmarks/x.py): the package is the repo's own.
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))
# Benchmarks import litellm (directly or through llmproxy_ops): never wait on GitHub for it.
os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")

from llmproxy_ops.netutil import free_port  # noqa: E402,F401 - the benchmarks' port picker


def percentile(values: Sequence[float], q: float) -> float:
    """Nearest-rank percentile (q in 0..100): with few samples it is an observed value."""
    ordered = sorted(values)
    rank = max(1, -(-len(ordered) * q // 100))  # ceil without floats
    return ordered[int(rank) - 1]


def summary(values: Sequence[float]) -> dict[str, float | int]:
    return {
        "n": len(values),
        "median": statistics.median(values),
        "p90": percentile(values, 90),
        "min": min(values),
        "max": max(values),
    }


def time_command(argv: list[str], runs: int, cwd: Path) -> dict[str, Any]:
    """Wall time of a subprocess, end to end, `runs` times (bounded: 120 s each)."""
    times, codes = [], []
    for _ in range(runs):
        t0 = time.perf_counter()
        codes.append(subprocess.run(argv, cwd=cwd, capture_output=True, timeout=120).returncode)
        times.append(time.perf_counter() - t0)
    return {"exit_codes": codes, **summary(times)}


def print_profile(fn: Callable[..., Any], *args: Any, top: int = 30) -> None:
    """cProfile one call: our own functions by cumulative time, then everything by own time."""
    prof = cProfile.Profile()
    prof.runcall(fn, *args)
    stats = pstats.Stats(prof, stream=sys.stdout).sort_stats("cumulative")
    stats.print_stats("llmproxy_ops", top)
    stats.sort_stats("tottime").print_stats(top)


def ms_cell(stats: dict[str, float | int]) -> str:
    """'median / p90' of a summary in seconds, shown in milliseconds."""
    return f"{stats['median'] * 1e3:.1f} / {stats['p90'] * 1e3:.1f}"


def machine_info() -> dict[str, Any]:
    """What the numbers depend on; load average because the machine may be shared."""
    return {
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
        "hostname": socket.gethostname(),
        "platform": platform.platform(),
        "cpu_count": os.cpu_count(),
        "cpu_model": _cpu_model(),
        "loadavg_1_5_15": [round(x, 2) for x in os.getloadavg()],
        "python": sys.version.split()[0],
        "litellm": _version("litellm"),
        "llmproxy_ops": _version("llmproxy-ops"),
    }


def _cpu_model() -> str | None:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return None


def _version(dist: str) -> str | None:
    try:
        return metadata.version(dist)
    except metadata.PackageNotFoundError:
        return None


SEEDS_VENV = Path(__file__).resolve().parent / ".venv-seeds"


def seeds_litellm() -> Path:
    """`litellm` of a venv holding only what the seeds install: litellm[proxy] at our pin.

    The seeds' way must not run on this project's venv: extras we add for speed (httptools)
    would count for it too. Made once (about a minute through the package proxy), reused.
    """
    pin = f"litellm[proxy]=={metadata.version('litellm')}"
    return _bench_venv(SEEDS_VENV, sys.executable, pin, [[pin]])


def python_litellm(version: str) -> Path:
    """`litellm` of a venv on CPython `version` (e.g. "3.13", found on PATH as pythonX.Y) with
    this project's hash lock (lock/runtime.txt) and the project itself: the same packages
    as the default, another interpreter. Made once per lock, reused."""
    interpreter = shutil.which(f"python{version}")
    if interpreter is None:
        raise SystemExit(f"python{version} is not on PATH (pyenv install {version}, or apt)")
    lock = REPO / "lock" / "runtime.txt"
    return _bench_venv(
        Path(__file__).resolve().parent / f".venv-py{version.replace('.', '')}", interpreter,
        hashlib.sha256(lock.read_bytes()).hexdigest(),
        [["--require-hashes", "-r", str(lock)], ["--no-deps", "-e", str(REPO)]])


def _bench_venv(folder: Path, interpreter: str, stamp_text: str,
                installs: list[list[str]]) -> Path:
    """`litellm` of `folder`, made on `interpreter` with each pip install of `installs`
    unless its stamp already says `stamp_text` (what it was made from)."""
    binary, stamp = folder / "bin" / "litellm", folder / "installed.txt"
    if binary.exists() and stamp.exists() and stamp.read_text().strip() == stamp_text:
        return binary
    print(f"creating {folder} on {interpreter} (once)", file=sys.stderr, flush=True)
    subprocess.run([interpreter, "-m", "venv", "--clear", str(folder)], check=True)
    pip = [str(folder / "bin" / "python"), "-m", "pip", "install", "--quiet"]
    for args in installs:
        subprocess.run([*pip, *args], check=True)
    stamp.write_text(stamp_text + "\n")
    return binary


def markdown_table(headers: Sequence[str], rows: Sequence[Sequence[Any]]) -> str:
    lines = ["| " + " | ".join(headers) + " |", "|" + "|".join("---" for _ in headers) + "|"]
    lines += ["| " + " | ".join(str(cell) for cell in row) + " |" for row in rows]
    return "\n".join(lines)


def markdown_doc(title: str, info: dict[str, Any], table: str, *notes: str) -> str:
    """Title, the machine line, the table, then notes (one paragraph each)."""
    return "\n\n".join([f"## {title}", machine_line(info), table, *notes])


def machine_line(info: dict[str, Any]) -> str:
    return (
        f"{info['date']} · {info['cpu_count']} CPU ({info['cpu_model']}) · "
        f"load {info['loadavg_1_5_15']} · Python {info['python']} · litellm {info['litellm']}"
    )


def arg_parser(doc: str, quick_help: str) -> argparse.ArgumentParser:
    """The flags every benchmark has: --quick and --out."""
    parser = argparse.ArgumentParser(description=doc.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help=quick_help)
    parser.add_argument("--out", type=Path, help="results folder (default benchmarks/results)")
    return parser


def write_results(name: str, data: dict[str, Any], markdown: str, args: argparse.Namespace) -> Path:
    """results/<name>[_quick].json and .md, via temp files so a crash leaves no half file.

    Quick runs get their own names: they must not overwrite the committed full results.
    """
    name += "_quick" if args.quick else ""
    folder = args.out or RESULTS
    folder.mkdir(parents=True, exist_ok=True)
    for suffix, text in ((".json", json.dumps(data, indent=2) + "\n"), (".md", markdown + "\n")):
        target = folder / f"{name}{suffix}"
        tmp = target.with_name(target.name + ".tmp")
        tmp.write_text(text, encoding="utf-8")
        os.replace(tmp, target)
    return folder / f"{name}.json"
