"""`backup verify`: checksums, `pg_restore --list`, then a real restore into a scratch database
whose per-table row counts and checksums must equal the ones recorded at dump time."""

from __future__ import annotations

import hashlib
import json
import secrets
import time
from dataclasses import dataclass, field
from pathlib import Path

from llmproxy_ops.errors import BackupError, CommandFailed
from llmproxy_ops.ops.backup.manifest import (
    MANIFEST_FILE,
    VERIFY_FILE,
    Manifest,
    check_files,
    check_manifest_sum,
    compare_tables,
    read_manifest,
)
from llmproxy_ops.ops.pg import PgServer

SCRATCH_PREFIX = "llmproxy_scratch_"


@dataclass
class VerifyReport:
    folder: Path
    problems: list[str] = field(default_factory=list)
    checked_tables: int = 0
    duration_s: float = 0.0
    manifest: Manifest | None = None

    @property
    def ok(self) -> bool:
        return not self.problems


def manifest_digest(folder: Path) -> str | None:
    path = folder / MANIFEST_FILE
    return hashlib.sha256(path.read_bytes()).hexdigest() if path.is_file() else None


def salt_problem(manifest: Manifest, current: str | None) -> list[str]:
    if manifest.salt_fingerprint == current:
        return []
    return [
        f"salt fingerprint: the backup was taken with LITELLM_SALT_KEY fingerprint "
        f"{manifest.salt_fingerprint or 'none (unset)'}, the current one is "
        f"{current or 'none (unset)'}; LiteLLM could not decrypt the credentials it stored"
    ]


def verify_backup(
    pg: PgServer,
    folder: Path,
    *,
    salt: str | None = None,
    check_salt: bool = True,
    record: bool = True,
) -> VerifyReport:
    """Collect every problem (never stop at the first); write verify.json next to the manifest."""
    started = time.monotonic()
    report = VerifyReport(folder)
    report.problems += check_manifest_sum(folder)
    try:
        report.manifest = read_manifest(folder)
    except BackupError as exc:
        report.problems.append(exc.message)
    if report.manifest is not None:
        report.problems += check_files(folder, report.manifest)
        if check_salt:
            report.problems += salt_problem(report.manifest, salt)
        for db, entry in sorted(report.manifest.databases.items()):
            report.problems += verify_dump(pg, db, folder / entry.file, entry.file, entry.tables)
            report.checked_tables += len(entry.tables)
    report.duration_s = round(time.monotonic() - started, 3)
    if record:
        write_verify_record(report)
    return report


def verify_dump(pg: PgServer, db: str, dump: Path, rel: str, expected: dict) -> list[str]:
    if not dump.is_file():
        return []  # already reported as missing
    try:
        pg.restore_list(dump)
    except CommandFailed as exc:
        return [f"{rel}: pg_restore --list failed: {_last_line(exc.stderr)}"]
    scratch = f"{SCRATCH_PREFIX}{db}_{secrets.token_hex(4)}"
    try:
        pg.create_database(scratch)
        pg.restore(scratch, dump)
        return compare_tables(db, expected, pg.table_stats(scratch))
    except CommandFailed as exc:
        return [f"{rel}: restore into a scratch database failed: {_last_line(exc.stderr)}"]
    finally:
        pg.drop_database(scratch)


def write_verify_record(report: VerifyReport) -> None:
    if not (report.folder / MANIFEST_FILE).is_file():
        return
    doc = {
        "ok": report.ok,
        "problems": report.problems,
        "checked_tables": report.checked_tables,
        "verified_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "duration_s": report.duration_s,
        "manifest_sha256": manifest_digest(report.folder),
    }
    tmp = report.folder / f".{VERIFY_FILE}.tmp"
    tmp.write_text(json.dumps(doc, indent=2, sort_keys=True) + "\n", encoding="utf-8")
    tmp.replace(report.folder / VERIFY_FILE)


def _last_line(text: str) -> str:
    lines = [ln.strip() for ln in text.strip().splitlines() if ln.strip()]
    return lines[-1] if lines else "no error output"
