"""A short history of the builds an environment ran: <build_dir>/.releases/<env>/<id>/.

Every start and every apply renders into a new numbered folder (the proxy runs from it, so
an older one is still there to roll back to); `running` names the one that serves. A
release also records a keyed digest of each secret the proxy gets (release.json), so that
a changed secret shows up in a diff by name, never by value.

Prepare once, then perform: `prepare` renders the next release once and writes nothing;
`apply` diffs that object, `record` writes it as it is and the rollout runs from it. Nothing
renders again to learn what was just rendered.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import os
import secrets as _secrets
import shutil
from dataclasses import dataclass
from pathlib import Path

from llmproxy_ops import fsutil
from llmproxy_ops.render import RenderResult
from llmproxy_ops.render.build import is_build_dir, render_files, write_build
from llmproxy_ops.spec.model import Spec

KEEP = 5
RUNNING_FILE = "running"
SALT_FILE = ".salt"


@dataclass(frozen=True)
class Release:
    id: str
    dir: Path

    def secret_digests(self) -> dict[str, str]:
        try:
            meta = json.loads((self.dir.parent / f"{self.id}.json").read_text())
        except (OSError, ValueError):
            return {}
        digests = meta.get("secrets") if isinstance(meta, dict) else None
        return dict(digests) if isinstance(digests, dict) else {}


@dataclass(frozen=True)
class PreparedRelease:
    """The next release, rendered once and not written yet: diffed, then recorded as is."""

    release: Release
    files: dict[str, str]  # rendered for release.dir (render_files)


class ReleaseStore:
    def __init__(self, spec: Spec):
        self.root = spec.stack.build_dir / ".releases" / spec.name

    def all(self) -> list[Release]:
        if not self.root.is_dir():
            return []
        ids = sorted(p.name for p in self.root.iterdir() if p.is_dir() and p.name.isdigit())
        return [Release(i, self.root / i) for i in ids]

    def get(self, release_id: str) -> Release | None:
        return next((r for r in self.all() if r.id == release_id), None)

    def running(self) -> Release | None:
        try:
            return self.get((self.root / RUNNING_FILE).read_text().strip())
        except OSError:
            return None

    def previous(self) -> Release | None:
        """The release that ran before the running one (what `apply --rollback` goes to)."""
        running, history = self.running(), self._history()
        if running is None or running.id not in history:
            return None
        index = history.index(running.id)
        return self.get(history[index - 1]) if index > 0 else None

    def create(self, spec: Spec, env: dict[str, str], env_file: Path | None) -> tuple[
            Release, RenderResult]:
        """Render spec into a new numbered folder (the proxy runs from there)."""
        return self.record(self.prepare(spec, env_file), env)

    def prepare(self, spec: Spec, env_file: Path | None) -> PreparedRelease:
        """Render spec once for the next numbered folder; nothing is written."""
        existing = self.all()
        new_id = f"{int(existing[-1].id) + 1 if existing else 1:04d}"
        release = Release(new_id, self.root / new_id)
        return PreparedRelease(release, render_files(spec, out_dir=release.dir,
                                                     env_file=env_file))

    def record(self, prepared: PreparedRelease, env: dict[str, str]) -> tuple[
            Release, RenderResult]:
        """Write a prepared release as it was rendered, with its secrets' digests."""
        release = prepared.release
        rendered = write_build(release.dir, prepared.files)
        meta = {"secrets": self.digests(env)}
        fsutil.atomic_write_text(self.root / f"{release.id}.json",
                                 json.dumps(meta, indent=2) + "\n")
        return release, rendered

    def mark_running(self, release: Release) -> None:
        fsutil.atomic_write_text(self.root / RUNNING_FILE, release.id + "\n")
        history = [h for h in self._history() if h != release.id] + [release.id]
        fsutil.atomic_write_text(self.root / "history", "\n".join(history[-KEEP:]) + "\n")
        self.prune()

    def discard(self, release: Release) -> None:
        if is_build_dir(release.dir):  # only what a render made (render/build.py's marker)
            shutil.rmtree(release.dir, ignore_errors=True)
        (self.root / f"{release.id}.json").unlink(missing_ok=True)

    def prune(self) -> None:
        keep = set(self._history()[-KEEP:])
        for release in self.all():
            if release.id not in keep:
                self.discard(release)

    def digests(self, env: dict[str, str]) -> dict[str, str]:
        salt = self._salt()
        return {
            name: hmac.new(salt, value.encode(), hashlib.sha256).hexdigest()[:16]
            for name, value in sorted(env.items())
        }

    def _history(self) -> list[str]:
        try:
            return (self.root / "history").read_text().split()
        except OSError:
            return []

    def _salt(self) -> bytes:
        path = self.root / SALT_FILE
        try:
            return path.read_bytes()
        except FileNotFoundError:
            self.root.mkdir(parents=True, exist_ok=True)
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            with os.fdopen(fd, "wb") as fh:
                fh.write(_secrets.token_bytes(32))
            return path.read_bytes()
