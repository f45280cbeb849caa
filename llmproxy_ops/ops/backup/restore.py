"""`backup restore`: refuse an unauthenticated or damaged backup or a different salt key;
otherwise restore every database into a fresh one, prove it equals the manifest, and only
then swap it in by rename.

A failure before the swap drops the fresh databases and leaves the targets untouched.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass, field
from pathlib import Path

from llmproxy_ops.errors import BackupError, CommandFailed, OpsError
from llmproxy_ops.ops.backup.create import STAMP, utc_now, verify_status
from llmproxy_ops.ops.backup.manifest import Manifest, check_files, compare_tables
from llmproxy_ops.ops.backup.restart import ProxyControl, proxy_control
from llmproxy_ops.ops.backup.settings import BackupContext
from llmproxy_ops.ops.backup.verify import authentic_manifest, salt_problem
from llmproxy_ops.ops.pg import MAINTENANCE_DB, PgServer, ident, literal


@dataclass
class RestoreResult:
    folder: Path
    plan: list[str]
    dry_run: bool
    restored: list[str] = field(default_factory=list)
    kept_old: list[str] = field(default_factory=list)  # pre-restore copies still on the server
    smoke_ok: bool | None = None
    notes: list[str] = field(default_factory=list)


def preflight(ctx: BackupContext, folder: Path) -> Manifest:
    """Refuse before touching anything: not authenticated, failed verify, damaged files,
    other salt key. Nothing of the folder is used before its manifest's HMAC checks out."""
    key = ctx.key.load()
    manifest, problems = authentic_manifest(folder, key)
    if manifest is None:
        raise BackupError(
            f"{folder.name}: refusing to restore a backup that is not authenticated; "
            "nothing was changed",
            details="\n".join(problems),
            hint="restore only backups made with this machine's backup key "
            f"({ctx.key.path}); see SECURITY.md for moving backups between machines",
        )
    if verify_status(folder, key) == "FAILED":
        raise BackupError(
            f"{folder.name}: the last verify failed; refusing to restore it",
            hint=f"run `llmproxy-ops backup verify {folder}` to see why",
        )
    problems = check_files(folder, manifest) + salt_problem(manifest, ctx.salt_fingerprint)
    if problems:
        raise BackupError(
            f"{folder.name}: refusing to restore; nothing was changed",
            details="\n".join(problems),
            hint="a salt key must never change: restore a backup taken with the "
            "current LITELLM_SALT_KEY"
            if any("salt" in p for p in problems)
            else "use another backup (backup list shows which are verified)",
        )
    return manifest


def make_plan(manifest: Manifest, control: ProxyControl) -> list[str]:
    steps = ["authenticate the manifest, verify checksums and the salt fingerprint (done)"]
    steps += [
        f"restore {e.file} into a fresh database and compare {len(e.tables)} tables "
        f"with the manifest"
        for _, e in sorted(manifest.databases.items())
    ]
    steps += control.stop_plan()
    steps += [
        f"swap database {db}: rename the current one aside, the restored one in"
        for db in sorted(manifest.databases)
    ]
    steps += control.start_plan()
    return steps


def restore_backup(
    ctx: BackupContext, folder: Path, *, dry_run: bool = False, control: ProxyControl | None = None
) -> RestoreResult:
    manifest = preflight(ctx, folder)
    control = control or proxy_control(ctx)
    result = RestoreResult(folder, make_plan(manifest, control), dry_run)
    if dry_run:
        return result
    fresh = stage_all(ctx.pg, folder, manifest)
    try:
        stopped = control.stop()
    except BaseException:
        for name in fresh.values():
            ctx.pg.drop_database(name)
        raise
    try:
        for db in sorted(fresh):
            result.kept_old += swap_database(ctx.pg, db, fresh[db])
            result.restored.append(db)
    finally:
        result.smoke_ok, notes = control.start(stopped)
        result.notes += notes
    if result.smoke_ok is not False:
        for old in result.kept_old:
            ctx.pg.drop_database(old)
        result.kept_old = []
    return result


def stage_all(pg: PgServer, folder: Path, manifest: Manifest) -> dict[str, str]:
    """Every database restored and checked next to its target; all or none."""
    fresh: dict[str, str] = {}
    try:
        for db, entry in sorted(manifest.databases.items()):
            fresh[db] = stage_database(pg, db, folder / entry.file, entry.tables)
    except BaseException:
        for name in fresh.values():
            pg.drop_database(name)
        raise
    return fresh


def stage_database(pg: PgServer, db: str, dump: Path, expected: dict) -> str:
    """Restore `dump` into a new database named after `db`; raise (and drop it) unless it
    matches the manifest table for table."""
    name = f"{db}__restore_{secrets.token_hex(4)}"
    pg.create_database(name)
    try:
        pg.restore(name, dump)
        problems = compare_tables(db, expected, pg.table_stats(name))
    except CommandFailed as exc:
        pg.drop_database(name)
        raise BackupError(
            f"restore of {dump.name} failed; database {db} was not changed", details=exc.details
        ) from None
    except BaseException:
        pg.drop_database(name)
        raise
    if problems:
        pg.drop_database(name)
        raise BackupError(
            f"restored {dump.name} differs from the manifest; database {db} was not changed",
            details="\n".join(problems),
        )
    return name


def swap_database(pg: PgServer, db: str, fresh: str) -> list[str]:
    """Rename `db` aside and `fresh` into its place in one transaction. Returns the old name."""
    exists = db in pg.databases()
    old = f"{db}__pre_restore_{utc_now().strftime(STAMP).lower()}"
    sql = []
    if exists:
        # No new sessions between terminating the old ones and the rename.
        sql += [
            f"ALTER DATABASE {ident(db)} ALLOW_CONNECTIONS false",
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
            f"WHERE datname = {literal(db)} AND pid <> pg_backend_pid()",
            "SELECT pg_sleep(0.2)",
        ]
    sql += ["BEGIN"]
    sql += [f"ALTER DATABASE {ident(db)} RENAME TO {ident(old)}"] if exists else []
    sql += [f"ALTER DATABASE {ident(fresh)} RENAME TO {ident(db)}", "COMMIT"]
    try:
        pg.execute(MAINTENANCE_DB, ";\n".join(sql) + ";\n")
    except OpsError:
        if exists:
            pg.execute(MAINTENANCE_DB, f"ALTER DATABASE {ident(db)} ALLOW_CONNECTIONS true")
        raise
    if exists:
        pg.execute(MAINTENANCE_DB, f"ALTER DATABASE {ident(old)} ALLOW_CONNECTIONS true")
    return [old] if exists else []
