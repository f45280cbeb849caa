"""Backup manifest, file checks, table comparison, encryption, prune rules (no server needed)."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import pytest

from llmproxy_ops.errors import BackupError
from llmproxy_ops.ops.backup.auth import BackupKey, authenticate, sign_folder
from llmproxy_ops.ops.backup.create import list_backups
from llmproxy_ops.ops.backup.manifest import (
    DatabaseEntry,
    Manifest,
    check_files,
    compare_tables,
    file_entry,
    manifest_bytes,
    read_manifest,
    write_manifest,
)
from llmproxy_ops.ops.backup.prune import prune_backups
from llmproxy_ops.ops.backup.secrets import decrypt, encrypt
from llmproxy_ops.ops.backup.verify import VerifyReport, salt_problem, write_verify_record
from llmproxy_ops.ops.pg import PgServer, TableStats, stats_sql

NOW = dt.datetime(2026, 1, 31, 12, 0, tzinfo=dt.UTC)


@pytest.fixture(autouse=True)
def key(tmp_path_factory: pytest.TempPathFactory) -> BackupKey:
    """This machine's backup key, outside the folders the tests list."""
    global KEY
    KEY = BackupKey(tmp_path_factory.mktemp("state") / "backup.key")
    KEY.load_or_create()
    return KEY


KEY: BackupKey


def _backup(root: Path, name: str, days_old: float, verified: bool | None = None) -> Path:
    folder = root / name
    (folder / "db").mkdir(parents=True)
    (folder / "db/mlflow.dump").write_bytes(b"PGDMP" + name.encode())
    created = (NOW - dt.timedelta(days=days_old)).isoformat()
    manifest = Manifest(
        env="prod",
        runtime="compose",
        created=created,
        files={"db/mlflow.dump": file_entry(folder / "db/mlflow.dump")},
        databases={"mlflow": DatabaseEntry("db/mlflow.dump", {"public.t": TableStats(3, "abc")})},
    )
    write_manifest(folder, manifest, KEY.load())
    if verified is not None:
        write_verify_record(VerifyReport(folder, [] if verified else ["bad"]), KEY.load())
    return folder


def test_manifest_round_trips_through_json(tmp_path: Path) -> None:
    folder = _backup(tmp_path, "prod-1", 0)
    manifest = read_manifest(folder)
    assert manifest.databases["mlflow"].tables == {"public.t": TableStats(3, "abc")}
    assert manifest.files["db/mlflow.dump"].size == 11
    assert authenticate(folder, manifest_bytes(folder), KEY.load()) == []
    assert check_files(folder, manifest) == []


def test_file_checks_name_each_file(tmp_path: Path) -> None:
    folder = _backup(tmp_path, "prod-1", 0)
    manifest = read_manifest(folder)
    (folder / "db/mlflow.dump").write_bytes(b"PGDMPprod-2")  # same size, other bytes
    (folder / "stray.txt").write_text("x")
    assert check_files(folder, manifest) == [
        "db/mlflow.dump: sha256 mismatch (file changed since the backup)",
        "stray.txt: not listed in the manifest",
    ]
    (folder / "db/mlflow.dump").write_bytes(b"short")
    assert check_files(folder, manifest)[0] == "db/mlflow.dump: size 5 bytes, manifest says 11"


def test_edited_manifest_is_detected(tmp_path: Path) -> None:
    folder = _backup(tmp_path, "prod-1", 0)
    text = (folder / "manifest.json").read_text().replace('"rows": 3', '"rows": 4')
    (folder / "manifest.json").write_text(text)
    assert authenticate(folder, manifest_bytes(folder), KEY.load()) == [
        "manifest.json: HMAC does not match manifest.hmac (the manifest was edited)"
    ]


def test_unreadable_manifest_is_a_backup_error(tmp_path: Path) -> None:
    (tmp_path / "manifest.json").write_text("{")
    with pytest.raises(BackupError, match="unreadable manifest"):
        read_manifest(tmp_path)


