"""Which environments a set of changed files touches (what a pre-commit hook validates).

An environment reads its environment file, the layers and includes that file names, the
`.env.example` its env checks compare against, and the Python modules its callbacks name
beside it. A change to any of them can change its verdict; a change to nothing it reads
cannot. An environment whose layers no longer load counts as touched when the failure is in
a changed file (the change broke it) or the environment file itself changed.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterable
from pathlib import Path

from llmproxy_ops.errors import LayerError
from llmproxy_ops.pipeline import DEFAULT_CONFIGS, Target, load_target
from llmproxy_ops.spec.model import Spec
from llmproxy_ops.spec.resolve import ENVIRONMENTS_DIR, available_environments, environment_file


def configs_folders(root: Path = DEFAULT_CONFIGS) -> list[Path]:
    """Every folder at or under `root` holding an environments/ folder (root, the examples)."""
    if not root.is_dir():
        return []
    return sorted({p.parent for p in root.rglob(ENVIRONMENTS_DIR) if p.is_dir()})


def touched_environments(changed: Iterable[Path], folders: Iterable[Path]) -> list[Target]:
    """Targets of the environments that read one of the `changed` files, in folder order."""
    wanted = {p.resolve() for p in changed}
    targets = []
    for folder in folders:
        for env in available_environments(folder):
            target = Target(env=env, configs_dir=folder)
            if _reads(target, wanted):
                targets.append(target)
    return targets


def _reads(target: Target, wanted: set[Path]) -> bool:
    assert target.env is not None
    if environment_file(target.configs_dir, target.env).resolve() in wanted:
        return True
    try:
        spec = load_target(target)
    except LayerError as exc:
        return Path(exc.file).resolve() in wanted
    return bool(_inputs(spec) & wanted)


def _inputs(spec: Spec) -> set[Path]:
    from llmproxy_ops.validate.checks.callback_modules import config_folder, user_refs

    files = {Path(source).resolve() for source in spec.sources}
    with contextlib.suppress(TypeError, ValueError, AttributeError):  # the schema stage says
        files.add(spec.stack.env_example.resolve())
    folder = config_folder(spec)
    files.update(r.file_in(folder).resolve() for r in user_refs(spec) if r.well_formed)
    return files
