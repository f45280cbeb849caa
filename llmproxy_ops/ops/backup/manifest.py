"""manifest.json of a backup: what was written (sha256 + size of every file), from where, with
which versions, and per-table row counts and checksums taken in the dump's own snapshot.

A manifest may come from anyone (a folder copied from elsewhere): `from_dict` checks every
field's type and shape before any of it is used. Database names must be plain identifiers
(they name databases on the server), file paths must stay inside the folder.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import os
import re
import stat
from dataclasses import asdict, dataclass, field
from pathlib import Path, PurePosixPath
from typing import Any

from llmproxy_ops import fsutil
from llmproxy_ops.errors import BackupError
from llmproxy_ops.ops.backup.auth import MAC_FILE, sign_folder
from llmproxy_ops.ops.pg import TableStats

MANIFEST_FILE = "manifest.json"
LEGACY_SUM_FILE = "manifest.sha256"  # unkeyed: written by older versions, trusted by none
VERIFY_FILE = "verify.json"
FORMAT = 2  # 2: authenticated by manifest.hmac
MAX_MANIFEST_BYTES = 16 * 1024 * 1024
# Restore names the staged database `<db>__pre_restore_<UTC stamp>` (32 more characters);
# PostgreSQL cuts names at 63 bytes without an error, so longer ones would collide.
MAX_DB_NAME = 31
_DB_NAME = re.compile(rf"[a-z_][a-z0-9_]{{0,{MAX_DB_NAME - 1}}}")
_SHA256 = re.compile(r"[0-9a-f]{64}")
_MAX_PATH = 1024
_MAX_TEXT = 4096
_CHUNK = 1 << 20


class ManifestInvalid(ValueError):
    """A field of a manifest that cannot be trusted; the message names it."""


@dataclass(frozen=True)
class FileEntry:
    sha256: str
    size: int


@dataclass(frozen=True)
class DatabaseEntry:
    file: str
    tables: dict[str, TableStats]


@dataclass
class Manifest:
    env: str
    runtime: str
    created: str
    finished: str = ""
    versions: dict[str, str] = field(default_factory=dict)
    salt_fingerprint: str | None = None
    files: dict[str, FileEntry] = field(default_factory=dict)
    databases: dict[str, DatabaseEntry] = field(default_factory=dict)
    secrets_file: str | None = None
    format: int = FORMAT

    def to_json(self) -> str:
        return json.dumps(asdict(self), indent=2, sort_keys=True) + "\n"

    @classmethod
    def from_dict(cls, raw: Any) -> Manifest:
        """Every field checked; ManifestInvalid names the first one that is wrong."""
        raw = _mapping(raw, "the manifest")
        files = {
            safe_relpath(p, "files"): _file_entry(e, p)
            for p, e in _mapping(raw.get("files"), "files").items()
        }
        dbs = {
            database_name(n): _database_entry(d, n, files)
            for n, d in _mapping(raw.get("databases", {}), "databases").items()
        }
        secrets_file = raw.get("secrets_file")
        if secrets_file is not None and safe_relpath(secrets_file, "secrets_file") not in files:
            raise ManifestInvalid("secrets_file: not listed in files")
        fmt = raw.get("format")
        if fmt not in (1, FORMAT) or isinstance(fmt, bool):
            raise ManifestInvalid(f"format: {fmt!r} is not a known manifest format")
        return cls(
            env=_text(raw.get("env"), "env"),
            runtime=_text(raw.get("runtime"), "runtime"),
            created=_timestamp(raw.get("created"), "created"),
            finished=_text(raw.get("finished", ""), "finished"),
            versions={_text(k, "versions"): _text(v, "versions")
                      for k, v in _mapping(raw.get("versions", {}), "versions").items()},
            salt_fingerprint=None if raw.get("salt_fingerprint") is None
            else _text(raw["salt_fingerprint"], "salt_fingerprint"),
            files=files,
            databases=dbs,
            secrets_file=secrets_file,
            format=fmt,
        )


# ---- field checks ----------------------------------------------------------------------------


def database_name(name: Any) -> str:
    if not isinstance(name, str) or not _DB_NAME.fullmatch(name):
        raise ManifestInvalid(
            f"databases: {_shown(name)} is not a database name (a-z, 0-9 and _, starting "
            f"with a letter or _, at most {MAX_DB_NAME} characters)"
        )
    return name


def safe_relpath(rel: Any, where: str) -> str:
    """A relative POSIX path inside the folder: no '..', no absolute path, nothing odd."""
    bad = not isinstance(rel, str) or not rel or len(rel) > _MAX_PATH
    parts = PurePosixPath(rel).parts if not bad else ()
    if bad or not parts or rel.startswith("/") or "\\" in rel or any(
        ord(c) < 32 for c in rel
    ) or any(p in ("", ".", "..") for p in parts) or PurePosixPath(rel).as_posix() != rel:
        raise ManifestInvalid(
            f"{where}: {_shown(rel)} is not a relative path inside the backup folder"
        )
    return rel


def _file_entry(entry: Any, rel: str) -> FileEntry:
    entry = _mapping(entry, f"files: {rel}")
    digest, size = entry.get("sha256"), entry.get("size")
    if not isinstance(digest, str) or not _SHA256.fullmatch(digest):
        raise ManifestInvalid(f"files: {rel}: sha256 is not 64 hex digits")
    if not isinstance(size, int) or isinstance(size, bool) or size < 0:
        raise ManifestInvalid(f"files: {rel}: size is not a byte count")
    return FileEntry(digest, size)


def _database_entry(entry: Any, name: str, files: dict[str, FileEntry]) -> DatabaseEntry:
    entry = _mapping(entry, f"databases: {name}")
    rel = safe_relpath(entry.get("file"), f"databases: {name}: file")
    if rel not in files:  # its sha256 must be checked like every other file's
        raise ManifestInvalid(f"databases: {name}: file {rel} is not listed in files")
    tables = {}
    for table, stats in _mapping(entry.get("tables"), f"databases: {name}: tables").items():
        where = f"databases: {name}: tables: {_shown(table)}"
        stats = _mapping(stats, where)
        rows, checksum = stats.get("rows"), stats.get("checksum")
        if not isinstance(rows, int) or isinstance(rows, bool) or rows < 0:
            raise ManifestInvalid(f"{where}: rows is not a count")
        tables[_text(table, where)] = TableStats(rows, _text(checksum, where))
    return DatabaseEntry(rel, tables)


def _mapping(value: Any, where: str) -> dict[Any, Any]:
    if not isinstance(value, dict):
        raise ManifestInvalid(f"{where}: expected an object")
    return value


def _text(value: Any, where: str) -> str:
    if not isinstance(value, str) or len(value) > _MAX_TEXT:
        raise ManifestInvalid(f"{where}: expected a string")
    return value


def _timestamp(value: Any, where: str) -> str:
    text = _text(value, where)
    try:
        parsed = dt.datetime.fromisoformat(text)
    except ValueError:
        parsed = None
    if parsed is None or parsed.tzinfo is None:
        raise ManifestInvalid(f"{where}: {_shown(text)} is not an ISO 8601 time with a zone")
    return text


def _shown(value: Any) -> str:
    """A hostile value, shown short and printable in a message."""
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


# ---- files on disk ---------------------------------------------------------------------------


def sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with open_member(path) as fh:
        while chunk := fh.read(_CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


def open_member(path: Path) -> Any:
    """A backup file for reading; a symlink is refused, never followed."""
    fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC)
    return os.fdopen(fd, "rb")


def file_entry(path: Path) -> FileEntry:
    return FileEntry(sha256_file(path), path.stat().st_size)


def write_manifest(folder: Path, manifest: Manifest, key: bytes) -> None:
    """manifest.json (0600) and its HMAC with `key` (auth.py)."""
    text = manifest.to_json().encode()
    fsutil.atomic_write_bytes(folder / MANIFEST_FILE, text, mode=fsutil.PRIVATE_FILE)
    sign_folder(folder, key, text)


def manifest_bytes(folder: Path) -> bytes:
    """manifest.json's bytes (bounded, no link followed); BackupError when unreadable."""
    path = folder / MANIFEST_FILE
    try:
        with open_member(path) as fh:
            data = fh.read(MAX_MANIFEST_BYTES + 1)
    except FileNotFoundError:
        raise BackupError(f"{path}: missing; not a backup folder") from None
    except OSError as exc:
        raise BackupError(f"{path}: unreadable manifest ({exc.strerror})") from None
    if len(data) > MAX_MANIFEST_BYTES:
        raise BackupError(f"{path}: larger than {MAX_MANIFEST_BYTES // 1048576} MiB; refused")
    return data


