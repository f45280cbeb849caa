"""validate + render time: the command line against LiteLLM's own check, and the library path
for layered configs of 10, 500 and 5,000 deployments (issues 2 §9 and 25).

First, side by side and interleaved in one run, as fresh processes in this project: cold
`llmproxy-ops validate config --env dev` (--no-cache: LiteLLM's stage starts), LiteLLM's own
`litellm --config build/dev/config.yaml --validate_config` on the same rendered config, a
re-run on unchanged inputs (its LiteLLM verdict cached) and `--no-litellm-load`. Then the
library path the CLI uses (pipeline.render_target) in one warm process, stage by stage.

    .venv/bin/python benchmarks/validate_render.py [--quick] [--rounds 5] [--sizes 10 500]
    .venv/bin/python benchmarks/validate_render.py --profile 5000
"""

from __future__ import annotations

import argparse
import gc
import math
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import _common as bench
import yaml

from llmproxy_ops.envfile import example_names
from llmproxy_ops.findings import ValidationResult
from llmproxy_ops.gcpause import collector_paused
from llmproxy_ops.pipeline import Target, load_target, render_target, target_environment
from llmproxy_ops.render import render_build
from llmproxy_ops.validate.context import CheckContext
from llmproxy_ops.validate.semantic import run_checks
from llmproxy_ops.validate.shape import check_shape

# (litellm model, env var of its key, env var of its api_base): providers of both seeds.
MODELS = [
    ("openai/gpt-4o-mini", "OPENAI_API_KEY", None),
    ("anthropic/claude-sonnet-4-5-20250929", "ANTHROPIC_API_KEY", None),
    ("gemini/gemini-2.5-flash", "GEMINI_API_KEY", None),
    ("openrouter/meta-llama/llama-3.3-70b-instruct", "OPENROUTER_API_KEY", None),
    ("openai/gpt-4.1-mini", "OPENAI_API_KEY", None),
    ("mistral/mistral-large-latest", "MISTRAL_API_KEY", None),
    ("groq/llama-3.3-70b-versatile", "GROQ_API_KEY", None),
    ("lm_studio/google/gemma-3-12b", "LM_STUDIO_API_KEY", "LM_STUDIO_API_BASE"),
    ("gemini/gemini-2.5-pro", "GEMINI_API_KEY", None),
    ("deepseek/deepseek-chat", "DEEPSEEK_API_KEY", None),
]
PER_GROUP = 4  # deployments per model group (load balancing); < len(MODELS) keeps them unique
# total_cpu: CPU time of this process for the whole run (others' load hardly moves it)
STAGES = ("load_merge", "shape", "semantic", "render", "total", "total_cpu")


def deployment(i: int) -> dict[str, Any]:
    model, key, base = MODELS[i % len(MODELS)]
    params: dict[str, Any] = {"model": model, "api_key": f"os.environ/{key}"}
    if base:
        params["api_base"] = f"os.environ/{base}"
    params.update(rpm=10 + i % 90, tpm=100_000 + 1000 * (i % 50), timeout=120)
    return {"model_name": f"group-{i // PER_GROUP:04d}", "litellm_params": params}


BASE = """\
general_settings: {{master_key: os.environ/LITELLM_MASTER_KEY}}
litellm_settings:
  {{drop_params: true, request_timeout: 600, num_retries: 2, success_callback: [mlflow]}}
router_settings:
  {{optional_pre_call_checks: [enforce_model_rate_limits], routing_strategy: simple-shuffle}}
stack: {{env_file: "{folder}/.env", env_example: "{folder}/.env.example"}}
"""


def write_layers(folder: Path, size: int) -> tuple[Path, ...]:
    """base + provider fragment + env overlay (patches every 10th deployment), env files."""
    env = {"LITELLM_MASTER_KEY": "sk-Zq8vN2xK7pLm4RtY9wBc3HjD6fBENCH", "MLFLOW_TRACKING_URI": "http://127.0.0.1:5001"}
    env |= {v: "bench-value" for _, key, base in MODELS for v in (key, base) if v}
    (folder / ".env").write_text("".join(f"{k}={v}\n" for k, v in env.items()))
    (folder / ".env.example").write_text("".join(f"{k}=\n" for k in env))
    deps = [deployment(i) for i in range(size)]
    groups = math.ceil(size / PER_GROUP)
    patch = {"rpm": 5, "tpm": 50_000}
    overlay = {
        "model_list": [
            {**d, "litellm_params": {"model": d["litellm_params"]["model"], **patch}}
            for d in deps[::10]
        ],
        "router_settings": {
            "fallbacks": [
                {f"group-{g:04d}": [f"group-{(g + 1) % groups:04d}"]} for g in range(0, groups, 10)
            ]
        },
        "litellm_settings": {"num_retries": 0},
    }
    (folder / "base.yaml").write_text(BASE.format(folder=folder))
    (folder / "providers.yaml").write_text(yaml.safe_dump({"model_list": deps}, sort_keys=False))
    (folder / "overlay.yaml").write_text(yaml.safe_dump(overlay, sort_keys=False))
    return tuple(folder / name for name in ("base.yaml", "providers.yaml", "overlay.yaml"))


