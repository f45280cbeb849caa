"""Stage 3 of `validate`: the pinned LiteLLM itself starts on the rendered config, unserved.

The rendered config goes through `litellm --config F`'s own start path in a subprocess
(litellm_probe): config loading, includes, router construction, guardrail and callback
initialisation, the master-key boot check. Whatever stops it becomes a located finding, so a
config LiteLLM cannot start with is an error by construction. The subprocess gets dummy
values for the variables the config references, no database, and a dead proxy for HTTP: it
must not reach the network, and it is killed after `timeout` seconds.
"""

from __future__ import annotations

import json
import os
import secrets
import subprocess
import sys
import tempfile
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from llmproxy_ops import LITELLM_PIN
from llmproxy_ops.findings import Finding, Severity
from llmproxy_ops.render.litellm_hooks import with_hooks_on_path
from llmproxy_ops.spec.model import Spec
from llmproxy_ops.validate.litellm_locate import locate_failure
from llmproxy_ops.validate.secrets import env_ref_name

CODE = "litellm-start"
DEFAULT_TIMEOUT = 90.0
MASTER_KEY_ENV = "LITELLM_MASTER_KEY"
# read by LiteLLM's boot check straight from the environment
PASSED_THROUGH = ("LITELLM_DANGEROUSLY_PERMIT_WEAK_OR_UNSET_MASTER_KEY",)
# the database layer needs Prisma engines that cannot be installed here (ENVIRONMENT.md):
# database variables stay unset, so the probe checks everything but the database connection
DATABASE_VARS = frozenset({"DATABASE_URL", "DIRECT_URL"})
_DEAD_PROXY = "http://127.0.0.1:9"  # the discard port: any accidental request fails at once


@dataclass(frozen=True)
class ProbeJob:
    id: str
    config: Path
    env: dict[str, str] = field(default_factory=dict)
    unset: tuple[str, ...] = ()
    mode: str = "start"  # or "validate_config": LiteLLM's own `--validate_config`


@dataclass(frozen=True)
class ProbeResult:
    id: str
    started: bool
    status: int | None = None
    models: tuple[str, ...] = ()
    error_type: str | None = None
    message: str = ""
    frames: tuple[str, ...] = ()
    accepted: bool | None = None  # mode validate_config: did LiteLLM call the config valid

    @property
    def serves(self) -> bool:
        return self.started and self.status == 200

    @classmethod
    def from_json(cls, raw: Mapping[str, Any]) -> ProbeResult:
        error = raw.get("error") or {}
        return cls(
            id=str(raw["id"]), started=bool(raw.get("started")), status=raw.get("status"),
            models=tuple(raw.get("models") or ()), error_type=error.get("type"),
            message=str(error.get("message", "")), frames=tuple(error.get("frames") or ()),
            accepted=raw.get("accepted"),
        )


def probe_environment() -> dict[str, str]:
    """The probe's base environment: nothing of ours leaks in (no keys, no DATABASE_URL)."""
    keep = ("PATH", "HOME", "LANG", "LC_ALL", "TMPDIR", "VIRTUAL_ENV")
    env = {name: os.environ[name] for name in keep if name in os.environ}
    env.update({
        "LITELLM_LOCAL_MODEL_COST_MAP": "True",
        "HTTP_PROXY": _DEAD_PROXY, "HTTPS_PROXY": _DEAD_PROXY,
        "http_proxy": _DEAD_PROXY, "https_proxy": _DEAD_PROXY, "NO_PROXY": "", "no_proxy": "",
    })
    # the shipped callbacks (render/litellm_hooks), found as the local runtime finds them;
    # the caller's own PYTHONPATH is not kept (see above)
    return with_hooks_on_path(env)