def read_manifest(folder: Path) -> Manifest:
    return parse_manifest(folder, manifest_bytes(folder))


def parse_manifest(folder: Path, data: bytes) -> Manifest:
    path = folder / MANIFEST_FILE
    try:
        return Manifest.from_dict(json.loads(data))
    except ManifestInvalid as exc:
        raise BackupError(f"{path}: invalid manifest: {exc}") from None
    except (ValueError, RecursionError) as exc:
        raise BackupError(f"{path}: unreadable manifest ({type(exc).__name__}: {exc})") from None


def member_problem(folder: Path, rel: str) -> str | None:
    """Why `rel` is not a regular file inside `folder` reached without a symlink, or None."""
    path = folder
    for i, part in enumerate(PurePosixPath(rel).parts):
        path = path / part
        try:
            mode = os.lstat(path).st_mode
        except FileNotFoundError:
            return f"{rel}: missing"
        if stat.S_ISLNK(mode):
            return f"{rel}: is or passes through a symlink; refused"
        last = i == len(PurePosixPath(rel).parts) - 1
        if last and not stat.S_ISREG(mode):
            return f"{rel}: not a regular file"
        if not last and not stat.S_ISDIR(mode):
            return f"{rel}: missing"
    return None


def check_files(folder: Path, manifest: Manifest) -> list[str]:
    """Every listed file present with its recorded size and sha256; nothing unlisted."""
    problems: list[str] = []
    for rel, entry in sorted(manifest.files.items()):
        path = folder / rel
        problem = member_problem(folder, rel)
        if problem:
            problems.append(problem)
        elif path.stat().st_size != entry.size:
            problems.append(f"{rel}: size {path.stat().st_size} bytes, manifest says {entry.size}")
        elif sha256_file(path) != entry.sha256:
            problems.append(f"{rel}: sha256 mismatch (file changed since the backup)")
    known = {*manifest.files, MANIFEST_FILE, MAC_FILE, LEGACY_SUM_FILE, VERIFY_FILE}
    problems += [
        f"{rel}: not listed in the manifest" for rel in sorted(set(list_files(folder)) - known)
    ]
    return problems


def list_files(folder: Path) -> list[str]:
    """Every entry but real folders (symlinked folders too: they are not followed)."""
    out: list[str] = []
    for root, dirs, names in os.walk(folder):
        links = [d for d in dirs if (Path(root) / d).is_symlink()]
        out += [(Path(root) / n).relative_to(folder).as_posix() for n in [*names, *links]]
    return sorted(out)


def compare_tables(
    db: str, expected: dict[str, TableStats], actual: dict[str, TableStats]
) -> list[str]:
    """Per-table differences between the manifest and a restored database."""
    problems = [
        f"database {db}: table {t} missing after restore"
        for t in sorted(set(expected) - set(actual))
    ]
    problems += [
        f"database {db}: table {t} not in the manifest" for t in sorted(set(actual) - set(expected))
    ]
    for table in sorted(set(expected) & set(actual)):
        want, got = expected[table], actual[table]
        if want.rows != got.rows:
            problems.append(
                f"database {db}: table {table}: {got.rows} rows, manifest says {want.rows}"
            )
        elif want.checksum != got.checksum:
            problems.append(
                f"database {db}: table {table}: content checksum differs from the manifest"
            )
    return problems