def staged_run(target: Target, out: Path) -> tuple[dict[str, float], ValidationResult]:
    """render_target split at its stage boundaries (same calls, same order, the collector
    paused as there)."""
    with collector_paused():
        return _staged_run(target, out)


def _staged_run(target: Target, out: Path) -> tuple[dict[str, float], ValidationResult]:
    c0, t0 = time.process_time(), time.perf_counter()
    spec = load_target(target)
    env = target_environment(spec, target)
    example = example_names(spec.stack.env_example)
    t1 = time.perf_counter()
    result = ValidationResult(list(spec.findings))
    result.extend(check_shape(spec.root, spec.locate))
    t2 = time.perf_counter()
    result.extend(run_checks(CheckContext(spec, env, example)))
    t3 = time.perf_counter()
    render_build(spec, out)
    t4 = time.perf_counter()
    times = {"load_merge": t1 - t0, "shape": t2 - t1, "semantic": t3 - t2, "render": t4 - t3}
    return times | {"total": t4 - t0, "total_cpu": time.process_time() - c0}, result


def cli_path(target: Target, out: Path) -> float:
    """The exact call of `llmproxy-ops render` (without the CLI layer), end to end."""
    t0 = time.perf_counter()
    render_target(target, out=out)
    return time.perf_counter() - t0


def bench_size(size: int, folder: Path, args: argparse.Namespace) -> dict[str, Any]:
    files = write_layers(folder, size)
    target = Target(files=files)
    first, result = staged_run(target, folder / "build-warmup")  # lazy imports (litellm), caches
    if args.freeze_gc:
        gc.freeze()  # what a gc.freeze() right after importing litellm would give
    probe, _ = staged_run(target, folder / "build-probe")  # a warm run sets the repetitions
    reps = max(args.min_reps, min(args.max_reps, int(args.budget / max(probe["total"], 1e-3))))
    samples: dict[str, list[float]] = {s: [] for s in (*STAGES, "cli_path")}
    for rep in range(reps):
        # Each timed run starts from a collected heap: it pays for the collections its own
        # garbage triggers, not for the previous run's (as a one-shot CLI process would).
        gc.collect()
        times, result = staged_run(target, folder / f"build-{rep}")
        for stage, value in times.items():
            samples[stage].append(value)
        gc.collect()
        samples["cli_path"].append(cli_path(target, folder / f"build-cli-{rep}"))
    return {
        "deployments": size,
        "reps": reps,
        "warmup_s": first,
        "loadavg_1m": os.getloadavg()[0],
        "errors": len(result.errors),
        "warnings": len(result.warnings),
        "finding_codes": sorted({f.code for f in result.findings}),
        "stages_s": {stage: bench.summary(values) for stage, values in samples.items()},
        "files": [str(f.relative_to(folder)) for f in files],
    }


def cli_commands() -> dict[str, list[str]]:
    """The commands compared, as a user types them in the project folder."""
    bin_dir = Path(sys.executable).parent
    ops = [str(bin_dir / "llmproxy-ops"), "validate", "config", "--env", "dev"]
    return {
        "llmproxy-ops validate config --env dev (cold: --no-cache)": [*ops, "--no-cache"],
        "litellm --config build/dev/config.yaml --validate_config":
            [str(bin_dir / "litellm"), "--config", "build/dev/config.yaml", "--validate_config"],
        "llmproxy-ops validate config --env dev (re-run, unchanged)": ops,
        "llmproxy-ops validate config --env dev --no-litellm-load": [*ops, "--no-litellm-load"],
    }


BASELINE = "litellm --config build/dev/config.yaml --validate_config"


