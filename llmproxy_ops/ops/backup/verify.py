"""`backup verify`: authenticate the manifest, then checksums, `pg_restore --list`, then a
real restore into a scratch database whose per-table row counts and checksums must equal
the ones recorded at dump time.

Nothing in the folder is trusted before the manifest's HMAC checks out (auth.py), and no
dump reaches pg_restore while any file check fails: a dump is SQL.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import secrets
import time
from dataclasses import dataclass, field
from pathlib import Path

from llmproxy_ops import fsutil
from llmproxy_ops.errors import BackupError, CommandFailed
from llmproxy_ops.ops.backup.auth import BackupKey, authenticate, record_mac
from llmproxy_ops.ops.backup.manifest import (
    VERIFY_FILE,
    Manifest,
    check_files,
    compare_tables,
    manifest_bytes,
    open_member,
    parse_manifest,
)
from llmproxy_ops.ops.pg import PgServer

SCRATCH_PREFIX = "llmproxy_scratch_"
NOT_RESTORED = "databases: not restored into a scratch database (fix the problems above first)"


@dataclass
class VerifyReport:
    folder: Path
    problems: list[str] = field(default_factory=list)
    checked_tables: int = 0
    duration_s: float = 0.0
    manifest: Manifest | None = None
    authentic: bool = False

    @property
    def ok(self) -> bool:
        return not self.problems


def manifest_digest(folder: Path) -> str | None:
    try:
        return hashlib.sha256(manifest_bytes(folder)).hexdigest()
    except BackupError:
        return None


def salt_problem(manifest: Manifest, current: str | None) -> list[str]:
    if manifest.salt_fingerprint == current:
        return []
    return [
        f"salt fingerprint: the backup was taken with LITELLM_SALT_KEY fingerprint "
        f"{manifest.salt_fingerprint or 'none (unset)'}, the current one is "
        f"{current or 'none (unset)'}; LiteLLM could not decrypt the credentials it stored"
    ]


def authentic_manifest(folder: Path, key: bytes) -> tuple[Manifest | None, list[str]]:
    """The manifest when its HMAC is `key`'s; else None and why (nothing parsed)."""
    try:
        data = manifest_bytes(folder)
    except BackupError as exc:
        return None, [exc.message]
    problems = authenticate(folder, data, key)
    if problems:
        return None, problems
    try:
        return parse_manifest(folder, data), []
    except BackupError as exc:
        return None, [exc.message]


def verify_backup(
    pg: PgServer,
    folder: Path,
    *,
    key: BackupKey,
    salt: str | None = None,
    check_salt: bool = True,
    record: bool = True,
) -> VerifyReport:
    """Collect every problem; write a keyed verify.json next to the manifest."""
    started = time.monotonic()
    report = VerifyReport(folder)
    secret = key.load()  # no key, no verify: BackupError
    report.manifest, report.problems = authentic_manifest(folder, secret)
    report.authentic = report.manifest is not None
    if report.manifest is not None:
        report.problems += check_files(folder, report.manifest)
        if check_salt:
            report.problems += salt_problem(report.manifest, salt)
        if any(not p.startswith("salt fingerprint") for p in report.problems):
            report.problems.append(NOT_RESTORED)
        else:
            for db, entry in sorted(report.manifest.databases.items()):
                report.problems += verify_dump(pg, db, folder / entry.file, entry.file,
                                               entry.tables)
                report.checked_tables += len(entry.tables)
    report.duration_s = round(time.monotonic() - started, 3)
    if record and report.authentic:
        write_verify_record(report, secret)
    return report


def verify_dump(pg: PgServer, db: str, dump: Path, rel: str, expected: dict) -> list[str]:
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


def write_verify_record(report: VerifyReport, key: bytes) -> None:
    """verify.json, keyed: a record planted in a copied folder does not count (status())."""
    doc = {
        "ok": report.ok,
        "problems": report.problems,
        "checked_tables": report.checked_tables,
        "verified_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "duration_s": report.duration_s,
        "manifest_sha256": manifest_digest(report.folder),
    }
    body = json.dumps(doc, indent=2, sort_keys=True)
    signed = {**doc, "mac": record_mac(key, body)}
    # Temp file created exclusively beside it, then renamed: a planted link is never followed.
    fsutil.atomic_write_text(report.folder / VERIFY_FILE,
                             json.dumps(signed, indent=2, sort_keys=True) + "\n",
                             mode=fsutil.PRIVATE_FILE)


def read_verify_record(folder: Path, key: bytes) -> dict | None:
    """The record when its MAC is `key`'s and it is about this very manifest, else None."""
    try:
        with open_member(folder / VERIFY_FILE) as fh:
            record = json.loads(fh.read(1 << 20))
    except (OSError, ValueError):
        return None
    if not isinstance(record, dict) or not isinstance(record.get("mac"), str):
        return None
    mac = record.pop("mac")
    if not hmac.compare_digest(mac, record_mac(key, json.dumps(record, indent=2, sort_keys=True))):
        return None
    return record


def _last_line(text: str) -> str:
    lines = [ln.strip() for ln in text.strip().splitlines() if ln.strip()]
    return lines[-1] if lines else "no error output"

