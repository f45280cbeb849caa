"""manifest.json of a backup: what was written (sha256 + size of every file), from where, with
which versions, and per-table row counts and checksums taken in the dump's own snapshot."""

from __future__ import annotations

import hashlib
import json
import os
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from llmproxy_ops.errors import BackupError
from llmproxy_ops.ops.pg import TableStats

MANIFEST_FILE = "manifest.json"
MANIFEST_SUM_FILE = "manifest.sha256"  # catches an edit of the manifest itself
VERIFY_FILE = "verify.json"
FORMAT = 1
_CHUNK = 1 << 20


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
    def from_dict(cls, raw: dict[str, Any]) -> Manifest:
        dbs = {
            name: DatabaseEntry(
                d["file"],
                {t: TableStats(int(s["rows"]), str(s["checksum"])) for t, s in d["tables"].items()},
            )
            for name, d in raw.get("databases", {}).items()
        }
        return cls(
            env=raw["env"],
            runtime=raw["runtime"],
            created=raw["created"],
            finished=raw.get("finished", ""),
            versions=dict(raw.get("versions", {})),
            salt_fingerprint=raw.get("salt_fingerprint"),
            files={p: FileEntry(e["sha256"], int(e["size"])) for p, e in raw["files"].items()},
            databases=dbs,
            secrets_file=raw.get("secrets_file"),
            format=int(raw["format"]),
        )


def sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        while chunk := fh.read(_CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


def file_entry(path: Path) -> FileEntry:
    return FileEntry(sha256_file(path), path.stat().st_size)


def write_manifest(folder: Path, manifest: Manifest) -> None:
    text = manifest.to_json()
    (folder / MANIFEST_FILE).write_text(text, encoding="utf-8")
    digest = hashlib.sha256(text.encode()).hexdigest()
    (folder / MANIFEST_SUM_FILE).write_text(f"{digest}  {MANIFEST_FILE}\n", encoding="utf-8")


def read_manifest(folder: Path) -> Manifest:
    path = folder / MANIFEST_FILE
    try:
        return Manifest.from_dict(json.loads(path.read_text(encoding="utf-8")))
    except FileNotFoundError:
        raise BackupError(f"{path}: missing; not a backup folder") from None
    except (ValueError, KeyError, TypeError, AttributeError) as exc:
        raise BackupError(f"{path}: unreadable manifest ({type(exc).__name__}: {exc})") from None


def check_manifest_sum(folder: Path) -> list[str]:
    """The manifest's own checksum, written next to it at create time."""
    sum_path = folder / MANIFEST_SUM_FILE
    if not sum_path.is_file():
        return [f"{MANIFEST_SUM_FILE}: missing"]
    expected = sum_path.read_text(encoding="utf-8").split()[0]
    actual = hashlib.sha256((folder / MANIFEST_FILE).read_bytes()).hexdigest()
    if expected != actual:
        return [
            f"{MANIFEST_FILE}: sha256 does not match {MANIFEST_SUM_FILE} (the manifest was edited)"
        ]
    return []


def check_files(folder: Path, manifest: Manifest) -> list[str]:
    """Every listed file present with its recorded size and sha256; nothing unlisted."""
    problems: list[str] = []
    for rel, entry in sorted(manifest.files.items()):
        path = folder / rel
        if not path.is_file():
            problems.append(f"{rel}: missing")
        elif path.stat().st_size != entry.size:
            problems.append(f"{rel}: size {path.stat().st_size} bytes, manifest says {entry.size}")
        elif sha256_file(path) != entry.sha256:
            problems.append(f"{rel}: sha256 mismatch (file changed since the backup)")
    known = {*manifest.files, MANIFEST_FILE, MANIFEST_SUM_FILE, VERIFY_FILE}
    problems += [
        f"{rel}: not listed in the manifest" for rel in sorted(set(list_files(folder)) - known)
    ]
    return problems


def list_files(folder: Path) -> list[str]:
    out: list[str] = []
    for root, _dirs, names in os.walk(folder):
        out += [(Path(root) / n).relative_to(folder).as_posix() for n in names]
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
