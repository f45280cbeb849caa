"""Start-to-healthy of the stock litellm via the local runtime (issue 2 §9), per server variant.

Each start: LocalRuntime.up() on a free port with a mock-model config, until /health/liveliness
answers (bounded by --timeout), then down(). Failures are recorded, not hidden.

    .venv/bin/python benchmarks/time_to_healthy.py [--quick] [--reps 5] [--variants a b c d]
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import _common as bench

from llmproxy_ops.errors import OpsError
from llmproxy_ops.targets.local.process import LaunchSpec, LocalRuntime

# Like configs/providers/mock.yaml: answers without any provider, so nothing leaves the machine.
CONFIG = """\
model_list:
  - model_name: mock-gpt
    litellm_params:
      model: openai/mock-gpt
      mock_response: "Hello from the benchmark."
      api_key: dummy
general_settings:
  master_key: os.environ/LITELLM_MASTER_KEY
litellm_settings:
  json_logs: true
"""
MASTER_KEY = "sk-benchmark-master-key-0123456789"
FETCH_FAILED = "Failed to fetch remote model cost map"  # litellm's warning when GitHub is away


@dataclass(frozen=True)
class Variant:
    key: str
    label: str
    server: str = "uvicorn"
    workers: int = 1
    env: dict[str, str] = field(default_factory=dict)


VARIANTS = {
    v.key: v
    for v in (
        Variant("a", "uvicorn x1, LITELLM_LOCAL_MODEL_COST_MAP=True (default)"),
        Variant(
            "b",
            "uvicorn x1, cost map fetched (no LITELLM_LOCAL_MODEL_COST_MAP)",
            env={"LITELLM_LOCAL_MODEL_COST_MAP": "False"},
        ),
        Variant("c", "gunicorn x2", server="gunicorn", workers=2),
        Variant("d", "granian x2", server="granian", workers=2),
    )
}


def start_once(variant: Variant, run_dir: Path, config: Path, timeout: float) -> dict[str, Any]:
    """One start + stop; time_to_healthy_s is the runtime's own (spawn → liveliness 200)."""
    runtime = LocalRuntime(run_dir)
    launch = LaunchSpec(
        config_path=config,
        env={"LITELLM_MASTER_KEY": MASTER_KEY, **variant.env},
        port=bench.free_port(),
        workers=variant.workers,
        server=variant.server,
        startup_timeout=timeout,
    )
    t0 = time.perf_counter()
    outcome: dict[str, Any] = {"ok": False, "loadavg_1m": os.getloadavg()[0]}
    try:
        status = runtime.up(launch)
        outcome = {
            "ok": True,
            "healthy_s": status.time_to_healthy_s,
            "up_call_s": round(time.perf_counter() - t0, 3),
        }
    except OpsError as exc:  # up() already stopped the process and kept the log
        outcome["error"] = str(exc).splitlines()[0]
        outcome["log_tail"] = runtime.logs(5)
    finally:
        stop = runtime.down(grace=10.0)
        outcome["stop_s"], outcome["stop_forced"] = stop.duration_s, stop.forced
    log = runtime.log_path.read_text(errors="replace") if runtime.log_path.exists() else ""
    outcome["cost_map_fetch_failed_in_log"] = FETCH_FAILED in log
    return outcome


def bench_variant(
    variant: Variant, tmp: Path, config: Path, args: argparse.Namespace
) -> dict[str, Any]:
    runs: list[dict[str, Any]] = []
    for rep in range(args.reps):
        runs.append(start_once(variant, tmp / f"{variant.key}-{rep}", config, args.timeout))
        print(f"  {variant.key} rep {rep + 1}/{args.reps}: {_brief(runs[-1])}", flush=True)
        if len(runs) >= 2 and not runs[-1]["ok"] and not runs[-2]["ok"]:
            break  # two failures in a row: this variant does not start here, stop wasting time
    healthy = [r["healthy_s"] for r in runs if r["ok"]]
    return {
        "variant": variant.key,
        "label": variant.label,
        "server": variant.server,
        "workers": variant.workers,
        "starts": len(runs),
        "failures": len(runs) - len(healthy),
        "healthy_s": bench.summary(healthy) if healthy else None,
        "runs": runs,
    }


def _brief(run: dict[str, Any]) -> str:
    return f"healthy in {run['healthy_s']:.2f} s" if run["ok"] else f"FAILED: {run['error']}"


HEADERS = ["", "variant", "healthy/starts", "median s", "min s", "max s", "fetch failed (log)"]


def report(results: list[dict[str, Any]], info: dict[str, Any], timeout: float) -> str:
    rows = []
    for r in results:
        h, n = r["healthy_s"], r["starts"]
        stats = [f"{h[k]:.2f}" for k in ("median", "min", "max")] if h else ["–"] * 3
        fetch = sum(run["cost_map_fetch_failed_in_log"] for run in r["runs"])
        rows.append([r["variant"], r["label"], f"{n - r['failures']}/{n}", *stats, f"{fetch}/{n}"])
    notes = [f"Each start bounded by {timeout:g} s; every process stopped after its start."]
    failed = [f"- {r['variant']}: {x['error']}" for r in results for x in r["runs"] if not x["ok"]]
    notes += ["Failures:\n" + "\n".join(failed)] if failed else []
    title = "litellm start → /health/liveliness (LocalRuntime.up)"
    return bench.markdown_doc(title, info, bench.markdown_table(HEADERS, rows), *notes)


def main() -> None:
    parser = bench.arg_parser(__doc__, "2 starts per variant")
    parser.add_argument("--reps", type=int, default=5, help="starts per variant (default 5)")
    parser.add_argument("--variants", nargs="+", choices=sorted(VARIANTS), default=sorted(VARIANTS))
    parser.add_argument("--timeout", type=float, default=90.0, help="seconds per start")
    args = parser.parse_args()
    if args.quick:
        args.reps = min(args.reps, 2)
    with tempfile.TemporaryDirectory(prefix="llmproxy-tth-") as tmp:
        config = Path(tmp) / "config.yaml"
        config.write_text(CONFIG)
        results = []
        for key in args.variants:
            print(f"variant {key}: {VARIANTS[key].label}", flush=True)
            results.append(bench_variant(VARIANTS[key], Path(tmp), config, args))
    info = bench.machine_info()
    markdown = report(results, info, args.timeout)
    print(markdown)
    data = {
        "machine": info,
        "quick": args.quick,
        "reps": args.reps,
        "timeout_s": args.timeout,
        "variants": results,
    }
    bench.write_results("time_to_healthy", data, markdown, args)


if __name__ == "__main__":
    main()
