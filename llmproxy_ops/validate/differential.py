"""The validator against LiteLLM itself, file by file: does LiteLLM serve it, and do we agree?

Each file is started by the pinned LiteLLM's own `litellm --config F` start path (litellm_probe,
one fork per file) in the environment a deployment gives it: every referenced variable set
(dummy values) and LITELLM_MASTER_KEY set. The validator sees the same environment. Used by
the differential test and benchmarks/validate_vs_litellm.py.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from llmproxy_ops.findings import ValidationResult, format_path
from llmproxy_ops.spec import load_files
from llmproxy_ops.validate import validate_spec
from llmproxy_ops.validate.litellm_load import (
    DATABASE_VARS,
    MASTER_KEY_ENV,
    dummy_value,
    findings_of,
    plan_probe,
    prepare_job,
    probe_job,
    referenced_vars,
)
from llmproxy_ops.validate.probe_server import (
    ProbeJob,
    ProbeResult,
    ProbeServer,
    probe_environment,
)

probe_base_env = probe_environment
__all__ = ["MASTER_KEY_ENV", "Verdict", "deployed_env", "probe_base_env", "raw", "run"]

# a strong stand-in, so the boot check judges only what the file itself says
DEPLOYED_MASTER_KEY = "sk-llmproxy-ops-differential-0123456789abcdef"


@dataclass
class Verdict:
    name: str
    litellm: ProbeResult  # LiteLLM started on the file itself
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
    env = {name: dummy_value(name) for name in names if name not in DATABASE_VARS}
    env[MASTER_KEY_ENV] = DEPLOYED_MASTER_KEY
    env["LITELLM_SALT_KEY"] = "llmproxy-ops-differential-salt"  # a deployment sets both
    return env


def _trusting(job: ProbeJob) -> ProbeJob:
    return ProbeJob(job.id, job.config, job.env, job.unset, job.mode, job.cwd,
                    trust=(job.config.parent,))


def raw(path: Path) -> Any:
    """The file as LiteLLM's yaml.safe_load reads it ({} when empty or unparsable)."""
    try:
        return yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except yaml.YAMLError:
        return {}


def run(files: Iterable[Path], *, parallel: int = 2,
        with_loader: bool = True, with_validate_config: bool = False) -> list[Verdict]:
    """Start LiteLLM on every file and validate it the same way; one probe process for all.

    `raw:` jobs start LiteLLM on the file itself in its folder, trusting that folder (the
    corpus ships no Python); `rendered:` jobs are the validator's own stage, isolated."""
    jobs: list[ProbeJob] = []
    prepared = []
    with ProbeServer(parallel=parallel, timeout=60) as server:
        for path in sorted(files):
            config = raw(path)
            env = deployed_env(config)
            spec = load_files([path])
            jobs.append(_trusting(probe_job(f"raw:{path.name}", path, config, env)))
            if with_loader:
                jobs.append(prepare_job(plan_probe(spec, env), server.job_folder(),
                                        f"rendered:{path.name}"))
            if with_validate_config:
                jobs.append(_trusting(probe_job(f"vc:{path.name}", path, config, env,
                                                mode="validate_config")))
            prepared.append((path, spec, env))
        results = server.run(jobs)
    verdicts = []
    for path, spec, env in prepared:
        static = validate_spec(spec, env=env)
        loader = results.get(f"rendered:{path.name}") if with_loader else None
        found = [*static.errors, *(findings_of(loader, spec) if loader else [])]
        errors = {(f.code, format_path(f.path)) for f in found}
        checked = results.get(f"vc:{path.name}")
        verdicts.append(Verdict(path.name, results[f"raw:{path.name}"], static, loader, errors,
                                checked.accepted if checked else None))
    return verdicts
