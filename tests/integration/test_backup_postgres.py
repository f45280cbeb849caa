"""Backups against a real PostgreSQL 15 server (initdb'd in a temp folder for this session)."""

from __future__ import annotations

import json
import secrets
import shutil
import textwrap
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from typer.testing import CliRunner

from llmproxy_ops.cli.backup_cmd import app
from llmproxy_ops.errors import BackupError
from llmproxy_ops.ops.backup.auth import BackupKey
from llmproxy_ops.ops.backup.create import create_backup, list_backups
from llmproxy_ops.ops.backup.manifest import file_entry, read_manifest, write_manifest
from llmproxy_ops.ops.backup.restore import restore_backup
from llmproxy_ops.ops.backup.secrets import SECRETS_FILE, decrypt
from llmproxy_ops.ops.backup.settings import BackupContext, context_for, salt_fingerprint
from llmproxy_ops.ops.backup.testing import MLFLOW_SCHEMA, start_postgres, traces_sql
from llmproxy_ops.ops.backup.verify import NOT_RESTORED, verify_backup
from llmproxy_ops.ops.pg import PgServer, PsqlSession, TableStats
from llmproxy_ops.pipeline import Target

pytestmark = pytest.mark.integration

SALT = "salt-" + "s3cr3t-value-never-in-backups"
PASSPHRASE = "correct horse battery staple"


@pytest.fixture(scope="session")
def pg() -> Iterator[PgServer]:
    server = start_postgres()  # raises with the apt packages to install: a failure, not a skip
    try:
        yield server.server()
    finally:
        server.stop()


@pytest.fixture(scope="session")
def key(tmp_path_factory: pytest.TempPathFactory) -> BackupKey:
    """This machine's backup key (every backup of these tests is signed with it)."""
    global KEY
    KEY = BackupKey(tmp_path_factory.mktemp("state") / "backup.key")
    KEY.load_or_create()
    return KEY


KEY: BackupKey


@pytest.fixture
def db(pg: PgServer, key: BackupKey) -> Iterator[str]:
    """A fresh database with MLflow's trace tables, 300 traces and 100 canary rows."""
    name = f"mlflow_{secrets.token_hex(3)}"
    pg.create_database(name)
    pg.execute(name, MLFLOW_SCHEMA + traces_sql(1, 300))
    pg.execute(
        name,
        "INSERT INTO canary (id, note) SELECT g, 'c' || g FROM generate_series(1, 100) g;"
        "INSERT INTO canary (id, note) VALUES (101, NULL), (102, E'tab\\there ünïcode');",
    )
    yield name
    pg.drop_database(name)


@pytest.fixture
def env_target(tmp_path: Path, pg: PgServer, db: str, monkeypatch: pytest.MonkeyPatch) -> Target:
    """An environment (local runtime) whose stack.backup points at the test server."""
    monkeypatch.chdir(tmp_path)
    conn = pg.conn
    (tmp_path / "configs/environments").mkdir(parents=True)
    (tmp_path / "configs/base.yaml").write_text(
        textwrap.dedent("""\
        model_list:
          - model_name: mock
            litellm_params: {model: openai/mock, mock_response: hi, api_key: dummy}
        """)
    )
    (tmp_path / "configs/environments/bk.yaml").write_text(
        textwrap.dedent(f"""\
        layers: [../base.yaml]
        stack:
          backup: {{dir: out/backups, databases: [{db}], server_url_env: PG_URL}}
        """)
    )
    url = f"postgresql://{conn['PGUSER']}@{conn['PGHOST']}:{conn['PGPORT']}/"
    (tmp_path / ".env").write_text(
        f"PG_URL={url}\nLITELLM_SALT_KEY={SALT}\nLITELLM_MASTER_KEY=sk-x\n"
    )
    (tmp_path / "build/bk").mkdir(parents=True)
    (tmp_path / "build/bk/config.yaml").write_text("model_list: []\n")
    return Target(env="bk", configs_dir=Path("configs"))


