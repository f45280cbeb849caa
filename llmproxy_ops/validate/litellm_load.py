"""Stage 3 of `validate`: the pinned LiteLLM itself starts on the rendered config, unserved.

The rendered config goes through `litellm --config F`'s own start path in a separate, isolated
process (probe_server, litellm_probe): config loading, router construction, guardrail and
callback initialisation, the master-key boot check. Whatever stops it becomes a located
finding, so a config LiteLLM cannot start with is an error by construction. The process gets
dummy values for the variables the config references, no database, and a dead proxy for HTTP:
it must not reach the network, and it is killed after `timeout` seconds. It never runs the
user's code: the config's own modules are read (checks/callback_modules.py) and replaced by
inert stand-ins (probe_stubs.py).

The stage begins before the other stages run (the process imports LiteLLM meanwhile) and its
verdict is cached by what decides it (probe_cache.py), so an unchanged config is not started
again.
"""

from __future__ import annotations

import secrets
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from llmproxy_ops import LITELLM_PIN
from llmproxy_ops.findings import Finding, Severity
from llmproxy_ops.render.litellm_hooks import HOOKS_DIR, SHIPPED
from llmproxy_ops.spec.model import Spec
from llmproxy_ops.targets.registry import target_of
from llmproxy_ops.validate.litellm_locate import locate_failure
from llmproxy_ops.validate.probe_server import (
    DEFAULT_TIMEOUT,
    ProbeJob,
    ProbeResult,
    ProbeServer,
)
from llmproxy_ops.validate.probe_stubs import stub_sources, write_stubs
from llmproxy_ops.validate.secrets import env_ref_name

CODE = "litellm-start"
MASTER_KEY_ENV = "LITELLM_MASTER_KEY"
# read by LiteLLM's boot check straight from the environment
PASSED_THROUGH = ("LITELLM_DANGEROUSLY_PERMIT_WEAK_OR_UNSET_MASTER_KEY",)
# the database layer needs Prisma engines that cannot be installed here (ENVIRONMENT.md):
# database variables stay unset, so the probe checks everything but the database connection
DATABASE_VARS = frozenset({"DATABASE_URL", "DIRECT_URL"})
_DEAD_URL = "http://127.0.0.1:9"  # the discard port: any accidental request fails at once


def dummy_value(name: str) -> str:
    """A stand-in a config can parse where it expects this variable (a port, a URL, a key)."""
    upper = name.upper()
    if upper.endswith("PORT"):
        return "9"
    if upper.endswith(("URL", "URI", "BASE", "ENDPOINT")):
        return _DEAD_URL
    if upper.endswith("HOST"):
        return "127.0.0.1"
    return "llmproxy-ops-dummy-" + name.lower()


def referenced_vars(config: Any) -> list[str]:
    """Every os.environ/NAME the config holds (anywhere: LiteLLM resolves them everywhere)."""
    found: dict[str, None] = {}
    stack = [config]
    while stack:
        node = stack.pop()
        if isinstance(node, dict):
            stack.extend(node.values())
        elif isinstance(node, list):
            stack.extend(node)
        else:
            name = env_ref_name(node)
            if name is not None:
                found.setdefault(name, None)
    return sorted(found)


@dataclass(frozen=True)
class JobEnv:
    """What the probe's environment holds, and what of it decides the verdict."""

    values: dict[str, str]
    unset: tuple[str, ...]
    # the verdict depends on names, not values (dummies), except these: the master key's
    # weakness class (never its value) and the override flag
    decisive: dict[str, str] = field(default_factory=dict)


def job_env(config: Any, env: Mapping[str, str] | None) -> JobEnv:
    """Dummy values for what the config references; unset what the known environment lacks.

    With a known environment (`env`), a missing variable stays missing, as LiteLLM would see
    it; the master key keeps its weakness (unset, empty or publicly known) but never its value.
    Without one (--no-env), what LiteLLM reads by itself gets a stand-in too, as a deployment
    would give it (checks/implicit_env.py warns about each).
    """
    from llmproxy_ops.validate.checks.implicit_env import implicit_names
    from llmproxy_ops.validate.checks.master_key import boot_refusal_reason

    # what LiteLLM reads by itself counts as referenced: set where the environment has it
    # (a dummy; with no environment at all, as a deployment would give it), else unset
    referenced = {*referenced_vars(config), *implicit_names(config)}
    values: dict[str, str] = {}
    decisive: dict[str, str] = {}
    unset = []
    for name in sorted(referenced | {MASTER_KEY_ENV, *PASSED_THROUGH}):
        known = env is not None and name in env
        if name in DATABASE_VARS or not (known or (env is None and name in referenced)):
            unset.append(name)  # as LiteLLM would see it: not set
        elif name in PASSED_THROUGH:
            values[name] = decisive[name] = (env or {})[name]
        elif _is_master_key(name, config):
            real = env.get(name) if env is not None else None
            weakness = boot_refusal_reason(real) if real is not None else None
            values[name] = real if weakness is not None and real is not None else (
                "sk-llmproxy-ops-probe-" + secrets.token_hex(16))
            decisive[name] = weakness or "strong"
        else:
            values[name] = dummy_value(name)
    return JobEnv(values, tuple(unset), decisive)


def probe_job(job_id: str, config_path: Path, config: Any, env: Mapping[str, str] | None,
              *, mode: str = "start", cwd: Path | None = None) -> ProbeJob:
    """A job starting LiteLLM on `config_path` (written already) in `env`'s image."""
    prepared = job_env(config, env)
    return ProbeJob(job_id, config_path, prepared.values, prepared.unset, mode=mode, cwd=cwd)


