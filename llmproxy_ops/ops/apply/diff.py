"""What changes between the running build and a new one: unified diffs, secrets by name."""

from __future__ import annotations

import difflib
from dataclasses import dataclass, field
from pathlib import Path

from llmproxy_ops.render.build import MARKER_FILE


@dataclass(frozen=True)
class BuildDiff:
    files: tuple[str, ...] = ()  # unified diff of each changed file
    secrets: tuple[str, ...] = ()  # "NAME: added|removed|changed (value not shown)"
    changed_names: tuple[str, ...] = field(default=())  # files that differ

    @property
    def changed(self) -> bool:
        return bool(self.files or self.secrets)

    def text(self) -> str:
        parts = list(self.files)
        if self.secrets:
            parts.append("runtime environment (values never shown):\n" + "\n".join(
                f"  {line}" for line in self.secrets))
        return "\n".join(parts) if parts else "no changes"


def read_build(folder: Path | None) -> dict[str, str]:
    if folder is None or not folder.is_dir():
        return {}
    # the marker says the folder is a build (render/build.py); it is no part of one
    return {p.name: p.read_text(encoding="utf-8") for p in sorted(folder.iterdir())
            if p.is_file() and p.name != MARKER_FILE}


def diff_builds(
    old: dict[str, str], new: dict[str, str], old_secrets: dict[str, str],
    new_secrets: dict[str, str], *, old_label: str = "running", new_label: str = "new",
) -> BuildDiff:
    files, names = [], []
    for name in sorted(set(old) | set(new)):
        a, b = old.get(name), new.get(name)
        if a == b:
            continue
        names.append(name)
        lines = difflib.unified_diff(
            (a or "").splitlines(keepends=True), (b or "").splitlines(keepends=True),
            fromfile=f"{old_label}/{name}" if a is not None else "/dev/null",
            tofile=f"{new_label}/{name}" if b is not None else "/dev/null",
        )
        files.append("".join(line if line.endswith("\n") else line + "\n" for line in lines))
    return BuildDiff(tuple(files), _secret_changes(old_secrets, new_secrets), tuple(names))


def _secret_changes(old: dict[str, str], new: dict[str, str]) -> tuple[str, ...]:
    out = []
    for name in sorted(set(old) | set(new)):
        if name not in old:
            out.append(f"{name}: added")
        elif name not in new:
            out.append(f"{name}: removed")
        elif old[name] != new[name]:
            out.append(f"{name}: changed")
    return tuple(out)
