"""Soak (issue 26): how LiteLLM's workers grow, and what the memory guard does about it.

Local proxies side by side, each under its own steady load for the whole run, against the
fake provider (wrk from 127.0.0.1, one thread per connection group):

  guard-off   our launcher as shipped (no stack.workers_max_rss)
  guard-on    the same with the memory guard at --limit MiB (LLMPROXY_MAX_RSS_MB)
  429-only    guard off, over-limit traffic only: does 429 traffic alone grow a worker?

Traffic per proxy: plain (2 connections) and SSE (2) to open groups, and over-limit (1 each):
a group with rpm 1 (LiteLLM's own 429) and one whose provider answers 429 (the fake's
`fail-429`; LiteLLM retries it num_retries times: the retry path leaked before 1.108.11).
429-only gets the two over-limit groups only. Every 10 s each worker's RSS is read from
/proc; a worker's slope (MiB/hour) is the least-squares line through its samples after its
first minute (start-up and first requests excluded). Recycles and restarts come from the
launcher's record of its workers (LLMPROXY_WORKERS_FILE).

    .venv/bin/python benchmarks/soak_memory.py                 # 20 minutes
    .venv/bin/python benchmarks/soak_memory.py --minutes 10 --limit 400
    .venv/bin/python benchmarks/soak_memory.py --quick         # 2 minutes (results *_quick)

Exits 1 when guard-on failed a plain or SSE request (the guard must drop nothing).
"""

from __future__ import annotations

import json
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import _common as bench
from perf_load import LUA, wrk_binary

from llmproxy_ops.launcher import rss_mib
from llmproxy_ops.targets.local.process import LaunchSpec, LocalRuntime
from llmproxy_ops.testing.fake_provider import FakeProvider

KEY = "sk-soak-memory-master-key-5b1e7d"
SAMPLE_S = 10.0
WARMUP_S = 60.0  # a worker's first minute: start-up and first requests, not growth
CONFIG = """\
model_list:
  - model_name: m
    litellm_params: {{model: openai/gpt-4o-mini, api_base: "{base}", api_key: dummy}}
  - model_name: m-stream
    litellm_params: {{model: openai/gpt-4o-mini, api_base: "{base}", api_key: dummy}}
  - model_name: limited
    litellm_params: {{model: openai/gpt-4o-mini, api_base: "{base}", api_key: dummy, rpm: 1}}
  - model_name: upstream-429
    litellm_params: {{model: openai/fail-429, api_base: "{base}", api_key: dummy}}
router_settings: {{optional_pre_call_checks: [enforce_model_rate_limits]}}
litellm_settings: {{num_retries: 2, request_timeout: 60}}
general_settings: {{master_key: os.environ/LITELLM_MASTER_KEY}}
"""
_ENV = {"LITELLM_MASTER_KEY": KEY, "LITELLM_LOG": "ERROR", "LITELLM_LOCAL_MODEL_COST_MAP": "True"}
# (model, stream, connections): what each setup's load is made of
MIXED = [("m", False, 2), ("m-stream", True, 2), ("limited", False, 1), ("upstream-429", False, 1)]
OVER_LIMIT = [("limited", False, 1), ("upstream-429", False, 1)]


@dataclass
class Setup:
    key: str
    limit: int | None
    traffic: list[tuple[str, bool, int]]
    runtime: LocalRuntime | None = None
    url: str = ""
    samples: list[dict[str, Any]] = field(default_factory=list)  # t, slot, pid, rss_mib
    load: dict[str, dict[str, Any]] = field(default_factory=dict)  # model: wrk's result
    records: list[dict[str, Any]] = field(default_factory=list)


def start(setup: Setup, work: Path, base: str, workers: int) -> None:
    folder = work / setup.key
    folder.mkdir()
    config = folder / "config.yaml"
    config.write_text(CONFIG.format(base=base))
    launch = LaunchSpec(config_path=config, env=dict(_ENV), port=bench.free_port(),
                        workers=workers, startup_timeout=180, max_rss_mib=setup.limit)
    setup.runtime = LocalRuntime(folder / "run")
    setup.url = setup.runtime.up(launch).url or ""


def wrk(setup: Setup, model: str, stream: bool, connections: int, seconds: float) -> None:
    """One wrk for the whole run; its JSON line (requests, statuses >= 400, socket errors)."""
    env = {"BENCH_PATH": "/v1/chat/completions", "BENCH_MODEL": model, "BENCH_KEY": KEY,
           "BENCH_STREAM": "1" if stream else "0", "PATH": "/usr/bin:/bin"}
    argv = [wrk_binary(), "-t1", f"-c{connections}", f"-d{seconds:g}s", "--timeout", "30s",
            "-s", str(LUA), setup.url + "/v1/chat/completions"]
    done = subprocess.run(argv, env=env, capture_output=True, text=True, timeout=seconds + 120)
    line = next((x for x in done.stdout.splitlines() if x.startswith("BENCH_JSON ")), "")
    raw = json.loads(line[len("BENCH_JSON "):]) if line else {"error": done.stderr[-300:]}
    setup.load[model] = {k: raw.get(k) for k in ("requests", "status", "connect", "read",
                                                  "write", "timeout", "error") if k in raw}


def sample(setups: list[Setup], t: float) -> None:
    for setup in setups:
        assert setup.runtime is not None
        for slot, record in enumerate(setup.runtime.status().worker_records):
            pid = int(record.get("pid") or 0)
            rss = rss_mib(pid) if pid else None
            if rss is not None:
                setup.samples.append({"t": round(t, 1), "slot": slot, "pid": pid, "rss_mib": rss})