def _is_master_key(name: str, config: Any) -> bool:
    general = config.get("general_settings") if isinstance(config, dict) else None
    ref = general.get("master_key") if isinstance(general, dict) else None
    return name == MASTER_KEY_ENV or env_ref_name(ref) == name


@dataclass(frozen=True)
class ProbePlan:
    """One start of LiteLLM on a spec: the files it gets, its environment, its cwd."""

    config_text: str
    env: JobEnv
    stubs: dict[str, str]  # relative path → stand-in module source
    cwd: Path  # relative paths in the config resolve from here, as from the config's folder
    module_files: dict[str, bytes]  # the callback files' content (ours and the user's)


def plan_probe(spec: Spec, env: Mapping[str, str] | None) -> ProbePlan:
    from llmproxy_ops.render.litellm_config import litellm_config
    from llmproxy_ops.validate.checks.callback_modules import config_folder, user_refs
    from llmproxy_ops.validate.pymodules import module_refs

    config = litellm_config(spec)
    folder = config_folder(spec)
    refs = user_refs(spec)
    beside = [r for r in refs if r.well_formed and r.file_in(folder).is_file()]
    files = {str(r.file_in(folder)): _read(r.file_in(folder)) for r in beside}
    shipped = {r.module for r in module_refs(config) if r.module in SHIPPED}
    files.update({f"shipped:{m}": _read(HOOKS_DIR / f"{m}.py") for m in sorted(shipped)})
    return ProbePlan(yaml.safe_dump(config, sort_keys=False), job_env(config, env),
                     stub_sources(beside), folder, files)


def _read(path: Path) -> bytes:
    try:
        return path.read_bytes()
    except OSError:
        return b""


def prepare_job(plan: ProbePlan, folder: Path, job_id: str = "spec") -> ProbeJob:
    """Write the config and the stand-ins into the job's private folder."""
    config = folder / "config.yaml"
    config.write_text(plan.config_text, encoding="utf-8")
    write_stubs(plan.stubs, folder)
    return ProbeJob(job_id, config, plan.env.values, plan.env.unset, cwd=plan.cwd,
                    trust=(folder,))


class ProbeBatch:
    """The LiteLLM stages of one or more specs on one probe process: every stage is begun
    (its job added; the process, started at the first, imports LiteLLM meanwhile), then the
    jobs run as one batch when the first verdict is asked for."""

    def __init__(self, *, timeout: float = DEFAULT_TIMEOUT, parallel: int = 2) -> None:
        self.timeout, self.parallel = timeout, parallel
        self.server: ProbeServer | None = None
        self.jobs: dict[str, ProbeJob] = {}
        self.results: dict[str, ProbeResult] | None = None

    def add(self, plan: ProbePlan) -> str:
        if self.results is not None:
            raise RuntimeError("a probe batch runs once: begin every stage before finishing one")
        if self.server is None:
            self.server = ProbeServer(parallel=self.parallel, timeout=self.timeout)
        job_id = f"job{len(self.jobs)}"
        self.jobs[job_id] = prepare_job(plan, self.server.job_folder(), job_id)
        return job_id

    def result(self, job_id: str) -> ProbeResult:
        if self.results is None:
            assert self.server is not None
            self.results = self.server.run(self.jobs.values())
        return self.results[job_id]

    def close(self) -> None:
        if self.server is not None:
            self.server.close()


class LiteLLMStage:
    """Begun before the other stages (LiteLLM imports meanwhile), finished after them."""

    def __init__(self, spec: Spec, env: Mapping[str, str] | None, batch: ProbeBatch, *,
                 cache_dir: Path | None = None) -> None:
        from llmproxy_ops.validate.probe_cache import ProbeCache

        self.spec = spec
        self.plan = plan_probe(spec, env)
        self.batch = batch
        self.cache = ProbeCache(cache_dir) if cache_dir is not None else None
        self.cached = self.cache.get(self.plan) if self.cache is not None else None
        self.job_id = batch.add(self.plan) if self.cached is None else None
        self.source = "cached" if self.cached is not None else "started"

    def finish(self, secrets: Iterable[str] = (), *, keep: bool = True) -> list[Finding]:
        """The verdict's findings; a fresh verdict is cached if `keep` and it holds none of
        `secrets`."""
        result = self.cached
        if result is None:
            assert self.job_id is not None
            result = self.batch.result(self.job_id)
            if self.cache is not None and keep:
                self.cache.put(self.plan, result, secrets)
        return list(findings_of(result, self.spec))


def findings_of(result: ProbeResult, spec: Spec) -> Iterable[Finding]:
    if result.serves:
        return
    if result.started:
        message = f"LiteLLM {LITELLM_PIN} started, but GET /v1/models answered {result.status}"
        yield Finding(Severity.ERROR, CODE, message, spec.locate(()), (), None)
        return
    path, hint = locate_failure(spec, result.error_type or "", result.message, result.frames)
    text = result.message.replace(" The fix is printed once the server exits.", "")
    message = f"LiteLLM {LITELLM_PIN} refuses to start: {result.error_type}: {text}"
    severity = Severity.ERROR
    if _missing_package(text) and _runs_elsewhere(spec):
        # the proxy runs in the stack's image, not in this venv: the package may be there
        severity = Severity.WARNING
        message = f"LiteLLM {LITELLM_PIN} cannot start here: {text}"
        hint = "the compose image must install it (this venv's LiteLLM lacks it)"
    yield Finding(severity, CODE, message, spec.locate(path), path, hint)


def _missing_package(text: str) -> bool:
    return "No module named" in text or "No package metadata was found" in text


def _runs_elsewhere(spec: Spec) -> bool:
    try:
        return not target_of(spec).runs_in_this_venv
    except (TypeError, ValueError, AttributeError):
        return False  # a malformed stack section is reported by the schema stage
