"""Backup create and verify: time and size for a database of ~100k MLflow trace rows (issue 4 §7).

Runs against a throwaway local PostgreSQL 15 (initdb in a temp folder; Debian's postgresql
package). The traces (trace_info + one tag + one metadata row each, like LiteLLM's mlflow
callback writes) are generated with SQL. `create` includes the per-table row counts and
content checksums taken in the dump's snapshot; `verify` is the full check (sha256 of every
file, pg_restore --list, a real restore into a scratch database, counts and checksums).

    .venv/bin/python benchmarks/backup_bench.py            # 100k traces, 3 runs
    .venv/bin/python benchmarks/backup_bench.py --quick    # 10k traces, 1 run
"""

from __future__ import annotations

import tempfile
import time
from pathlib import Path

from _common import arg_parser, machine_info, markdown_doc, markdown_table, summary, write_results

from llmproxy_ops.ops.backup.auth import BackupKey
from llmproxy_ops.ops.backup.create import create_backup
from llmproxy_ops.ops.backup.settings import BackupContext
from llmproxy_ops.ops.backup.testing import MLFLOW_SCHEMA, start_postgres, traces_sql
from llmproxy_ops.ops.backup.verify import verify_backup
from llmproxy_ops.ops.pg import PgServer

DB = "mlflow"


def load(pg: PgServer, traces: int) -> dict[str, float]:
    pg.create_database(DB)
    started = time.monotonic()
    pg.execute(DB, MLFLOW_SCHEMA + traces_sql(1, traces) + "VACUUM ANALYZE;")
    size = pg.query(DB, f"SELECT pg_database_size('{DB}')")[0][0]
    return {"load_s": round(time.monotonic() - started, 2), "db_bytes": int(size)}


def one_run(pg: PgServer, folder: Path) -> dict[str, float]:
    key = BackupKey(folder / ".state" / "backup.key")
    ctx = BackupContext(env="bench", runtime="local", backup_dir=folder, databases=(DB,), pg=pg,
                        key=key)
    created = create_backup(ctx)
    report = verify_backup(pg, created.folder, key=key, salt=None)
    if not report.ok:
        raise SystemExit(f"verify failed: {report.problems}")
    dump = created.manifest.files[f"db/{DB}.dump"].size
    return {
        "create_s": created.duration_s,
        "verify_s": report.duration_s,
        "backup_bytes": created.size,
        "dump_bytes": dump,
        "tables": report.checked_tables,
    }


def main() -> None:
    args = arg_parser(__doc__ or "", "10k traces, one run").parse_args()
    traces, runs = (10_000, 1) if args.quick else (100_000, 3)
    server = start_postgres()
    try:
        pg = server.server()
        loaded = load(pg, traces)
        rows = pg.table_stats(DB)
        with tempfile.TemporaryDirectory() as tmp:
            results = [one_run(pg, Path(tmp) / str(i)) for i in range(runs)]
    finally:
        server.stop()
    data = {
        "machine": machine_info(),
        "traces": traces,
        "runs": runs,
        **loaded,
        "rows": {t: s.rows for t, s in rows.items()},
        "results": results,
        "create_s": summary([r["create_s"] for r in results]),
        "verify_s": summary([r["verify_s"] for r in results]),
    }
    table = markdown_table(
        ["traces", "rows (all tables)", "db size", "dump size", "create (s)", "verify (s)"],
        [
            [
                traces,
                sum(s.rows for s in rows.values()),
                _mib(loaded["db_bytes"]),
                _mib(results[0]["dump_bytes"]),
                _spread([r["create_s"] for r in results]),
                _spread([r["verify_s"] for r in results]),
            ]
        ],
    )
    doc = markdown_doc(
        "Backup create/verify (local PostgreSQL 15)",
        data["machine"],
        table,
        f"{runs} run(s); min–max shown. create = pg_dump -Fc in an exported "
        "snapshot + per-table counts/checksums in that snapshot; verify = "
        "sha256 + pg_restore --list + restore into a scratch db + compare.",
    )
    print(doc)
    print(f"written: {write_results('backup', data, doc, args)}")


def _mib(n: float) -> str:
    return f"{n / 1048576:.1f} MiB"


def _spread(values: list[float]) -> str:
    return f"{min(values):.2f}–{max(values):.2f}"


if __name__ == "__main__":
    main()