def test_compare_tables_names_database_and_table() -> None:
    want = {
        "public.a": TableStats(2, "x"),
        "public.b": TableStats(1, "y"),
        "public.c": TableStats(0, ""),
    }
    got = {
        "public.a": TableStats(1, "x"),
        "public.b": TableStats(1, "z"),
        "public.d": TableStats(0, ""),
    }
    assert compare_tables("mlflow", want, got) == [
        "database mlflow: table public.c missing after restore",
        "database mlflow: table public.d not in the manifest",
        "database mlflow: table public.a: 1 rows, manifest says 2",
        "database mlflow: table public.b: content checksum differs from the manifest",
    ]
    assert compare_tables("mlflow", want, dict(want)) == []


def test_stats_sql_quotes_names_and_handles_no_tables() -> None:
    sql = stats_sql([['public."it\'s"']])
    assert sql.startswith("SELECT 'public.\"it''s\"', count(*), ")
    assert "WHERE false" in stats_sql([])


def test_salt_problem_explains_without_values() -> None:
    manifest = Manifest(env="p", runtime="local", created="", salt_fingerprint="sha256:aaaa")
    assert salt_problem(manifest, "sha256:aaaa") == []
    assert salt_problem(manifest, None) == [
        "salt fingerprint: the backup was taken with LITELLM_SALT_KEY fingerprint sha256:aaaa, "
        "the current one is none (unset); LiteLLM could not decrypt the credentials it stored"
    ]


def test_server_url_password_never_reaches_argv() -> None:
    pg = PgServer.from_url("postgresql://bk%40user:p%40ss-w0rd@db.internal:6543/mlflow")
    assert pg.conn == {
        "PGHOST": "db.internal",
        "PGPORT": "6543",
        "PGUSER": "bk@user",
        "PGPASSWORD": "p@ss-w0rd",
    }
    assert "p@ss-w0rd" not in " ".join(pg.argv("psql", *pg._psql_args("mlflow")))
    assert "p@ss-w0rd" not in repr(pg)
    with pytest.raises(BackupError, match="not a postgresql:// URL"):
        PgServer.from_url("mysql://x@y/")


def test_in_container_runs_clients_through_the_exec_prefix() -> None:
    pg = PgServer.in_container(["docker", "compose", "-p", "p", "exec", "-T", "db"], "llmproxy")
    assert pg.argv("pg_dump", "-Fc") == [
        "docker",
        "compose",
        "-p",
        "p",
        "exec",
        "-T",
        "db",
        "pg_dump",
        "-Fc",
    ]


def test_secrets_encrypt_and_refuse_a_wrong_passphrase() -> None:
    blob = encrypt(b"LITELLM_MASTER_KEY=sk-abc\n", "a long passphrase")
    assert b"sk-abc" not in blob and json.loads(blob)["kdf"] == "scrypt"
    assert decrypt(blob, "a long passphrase") == b"LITELLM_MASTER_KEY=sk-abc\n"
    with pytest.raises(BackupError, match="wrong passphrase or damaged file"):
        decrypt(blob, "another long passphrase")
    with pytest.raises(BackupError, match="at least 12 characters"):
        encrypt(b"x", "short")


def test_list_reports_verify_status(tmp_path: Path) -> None:
    _backup(tmp_path, "prod-1", 3, verified=True)
    _backup(tmp_path, "prod-2", 2, verified=False)
    stale = _backup(tmp_path, "prod-3", 1, verified=True)
    text = (stale / "manifest.json").read_bytes() + b" "
    (stale / "manifest.json").write_bytes(text)
    sign_folder(stale, KEY.load(), text)  # signed again (backup sign): the record is older
    _backup(tmp_path, "prod-4", 0)
    edited = _backup(tmp_path, "prod-5", 0, verified=True)
    (edited / "manifest.json").write_text((edited / "manifest.json").read_text() + " ")
    (tmp_path / ".prod-6.tmp-1").mkdir()  # half-written: not a backup
    assert [(b.folder.name, b.status) for b in list_backups(tmp_path, key=KEY)] == [
        ("prod-1", "verified"),
        ("prod-2", "FAILED"),
        ("prod-3", "stale"),
        ("prod-4", "unverified"),
        ("prod-5", "unauthenticated"),  # edited after it was signed: no longer this machine's
    ]
    assert {b.status for b in list_backups(tmp_path)} == {"unauthenticated"}  # no key given


