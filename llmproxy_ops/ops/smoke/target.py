"""Build a SmokeTarget from an environment's spec or from an explicit URL + key variable."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from llmproxy_ops.envfile import read_env_file
from llmproxy_ops.errors import UsageError
from llmproxy_ops.ops.smoke.plan import anthropic_groups, enforced_rpm
from llmproxy_ops.ops.smoke.run import SmokeTarget
from llmproxy_ops.pipeline import Target, env_file_of, load_target
from llmproxy_ops.render.env_manifest import DEFAULT_MASTER_KEY_VAR, master_key_var
from llmproxy_ops.runtime.api import runtime_of
from llmproxy_ops.spec.model import Spec


@dataclass(frozen=True)
class SmokeRequest:
    target: Target | None = None  # an environment: URL, key and models come from its spec
    url: str | None = None  # or any running proxy
    key_env: str | None = None  # variable holding the key (process env, then env file)
    models: tuple[str, ...] = ()  # --model; default every group
    expected: tuple[str, ...] = ()  # --expect for --url runs (default: what /v1/models lists)
    rate_limits: bool = True
    verify_tls: bool | str = True


def read_key(var: str, env_file: Path | None) -> str:
    # the env file first, as at start: a stale exported key must not win over the store
    value = (read_env_file(env_file).get(var) if env_file else None) or os.environ.get(var)
    if not value:
        where = f" or {env_file}" if env_file else ""
        raise UsageError(
            f"{var} is not set in the environment{where}",
            hint="export it or add it to the env file",
        )
    return value


def smoke_target(req: SmokeRequest) -> SmokeTarget:
    if req.target is None:
        if not req.url:
            raise UsageError("give --env NAME, or --url URL with --key-env VAR")
        key = read_key(req.key_env or DEFAULT_MASTER_KEY_VAR, Path(".env"))
        return SmokeTarget(
            url=req.url.rstrip("/"),
            key=key,
            expected_models=list(req.expected),
            models_to_test=list(req.models) or None,
            verify_tls=req.verify_tls,
        )
    spec = load_target(req.target)
    url, verify = endpoint_of(spec)
    key = read_key(
        req.key_env or master_key_var(spec),
        env_file_of(spec, req.target),
    )
    return SmokeTarget(
        url=(req.url or url).rstrip("/"),
        key=key,
        expected_models=spec.model_groups(),
        models_to_test=list(req.models) or None,
        rpm_enforced=enforced_rpm(spec) if req.rate_limits else {},
        messages_models=anthropic_groups(spec),
        verify_tls=verify if req.verify_tls is True and not req.url else req.verify_tls,
    )


def endpoint_of(spec: Spec) -> tuple[str, bool | str]:
    """Where clients reach an environment, and what to verify its TLS with (its runtime's)."""
    endpoint = runtime_of(spec).endpoint()
    return endpoint.url, endpoint.verify_tls
