"""Write a build folder atomically: all files appear together or the old build stays.

Rendering replaces the whole folder, so it must never be anything but a build folder: each
one carries MARKER_FILE, and an existing non-empty folder without it (`render --out ~`, a
`stack.build_dir` from someone else's YAML) is refused, never emptied.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path

from llmproxy_ops.errors import RenderError
from llmproxy_ops.render.env_manifest import render_manifest, render_runtime_env
from llmproxy_ops.render.litellm_config import render_yaml
from llmproxy_ops.render.litellm_hooks import hook_files
from llmproxy_ops.render.stack_redis import deployment_config
from llmproxy_ops.spec.model import Spec
from llmproxy_ops.targets.info import load
from llmproxy_ops.targets.registry import target_of

CONFIG_FILE = "config.yaml"
RUNTIME_ENV_FILE = "runtime.env"
MANIFEST_FILE = "env-manifest.json"
MARKER_FILE = ".llmproxy-ops-build"
MARKER_TEXT = "written by llmproxy-ops: this folder is a build and is replaced by every render\n"


@dataclass(frozen=True)
class RenderResult:
    out_dir: Path
    files: tuple[str, ...]
    changed: bool  # False when the new build is byte-identical to the previous one


def render_files(
    spec: Spec, *, out_dir: Path | None = None, env_file: Path | None = None
) -> dict[str, str]:
    """File name → content. Pure: the same spec always gives the same bytes.

    The target's renderer (its `render` hook) adds its own files; `out_dir` (default
    build_dir/<env>) and `env_file` (default the spec's) place a compose file's relative paths.
    """
    config = deployment_config(spec)  # with the runtime's Redis when it brings one
    files = {
        CONFIG_FILE: render_yaml(spec, config),  # serialised here only; compose/swarm reuse it
        RUNTIME_ENV_FILE: render_runtime_env(spec),
        MANIFEST_FILE: render_manifest(spec),
        **hook_files(config),  # the Redis settings name no callback: the same hooks
    }
    renderer = target_of(spec).hooks.render  # the files the target adds (targets/<name>/)
    if renderer is not None:
        files.update(load(renderer)(spec, out_dir or spec.stack.build_dir / spec.name,
                                    env_file, _request_timeout(spec), files[CONFIG_FILE]))
    return files


def _request_timeout(spec: Spec) -> float:
    settings = spec.litellm_config().get("litellm_settings") or {}
    value = settings.get("request_timeout") if isinstance(settings, dict) else None
    # Unset, LiteLLM 1.108.7 waits litellm.request_timeout = 6000 s: nginx must wait longer.
    return float(value) if isinstance(value, int | float) and value > 0 else 6000.0


def render_build(spec: Spec, out_dir: Path, *, env_file: Path | None = None) -> RenderResult:
    return write_build(out_dir, render_files(spec, out_dir=out_dir, env_file=env_file))


def write_build(out_dir: Path, files: dict[str, str]) -> RenderResult:
    """Write files rendered for `out_dir` (render_files) as they are: no second render."""
    check_replaceable(out_dir)
    written = {**files, MARKER_FILE: MARKER_TEXT}
    changed = _differs(out_dir, written)
    if changed:
        _swap_in(out_dir, written)
    return RenderResult(out_dir, tuple(sorted(files)), changed)


def is_build_dir(folder: Path) -> bool:
    """Ours to replace: it carries the marker, or it is a build from before the marker (only
    regular files, among them the config and the env manifest every render writes)."""
    if folder.is_symlink() or not folder.is_dir():
        return False
    if (folder / MARKER_FILE).is_file():
        return True
    entries = list(folder.iterdir())
    return {CONFIG_FILE, MANIFEST_FILE} <= {p.name for p in entries} and all(
        p.is_file() and not p.is_symlink() for p in entries)


def check_replaceable(out_dir: Path) -> None:
    """RenderError unless `out_dir` is new, empty, or a build folder (is_build_dir)."""
    if out_dir.is_symlink():
        raise RenderError(f"{out_dir} is a symlink; refusing to replace it",
                          hint="render into a real folder")
    if not out_dir.exists():
        return
    if not out_dir.is_dir():
        raise RenderError(f"{out_dir} exists and is not a folder; refusing to replace it")
    if any(out_dir.iterdir()) and not is_build_dir(out_dir):
        raise RenderError(
            f"{out_dir} exists, is not empty and is not a build folder (no {MARKER_FILE}); "
            "refusing to replace it",
            hint="render replaces the whole folder: choose a new or empty one (--out DIR, "
            "stack.build_dir)",
        )


def _differs(out_dir: Path, files: dict[str, str]) -> bool:
    if not out_dir.is_dir():
        return True
    existing = sorted(p.name for p in out_dir.iterdir())
    if existing != sorted(files):
        return True
    return any((out_dir / n).read_text(encoding="utf-8") != c for n, c in files.items())


def _swap_in(out_dir: Path, files: dict[str, str]) -> None:
    """Fill a sibling temp folder, then rename it into place (keeping the old one until done)."""
    try:
        out_dir.parent.mkdir(parents=True, exist_ok=True)
        staging = Path(tempfile.mkdtemp(prefix=f".{out_dir.name}.new-", dir=out_dir.parent))
    except OSError as exc:
        raise RenderError(f"cannot write {out_dir}: {exc.strerror or exc}") from None
    old = out_dir.with_name(f".{out_dir.name}.old")
    if (old.exists() or old.is_symlink()) and not is_build_dir(old):
        shutil.rmtree(staging, ignore_errors=True)
        raise RenderError(f"{old} exists and is not a build folder; refusing to replace it",
                          hint="move it away (a render keeps the previous build there briefly)")
    try:
        for name, content in files.items():
            (staging / name).write_text(content, encoding="utf-8")
        os.chmod(staging, 0o755)
        if old.exists():
            shutil.rmtree(old)
        if out_dir.exists():
            os.replace(out_dir, old)
        os.replace(staging, out_dir)
    except OSError as exc:
        shutil.rmtree(staging, ignore_errors=True)
        if old.exists() and not out_dir.exists():
            os.replace(old, out_dir)  # put the previous build back
        raise RenderError(f"cannot write {out_dir}: {exc.strerror or exc}") from None
    shutil.rmtree(old, ignore_errors=True)
