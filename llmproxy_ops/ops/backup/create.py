"""`backup create` and `backup list`: one folder per backup, written atomically."""

from __future__ import annotations

import datetime as dt
import json
import os
import shutil
from dataclasses import dataclass
from pathlib import Path

from llmproxy_ops import LITELLM_PIN, __version__
from llmproxy_ops.errors import BackupError, CommandFailed
from llmproxy_ops.ops.backup.manifest import (
    MANIFEST_FILE,
    VERIFY_FILE,
    DatabaseEntry,
    Manifest,
    file_entry,
    list_files,
    read_manifest,
    write_manifest,
)
from llmproxy_ops.ops.backup.secrets import SECRETS_FILE, encrypt
from llmproxy_ops.ops.backup.settings import BackupContext

STAMP = "%Y%m%dT%H%M%SZ"


@dataclass(frozen=True)
class CreateResult:
    folder: Path
    manifest: Manifest
    size: int
    duration_s: float


def utc_now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def create_backup(ctx: BackupContext, *, passphrase: str | None = None) -> CreateResult:
    """Dump every database and copy configs/build (and, with a passphrase, the env file)."""
    started = utc_now()
    name = f"{ctx.env}-{started.strftime(STAMP)}"
    ctx.backup_dir.mkdir(parents=True, exist_ok=True)
    final = ctx.backup_dir / name
    if final.exists():
        raise BackupError(f"{final} already exists", hint="wait a second and run it again")
    tmp = ctx.backup_dir / f".{name}.tmp-{os.getpid()}"
    try:
        manifest = _write_contents(ctx, tmp, started, passphrase)
        os.rename(tmp, final)  # readers see a complete backup or none
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    size = sum(e.size for e in manifest.files.values())
    took = (utc_now() - started).total_seconds()
    return CreateResult(final, manifest, size, round(took, 3))


def _write_contents(
    ctx: BackupContext, tmp: Path, started: dt.datetime, passphrase: str | None
) -> Manifest:
    tmp.mkdir(parents=True)
    manifest = Manifest(
        env=ctx.env,
        runtime=ctx.runtime,
        created=started.isoformat(),
        versions=_versions(ctx),
        salt_fingerprint=ctx.salt_fingerprint,
    )
    for db in ctx.databases:
        manifest.databases[db] = dump_database(ctx, db, tmp)
    _copy_configs(ctx, tmp)
    if passphrase is not None:
        manifest.secrets_file = _write_secrets(ctx, tmp, passphrase)
    manifest.files = {rel: file_entry(tmp / rel) for rel in list_files(tmp)}
    manifest.finished = utc_now().isoformat()
    write_manifest(tmp, manifest)
    return manifest


def dump_database(ctx: BackupContext, db: str, folder: Path) -> DatabaseEntry:
    """pg_dump in the snapshot of an open repeatable-read transaction, whose table stats
    then describe exactly the dumped rows, even while clients keep writing."""
    rel = f"db/{db}.dump"
    (folder / "db").mkdir(exist_ok=True)
    try:
        with ctx.pg.snapshot_session(db) as session:
            snapshot = session.begin_snapshot()
            with (folder / rel).open("wb") as out:
                ctx.pg.dump(db, out, snapshot)
                out.flush()
                os.fsync(out.fileno())
            tables = session.table_stats()
    except CommandFailed as exc:
        raise BackupError(
            f"pg_dump of database {db} failed ({ctx.pg.label})", details=exc.details
        ) from None
    return DatabaseEntry(rel, tables)


def _versions(ctx: BackupContext) -> dict[str, str]:
    return {
        "llmproxy_ops": __version__,
        "litellm": LITELLM_PIN,
        "pg_dump": ctx.pg.client_version("pg_dump"),
        "postgres_server": ctx.pg.server_version(),
    }


def _copy_configs(ctx: BackupContext, tmp: Path) -> None:
    """The layers as written (relative to their common folder) and the rendered build."""
    sources = [p.resolve() for p in ctx.sources if p.is_file()]
    if sources:
        base = Path(os.path.commonpath([p.parent for p in sources]))
        for src in sources:
            dst = tmp / "config" / src.relative_to(base)
            dst.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(src, dst)
    if ctx.build_dir is not None and ctx.build_dir.is_dir():
        shutil.copytree(ctx.build_dir, tmp / "build", symlinks=True)


def _write_secrets(ctx: BackupContext, tmp: Path, passphrase: str) -> str:
    if ctx.env_file is None or not ctx.env_file.is_file():
        raise BackupError(f"--include-secrets: env file {ctx.env_file} not found")
    path = tmp / SECRETS_FILE
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as fh:
        fh.write(encrypt(ctx.env_file.read_bytes(), passphrase))
    return SECRETS_FILE


# ---- list ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class BackupInfo:
    folder: Path
    manifest: Manifest | None
    status: str  # verified, FAILED, stale, unverified, unreadable
    size: int

    @property
    def verified(self) -> bool:
        return self.status == "verified"

    @property
    def created(self) -> str:
        return self.manifest.created if self.manifest else ""


def list_backups(backup_dir: Path, env: str | None = None) -> list[BackupInfo]:
    """Backups oldest first; half-written ones (dot folders) are not backups."""
    if not backup_dir.is_dir():
        return []
    infos = [
        backup_info(p)
        for p in backup_dir.iterdir()
        if p.is_dir() and not p.name.startswith(".") and (p / MANIFEST_FILE).exists()
    ]
    if env is not None:
        infos = [i for i in infos if i.manifest is None or i.manifest.env == env]
    return sorted(infos, key=lambda i: (i.created, i.folder.name))


def backup_info(folder: Path) -> BackupInfo:
    try:
        manifest = read_manifest(folder)
    except BackupError:
        return BackupInfo(folder, None, "unreadable", 0)
    size = sum(e.size for e in manifest.files.values())
    return BackupInfo(folder, manifest, verify_status(folder), size)


def verify_status(folder: Path) -> str:
    """What the last `verify` recorded, if it is about this very manifest."""
    from llmproxy_ops.ops.backup.verify import manifest_digest

    path = folder / VERIFY_FILE
    if not path.is_file():
        return "unverified"
    try:
        record = json.loads(path.read_text(encoding="utf-8"))
    except ValueError:
        return "unverified"
    if record.get("manifest_sha256") != manifest_digest(folder):
        return "stale"
    return "verified" if record.get("ok") else "FAILED"
