"""Interleaved throughput benchmark of LiteLLM deployments (issue 5): seeds' way vs ours.

All setups run at once against one static nginx upstream; each round visits every point
(non-streaming/streaming × concurrency) and, per point, every setup in turn, so machine noise
hits all setups alike. Reported as ratios to the seeds' way from the same run.

    .venv/bin/python benchmarks/perf.py            # full: all setups, c=1,8,32, 6 s, 2 rounds
    .venv/bin/python benchmarks/perf.py --quick    # core setups, c=8,32, 4 s, 1 round
    .venv/bin/python benchmarks/perf.py --guard    # ~1 min: exit 1 if default < 1.5x seeds
"""

from __future__ import annotations

import argparse
import os
import shlex
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import _common as bench
import perf_report as report
import perf_setups as setups
from perf_load import group_memory, run_point, wrk_binary

from llmproxy_ops.errors import OpsError

GUARD_RATIO = 1.5
# Knobs a candidate sets itself; inherited from the caller's shell they would blur the setups.
_KNOBS = ("LITELLM_LOG", "PYTHON_GC_THRESHOLD", "LITELLM_LOCAL_MODEL_COST_MAP")


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = bench.arg_parser(__doc__, "core setups only, c=8 and 32, 4 s points, 1 round")
    parser.add_argument(
        "--guard",
        action="store_true",
        help=f"regression guard: exit 1 when default < {GUARD_RATIO}x seeds",
    )
    parser.add_argument("--duration", type=float, help="seconds per point")
    parser.add_argument("--rounds", type=int, help="rounds over all points")
    parser.add_argument("--concurrency", type=int, nargs="+", help="connection counts")
    parser.add_argument(
        "--candidates", nargs="*", help="candidate keys (default: all; none with --quick)"
    )
    parser.add_argument("--no-front", action="store_true", help="skip nginx in front")
    parser.add_argument("--no-stream", action="store_true", help="non-streaming points only")
    args = parser.parse_args(argv)
    _plan(args)
    return args


def _plan(args: argparse.Namespace) -> None:
    """Fill the budget: full ≈ 15 min on 2 cores, quick ≈ 2 min, guard ≈ 1 min."""
    light = args.quick or args.guard
    args.duration = args.duration or (5.0 if args.guard else 4.0 if args.quick else 6.0)
    args.rounds = args.rounds or (2 if args.guard else 1 if args.quick else 2)
    args.concurrency = args.concurrency or ([8, 32] if light else [1, 8, 32])
    if args.candidates is None:
        args.candidates = [] if light else [c.key for c in setups.CANDIDATES]
    args.no_front = args.no_front or args.guard
    args.loadavg = []
    args.failed = {}
    unknown = set(args.candidates) - {c.key for c in setups.CANDIDATES}
    if unknown:
        raise SystemExit(f"unknown candidates: {sorted(unknown)}")


def start_all(args: argparse.Namespace, work: Path, running: list[setups.Running]) -> None:
    """Start every setup, appending to `running` as it goes (so a failure stops the rest).

    The default is started right after the seeds, before the machine fills up with the
    candidates: its start-to-healthy is the one reported. A candidate that does not start
    is recorded and left out; the core setups must start.
    """
    upstream = setups.start_upstream(work)
    running.append(upstream)
    url = upstream.target.url
    running.append(setups.start_seeds(work, url))
    default = setups.start_rendered(work, url, None)
    running.append(default)
    if not args.no_front:
        running += setups.start_fronts(work, default)
    for cand in setups.CANDIDATES:
        if cand.key in args.candidates:
            try:
                running.append(setups.start_rendered(work, url, cand))
            except OpsError as exc:
                args.failed[cand.key] = str(exc)
                print(f"candidate {cand.key} did not start: {exc}", file=sys.stderr)


