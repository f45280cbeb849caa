"""The LiteLLM stage's verdicts, cached under the build folder by what decides them.

The key is a SHA-256 over: the rendered config exactly as LiteLLM reads it, the stand-in
modules, the installed LiteLLM's version (and the pin), the Python version, this package's
version and the probe program itself, the names of the variables set and unset for LiteLLM
(their values are dummies), the master key's weakness class and the override flag (never a
value), the working folder relative paths resolve from, and the content of every callback
file the config names (the user's, beside it, and our shipped hooks). Any change to one of
them is another key. An entry holds that key's inputs as names and digests, and LiteLLM's
verdict; an entry that would hold a value of the environment is not written.

Files are 0600 in a 0700 folder; an entry that is a link, not ours, or readable by others is
ignored, and writes never follow links (a temp file, then os.replace).
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import stat
import sys
from collections.abc import Iterable
from functools import cache
from pathlib import Path
from typing import Any

from llmproxy_ops import LITELLM_PIN, __version__
from llmproxy_ops.fsutil import atomic_write_bytes
from llmproxy_ops.validate.litellm_load import ProbePlan
from llmproxy_ops.validate.probe_server import PROGRAM, ProbeResult

CACHE_DIR = ".validate-cache"
FORMAT = 1
KEEP = 64  # entries; the oldest go first
MIN_SECRET_LEN = 6  # shorter values are too common to tell a leak from a coincidence


def _digest(data: bytes | str) -> str:
    return hashlib.sha256(data.encode() if isinstance(data, str) else data).hexdigest()


@cache
def installed_litellm() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("litellm")
    except PackageNotFoundError:
        return "none"


@cache
def _probe_code() -> str:
    return _digest(PROGRAM.read_bytes() + Path(__file__).with_name("probe_stubs.py").read_bytes())


def key_inputs(plan: ProbePlan) -> dict[str, Any]:
    """Everything the verdict depends on, as names and digests (no value of the environment)."""
    return {
        "format": FORMAT,
        "llmproxy_ops": __version__,
        "probe": _probe_code(),
        "litellm": installed_litellm(),
        "litellm_pin": LITELLM_PIN,
        "python": sys.version,
        "config": _digest(plan.config_text),
        "stubs": {rel: _digest(src) for rel, src in sorted(plan.stubs.items())},
        "env_names": sorted(plan.env.values),
        "unset": sorted(plan.env.unset),
        "decisive": dict(sorted(plan.env.decisive.items())),
        "cwd": str(plan.cwd),
        "modules": {name: _digest(data) for name, data in sorted(plan.module_files.items())},
    }


def cache_key(plan: ProbePlan) -> str:
    return _digest(json.dumps(key_inputs(plan), sort_keys=True))


class ProbeCache:
    def __init__(self, build_dir: Path) -> None:
        self.folder = build_dir / CACHE_DIR

    def get(self, plan: ProbePlan) -> ProbeResult | None:
        path = self.folder / f"{cache_key(plan)}.json"
        raw = _read_private(path)
        if raw is None:
            return None
        try:
            entry = json.loads(raw)
            if entry.get("inputs") != key_inputs(plan):
                return None
            return ProbeResult.from_json(entry["result"])
        except (ValueError, KeyError, TypeError, AttributeError):
            return None  # a damaged entry is a miss

    def put(self, plan: ProbePlan, result: ProbeResult, secrets: Iterable[str] = ()) -> bool:
        """Store the verdict; False (nothing written) when it would hold one of `secrets`."""
        entry = json.dumps({"inputs": key_inputs(plan), "result": result.as_json()},
                           sort_keys=True, indent=1)
        if any(len(s) >= MIN_SECRET_LEN and s in entry for s in secrets):
            return False
        if not self._folder_ready():
            return False
        atomic_write_bytes(self.folder / f"{cache_key(plan)}.json", entry.encode(), mode=0o600)
        self._prune()
        return True

    def _folder_ready(self) -> bool:
        try:
            self.folder.parent.mkdir(parents=True, exist_ok=True)
            with contextlib.suppress(FileExistsError):
                self.folder.mkdir(mode=0o700)
            info = os.lstat(self.folder)
        except OSError:
            return False  # a read-only project: validation works, it just does not remember
        return stat.S_ISDIR(info.st_mode) and info.st_uid == os.getuid() and not (
            info.st_mode & 0o077)

    def _prune(self) -> None:
        entries = sorted(self.folder.glob("*.json"), key=lambda p: p.stat().st_mtime)
        for old in entries[:-KEEP]:
            with contextlib.suppress(OSError):
                old.unlink()


def _read_private(path: Path) -> bytes | None:
    """The file's bytes if it is a regular file of ours that nobody else can read or write."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW)
    except OSError:
        return None
    with os.fdopen(fd, "rb") as handle:
        info = os.fstat(handle.fileno())
        if not stat.S_ISREG(info.st_mode) or info.st_uid != os.getuid() or info.st_mode & 0o077:
            return None
        return handle.read()