def cli_side_by_side(rounds: int) -> dict[str, Any]:
    """Each command once per round, the order rotated each round; median of the rounds."""
    commands = cli_commands()
    bin_dir = Path(sys.executable).parent
    render = [str(bin_dir / "llmproxy-ops"), "render", "--env", "dev"]
    subprocess.run(render, cwd=bench.REPO, capture_output=True, check=True, timeout=300)
    cached = commands["llmproxy-ops validate config --env dev (re-run, unchanged)"]
    subprocess.run(cached, cwd=bench.REPO, capture_output=True, timeout=300)  # fills the cache
    names = list(commands)
    times: dict[str, list[float]] = {n: [] for n in names}
    codes: dict[str, list[int]] = {n: [] for n in names}
    loads = [os.getloadavg()[0]]
    for r in range(rounds):
        for name in names[r % len(names):] + names[: r % len(names)]:
            t0 = time.perf_counter()
            done = subprocess.run(commands[name], cwd=bench.REPO, capture_output=True, timeout=300)
            times[name].append(time.perf_counter() - t0)
            codes[name].append(done.returncode)
        loads.append(os.getloadavg()[0])
    return {"rounds": rounds, "loadavg_1m": loads,
            "commands": {n: {"argv": commands[n], "exit_codes": codes[n], **bench.summary(times[n])}
                         for n in names}}


def cli_table(cli: dict[str, Any], results: list[dict[str, Any]]) -> str:
    base = cli["commands"][BASELINE]["median"]
    rows = [[f"`{name}`", f"{c['median']:.2f} s (min {c['min']:.2f}, max {c['max']:.2f})",
             f"{c['median'] / base:.2f}x", ",".join(map(str, sorted(set(c["exit_codes"]))))]
            for name, c in cli["commands"].items()]
    for r in results:
        total = r["stages_s"]["cli_path"]
        rows.append([f"library path, warm process, {r['deployments']:,} deployments "
                     "(`render_target`: validate + render)",
                     f"{total['median']:.3f} s (p90 {total['p90']:.3f})", "", ""])
    loads = ", ".join(f"{x:.2f}" for x in cli["loadavg_1m"])
    return (bench.markdown_table(["what", "time (median)", "vs LiteLLM's own", "exit"], rows)
            + f"\n\n{cli['rounds']} interleaved rounds; load average (1 min) before and after "
            f"each round: {loads}\n")


def profile(size: int, folder: Path) -> None:
    target = Target(files=write_layers(folder, size))
    staged_run(target, folder / "build-p0")  # warm-up: the profile shows steady-state work
    bench.print_profile(cli_path, target, folder / "build-p1")


def report(
    results: list[dict[str, Any]], cli: dict[str, Any], info: dict[str, Any], freeze: bool
) -> str:
    cols = (*STAGES, "cli_path")
    headers = ["deployments", "reps", "E/W", *(f"{c} ms median / p90" for c in cols)]
    rows = [
        [r["deployments"], r["reps"], f"{r['errors']}/{r['warnings']}"]
        + [bench.ms_cell(r["stages_s"][c]) for c in cols]
        for r in results
    ]
    table = bench.markdown_table(headers, rows)
    title = "validate: the command line against LiteLLM's own check; validate + render (warm" + (
        ", gc.freeze())" if freeze else ")")
    return bench.markdown_doc(title, info, cli_table(cli, results), "Library path, by stage:\n\n"
                              + table)


def main() -> None:
    parser = bench.arg_parser(__doc__, "fewer repetitions")
    parser.add_argument("--sizes", type=int, nargs="+", default=[10, 500, 5000])
    parser.add_argument("--freeze-gc", action="store_true", help="gc.freeze() after warm-up")
    parser.add_argument("--profile", type=int, metavar="SIZE", help="cProfile one run, no table")
    parser.add_argument("--rounds", type=int, default=5, help="interleaved command-line rounds")
    args = parser.parse_args()
    args.min_reps, args.max_reps, args.budget = (3, 10, 3.0) if args.quick else (5, 50, 15.0)
    with tempfile.TemporaryDirectory(prefix="llmproxy-bench-") as tmp:
        if args.profile:
            return profile(args.profile, Path(tmp))
        cli = cli_side_by_side(2 if args.quick else args.rounds)
        results = [
            bench_size(size, Path(tempfile.mkdtemp(prefix=f"{size}-", dir=tmp)), args)
            for size in args.sizes
        ]
    info = bench.machine_info()
    markdown = report(results, cli, info, args.freeze_gc)
    print(markdown)
    data = {"machine": info, "quick": args.quick, "gc_freeze": args.freeze_gc, "cli_s": cli}
    name = "validate_render_gc_freeze" if args.freeze_gc else "validate_render"
    bench.write_results(name, data | {"sizes": results}, markdown, args)


if __name__ == "__main__":
    main()