def _ctx(pg: PgServer, db: str, folder: Path, salt: str | None = None) -> BackupContext:
    return BackupContext(
        env="t", runtime="local", backup_dir=folder, databases=(db,), pg=pg, key=KEY,
        salt_fingerprint=salt,
    )


def _leftovers(pg: PgServer) -> set[str]:
    return {
        d
        for d in pg.databases()
        if "__restore_" in d or "__pre_restore_" in d or d.startswith("llmproxy_scratch_")
    }


# ---- round trip -------------------------------------------------------------------------------


def test_round_trip_backup_verify_restore(pg: PgServer, db: str, env_target: Target) -> None:
    ctx = context_for(env_target)
    assert ctx.databases == (db,) and ctx.salt_fingerprint == salt_fingerprint(SALT)
    source = pg.table_stats(db)
    created = create_backup(ctx, passphrase=PASSPHRASE)
    manifest = read_manifest(created.folder)

    assert created.folder.name.startswith("bk-") and manifest.env == "bk"
    assert manifest.databases[db].tables == source
    assert source["public.trace_info"].rows == 300 and source["public.canary"].rows == 102
    assert manifest.versions["postgres_server"].startswith("15.")
    assert manifest.salt_fingerprint == salt_fingerprint(SALT)
    assert {
        "config/base.yaml",
        "config/environments/bk.yaml",
        "build/config.yaml",
        f"db/{db}.dump",
        SECRETS_FILE,
    } <= set(manifest.files)
    for path in created.folder.rglob("*"):  # the salt value is nowhere in the clear
        assert not path.is_file() or SALT.encode() not in path.read_bytes(), path
    secret_bytes = (created.folder / SECRETS_FILE).read_bytes()
    assert decrypt(secret_bytes, PASSPHRASE) == Path(".env").read_bytes()

    report = verify_backup(ctx.pg, created.folder, key=ctx.key, salt=ctx.salt_fingerprint)
    assert report.problems == [] and report.checked_tables == 5
    assert [b.status for b in list_backups(ctx.backup_dir, "bk", ctx.key)] == ["verified"]

    scratch = f"scratch_{secrets.token_hex(3)}"
    pg.create_database(scratch)
    try:
        pg.restore(scratch, created.folder / f"db/{db}.dump")
        assert pg.table_stats(scratch) == source
    finally:
        pg.drop_database(scratch)
    assert _leftovers(pg) == set()


def test_restore_replaces_the_database_with_the_backup(
    pg: PgServer, db: str, tmp_path: Path
) -> None:
    ctx = _ctx(pg, db, tmp_path)
    created = create_backup(ctx)
    pg.execute(db, "DELETE FROM canary WHERE id > 50; INSERT INTO canary (id) VALUES (999);")
    assert pg.table_stats(db) != created.manifest.databases[db].tables

    dry = restore_backup(ctx, created.folder, dry_run=True)
    assert (
        dry.dry_run
        and dry.restored == []
        and pg.query(db, "SELECT count(*) FROM canary") == [["51"]]
    )
    result = restore_backup(ctx, created.folder)

    assert result.restored == [db] and result.kept_old == []
    assert pg.table_stats(db) == created.manifest.databases[db].tables
    assert _leftovers(pg) == set()


def test_cli_verify_and_list(pg: PgServer, db: str, env_target: Target) -> None:
    runner = CliRunner()
    made = runner.invoke(app, ["create", "--env", "bk"])
    assert made.exit_code == 0, made.output
    ok = runner.invoke(app, ["verify", "--env", "bk"])
    assert ok.exit_code == 0 and "verified: out/backups/bk-" in ok.output
    folder = list_backups(Path("out/backups"))[0].folder
    assert Path(".run/backup.key").stat().st_mode & 0o777 == 0o600  # made by the first create
    (folder / f"db/{db}.dump").unlink()
    bad = runner.invoke(app, ["verify", "--env", "bk", str(folder)])
    assert bad.exit_code == 1
    assert f"error: {folder.name}: db/{db}.dump: missing" in bad.output
    listed = runner.invoke(app, ["list", "--env", "bk"])
    assert listed.exit_code == 0 and "FAILED" in listed.output


