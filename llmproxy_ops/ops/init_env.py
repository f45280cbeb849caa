"""`init`: give the project an env file with a master key, never a second key behind a
running proxy's back."""

from __future__ import annotations

import enum
from pathlib import Path

from llmproxy_ops.envfile import (
    MASTER_KEY_VAR,
    ensure_env_file,
    format_assignment,
    generate_master_key,
    read_env_file,
    write_env_text,
)
from llmproxy_ops.errors import RuntimeStateError
from llmproxy_ops.fsutil import locked
from llmproxy_ops.runtime.local import LocalRuntime

DEFAULT_RUN_ROOT = Path(".run")


class InitResult(enum.StrEnum):
    CREATED = "created"
    KEY_ADDED = "key added"
    UNCHANGED = "unchanged"


def init_env_file(path: Path, run_root: Path = DEFAULT_RUN_ROOT) -> InitResult:
    """Create `path` with a fresh master key, or add the key an existing file lacks."""
    if not path.exists():
        _refuse_while_running(path, run_root)
        ensure_env_file(path)
        return InitResult.CREATED
    if read_env_file(path).get(MASTER_KEY_VAR):
        return InitResult.UNCHANGED
    _refuse_while_running(path, run_root)
    with locked(path):  # another writer (keys rotate) must not lose its line to this one
        if read_env_file(path).get(MASTER_KEY_VAR):
            return InitResult.UNCHANGED
        lines = path.read_text(encoding="utf-8").splitlines(keepends=True)
        # an empty `LITELLM_MASTER_KEY=` (copied from .env.example) is replaced in place
        kept = [ln for ln in lines if not ln.strip().startswith(f"{MASTER_KEY_VAR}=")]
        if kept and not kept[-1].endswith("\n"):
            kept[-1] += "\n"
        write_env_text(path, "".join(kept) + format_assignment(MASTER_KEY_VAR,
                                                               generate_master_key()))
    return InitResult.KEY_ADDED


def _refuse_while_running(path: Path, run_root: Path) -> None:
    """A running proxy holds the old key: a new one would lock every client out of it."""
    if not run_root.is_dir():
        return
    for run_dir in sorted(p for p in run_root.iterdir() if p.is_dir()):
        status = LocalRuntime(run_dir).status()
        if status.running:
            raise RuntimeStateError(
                f"{path} has no {MASTER_KEY_VAR}, but the {run_dir.name} proxy is running "
                f"(pid {status.pid}, {status.url}) with the key it was started with; "
                "a new key would not match it",
                hint=f"restore {path} from a backup, or stop the proxy first "
                f"(llmproxy-ops down --env {run_dir.name}), then run init again",
            )
