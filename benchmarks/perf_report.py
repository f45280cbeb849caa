"""Aggregation, ratios, targets and the markdown table of perf.py."""

from __future__ import annotations

import statistics
from typing import Any

import _common as bench

BASELINE = "seeds"
DEFAULT = "default"
FRONTS = ("nginx_http", "nginx_tls")
NOT_CANDIDATES = ("upstream", BASELINE, *FRONTS)


def point_key(stream: bool, connections: int) -> str:
    return f"{'stream' if stream else 'json'}_c{connections}"


def aggregate(points: list[dict[str, Any]]) -> dict[str, Any]:
    """Median over rounds (req/s, latency, CPU per request); errors are summed."""

    def med(name: str) -> float | None:
        values = [p[name] for p in points if p.get(name) is not None]
        return statistics.median(values) if values else None

    return {
        "rounds": len(points),
        "rps": med("rps"),
        "rps_each_round": [round(p["rps"], 1) for p in points],
        "p50_ms": med("p50_ms"),
        "p90_ms": med("p90_ms"),
        "p99_ms": med("p99_ms"),
        "max_ms": max(p["max_ms"] for p in points),
        "cpu_ms_per_req": med("cpu_ms_per_req"),
        "errors": sum(p["http_errors"] + p["socket_errors"] for p in points),
        "requests": sum(p["requests"] for p in points),
        "busiest_pids_cpu_s": [p["busiest_pids_cpu_s"] for p in points],
    }


def add_ratios(results: dict[str, dict[str, dict[str, Any]]]) -> None:
    """ratio_to_seeds per point, from the same run; the upstream's ratio shows its headroom."""
    base = results.get(BASELINE, {})
    for per_point in results.values():
        for key, agg in per_point.items():
            ref = base.get(key, {}).get("rps")
            agg["ratio_to_seeds"] = agg["rps"] / ref if ref and agg["rps"] is not None else None


def targets(
    results: dict[str, dict[str, dict[str, Any]]], info: dict[str, dict[str, Any]]
) -> list[dict[str, Any]]:
    """The issue's targets, each with its measured value and whether it is met."""
    out: list[dict[str, Any]] = []
    default = results.get(DEFAULT, {})
    for key, need in (("json_c8", 2.2), ("json_c32", 2.2), ("stream_c8", 1.8), ("stream_c32", 1.8)):
        if key in default:
            out.append(
                _target(f"default / seeds, {key}", default[key]["ratio_to_seeds"], ">=", need)
            )
    out += _cpu_and_tail(default, results.get(BASELINE, {}))
    for key in default:
        best_key, best = _best(results, key)
        if best:
            value = default[key]["rps"] / best
            out.append(_target(f"default / best ({best_key}), {key}", value, ">=", 0.95))
    for front in FRONTS:
        if front in results and "json_c8" in results[front] and "json_c8" in default:
            mine, ref = results[front]["json_c8"], default["json_c8"]
            out.append(
                _target(
                    f"{front} throughput / default, json_c8", mine["rps"] / ref["rps"], ">=", 0.95
                )
            )
            out.append(
                _target(
                    f"{front} p50 - default p50 (ms), json_c8",
                    mine["p50_ms"] - ref["p50_ms"],
                    "<=",
                    1.0,
                )
            )
    healthy = info.get(DEFAULT, {}).get("time_to_healthy_s")
    if healthy is not None:
        out.append(_target("default start-to-healthy (s), offline", healthy, "<=", 6.0))
    return out


def _cpu_and_tail(
    default: dict[str, dict[str, Any]], seeds: dict[str, dict[str, Any]]
) -> list[dict[str, Any]]:
    """Issue 16 §3: CPU per request (what users pay at every scale) and the p99 at 8
    connections, each as a ratio to the seeds' way at the same point of the same run."""
    out: list[dict[str, Any]] = []
    for key in ("json_c8", "json_c32", "stream_c8", "stream_c32"):
        mine = default.get(key, {}).get("cpu_ms_per_req")
        ref = seeds.get(key, {}).get("cpu_ms_per_req")
        if mine is not None and ref:
            name = f"default / seeds, CPU ms per request, {key}"
            out.append(_target(name, mine / ref, "<=", 0.75))
    mine, ref = default.get("json_c8", {}).get("p99_ms"), seeds.get("json_c8", {}).get("p99_ms")
    if mine is not None and ref:
        out.append(_target("default / seeds, p99, json_c8", mine / ref, "<=", 1 / 3))
    return out