def test_prune_keeps_newest_n_and_the_newest_verified(tmp_path: Path) -> None:
    _backup(tmp_path, "prod-1", 10, verified=True)
    _backup(tmp_path, "prod-2", 9)
    _backup(tmp_path, "prod-3", 2)
    _backup(tmp_path, "prod-4", 1)
    result = prune_backups(tmp_path, "prod", keep=2, now=NOW, key=KEY)
    assert [(p.name, why) for p, why in result.deleted] == [("prod-2", "beyond the newest 2")]
    assert ("prod-1", "beyond the newest 2, but it is the newest verified backup") in [
        (p.name, why) for p, why in result.kept
    ]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["prod-1", "prod-3", "prod-4"]


def test_prune_by_age_and_dry_run(tmp_path: Path) -> None:
    _backup(tmp_path, "prod-1", 40, verified=True)
    _backup(tmp_path, "prod-2", 35, verified=True)
    _backup(tmp_path, "prod-3", 1)
    result = prune_backups(tmp_path, "prod", keep=5, max_age_days=30, dry_run=True, now=NOW,
                           key=KEY)
    assert [(p.name, why) for p, why in result.deleted] == [("prod-1", "older than 30 days")]
    assert len(list(tmp_path.iterdir())) == 3  # dry run: nothing deleted
    prune_backups(tmp_path, "prod", keep=5, max_age_days=30, now=NOW, key=KEY)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["prod-2", "prod-3"]


def test_prune_never_deletes_the_only_verified_backup(tmp_path: Path) -> None:
    _backup(tmp_path, "prod-1", 100, verified=True)
    result = prune_backups(tmp_path, "prod", keep=1, max_age_days=1, now=NOW, key=KEY)
    assert result.deleted == [] and (tmp_path / "prod-1").is_dir()
    with pytest.raises(BackupError, match="--keep must be at least 1"):
        prune_backups(tmp_path, "prod", keep=0)


def test_compose_environment_settings(in_tmp: Path, monkeypatch) -> None:  # noqa: ANN001
    monkeypatch.setenv("LITELLM_MASTER_KEY", "sk-test-compose-settings")
    from llmproxy_ops.ops.backup.restart import EnvProxy
    from llmproxy_ops.ops.backup.settings import context_for
    from llmproxy_ops.pipeline import Target

    repo = Path(__file__).resolve().parents[2]
    ctx = context_for(Target(env="ci", configs_dir=repo / "configs"))
    assert (ctx.runtime, ctx.databases, ctx.backup_dir, ctx.keep) == (
        "compose",
        ("mlflow",),
        Path("backups"),
        7,
    )
    assert ctx.pg.argv("pg_dump", "-Fc") == [
        "docker",
        "compose",
        "-p",
        "llmproxy-ci",
        "exec",
        "-T",
        "db",
        "pg_dump",
        "-Fc",
    ]
    assert ctx.pg.user == "llmproxy" and ctx.salt_fingerprint is None
    proxy = EnvProxy(ctx)
    # The gateway keeps serving through the swap and is rolled out after it, as apply does.
    assert proxy.stop_plan() == ["stop mlflow (the proxy keeps serving; db keeps running)"]
    assert proxy.start_plan()[0] == (
        "roll the proxy out again (if it ran) as `apply` does: each new instance checked on "
        "its own, the old ones drained, then the smoke test")


def test_local_environment_needs_the_server_url(in_tmp: Path, write) -> None:
    from llmproxy_ops.ops.backup.settings import context_for
    from llmproxy_ops.pipeline import Target

    write(
        "configs/environments/loc.yaml", "model_list: []\nstack: {backup: {server_url_env: PGX}}\n"
    )
    with pytest.raises(BackupError) as err:
        context_for(Target(env="loc", configs_dir=Path("configs")))
    assert err.value.message == (
        "the local runtime backs up the PostgreSQL server named by PGX, which is not set"
    )
    write(".env", "PGX=postgresql://u:pw@127.0.0.1:5433/\nLITELLM_SALT_KEY=abc\n")
    ctx = context_for(Target(env="loc", configs_dir=Path("configs")))
    from llmproxy_ops.ops.secret_store import salt_fingerprint

    assert ctx.pg.conn["PGPORT"] == "5433" and ctx.salt_fingerprint == salt_fingerprint("abc")
