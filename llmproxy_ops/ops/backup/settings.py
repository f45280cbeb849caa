"""What the backup commands need from an environment: where backups go, which databases, how
to reach the server (db container or a configured URL), and the current salt fingerprint."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from llmproxy_ops.errors import BackupError
from llmproxy_ops.ops.backup.auth import KEY_FILE, BackupKey
from llmproxy_ops.ops.pg import PgServer
from llmproxy_ops.ops.secret_store import salt_fingerprint
from llmproxy_ops.pipeline import Target, load_target, target_environment
from llmproxy_ops.runtime.api import runtime_of
from llmproxy_ops.spec import Spec
from llmproxy_ops.targets.registry import target_of

SALT_VAR = "LITELLM_SALT_KEY"
DEFAULT_DIR = "backups"
DEFAULT_KEEP = 7
DEFAULT_SERVER_URL_ENV = "BACKUP_DATABASE_URL"


@dataclass
class BackupContext:
    env: str
    runtime: str
    backup_dir: Path
    databases: tuple[str, ...]
    pg: PgServer
    key: BackupKey  # authenticates backups (auth.py); never leaves this machine
    keep: int = DEFAULT_KEEP
    max_age_days: int | None = None
    salt_fingerprint: str | None = None
    sources: tuple[Path, ...] = ()
    build_dir: Path | None = None
    env_file: Path | None = None
    spec: Spec | None = field(default=None, repr=False)
    target: Target | None = None


def fingerprint_of(env: dict[str, str]) -> str | None:
    value = env.get(SALT_VAR)
    return salt_fingerprint(value) if value else None


def default_databases(spec: Spec) -> tuple[str, ...]:
    use_db = target_of(spec).runs_compose_services and spec.stack.compose(spec.name).use_db
    return ("mlflow", "litellm") if use_db else ("mlflow",)


def context_for(target: Target) -> BackupContext:
    """Resolve stack.backup for an environment (defaults documented in stack_schema.py)."""
    spec = load_target(target)
    raw, env = spec.stack.backup_raw, target_environment(spec, target)
    return BackupContext(
        env=spec.name,
        runtime=spec.stack.runtime,
        backup_dir=Path(raw.get("dir", DEFAULT_DIR)),
        databases=tuple(raw.get("databases") or default_databases(spec)),
        pg=_server(spec, raw, env),
        key=BackupKey(Path(raw["key_file"]) if raw.get("key_file")
                      else spec.stack.run_dir / KEY_FILE),
        keep=int(raw.get("keep", DEFAULT_KEEP)),
        max_age_days=raw.get("max_age_days"),
        salt_fingerprint=fingerprint_of(env),
        sources=tuple(Path(s) for s in spec.sources),
        build_dir=spec.stack.build_dir / spec.name,
        env_file=target.env_file or spec.stack.env_file,
        spec=spec,
        target=target,
    )


def _server(spec: Spec, raw: dict, env: dict[str, str]) -> PgServer:
    if target_of(spec).runs_compose_services:  # PostgreSQL is the stack's db service
        # The postgres image trusts its local socket: no password on the command line.
        prefix = runtime_of(spec).exec_command("db", [])
        return PgServer.in_container(prefix, spec.stack.compose(spec.name).db_user)
    var = raw.get("server_url_env", DEFAULT_SERVER_URL_ENV)
    url = env.get(var)
    if not url:
        raise BackupError(
            f"the local runtime backs up the PostgreSQL server named by {var}, which is not set",
            hint=f"add {var}=postgresql://USER:PASSWORD@HOST:PORT/ to the env file "
            "(or set stack.backup.server_url_env)",
        )
    return PgServer.from_url(url)