# ---- dump during writes ---------------------------------------------------------------------


class CanaryWriter(threading.Thread):
    """Inserts canary ids N+1, N+2, ... one transaction each, until stopped."""

    def __init__(self, pg: PgServer, db: str, start_id: int):
        super().__init__(daemon=True)
        self.pg, self.db, self.next_id = pg, db, start_id
        self.stop_flag = threading.Event()
        self.started_writing = threading.Event()

    def run(self) -> None:
        session = PsqlSession(self.pg, self.db)
        try:
            while not self.stop_flag.is_set():
                session.ask(f"INSERT INTO canary (id) VALUES ({self.next_id})")
                self.next_id += 1
                if self.next_id % 50 == 0:
                    self.started_writing.set()
        finally:
            session.close()


def test_dump_during_writes_holds_a_gap_free_prefix(pg: PgServer, db: str, tmp_path: Path) -> None:
    pg.execute(db, "DELETE FROM canary;" + traces_sql(301, 20000))  # a dump that takes a while
    writer = CanaryWriter(pg, db, 1)
    writer.start()
    try:
        assert writer.started_writing.wait(30)
        created = create_backup(_ctx(pg, db, tmp_path))
        written_during = writer.next_id
    finally:
        writer.stop_flag.set()
        writer.join(30)
    recorded = created.manifest.databases[db].tables["public.canary"].rows
    assert 50 <= recorded < writer.next_id - 1  # rows kept coming after the snapshot
    assert written_during > 50

    scratch = f"scratch_{secrets.token_hex(3)}"
    pg.create_database(scratch)
    try:
        pg.restore(scratch, created.folder / f"db/{db}.dump")
        rows = pg.query(scratch, "SELECT count(*), min(id), max(id) FROM canary")
        assert rows == [[str(recorded), "1", str(recorded)]]  # 1..N, no gap
        assert pg.table_stats(scratch) == created.manifest.databases[db].tables
    finally:
        pg.drop_database(scratch)


# ---- corrupted backups ----------------------------------------------------------------------


@pytest.fixture
def good_backup(pg: PgServer, db: str, tmp_path: Path) -> Path:
    return create_backup(_ctx(pg, db, tmp_path / "b", salt="fp-good")).folder