def _memory(processes: list[dict[str, Any]] | None) -> list[str]:
    """RSS of each process (largest first) and the PSS sum: what the setup really holds."""
    if not processes:
        return ["-", "-"]
    rss = sorted((p["rss_mib"] for p in processes), reverse=True)
    return [", ".join(f"{r:.0f}" for r in rss), f"{sum(p['pss_mib'] for p in processes):.0f}"]


def _best(
    results: dict[str, dict[str, dict[str, Any]]], key: str
) -> tuple[str | None, float | None]:
    best_key, best = None, None
    for setup, per_point in results.items():
        if setup in NOT_CANDIDATES or key not in per_point:
            continue
        rps = per_point[key]["rps"]
        if best is None or rps > best:
            best_key, best = setup, rps
    return best_key, best


def _target(name: str, value: float | None, op: str, need: float) -> dict[str, Any]:
    met = value is not None and (value >= need if op == ">=" else value <= need)
    return {
        "target": name,
        "value": None if value is None else round(value, 3),
        "need": f"{op} {need:g}",
        "met": met,
    }


def markdown(data: dict[str, Any]) -> str:
    rows = []
    for setup, per_point in data["results"].items():
        label = data["setups"][setup]["label"]
        workers = int(data["setups"][setup].get("workers") or 1)
        for key, agg in per_point.items():
            rows.append([*_row(label, key, agg), _split(agg, workers)])
    table = bench.markdown_table(
        [
            "setup",
            "point",
            "req/s",
            "× seeds",
            "p50 ms",
            "p90 ms",
            "p99 ms",
            "CPU ms/req",
            "errors",
            "worker CPU split %",
        ],
        rows,
    )
    checks = bench.markdown_table(
        ["target", "value", "need", "met"],
        [
            [t["target"], t["value"], t["need"], "yes" if t["met"] else "**no**"]
            for t in data["targets"]
        ],
    )
    setups = bench.markdown_table(
        [
            "setup",
            "server",
            "workers",
            "environment",
            "start-to-healthy s",
            "RSS MiB per process",
            "PSS MiB, all",
        ],
        [
            [
                s["label"],
                s.get("server", "-"),
                s.get("workers", "-"),
                _env(s.get("environment")),
                s.get("time_to_healthy_s", "-"),
                *_memory(s.get("memory")),
            ]
            for s in data["setups"].values()
        ],
    )
    notes = [
        f"Command: `{data['command']}`. Points: {data['duration_s']:g} s each, {data['rounds']} "
        "rounds, setups interleaved round-robin (order rotated each round); values are medians "
        "over rounds, ratios are to the seeds' way at the same point of the same run.",
        "`json` = non-streaming, `stream` = SSE (latency is the whole stream); cN = N connections. "
        "CPU ms/req counts every process of the setup (proxy workers, plus nginx for the "
        "front ends). Memory is read after the last round: RSS of every process of the setup "
        "(supervisor, fork server and workers for ours), and PSS summed over them (shared "
        "pages counted once).",
        f"Load average at the start of each round: {data['loadavg_each_round']} "
        "(the machine may be shared: absolute figures move with it, the interleaved ratios less).",
        "### Targets\n\n" + checks,
        "### Setups\n\n" + setups,
    ]
    return bench.markdown_doc(
        "LiteLLM deployment throughput (perf.py)", data["machine"], table, *notes
    )


def _row(label: str, key: str, agg: dict[str, Any]) -> list[Any]:
    ratio = agg.get("ratio_to_seeds")
    cpu = agg.get("cpu_ms_per_req")
    return [
        label,
        key,
        f"{agg['rps']:.0f}",
        "-" if ratio is None else f"{ratio:.2f}",
        f"{agg['p50_ms']:.1f}",
        f"{agg['p90_ms']:.1f}",
        f"{agg['p99_ms']:.1f}",
        "-" if cpu is None else f"{cpu:.2f}",
        agg["errors"],
    ]


def _split(agg: dict[str, Any], workers: int) -> str:
    """Per round, each busy worker's share of the setup's CPU in % (e.g. 51/49): one worker
    near 100 means the connections all landed on it."""
    if workers < 2:
        return "-"
    shares = []
    for busy in agg["busiest_pids_cpu_s"]:
        top = sorted(busy, reverse=True)[:workers]
        total = sum(top) or 1.0
        shares.append("/".join(f"{100 * v / total:.0f}" for v in top))
    return " ; ".join(shares)


def _env(env: dict[str, str] | None) -> str:
    return ", ".join(f"{k}={v}" for k, v in sorted((env or {}).items())) or "-"
