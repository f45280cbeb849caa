"""`backup create` and `backup list`: one folder per backup, written atomically.

A backup holds MLflow's traces (prompts) and LiteLLM's database: every folder is 0700 and
every file 0600 from its creation on; the manifest is signed with this machine's backup key.
"""

from __future__ import annotations

import datetime as dt
import os
import shutil
from dataclasses import dataclass
from pathlib import Path

from llmproxy_ops import LITELLM_PIN, __version__, fsutil
from llmproxy_ops.errors import BackupError, CommandFailed
from llmproxy_ops.ops.backup.auth import BackupKey, authenticate
from llmproxy_ops.ops.backup.manifest import (
    MANIFEST_FILE,
    DatabaseEntry,
    Manifest,
    file_entry,
    list_files,
    manifest_bytes,
    parse_manifest,
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
    key = ctx.key.load_or_create()
    fsutil.ensure_private_dir(ctx.backup_dir)
    final = ctx.backup_dir / name
    if final.exists():
        raise BackupError(f"{final} already exists", hint="wait a second and run it again")
    tmp = ctx.backup_dir / f".{name}.tmp-{os.getpid()}"
    try:
        manifest = _write_contents(ctx, tmp, started, passphrase, key)
        os.rename(tmp, final)  # readers see a complete backup or none
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    size = sum(e.size for e in manifest.files.values())
    took = (utc_now() - started).total_seconds()
    return CreateResult(final, manifest, size, round(took, 3))


def _write_contents(
    ctx: BackupContext, tmp: Path, started: dt.datetime, passphrase: str | None, key: bytes
) -> Manifest:
    tmp.mkdir(mode=fsutil.PRIVATE_DIR)
    fsutil.ensure_private_dir(tmp)
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
    write_manifest(tmp, manifest, key)
    return manifest


def dump_database(ctx: BackupContext, db: str, folder: Path) -> DatabaseEntry:
    """pg_dump in the snapshot of an open repeatable-read transaction, whose table stats
    then describe exactly the dumped rows, even while clients keep writing."""
    rel = f"db/{db}.dump"
    fsutil.ensure_private_dir(folder / "db")
    try:
        with ctx.pg.snapshot_session(db) as session:
            snapshot = session.begin_snapshot()
            with fsutil.create_private(folder / rel) as out:
                ctx.pg.dump(db, out, snapshot)
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
    """The layers as written (relative to their common folder) and the rendered build.

    Regular files only, copied into 0600 files: a symlink is neither copied nor followed."""
    sources = [p.resolve() for p in ctx.sources if p.is_file()]
    if sources:
        base = Path(os.path.commonpath([p.parent for p in sources]))
        for src in sources:
            _copy_private(src, tmp / "config" / src.relative_to(base))
    build = ctx.build_dir
    if build is not None and build.is_dir() and not build.is_symlink():
        for root, dirs, names in os.walk(build):
            dirs[:] = [d for d in dirs if not (Path(root) / d).is_symlink()]
            for name in names:
                src = Path(root) / name
                if src.is_file() and not src.is_symlink():
                    _copy_private(src, tmp / "build" / src.relative_to(build))


def _copy_private(src: Path, dst: Path) -> None:
    fsutil.ensure_private_dir(dst.parent)
    fsutil.write_private(dst, src.read_bytes())


def _write_secrets(ctx: BackupContext, tmp: Path, passphrase: str) -> str:
    if ctx.env_file is None or not ctx.env_file.is_file():
        raise BackupError(f"--include-secrets: env file {ctx.env_file} not found")
    path = tmp / SECRETS_FILE
    fsutil.ensure_private_dir(path.parent)
    fsutil.write_private(path, encrypt(ctx.env_file.read_bytes(), passphrase))
    return SECRETS_FILE


# ---- list ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class BackupInfo:
    folder: Path
    manifest: Manifest | None
    status: str  # verified, FAILED, stale, unverified, unauthenticated, unreadable
    size: int

    @property
    def verified(self) -> bool:
        return self.status == "verified"

    @property
    def created(self) -> str:
        return self.manifest.created if self.manifest else ""


def list_backups(
    backup_dir: Path, env: str | None = None, key: BackupKey | None = None
) -> list[BackupInfo]:
    """Backups oldest first; half-written ones (dot folders) are not backups. Without `key`
    (or without its file) none is authenticated, so none counts as verified."""
    if not backup_dir.is_dir():
        return []
    secret = key.load() if key is not None and key.exists() else None
    infos = [
        backup_info(p, secret)
        for p in backup_dir.iterdir()
        if p.is_dir() and not p.is_symlink() and not p.name.startswith(".")
        and (p / MANIFEST_FILE).exists()
    ]
    if env is not None:
        infos = [i for i in infos if i.manifest is None or i.manifest.env == env]
    return sorted(infos, key=lambda i: (i.created, i.folder.name))


def backup_info(folder: Path, key: bytes | None) -> BackupInfo:
    try:
        data = manifest_bytes(folder)
        manifest = parse_manifest(folder, data)
    except BackupError:
        return BackupInfo(folder, None, "unreadable", 0)
    size = sum(e.size for e in manifest.files.values())
    if key is None or authenticate(folder, data, key):
        return BackupInfo(folder, manifest, "unauthenticated", size)
    return BackupInfo(folder, manifest, verify_status(folder, key), size)


def verify_status(folder: Path, key: bytes) -> str:
    """What the last `verify` recorded (with this key), if it is about this very manifest."""
    from llmproxy_ops.ops.backup.verify import manifest_digest, read_verify_record

    record = read_verify_record(folder, key)
    if record is None:
        return "unverified"
    if record.get("manifest_sha256") != manifest_digest(folder):
        return "stale"
    return "verified" if record.get("ok") is True else "FAILED"
