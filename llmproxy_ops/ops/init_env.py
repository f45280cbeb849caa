"""`init`: give the project an env file with a master key, never a second key behind a
running proxy's back; for an environment (`--env`), also every other secret its deployment
generates for itself (the stack's database and Redis passwords, LiteLLM's salt key)."""

from __future__ import annotations

import enum
import secrets
from dataclasses import dataclass
from pathlib import Path

from llmproxy_ops.envfile import (
    MASTER_KEY_VAR,
    SALT_KEY_VAR,
    ensure_env_file,
    format_assignment,
    generate_master_key,
    read_env_file,
    write_env_text,
)
from llmproxy_ops.errors import RuntimeStateError
from llmproxy_ops.fsutil import locked
from llmproxy_ops.ops.secret_store import replace_assignment
from llmproxy_ops.render import stack_redis
from llmproxy_ops.spec.model import Spec
from llmproxy_ops.targets.local.process import LocalRuntime
from llmproxy_ops.targets.registry import target_of

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


# ---- the other secrets of an environment ----------------------------------------------------


@dataclass(frozen=True)
class StackSecret:
    variable: str
    why: str  # what reads it, for the line init prints


def stack_secrets(spec: Spec) -> list[StackSecret]:
    """Secrets the environment's own services need and nobody else issues: the ones the
    validation checks compose-db-password, compose-redis-password and salt-key-missing ask
    for, decided by the same settings. Provider keys come from the providers; values of a
    Kubernetes environment live in the cluster (build/<env>/secrets.env.example)."""
    stack = spec.stack
    if not target_of(stack).runs_compose_services:
        return []
    cs = stack.compose(spec.name)
    found = []
    if cs.db.enabled:
        found.append(StackSecret("POSTGRES_PASSWORD", "the db service's password"))
    if stack_redis.brings_redis(spec):
        found.append(StackSecret(stack_redis.PASSWORD_VAR, "the redis service's password"))
    if cs.db.enabled:  # set before the first start: it must never change once LiteLLM stores
        found.append(StackSecret(SALT_KEY_VAR, "LiteLLM's encryption key for stored credentials"))
    return found


def add_stack_secrets(path: Path, wanted: list[StackSecret]) -> list[StackSecret]:
    """Generate each of `wanted` that `path` lacks (or has empty); a value that is set is
    never replaced. Returns the ones added."""
    with locked(path):
        current = read_env_file(path)
        added = [s for s in wanted if not current.get(s.variable)]
        text = path.read_text(encoding="utf-8")
        for secret in added:  # an empty assignment is filled where it stands
            # token_urlsafe: letters, digits, - and _: safe in postgresql:// URLs and redis.conf
            text = replace_assignment(text, secret.variable, secrets.token_urlsafe(32))
        if added:
            write_env_text(path, text)
    return added
