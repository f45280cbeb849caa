"""`backup prune`: keep the newest N (and drop those older than D days), but never the newest
verified backup: the one a restore would need stays, however old."""

from __future__ import annotations

import datetime as dt
import shutil
from dataclasses import dataclass, field
from pathlib import Path

from llmproxy_ops.errors import BackupError
from llmproxy_ops.ops.backup.auth import BackupKey
from llmproxy_ops.ops.backup.create import BackupInfo, list_backups, utc_now


@dataclass
class PruneResult:
    deleted: list[tuple[Path, str]] = field(default_factory=list)  # folder, why
    kept: list[tuple[Path, str]] = field(default_factory=list)
    dry_run: bool = False


def _age_days(info: BackupInfo, now: dt.datetime) -> float:
    created = dt.datetime.fromisoformat(info.created)
    return (now - created).total_seconds() / 86400


def prune_backups(
    backup_dir: Path,
    env: str,
    *,
    keep: int,
    max_age_days: int | None = None,
    dry_run: bool = False,
    now: dt.datetime | None = None,
    key: BackupKey | None = None,
) -> PruneResult:
    if keep < 1:
        raise BackupError("--keep must be at least 1")
    now = now or utc_now()
    newest_first = [i for i in reversed(list_backups(backup_dir, env, key)) if i.manifest]
    protected = next((i.folder for i in newest_first if i.verified), None)
    result = PruneResult(dry_run=dry_run)
    for rank, info in enumerate(newest_first):
        why = _reason(rank, info, keep, max_age_days, now)
        if why and info.folder == protected:
            result.kept.append((info.folder, f"{why}, but it is the newest verified backup"))
        elif why:
            result.deleted.append((info.folder, why))
        else:
            result.kept.append((info.folder, f"among the newest {keep}"))
    if not dry_run:
        for folder, _ in result.deleted:
            shutil.rmtree(folder)
    return result


def _reason(
    rank: int, info: BackupInfo, keep: int, max_age: int | None, now: dt.datetime
) -> str | None:
    if rank >= keep:
        return f"beyond the newest {keep}"
    if max_age is not None and _age_days(info, now) > max_age:
        return f"older than {max_age} days"
    return None