def slope_mib_per_hour(points: list[tuple[float, int]]) -> float | None:
    """Least-squares slope of (seconds, MiB), in MiB/hour; None under 3 points."""
    if len(points) < 3:
        return None
    n = len(points)
    mt = sum(t for t, _ in points) / n
    mr = sum(r for _, r in points) / n
    var = sum((t - mt) ** 2 for t, _ in points)
    return 3600 * sum((t - mt) * (r - mr) for t, r in points) / var if var else None


def per_worker(setup: Setup) -> list[dict[str, Any]]:
    """Each worker process (pid) of the setup: its samples summed up and its slope."""
    out = []
    for pid in dict.fromkeys(s["pid"] for s in setup.samples):
        mine = [s for s in setup.samples if s["pid"] == pid]
        first = mine[0]["t"]
        grown = [(s["t"], s["rss_mib"]) for s in mine if s["t"] - first >= WARMUP_S]
        slope = slope_mib_per_hour(grown)
        out.append({"slot": mine[0]["slot"], "pid": pid, "samples": len(mine),
                    "from_s": first, "to_s": mine[-1]["t"], "first_mib": mine[0]["rss_mib"],
                    "last_mib": mine[-1]["rss_mib"], "max_mib": max(s["rss_mib"] for s in mine),
                    "slope_mib_h": round(slope, 1) if slope is not None else None})
    return out


def main(argv: list[str] | None = None) -> int:
    parser = bench.arg_parser(__doc__, "2 minutes")
    parser.add_argument("--minutes", type=float, default=20.0)
    parser.add_argument("--limit", type=int, default=400, help="guard-on's limit, MiB")
    parser.add_argument("--workers", type=int, default=2, help="workers per proxy")
    parser.add_argument("--setups", default="guard-off,guard-on,429-only")
    args = parser.parse_args(argv)
    seconds = 120.0 if args.quick else 60 * args.minutes
    known = {"guard-off": (None, MIXED), "guard-on": (args.limit, MIXED),
             "429-only": (None, OVER_LIMIT)}
    setups = [Setup(k, *known[k]) for k in args.setups.split(",")]
    info = bench.machine_info()
    fake = FakeProvider(fast=True).start()
    with tempfile.TemporaryDirectory(prefix="soak-memory-") as tmp:
        try:
            for setup in setups:
                start(setup, Path(tmp), fake.openai_base, args.workers)
            run(setups, seconds)
        finally:
            for setup in setups:
                if setup.runtime is not None:
                    setup.records = list(setup.runtime.status().worker_records)
                    setup.runtime.down(grace=30)
            fake.stop()
    return report(setups, seconds, args, info)


def run(setups: list[Setup], seconds: float) -> None:
    loads = [threading.Thread(target=wrk, args=(s, model, stream, conns, seconds))
             for s in setups for model, stream, conns in s.traffic]
    began = time.monotonic()
    for thread in loads:
        thread.start()
    while any(t.is_alive() for t in loads):
        now = time.monotonic() - began
        sample(setups, now)
        if int(now) % 60 < SAMPLE_S:
            print(f"{now / 60:.1f} min: " + "; ".join(
                f"{s.key} {[x['rss_mib'] for x in s.samples if x['t'] == round(now, 1)]}"
                for s in setups), flush=True)
        time.sleep(max(0.0, SAMPLE_S - (time.monotonic() - began - now)))
    for thread in loads:
        thread.join()


def report(setups: list[Setup], seconds: float, args: Any, info: dict[str, Any]) -> int:
    rows = []
    for s in setups:
        recycles = sum(int(r.get("recycles") or 0) for r in s.records)
        restarts = sum(int(r.get("restarts") or 0) for r in s.records)
        for w in per_worker(s):
            rows.append([s.key, s.limit or "-", w["slot"], w["pid"],
                         f"{w['from_s'] / 60:.1f}-{w['to_s'] / 60:.1f}", w["first_mib"],
                         w["last_mib"], w["max_mib"], w["slope_mib_h"] if w["slope_mib_h"]
                         is not None else "-", recycles, restarts])
    table = bench.markdown_table(
        ["setup", "limit MiB", "slot", "worker", "alive (min)", "first MiB", "last MiB",
         "max MiB", "slope MiB/h", "recycles", "restarts"], rows)
    load_rows = [[s.key, model, v.get("requests"), v.get("status"),
                  sum(int(v.get(k) or 0) for k in ("connect", "read", "write", "timeout"))]
                 for s in setups for model, v in s.load.items()]
    load_table = bench.markdown_table(
        ["setup", "group", "answers", "status >= 400", "socket errors"], load_rows)
    note = (f"{seconds / 60:g} min of steady load per proxy ({args.workers} worker(s) each), "
            f"RSS sampled every {SAMPLE_S:g} s; slope: least squares over a worker's samples "
            f"after its first {WARMUP_S:g} s. `limited` (rpm 1) and `upstream-429` answer "
            "429 by design; every status >= 400 of `m` and `m-stream` is a failure.")
    print(table + "\n\n" + load_table + "\n\n" + note)
    data = {"machine": info, "seconds": seconds, "workers": args.workers,
            "setups": [{"key": s.key, "limit_mib": s.limit, "load": s.load,
                        "records": s.records, "workers": per_worker(s), "samples": s.samples}
                       for s in setups]}
    bench.write_results("soak_memory", data, bench.markdown_doc(
        "Soak: worker memory with and without the guard", info, table, load_table, note),
        args)
    guarded = [s for s in setups if s.limit]
    failed = [s.key for s in guarded for model in ("m", "m-stream")
              if (s.load.get(model) or {}).get("status") or any(
                  (s.load.get(model) or {}).get(k) for k in ("connect", "read", "write",
                                                             "timeout", "error"))]
    if failed:
        print(f"FAILED: {', '.join(failed)} failed plain or SSE requests", file=sys.stderr)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
