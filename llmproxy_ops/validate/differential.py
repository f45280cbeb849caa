"""The validator against LiteLLM itself, file by file: does LiteLLM serve it, and do we agree?

LiteLLM's verdict comes from a separately started LiteLLM of the pinned version
(testing/litellm_forkserver.py: its own `litellm --config F` on a real port, answered
`GET /v1/models` or not, and `litellm --config F --validate_config`), in the environment a
deployment gives the file: every referenced variable and what LiteLLM reads by itself for it
set (dummy values), a strong master key. The validator sees the same environment; its own
LiteLLM stage runs too (the isolated probe, on its rendering of the file). Used by the
differential test and benchmarks/validate_vs_litellm.py, which print `fidelity_table`.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections import Counter
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from llmproxy_ops import LITELLM_PIN
from llmproxy_ops.findings import ValidationResult, format_path
from llmproxy_ops.netutil import free_port
from llmproxy_ops.spec import load_files
from llmproxy_ops.validate import unreported_load_findings, validate_spec
from llmproxy_ops.validate.litellm_load import (
    DATABASE_VARS,
    MASTER_KEY_ENV,
    dummy_value,
    findings_of,
    plan_probe,
    prepare_job,
    referenced_vars,
)
from llmproxy_ops.validate.probe_server import ProbeResult, ProbeServer, probe_environment

__all__ = ["MASTER_KEY_ENV", "Verdict", "deployed_env", "fidelity_table", "raw", "run"]

FORKSERVER = Path(__file__).resolve().parents[1] / "testing" / "litellm_forkserver.py"
# a strong stand-in, so the boot check judges only what the file itself says
DEPLOYED_MASTER_KEY = "sk-llmproxy-ops-differential-0123456789abcdef"
START_TIMEOUT = 60.0


@dataclass(frozen=True)
class LiteLLMVerdict:
    """What the separately started LiteLLM did with a file."""

    serves: bool  # answered GET /v1/models with 200
    status: int | None  # its HTTP answer, if it got that far
    exit: int | None  # its exit status, if it exited
    timed_out: bool
    models: tuple[str, ...]
    log: str  # the end of its output: why it refused

    @property
    def said(self) -> str:
        if self.status is not None:
            return f"started, GET /v1/models -> {self.status}"
        if self.timed_out:
            return f"neither served nor exited within {START_TIMEOUT:g} s"
        lines = [ln.strip() for ln in self.log.splitlines() if ln.strip()]
        why = [ln for ln in lines if "Error" in ln or "Exception" in ln] or lines or [""]
        return f"exited {self.exit}: {why[-1][:200]}"


@dataclass
class Verdict:
    name: str
    litellm: LiteLLMVerdict  # the pinned LiteLLM, started on the file itself
    static: ValidationResult  # shape + meaning, no LiteLLM start
    loader: ProbeResult | None  # the validator's start-up stage (rendered config)
    errors: set[tuple[str, str]]  # (code, path) of every validator error
    validate_config: bool | None = None  # `litellm --validate_config` accepted it (if asked)

    @property
    def litellm_serves(self) -> bool:
        return self.litellm.serves


def deployed_env(config: Any) -> dict[str, str]:
    """What a deployment of the file gives it: every variable it references or LiteLLM reads
    by itself for it (the cache's Redis...), a strong master key and a salt key."""
    from llmproxy_ops.validate.checks.implicit_env import implicit_names

    names = [*referenced_vars(config), *implicit_names(config if isinstance(config, dict) else {})]
    env = {name: dummy_value(name) for name in names}
    env[MASTER_KEY_ENV] = DEPLOYED_MASTER_KEY
    env["LITELLM_SALT_KEY"] = "llmproxy-ops-differential-salt"  # a deployment sets both
    return env


def effective_master_key(config: Any, env: dict[str, str]) -> str:
    """The key LiteLLM will want: general_settings.master_key (resolved) wins over the env."""
    from llmproxy_ops.validate.secrets import env_ref_name

    general = config.get("general_settings") if isinstance(config, dict) else None
    written = general.get("master_key") if isinstance(general, dict) else None
    if not isinstance(written, str):
        return env[MASTER_KEY_ENV]
    name = env_ref_name(written)
    return written if name is None else env.get(name, "")


def raw(path: Path) -> Any:
    """The file as LiteLLM's yaml.safe_load reads it ({} when empty or unparsable)."""
    try:
        return yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except yaml.YAMLError:
        return {}


class RealLiteLLM:
    """The fork server: started at once (it imports LiteLLM), then given every job."""

    def __init__(self, *, parallel: int = 2) -> None:
        env = {**probe_environment(), "FORKSERVER_PARALLEL": str(parallel),
               "FORKSERVER_TIMEOUT": f"{START_TIMEOUT:g}"}
        self.proc = subprocess.Popen(
            [sys.executable, "-I", str(FORKSERVER)], env=env, cwd=Path(os.sep),
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)

    def run(self, jobs: list[dict[str, Any]], parallel: int = 2) -> dict[str, dict[str, Any]]:
        bound = 300 + START_TIMEOUT * len(jobs) / parallel  # each job is bounded in there too
        try:
            out, _ = self.proc.communicate("".join(json.dumps(j) + "\n" for j in jobs), bound)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            out, _ = self.proc.communicate()
        return {r["id"]: r for r in map(json.loads, out.splitlines())}


def _litellm_jobs(path: Path, config: Any, env: dict[str, str],
                  with_validate_config: bool) -> list[dict[str, Any]]:
    # the database layer needs Prisma engines that cannot be installed here (ENVIRONMENT.md):
    # LiteLLM runs without its database, as the validator's stage does
    env = {k: v for k, v in env.items() if k not in DATABASE_VARS}
    jobs = [{"id": f"serve:{path.name}", "mode": "serve", "config": str(path), "env": env,
             "port": free_port(), "key": effective_master_key(config, env)}]
    if with_validate_config:
        jobs.append({"id": f"vc:{path.name}", "mode": "validate_config", "config": str(path),
                     "env": env})
    return jobs


def _litellm_verdict(result: dict[str, Any] | None) -> LiteLLMVerdict:
    if result is None:  # the fork server itself failed: report, never pass silently
        return LiteLLMVerdict(False, None, None, True, (), "no result from the fork server")
    return LiteLLMVerdict(bool(result["accepted"]), result.get("http"), result.get("exit"),
                          bool(result.get("timed_out")), tuple(result.get("models") or ()),
                          str(result.get("log") or ""))


# Runs of LiteLLM at once in each of the two processes. A run mostly waits (LiteLLM's start-up
# on a corpus file meets unreachable hosts, retries, timeouts): on 2 cores the corpus took
# 279 s with 2, 112 s with 6 and 96 s with 8 at the same verdicts, the cores 72 % idle at 6
# (2026-12-07, the real process alone).
PARALLEL = 6


def run(files: Iterable[Path], *, parallel: int = PARALLEL,
        with_loader: bool = True, with_validate_config: bool = False) -> list[Verdict]:
    """Start LiteLLM on every file and validate it the same way (two LiteLLM processes side
    by side, each importing LiteLLM once: the real one and the validator's probe)."""
    real = RealLiteLLM(parallel=parallel)
    litellm_jobs: list[dict[str, Any]] = []
    prepared = []
    with ProbeServer(parallel=parallel, timeout=START_TIMEOUT) as server:
        probe_jobs = []
        for path in sorted(files):
            config = raw(path)
            env = deployed_env(config)
            spec = load_files([path])
            litellm_jobs += _litellm_jobs(path, config, env, with_validate_config)
            if with_loader:
                probe_jobs.append(prepare_job(plan_probe(spec, env), server.job_folder(),
                                              f"rendered:{path.name}"))
            prepared.append((path, spec, env))
        # both wait on LiteLLM's start-ups far more than they compute (network timeouts,
        # retries): side by side, each with its own `parallel` children
        with ThreadPoolExecutor(1) as pool:
            real_future = pool.submit(real.run, litellm_jobs, parallel)
            loaders = server.run(probe_jobs) if probe_jobs else {}
            real_results = real_future.result()
    verdicts = []
    for path, spec, env in prepared:
        static = validate_spec(spec, env=env)
        loader = loaders.get(f"rendered:{path.name}")
        found = [*static.errors, *unreported_load_findings(
            list(findings_of(loader, spec)) if loader else [], static)]
        checked = real_results.get(f"vc:{path.name}")
        verdicts.append(Verdict(
            path.name, _litellm_verdict(real_results.get(f"serve:{path.name}")), static, loader,
            {(f.code, format_path(f.path)) for f in found},
            bool(checked["accepted"]) if checked else None,
        ))
    return verdicts


def fidelity_table(verdicts: list[Verdict]) -> str:
    """The figures docs/validation.md shows, from one run; nothing timed in it."""
    fails = [v for v in verdicts if not v.litellm_serves]
    serves = [v for v in verdicts if v.litellm_serves]
    theirs: Callable[[Verdict], bool] = lambda v: v.validate_config is False  # noqa: E731
    ours: Callable[[Verdict], bool] = lambda v: bool(v.errors)  # noqa: E731
    lines = [
        f"{len(verdicts)} corpus files; LiteLLM {LITELLM_PIN} serves {len(serves)}, cannot "
        f"start or serve {len(fails)}",
        "",
        "| | `litellm --validate_config` | `llmproxy-ops validate` |",
        "|---|---|---|",
        _count_row("files LiteLLM cannot start or serve, reported", fails, theirs, ours),
        _count_row("files LiteLLM serves, with an error reported", serves, theirs, ours),
    ]
    missed_by_litellm: Counter[str] = Counter()
    for v in verdicts:
        if v.validate_config:
            missed_by_litellm.update({code for code, _ in v.errors})
    lines += ["", "| finding (files where `--validate_config` says OK) | files |", "|---|---|"]
    lines += [f"| `{code}` | {n} |" for code, n in
              sorted(missed_by_litellm.items(), key=lambda item: (-item[1], item[0]))]
    return "\n".join(lines) + "\n"


def _count_row(label: str, rows: list[Verdict], theirs: Callable[[Verdict], bool],
               ours: Callable[[Verdict], bool]) -> str:
    total = len(rows)
    return f"| {label} | {sum(map(theirs, rows))} of {total} | {sum(map(ours, rows))} of {total} |"
