"""Where a request's CPU goes: py-spy on a LiteLLM setup under a wrk load (issue 16 §3).

Starts the static upstream and one setup of perf.py (our rendered default, or the seeds'
way), loads it with wrk, samples every process of the setup with py-spy, and prints the
frames that hold the most samples (inclusive, and self). Shares are what to read: they hold
on a busy machine, where absolute CPU figures do not.

    .venv/bin/python benchmarks/profile_request.py                  # our default, plain
    .venv/bin/python benchmarks/profile_request.py --setup seeds --stream
    .venv/bin/python benchmarks/profile_request.py --frame user_api_key_auth

Needs py-spy (in the [test] extra) and wrk (`apt-get install wrk`).
"""

from __future__ import annotations

import argparse
import collections
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import _common as bench  # noqa: F401  # puts the checkout first on sys.path
import perf_setups as setups
from perf_load import run_point

_LINE = re.compile(r":\d+\)")  # frames differ by line number only: one row per function


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--setup", choices=["default", "seeds"], default="default")
    parser.add_argument("--stream", action="store_true", help="SSE requests instead of JSON")
    parser.add_argument("--connections", type=int, default=8)
    parser.add_argument("--seconds", type=int, default=20, help="sampling time")
    parser.add_argument("--rate", type=int, default=200, help="py-spy samples per second")
    parser.add_argument("--top", type=int, default=40)
    parser.add_argument("--frame", help="also show the callers and callees of this frame")
    parser.add_argument("--keep", type=Path, help="write the raw (collapsed) stacks here")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    spy = shutil.which("py-spy", path=str(Path(sys.executable).parent)) or shutil.which("py-spy")
    if spy is None:
        print("py-spy is not installed: make install-test (or pip install py-spy)", file=sys.stderr)
        return 2
    work = Path(tempfile.mkdtemp(prefix="profile-"))
    upstream = setups.start_upstream(work)
    try:
        setup = (
            setups.start_seeds(work, upstream.target.url)
            if args.setup == "seeds"
            else setups.start_rendered(work, upstream.target.url, None)
        )
        try:
            stacks = _sample(spy, setup, args, work)
        finally:
            setup.stop()
    finally:
        upstream.stop()
    if args.keep:
        args.keep.write_text("".join(f"{s} {n}\n" for s, n in stacks.items()), encoding="utf-8")
    _report(stacks, args.top, args.frame)
    return 0


def _sample(
    spy: str, setup: setups.Running, args: argparse.Namespace, work: Path
) -> dict[str, int]:
    run_point(setup.target, args.stream, args.connections, 4)  # warm: caches, first imports
    pids = subprocess.run(
        ["pgrep", "-g", str(setup.target.groups[0])], capture_output=True, text=True, check=False
    ).stdout.split()
    outs = [work / f"stacks-{pid}.txt" for pid in pids]
    spies = [
        subprocess.Popen(
            [spy, "record", "-p", pid, "-d", str(args.seconds), "-r", str(args.rate),
             "-f", "raw", "-o", str(out), "--nonblocking"],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )
        for pid, out in zip(pids, outs, strict=True)
    ]
    point = run_point(setup.target, args.stream, args.connections, args.seconds + 2)
    for proc in spies:
        proc.wait()
    print(f"{setup.label}: {point['rps']:.0f} req/s, {point['cpu_ms_per_req']:.2f} CPU ms/req "
          f"while sampled (py-spy's own cost included)")
    stacks: collections.Counter[str] = collections.Counter()
    for out in outs:
        if out.exists():
            for line in out.read_text(encoding="utf-8").splitlines():
                stack, _, count = line.rpartition(" ")
                if stack:
                    stacks[stack] += int(count)
    return dict(stacks)


def _report(stacks: dict[str, int], top: int, frame: str | None) -> None:
    total = sum(stacks.values()) or 1
    inclusive: collections.Counter[str] = collections.Counter()
    own: collections.Counter[str] = collections.Counter()
    callers: collections.Counter[str] = collections.Counter()
    callees: collections.Counter[str] = collections.Counter()
    for stack, count in stacks.items():
        frames = [_LINE.sub(")", f) for f in stack.split(";")]
        for name in dict.fromkeys(frames):
            inclusive[name] += count
        own[frames[-1]] += count
        hits = [i for i, f in enumerate(frames) if frame and frame in f]
        if hits:
            i = hits[0]
            callers[frames[i - 1] if i else "-"] += count
            callees[frames[i + 1] if i + 1 < len(frames) else "(self)"] += count
    print(f"{total} samples")
    _table("inclusive", inclusive, total, top)
    _table("self", own, total, top)
    if frame:
        _table(f"callers of {frame}", callers, total, 10)
        _table(f"callees of {frame}", callees, total, 15)


def _table(title: str, counts: collections.Counter[str], total: int, top: int) -> None:
    print(f"\n{title}")
    for name, count in counts.most_common(top):
        print(f"  {100 * count / total:5.1f}%  {name[:150]}")


if __name__ == "__main__":
    raise SystemExit(main())