def _truncate(folder: Path, db: str) -> str:
    dump = folder / f"db/{db}.dump"
    size = dump.stat().st_size
    dump.write_bytes(dump.read_bytes()[: size // 2])
    return f"db/{db}.dump: size {size // 2} bytes, manifest says {size}"


def _flip(folder: Path, db: str) -> str:
    dump = folder / f"db/{db}.dump"
    data = bytearray(dump.read_bytes())
    data[len(data) // 2] ^= 0xFF
    dump.write_bytes(bytes(data))
    return f"db/{db}.dump: sha256 mismatch (file changed since the backup)"


def _edit_manifest(folder: Path, db: str) -> str:
    path = folder / "manifest.json"
    doc = json.loads(path.read_text())
    doc["databases"][db]["tables"]["public.canary"]["rows"] = 103
    path.write_text(json.dumps(doc, indent=2, sort_keys=True) + "\n")
    return "manifest.json: HMAC does not match manifest.hmac (the manifest was edited)"


def _remove(folder: Path, db: str) -> str:
    (folder / f"db/{db}.dump").unlink()
    return f"db/{db}.dump: missing"


def _other_salt(folder: Path, db: str) -> str:
    return (
        "salt fingerprint: the backup was taken with LITELLM_SALT_KEY fingerprint fp-good, "
        "the current one is fp-other; LiteLLM could not decrypt the credentials it stored"
    )


CORRUPTIONS = {
    "truncated dump": _truncate,
    "flipped byte": _flip,
    "edited manifest": _edit_manifest,
    "missing file": _remove,
    "wrong salt fingerprint": _other_salt,
}


@pytest.mark.parametrize("corrupt", CORRUPTIONS.values(), ids=CORRUPTIONS.keys())
def test_corrupted_backup_is_caught_and_restore_changes_nothing(
    pg: PgServer, db: str, good_backup: Path, tmp_path: Path, corrupt
) -> None:
    expected = corrupt(good_backup, db)
    salt = "fp-other" if corrupt is _other_salt else "fp-good"

    report = verify_backup(pg, good_backup, key=KEY, salt=salt)
    assert expected in report.problems
    if corrupt is _edit_manifest:  # nothing of an unauthenticated folder is used
        assert report.problems == [expected] and report.checked_tables == 0
    if corrupt in (_truncate, _flip, _remove):  # a damaged dump never reaches pg_restore
        assert report.problems == [expected, NOT_RESTORED]

    pg.execute(db, "INSERT INTO canary (id) VALUES (5000)")  # the target moved on since
    before = pg.table_stats(db)
    with pytest.raises(BackupError) as err:
        restore_backup(_ctx(pg, db, tmp_path, salt=salt), good_backup)
    assert "refusing to restore" in err.value.message
    assert pg.table_stats(db) == before
    assert _leftovers(pg) == set()


def _rewrite_file_sums(folder: Path) -> None:
    """Make checksums agree with damaged content: a dump that was bad when it was written."""
    manifest = read_manifest(folder)
    manifest.files = {rel: file_entry(folder / rel) for rel in manifest.files}
    write_manifest(folder, manifest, KEY.load())


def test_failed_restore_leaves_the_target_untouched(
    pg: PgServer, db: str, good_backup: Path, tmp_path: Path
) -> None:
    _truncate(good_backup, db)
    _rewrite_file_sums(good_backup)  # passes every file check; only the real restore fails
    before = pg.table_stats(db)
    with pytest.raises(BackupError) as err:
        restore_backup(_ctx(pg, db, tmp_path, salt="fp-good"), good_backup)
    assert err.value.message == f"restore of {db}.dump failed; database {db} was not changed"
    assert pg.table_stats(db) == before
    assert _leftovers(pg) == set()


def test_restore_that_differs_from_the_manifest_is_not_swapped_in(
    pg: PgServer, db: str, good_backup: Path, tmp_path: Path
) -> None:
    manifest = read_manifest(good_backup)
    manifest.databases[db].tables["public.trace_tags"] = TableStats(299, "x")
    write_manifest(good_backup, manifest, KEY.load())
    pg.execute(db, "DELETE FROM trace_tags WHERE request_id = 'tr-' || md5('7')")
    before = pg.table_stats(db)
    with pytest.raises(BackupError) as err:
        restore_backup(_ctx(pg, db, tmp_path, salt="fp-good"), good_backup)
    assert (
        err.value.message
        == f"restored {db}.dump differs from the manifest; database {db} was not changed"
    )
    assert (
        err.value.details == f"database {db}: table public.trace_tags: 300 rows, manifest says 299"
    )
    assert pg.table_stats(db) == before
    assert _leftovers(pg) == set()


def test_missing_server_binaries_fail_with_the_packages_to_install(monkeypatch) -> None:
    import llmproxy_ops.ops.backup.testing as bt

    monkeypatch.setattr(bt, "find_pg_bin", lambda tool: None)
    with pytest.raises(RuntimeError, match="apt-get install -y postgresql postgresql-client"):
        bt.start_postgres()


def test_copy_of_backup_is_verifiable_elsewhere(
    pg: PgServer, good_backup: Path, tmp_path: Path
) -> None:
    moved = shutil.copytree(good_backup, tmp_path / "elsewhere" / good_backup.name)
    assert verify_backup(pg, moved, key=KEY, salt="fp-good").ok
