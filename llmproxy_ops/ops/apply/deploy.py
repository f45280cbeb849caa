"""apply: validate → render a new release → diff → roll out → smoke test → (roll back).

`deploy` is the rollout every command shares (apply, keys rotate, backup restore): the
runtime replaces the running build instance by instance, each new instance checked on its
own first, then the public endpoint is smoke-tested. `apply` adds the diff and rolls back by
itself when any check fails.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path

import httpx
import yaml

from llmproxy_ops.envfile import read_env_file
from llmproxy_ops.errors import RuntimeStateError, SmokeTestFailed, UsageError
from llmproxy_ops.ops.apply.diff import BuildDiff, diff_builds, read_build
from llmproxy_ops.ops.smoke.run import SmokeTarget, run_smoke
from llmproxy_ops.pipeline import Target, env_file_of, require_valid, validate_target
from llmproxy_ops.releases import PreparedRelease, Release, ReleaseStore
from llmproxy_ops.render.build import CONFIG_FILE, render_files
from llmproxy_ops.render.env_manifest import master_key_var, runtime_environment
from llmproxy_ops.runtime.api import (
    Build,
    Check,
    RolloutResult,
    Runtime,
    Status,
    Step,
    runtime_of,
    timed,
)
from llmproxy_ops.spec.model import Spec


@dataclass(frozen=True)
class ApplyRequest:
    target: Target
    dry_run: bool = False
    rollback: bool = False  # go back to the release that ran before the running one


@dataclass
class Deployment:
    """One rollout of one release, with its public smoke test."""

    release: str
    rollout: RolloutResult = field(default_factory=RolloutResult)
    smoke: Step | None = None

    @property
    def ok(self) -> bool:
        return self.rollout.ok and (self.smoke is None or self.smoke.ok)

    @property
    def failed_check(self) -> str | None:
        step = self.rollout.failed or (self.smoke if self.smoke and not self.smoke.ok else None)
        return None if step is None else f"{step.name}: {step.detail}"

    @property
    def steps(self) -> list[Step]:
        return self.rollout.steps + ([self.smoke] if self.smoke else [])


@dataclass
class ApplyResult:
    env: str
    diff: BuildDiff
    running: str | None  # release id before
    target: str | None = None  # release id rolled to
    dry_run: bool = False
    deployment: Deployment | None = None
    rollback: Deployment | None = None

    @property
    def changed(self) -> bool:
        return self.diff.changed

    @property
    def ok(self) -> bool:
        return self.deployment is None or self.deployment.ok


@dataclass
class _Env:
    spec: Spec
    env: dict[str, str] = field(repr=False)
    runtime: Runtime
    store: ReleaseStore


def _load(target: Target) -> _Env:
    spec = require_valid(validate_target(target)).spec
    secrets = read_env_file(env_file_of(spec, target))
    env = {**runtime_environment(spec), **secrets}
    return _Env(spec, env, runtime_of(spec, tuple(secrets.values())), ReleaseStore(spec))


def smoke_check(spec: Spec, env: dict[str, str], models: list[str] | None = None,
                ) -> Callable[[str, bool | str], str]:
    """The smoke test of `spec`, as a rollout check against any URL of one of its instances;
    `models`: the groups the build being rolled out serves (default: the spec's)."""
    key = env.get(master_key_var(spec), "")
    expected = spec.model_groups() if models is None else models

    def check(url: str, verify: bool | str = True) -> str:
        target = SmokeTarget(url=url, key=key, expected_models=expected, verify_tls=verify)
        report = run_smoke(target)
        failed = [f"{c.name} ({c.detail})" for c in report.checks if not c.ok]
        if failed:
            raise SmokeTestFailed(f"smoke test failed: {'; '.join(failed)}")
        return f"smoke test passed ({len(report.checks)} checks)"

    return check


def serving_check(spec: Spec, env: dict[str, str]) -> Callable[[str, bool | str], str]:
    """Alive and taking the master key: for callers that verify more themselves (keys)."""
    key = env.get(master_key_var(spec), "")

    def check(url: str, verify: bool | str = True) -> str:
        try:
            r = httpx.get(f"{url}/v1/models", headers={"Authorization": f"Bearer {key}"},
                          timeout=30, verify=verify)
        except httpx.HTTPError as exc:
            raise SmokeTestFailed(f"{url}/v1/models: {type(exc).__name__}") from None
        if r.status_code != 200:
            raise SmokeTestFailed(f"{url}/v1/models answered HTTP {r.status_code}")
        return "serving (/v1/models: 200 with the master key)"

    return check


def deploy(e: _Env, release: Release, *, smoke: bool = True, fresh: bool = False,
           ) -> Deployment:
    """fresh: `release` was rendered from e.spec just now, so it serves the spec's model
    groups; otherwise (a rollback to an older release) its config.yaml says which."""
    groups = None if fresh else build_groups(release.dir)  # None: the spec's
    check = smoke_check(e.spec, e.env, groups) if smoke else serving_check(e.spec, e.env)
    out = Deployment(release.id)
    own: Check = lambda url: check(url, True)  # noqa: E731 - an instance's own port: plain HTTP
    out.rollout = e.runtime.rollout(Build(e.spec, release.dir, e.env, release.id), own)
    if out.rollout.ok and smoke:  # keys verify every replica themselves instead
        endpoint = e.runtime.endpoint()
        out.smoke = timed(f"smoke test on the public endpoint {endpoint.url}",
                          lambda: check(endpoint.url, endpoint.verify_tls))
    if out.ok:
        e.store.mark_running(release)
    return out


def build_groups(folder: Path) -> list[str] | None:
    """Model group names in a rendered build's config.yaml, first-seen order (None: unread)."""
    try:
        config = yaml.safe_load((folder / CONFIG_FILE).read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError):
        return None
    entries = config.get("model_list") if isinstance(config, dict) else None
    seen: dict[str, None] = {}
    for entry in entries if isinstance(entries, list) else []:
        if isinstance(entry, dict) and isinstance(entry.get("model_name"), str):
            seen.setdefault(entry["model_name"], None)
    return list(seen)


def roll_out(target: Target, *, smoke: bool = True) -> Deployment:
    """Render the configs as they are now into a new release and roll it out (no diff).

    smoke=False: each instance only has to serve with the master key (the caller verifies).
    """
    e = _load(target)
    _require_running(e)
    release, _ = e.store.create(e.spec, e.env, target.env_file)
    return deploy(e, release, smoke=smoke, fresh=True)


def apply(req: ApplyRequest) -> ApplyResult:
    e = _load(req.target)
    _require_running(e)
    running = e.store.running()
    goal = _goal(e, req)
    new_files = goal.files if isinstance(goal, PreparedRelease) else read_build(goal.dir)
    old_secrets = running.secret_digests() if running else {}
    diff = diff_builds(
        read_build(running.dir if running else None), new_files, old_secrets,
        e.store.digests(e.env) if old_secrets else {},
        old_label=f"running ({running.id})" if running else "running",
        new_label="new" if isinstance(goal, PreparedRelease) else f"previous ({goal.id})",
    )
    result = ApplyResult(e.spec.name, diff, running.id if running else None, dry_run=req.dry_run)
    if req.dry_run or not (diff.changed or req.rollback):
        return result
    # The very files just diffed become the release (no second render).
    fresh = isinstance(goal, PreparedRelease)
    release = e.store.record(goal, e.env)[0] if isinstance(goal, PreparedRelease) else goal
    result.target = release.id
    result.deployment = deploy(e, release, fresh=fresh)
    if not result.deployment.ok and running is not None and result.deployment.rollout.changed:
        result.rollback = deploy(e, running)
    if not result.deployment.ok and fresh:
        e.store.discard(release)
    return result


def _goal(e: _Env, req: ApplyRequest) -> PreparedRelease | Release:
    """What to go to: the configs rendered once now as the next release (written only when
    it is rolled out), or (rollback) the previous release."""
    if req.rollback:
        previous = e.store.previous()
        if previous is None:
            raise UsageError(f"environment '{e.spec.name}' has no previous build to roll back to",
                             hint="the history keeps the builds started or applied here")
        return previous
    # Rendered for the new release's folder, a sibling of the running one: the compose
    # file's relative paths then only differ when something else does.
    return e.store.prepare(e.spec, req.target.env_file)


def _require_running(e: _Env) -> None:
    st = e.runtime.status()
    if not st.running:
        raise RuntimeStateError(
            f"environment '{e.spec.name}' is not running",
            hint=f"start it with: llmproxy-ops up --env {e.spec.name}",
        )


def drift(spec: Spec, target: Target, running: Release | None = None) -> str | None:
    """`status`: whether the configs render something else than the running build (`running`:
    the running release when the caller already read it)."""
    running = running or ReleaseStore(spec).running()
    if running is None:
        return None
    try:
        now = render_files(spec, out_dir=running.dir, env_file=target.env_file)
    except Exception:  # noqa: BLE001 - status must not fail on a half-edited config
        return "the configs do not render now (run: llmproxy-ops validate)"
    if now != read_build(running.dir):
        return (f"the configs changed since build {running.id} started: "
                f"see `llmproxy-ops apply --env {spec.name} --dry-run`")
    return None


def with_build(spec: Spec, target: Target, status: Status, *,
               known_drift: dict[str | None, str | None] | None = None) -> Status:
    """A status with the running release id and, when the configs changed since, a note.

    `known_drift`: build id -> note already worked out for this spec (`status --watch` keeps
    one: rendering the configs again at every refresh would find the same answer)."""
    if not status.running:
        return status
    running = ReleaseStore(spec).running()
    build = running.id if running else None
    if known_drift is not None and build in known_drift:
        return replace(status, build=build, drift=known_drift[build])
    note = drift(spec, target, running)
    if known_drift is not None:
        known_drift[build] = note
    return replace(status, build=build, drift=note)
