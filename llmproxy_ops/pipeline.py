"""The library entry points the CLI calls: load → validate → render → run."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

from llmproxy_ops.envfile import example_names, read_env_file
from llmproxy_ops.errors import UsageError, ValidationFailed
from llmproxy_ops.findings import ValidationResult
from llmproxy_ops.ops import copilot
from llmproxy_ops.render import RenderResult, render_build
from llmproxy_ops.render.build import CONFIG_FILE
from llmproxy_ops.render.compose import COMPOSE_FILE, project_name
from llmproxy_ops.render.env_manifest import runtime_environment
from llmproxy_ops.runtime.compose import ComposeRuntime, ComposeStatus
from llmproxy_ops.runtime.local import LaunchSpec, LocalRuntime, RuntimeStatus
from llmproxy_ops.spec import Spec, load_environment, load_files
from llmproxy_ops.validate import validate_spec

DEFAULT_CONFIGS = Path("configs")


@dataclass(frozen=True)
class Target:
    """What to load: an environment of a configs folder, or explicit layer files."""

    env: str | None = None
    files: tuple[Path, ...] = ()
    configs_dir: Path = DEFAULT_CONFIGS
    env_file: Path | None = None  # overrides stack.env_file

    def describe(self) -> str:
        return f"environment '{self.env}'" if self.env else ", ".join(map(str, self.files))


@dataclass
class Validated:
    spec: Spec
    result: ValidationResult
    env: dict[str, str] = field(default_factory=dict)


def load_target(target: Target) -> Spec:
    if target.env and target.files:
        raise UsageError("give either --env or files, not both")
    if target.files:
        return load_files(list(target.files))
    if not target.env:
        raise UsageError("nothing to load: give --env NAME or one or more config files")
    return load_environment(target.configs_dir, target.env)


def env_file_of(spec: Spec, target: Target) -> Path:
    return target.env_file or spec.stack.env_file


def target_environment(spec: Spec, target: Target) -> dict[str, str]:
    """What os.environ/ references resolve to at start: the env file over the process env."""
    return {**os.environ, **spec.stack.environment, **read_env_file(env_file_of(spec, target))}


def validate_target(
    target: Target, *, use_env: bool = True, litellm_load: bool = False
) -> Validated:
    """Validate; with `litellm_load`, also start the pinned LiteLLM on it (unserved)."""
    spec = load_target(target)
    if not use_env:
        return Validated(spec, validate_spec(spec, litellm_load=litellm_load))
    env = target_environment(spec, target)
    result = validate_spec(
        spec,
        env=env,
        env_example=example_names(spec.stack.env_example),
        env_file=env_file_of(spec, target),
        litellm_load=litellm_load,
    )
    result.extend(f for f in [copilot.missing_login_finding(spec)] if f is not None)
    return Validated(spec, result, env)


def require_valid(validated: Validated, *, strict: bool = False) -> Validated:
    """Raise ConfigError (with the findings attached) unless the spec is fit to render."""
    result = validated.result
    if not result.ok(strict=strict):
        raise ValidationFailed(result.sorted, errors=len(result.errors) or len(result.warnings))
    return validated


def build_dir_of(spec: Spec, out: Path | None = None) -> Path:
    if out is not None:
        return out
    if spec.configs_dir is None:
        raise UsageError("rendering layer files needs --out DIR (there is no environment name)")
    return spec.stack.build_dir / spec.name


def render_target(target: Target, *, out: Path | None = None, use_env: bool = True,
                  strict: bool = False) -> tuple[Validated, RenderResult]:
    """Validate, then write the build folder; nothing is written when validation fails."""
    validated = require_valid(validate_target(target, use_env=use_env), strict=strict)
    out_dir = build_dir_of(validated.spec, out)
    return validated, render_build(validated.spec, out_dir, env_file=target.env_file)


Runtime = LocalRuntime | ComposeRuntime


def runtime_of(spec: Spec, secrets: tuple[str, ...] = ()) -> Runtime:
    """The runtime stack.runtime names; compose output is scrubbed of `secrets`."""
    if spec.stack.runtime == "compose":
        return ComposeRuntime(
            project=project_name(spec.stack.compose(spec.name)),
            compose_file=build_dir_of(spec) / COMPOSE_FILE,
            startup_timeout=spec.stack.startup_timeout,
            secrets=secrets,
        )
    if spec.stack.runtime == "kubernetes":
        # Rendered and checked offline only: the cluster applies it, not llmproxy-ops.
        raise UsageError(
            f"environment '{spec.name}' runs on Kubernetes: llmproxy-ops renders its manifests "
            "but does not start, stop or watch them",
            hint=f"llmproxy-ops render --env {spec.name}, then kubectl apply -k "
            f"{spec.stack.build_dir / spec.name}/ (then kubectl for status and logs)",
        )
    if spec.stack.runtime != "local":
        raise UsageError(f"unknown stack.runtime '{spec.stack.runtime}'",
                         hint="use runtime: local, compose or kubernetes")
    return LocalRuntime(spec.stack.run_dir / spec.name)


def start_target(
    target: Target,
) -> tuple[Validated, RenderResult, RuntimeStatus | ComposeStatus]:
    """validate → render → start (stock litellm, or the compose stack); refuses on any error."""
    validated, rendered = render_target(target)
    spec, stack = validated.spec, validated.spec.stack
    secrets = read_env_file(env_file_of(spec, target))
    runtime = runtime_of(spec, tuple(secrets.values()))
    if isinstance(runtime, ComposeRuntime):
        return validated, rendered, runtime.up()
    env = {**runtime_environment(spec), **copilot.local_environment(spec), **secrets}
    launch = LaunchSpec(
        config_path=rendered.out_dir / CONFIG_FILE, env=env, host=stack.host, port=stack.port,
        workers=stack.workers, server=stack.server, startup_timeout=stack.startup_timeout,
    )
    return validated, rendered, runtime.up(launch)


def runtime_for(target: Target) -> tuple[Spec, Runtime]:
    """The runtime of an environment, for down/status/logs (no validation needed)."""
    spec = load_target(target)
    env_file = env_file_of(spec, target)
    secrets = tuple(read_env_file(env_file).values()) if env_file.is_file() else ()
    return spec, runtime_of(spec, secrets)