def run_rounds(
    args: argparse.Namespace, running: list[setups.Running]
) -> dict[str, dict[str, list[Any]]]:
    modes = [False] if args.no_stream or args.guard else [False, True]
    points = [(s, c) for s in modes for c in args.concurrency]
    if args.guard:
        points.append((True, 8))  # one streaming point keeps the guard honest about SSE
    raw: dict[str, dict[str, list[Any]]] = {r.key: {} for r in running}
    for r in running:  # warm-up: first requests in each worker pay lazy imports and set-up
        for stream in modes if r.key != "upstream" else []:
            run_point(r.target, stream, 8, 2.0)
    for rnd in range(args.rounds):
        args.loadavg.append([round(x, 2) for x in os.getloadavg()])
        for stream, conns in points:
            order = running[rnd % len(running) :] + running[: rnd % len(running)]
            for r in order:
                if conns == 1 and r.key not in (*report.NOT_CANDIDATES, report.DEFAULT):
                    continue  # budget: candidates are compared where workers matter (c >= 8)
                if args.guard and r.key == "upstream":
                    continue  # the guard compares ratios only
                duration = min(args.duration, 3.0) if r.key == "upstream" else args.duration
                try:
                    point = run_point(r.target, stream, conns, duration)
                except RuntimeError as exc:  # e.g. the setup died: record it, keep the run
                    print(f"point failed: {r.key}: {exc}", file=sys.stderr)
                    args.failed[f"{r.key} {report.point_key(stream, conns)} round {rnd + 1}"] = str(
                        exc
                    )
                    continue
                raw[r.key].setdefault(report.point_key(stream, conns), []).append(point)
                _progress(rnd, r.key, stream, conns, point)
                time.sleep(0.3)
    return raw


def _progress(rnd: int, key: str, stream: bool, conns: int, point: dict[str, Any]) -> None:
    # Progress goes to stderr so a long run shows it is alive; results go to files.
    print(
        f"round {rnd + 1} {report.point_key(stream, conns):10} {key:24} "
        f"{point['rps']:9.1f} req/s p50 {point['p50_ms']:7.1f} ms "
        f"err {point['http_errors'] + point['socket_errors']}",
        file=sys.stderr,
        flush=True,
    )


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    wrk_binary()
    for knob in _KNOBS:
        os.environ.pop(knob, None)
    work = Path(tempfile.mkdtemp(prefix="perf-"))
    running: list[setups.Running] = []
    try:
        start_all(args, work, running)
        raw = run_rounds(args, running)
        for r in running:  # after the load: what the workers grew to while serving
            if r.key not in ("nginx_http", "nginx_tls"):
                r.info["memory"] = group_memory(r.target.groups)
    finally:
        for r in reversed(running):
            r.stop()
    data = _data(args, running, raw, argv)
    name = "perf_guard" if args.guard else "perf"
    path = bench.write_results(name, data, report.markdown(data), args)
    print(report.markdown(data))
    print(f"\nwritten: {path} (+ .md); work dir {work}", file=sys.stderr)
    return _verdict(args, data)


def _data(
    args: argparse.Namespace,
    running: list[setups.Running],
    raw: dict[str, Any],
    argv: list[str] | None,
) -> dict[str, Any]:
    results = {k: {p: report.aggregate(v) for p, v in per.items()} for k, per in raw.items()}
    report.add_ratios(results)
    info = {r.key: {"label": r.label, **r.info} for r in running}
    command = " ".join(
        [".venv/bin/python benchmarks/perf.py", *map(shlex.quote, argv or sys.argv[1:])]
    )
    return {
        "command": command.strip(),
        "machine": bench.machine_info(),
        "duration_s": args.duration,
        "rounds": args.rounds,
        "loadavg_each_round": args.loadavg,
        "failures": args.failed,
        "setups": info,
        "results": results,
        "raw_points": raw,
        "targets": report.targets(results, info),
    }


def _verdict(args: argparse.Namespace, data: dict[str, Any]) -> int:
    """Guard: the geometric mean of default/seeds over the guard's points must reach 1.5.

    One mean over the points, not each point alone: on a shared 2-core machine a single
    5 s point can swing by a third; a real regression (e.g. back to one uvicorn worker,
    ratio ~1.0-1.3) moves every point.
    """
    if not args.guard:
        return 0
    ratios = {k: a["ratio_to_seeds"] for k, a in data["results"]["default"].items()}
    for key, ratio in ratios.items():
        print(f"guard: default / seeds at {key} = {ratio}", file=sys.stderr)
    if any(r is None or r <= 0 for r in ratios.values()):
        print("GUARD FAILED: a point has no ratio (no requests served?)", file=sys.stderr)
        return 1
    mean = statistics.geometric_mean(ratios.values())
    verdict = "ok" if mean >= GUARD_RATIO else "GUARD FAILED"
    print(f"{verdict}: geometric mean {mean:.2f} (need >= {GUARD_RATIO})", file=sys.stderr)
    return 0 if mean >= GUARD_RATIO else 1


if __name__ == "__main__":
    sys.exit(main())
