"""The library entry points the CLI calls: load → validate → render → run."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from llmproxy_ops.envfile import example_names, read_env_file
from llmproxy_ops.errors import LayerError, RuntimeStateError, UsageError, ValidationFailed
from llmproxy_ops.findings import Finding, Location, Severity, ValidationResult
from llmproxy_ops.gcpause import collector_paused
from llmproxy_ops.spec import Spec, load_environment, load_files
from llmproxy_ops.targets.registry import target_of
from llmproxy_ops.validate import SpecCheck, validate_specs

# Rendering and the runtimes are imported where they are used: `validate` (the command a
# pre-commit hook runs on every commit) starts without them.
if TYPE_CHECKING:
    from llmproxy_ops.render import RenderResult
    from llmproxy_ops.runtime.api import Build, Runtime, Status

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
    """What os.environ/ references resolve to at start: the env file over the process env.

    The local runtime's fake provider gets its port at start; its URL variables are set then
    (over the env file), so here they only need to be known as set.
    """
    from llmproxy_ops.runtime import local_fake

    env = {**os.environ, **spec.stack.environment, **read_env_file(env_file_of(spec, target))}
    if spec.stack.local_fake_provider and target_of(spec).starts_fake_provider:
        env.update(dict.fromkeys(local_fake.URL_VARS, local_fake.PLACEHOLDER))
    return env


def validate_target(
    target: Target, *, use_env: bool = True, litellm_load: bool = False, use_cache: bool = True
) -> Validated:
    """Validate; with `litellm_load`, also start the pinned LiteLLM on it (unserved), its
    verdict cached under the build folder unless `use_cache` is off."""
    with collector_paused():
        spec = load_target(target)
        check, env = _spec_check(spec, target, use_env, litellm_load, use_cache)
        [result] = validate_specs([check])
        return Validated(spec, _with_copilot(result, spec, use_env), env)


def validate_each(
    targets: list[Target], *, use_env: bool = True, litellm_load: bool = False,
    use_cache: bool = True,
) -> list[tuple[Target, ValidationResult]]:
    """Each target on its own, LiteLLM started once for all of them (a fork per target). A
    target that cannot be loaded gets its located load-error; the others are still checked."""
    with collector_paused():
        loaded: list[tuple[Target, Spec | None, ValidationResult | None]] = []
        for target in targets:
            try:
                loaded.append((target, load_target(target), None))
            except LayerError as exc:
                loaded.append((target, None, ValidationResult([load_error(exc)])))
        checks = [(t, spec, _spec_check(spec, t, use_env, litellm_load, use_cache)[0])
                  for t, spec, failed in loaded if spec is not None]
        results = iter(validate_specs([check for _, _, check in checks]))
        done = {id(t): _with_copilot(next(results), spec, use_env) for t, spec, _ in checks}
        return [(t, failed or done[id(t)]) for t, _, failed in loaded]


def load_error(exc: LayerError) -> Finding:
    """The finding a file that cannot be loaded gets (the CLI's boundary says the same)."""
    where = Location(exc.file, exc.line, exc.col)
    return Finding(Severity.ERROR, "load-error", exc.message, where, (), exc.hint)


def _spec_check(spec: Spec, target: Target, use_env: bool, litellm_load: bool,
                use_cache: bool) -> tuple[SpecCheck, dict[str, str]]:
    cache_dir = _cache_dir(spec) if litellm_load and use_cache else None
    if not use_env:
        return SpecCheck(spec, litellm_load=litellm_load, cache_dir=cache_dir), {}
    env = target_environment(spec, target)
    return SpecCheck(spec, env, example_names(spec.stack.env_example), env_file_of(spec, target),
                     litellm_load, cache_dir), env


def _with_copilot(result: ValidationResult, spec: Spec, use_env: bool) -> ValidationResult:
    if use_env:
        from llmproxy_ops.runtime import copilot_token

        result.extend(f for f in [copilot_token.missing_login_finding(spec)] if f is not None)
    return result


def _cache_dir(spec: Spec) -> Path | None:
    try:
        return spec.stack.build_dir
    except (TypeError, ValueError, AttributeError):
        return None  # a malformed stack section: reported by the schema stage, nothing cached


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
    from llmproxy_ops.render import render_build

    with collector_paused():
        validated = require_valid(validate_target(target, use_env=use_env), strict=strict)
        out_dir = build_dir_of(validated.spec, out)
        return validated, render_build(validated.spec, out_dir, env_file=target.env_file)


def build_of(validated: Validated, rendered: RenderResult, target: Target,
             release: str | None = None) -> Build:
    """A rendered build with what its proxy needs at start (non-secret runtime env + secrets)."""
    from llmproxy_ops.render.env_manifest import runtime_environment
    from llmproxy_ops.runtime.api import Build
    from llmproxy_ops.runtime.copilot_token import local_environment

    spec = validated.spec
    secrets = read_env_file(env_file_of(spec, target))
    env = {**runtime_environment(spec), **local_environment(spec), **secrets}
    return Build(spec, rendered.out_dir, env, release)


def start_target(
    target: Target, *, restart: bool = False
) -> tuple[Validated, RenderResult, Status]:
    """validate → render → start on the environment's runtime; refuses on any error.

    An environment starts from a new release (releases.py), so `apply` has a build to diff
    against and to roll back to; layer files without an environment start from the render.
    """
    from llmproxy_ops.releases import ReleaseStore
    from llmproxy_ops.runtime.api import Build, runtime_of

    validated, rendered = render_target(target)
    spec = validated.spec
    secrets = read_env_file(env_file_of(spec, target))
    runtime = runtime_of(spec, tuple(secrets.values()))
    if not restart and runtime.status().running:
        raise RuntimeStateError(
            f"environment '{spec.name}' is already running",
            hint=f"change it with: llmproxy-ops apply --env {spec.name} (or stop it with down)",
        )
    build = build_of(validated, rendered, target)
    if spec.configs_dir is None:
        return validated, rendered, runtime.start(build)
    store = ReleaseStore(spec)
    release, _ = store.create(spec, build.env, target.env_file)
    try:
        status = runtime.start(Build(spec, release.dir, build.env, release.id))
    except BaseException:
        store.discard(release)
        raise
    store.mark_running(release)
    return validated, rendered, status


def runtime_for(target: Target) -> tuple[Spec, Runtime]:
    """The runtime of an environment, for down/status/logs (no validation needed)."""
    from llmproxy_ops.runtime.api import runtime_of

    spec = load_target(target)
    env_file = env_file_of(spec, target)
    secrets = tuple(read_env_file(env_file).values()) if env_file.is_file() else ()
    return spec, runtime_of(spec, secrets)