def run_probe(
    jobs: list[ProbeJob], *, timeout: float = DEFAULT_TIMEOUT, parallel: int = 1
) -> dict[str, ProbeResult]:
    """Start LiteLLM on each job's config (one import, a fork per job); never hangs.

    `timeout` bounds each job; the whole run is bounded by the import plus the jobs' share.
    """
    with tempfile.TemporaryDirectory(prefix="llmproxy-ops-probe-") as tmp:
        spec_file = Path(tmp) / "jobs.json"
        payload = {"timeout": timeout, "parallel": parallel,
                   "jobs": [_job_json(job) for job in jobs]}
        spec_file.write_text(json.dumps(payload), encoding="utf-8")
        command = [sys.executable, "-m", "llmproxy_ops.validate.litellm_probe", str(spec_file)]
        try:
            done = subprocess.run(
                command, env=probe_environment(), capture_output=True, text=True,
                # the import, then the jobs' share of time (each has its own alarm)
                timeout=120 + timeout * -(-len(jobs) // parallel),
                check=False,
            )
            stdout = done.stdout
        except subprocess.TimeoutExpired as expired:
            out = expired.stdout
            stdout = out.decode() if isinstance(out, bytes) else (out or "")
    results = {}
    for line in stdout.splitlines():
        result = ProbeResult.from_json(json.loads(line))
        results[result.id] = result
    for job in jobs:  # a probe killed part-way: the rest did not finish in time
        results.setdefault(job.id, ProbeResult(
            job.id, False, error_type="Timeout",
            message=f"LiteLLM did not finish starting within {timeout:g} s",
        ))
    return results


def _job_json(job: ProbeJob) -> dict[str, Any]:
    return {"id": job.id, "config": str(job.config), "env": job.env, "unset": list(job.unset),
            "cwd": str(job.config.parent), "mode": job.mode}


def dummy_value(name: str) -> str:
    """A stand-in a config can parse where it expects this variable (a port, a URL, a key)."""
    upper = name.upper()
    if upper.endswith("PORT"):
        return "9"
    if upper.endswith(("URL", "URI", "BASE", "ENDPOINT")):
        return _DEAD_PROXY
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


def probe_job(
    job_id: str, config_path: Path, config: Any, env: Mapping[str, str] | None
) -> ProbeJob:
    """Dummy values for what the config references; unset what the known environment lacks.

    With a known environment (`env`), a missing variable stays missing, as LiteLLM would see
    it; the master key keeps its weakness (unset, empty or publicly known) but never its value.
    """
    referenced = set(referenced_vars(config))
    values: dict[str, str] = {}
    unset = []
    for name in sorted(referenced | {MASTER_KEY_ENV, *PASSED_THROUGH}):
        known = env is not None and name in env
        if name in DATABASE_VARS or not (known or (env is None and name in referenced)):
            unset.append(name)  # as LiteLLM would see it: not set
        elif name in PASSED_THROUGH:
            values[name] = (env or {})[name]
        elif _is_master_key(name, config):
            values[name] = _master_key_stand_in(env.get(name) if env is not None else None)
        else:
            values[name] = dummy_value(name)
    return ProbeJob(job_id, config_path, values, tuple(unset))


def _is_master_key(name: str, config: Any) -> bool:
    general = config.get("general_settings") if isinstance(config, dict) else None
    ref = general.get("master_key") if isinstance(general, dict) else None
    return name == MASTER_KEY_ENV or env_ref_name(ref) == name


def _master_key_stand_in(real: str | None) -> str:
    from llmproxy_ops.validate.checks.master_key import boot_refusal_reason

    if real is not None and boot_refusal_reason(real) is not None:
        return real  # empty or publicly known: the boot check must see exactly that
    return "sk-llmproxy-ops-probe-" + secrets.token_hex(16)


def render_for_probe(spec: Spec, folder: Path) -> tuple[Path, dict[str, Any]]:
    """The rendered config in a hidden temporary file in `folder` (the caller removes it)."""
    from llmproxy_ops.render.litellm_config import litellm_config

    config = litellm_config(spec)
    handle, name = tempfile.mkstemp(prefix=".llmproxy-ops-probe-", suffix=".yaml", dir=folder)
    with os.fdopen(handle, "w", encoding="utf-8") as out:
        yaml.safe_dump(config, out, sort_keys=False)
    return Path(name), config


def check_litellm_starts(
    spec: Spec, env: Mapping[str, str] | None, *, timeout: float = DEFAULT_TIMEOUT
) -> list[Finding]:
    """Findings from starting the pinned LiteLLM on the spec's rendered config."""
    # next to the top file: LiteLLM imports custom callbacks relative to the config's folder
    top = Path(spec.sources[-1]).resolve().parent if spec.sources else Path.cwd()
    folder = top if os.access(top, os.W_OK) else Path(tempfile.gettempdir())
    path, config = render_for_probe(spec, folder)
    try:
        result = run_probe([probe_job("spec", path, config, env)], timeout=timeout)["spec"]
    finally:
        path.unlink(missing_ok=True)
    return list(findings_of(result, spec))


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
        return spec.stack.runtime != "local"
    except (TypeError, ValueError, AttributeError):
        return False  # a malformed stack section is reported by the schema stage
