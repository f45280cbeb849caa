"""Which worker holds which connection: why 2 uvicorn workers did not double streaming.

For LiteLLM's shared socket (uvicorn and gunicorn, 2 workers, same tuned settings) and our
default (a SO_REUSEPORT socket per worker), several times: start a streaming wrk run (new
keep-alive connections each time), count the established connections per worker pid with
`ss` half-way through, and record the split.

    .venv/bin/python benchmarks/perf_conns.py [--connections 8] [--runs 5]
"""

from __future__ import annotations

import argparse
import collections
import os
import re
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

import _common as bench
import perf_setups as setups
from perf_load import run_point

SERVERS = ("uvicorn2_shared", "gunicorn2_tuned")
_PID = re.compile(r"pid=(\d+)")


def connections_per_pid(port: int) -> dict[int, int]:
    """Established server-side sockets on 127.0.0.1:port, counted by owning pid."""
    out = subprocess.run(
        ["ss", "-Htnp", "state", "established", f"( sport = :{port} )"],
        capture_output=True,
        text=True,
        timeout=10,
    ).stdout
    counts: collections.Counter[int] = collections.Counter()
    for line in out.splitlines():
        pids = set(_PID.findall(line))  # a socket inherited by a fork lists both pids
        if len(pids) == 1:
            counts[int(pids.pop())] += 1
    return dict(counts)


def probe(running: setups.Running, connections: int, runs: int) -> list[list[int]]:
    port = int(running.target.url.rsplit(":", 1)[1])
    splits = []
    for _ in range(runs):
        args = (running.target, True, connections, 3.0)
        load = threading.Thread(target=run_point, args=args)
        load.start()
        time.sleep(1.5)
        counts = connections_per_pid(port)
        load.join()
        splits.append(sorted(counts.values(), reverse=True))
    return splits


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--connections", type=int, default=8)
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="perf-conns-"))
    upstream = setups.start_upstream(work)
    started = [upstream]
    result: dict[str, Any] = {"connections": args.connections, "machine": bench.machine_info()}
    try:
        candidates = {c.key: c for c in setups.CANDIDATES}
        for key in (*SERVERS, "default"):
            running = setups.start_rendered(work, upstream.target.url, candidates.get(key))
            started.append(running)
            run_point(running.target, True, args.connections, 2.0)  # warm every worker
            result[running.label] = probe(running, args.connections, args.runs)
            print(running.label, result[running.label], file=sys.stderr, flush=True)
    finally:
        for r in reversed(started):
            r.stop()
    out = bench.RESULTS / "perf_conns.json"
    out.write_text(__import__("json").dumps(result, indent=2) + "\n")
    print(out, file=sys.stderr)
    return 0


if __name__ == "__main__":
    os.environ.pop("LITELLM_LOG", None)
    sys.exit(main())
