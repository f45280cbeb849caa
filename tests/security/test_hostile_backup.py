"""Findings 1, 2, 5 and 12: a backup folder from someone else, against a real PostgreSQL."""

from __future__ import annotations

import hashlib
import json
import os
import stat
from pathlib import Path

import pytest

from llmproxy_ops.errors import BackupError
from llmproxy_ops.ops.backup.manifest import read_manifest
from llmproxy_ops.ops.pg import PgServer

INJECTED_ROLE = "pwned_via_manifest"
INJECTION = f'x"; CREATE ROLE {INJECTED_ROLE} SUPERUSER LOGIN; --'


def _create(cli) -> Path:  # noqa: ANN001
    made = cli("backup", "create", "--env", "bk")
    assert made.exit_code == 0, made.output
    return next(p for p in Path("out/backups").iterdir() if not p.name.startswith("."))


def _forge(folder: Path, edit) -> None:  # noqa: ANN001
    """Edit the manifest the way someone who crafts a folder would: checksum recomputed."""
    path = folder / "manifest.json"
    doc = json.loads(path.read_text())
    edit(doc)
    text = json.dumps(doc, indent=2, sort_keys=True) + "\n"
    path.write_text(text)
    digest = hashlib.sha256(text.encode()).hexdigest()
    (folder / "manifest.sha256").write_text(f"{digest}  manifest.json\n")


def _inject(doc: dict) -> None:
    entry = next(iter(doc["databases"].values()))
    doc["databases"][INJECTION] = entry


def _roles(pg: PgServer) -> set[str]:
    return {r[0] for r in pg.query("postgres", "SELECT rolname FROM pg_roles")}


@pytest.fixture(autouse=True)
def no_injected_role(pg: PgServer):  # noqa: ANN201
    yield
    if INJECTED_ROLE in _roles(pg):
        pg.execute("postgres", f"DROP ROLE {INJECTED_ROLE}")


def test_finding_01_verify_runs_no_sql_from_a_forged_manifest(
    project: Path, pg: PgServer, cli  # noqa: ANN001
) -> None:
    folder = _create(cli)
    _forge(folder, _inject)
    result = cli("backup", "verify", "--env", "bk", str(folder))
    assert result.exit_code == 1
    assert (f"error: {folder.name}: manifest.json: HMAC does not match manifest.hmac "
            "(the manifest was edited)") in result.output
    assert INJECTED_ROLE not in _roles(pg)


def test_finding_01_restore_refuses_a_forged_manifest_and_runs_no_sql(
    project: Path, pg: PgServer, db: str, cli  # noqa: ANN001
) -> None:
    folder = _create(cli)
    _forge(folder, _inject)
    before = pg.table_stats(db)
    result = cli("backup", "restore", "--env", "bk", str(folder), "--yes")
    assert result.exit_code == 1
    assert (f"error: {folder.name}: refusing to restore a backup that is not authenticated; "
            "nothing was changed") in result.output
    assert INJECTED_ROLE not in _roles(pg)
    assert pg.table_stats(db) == before


def test_finding_01_a_folder_made_elsewhere_is_refused_until_signed(
    project: Path, pg: PgServer, cli  # noqa: ANN001
) -> None:
    folder = _create(cli)
    (folder / "manifest.hmac").unlink()  # as if made without this machine's key
    result = cli("backup", "restore", "--env", "bk", str(folder), "--yes")
    assert result.exit_code == 1
    assert "manifest.hmac: missing; the backup is not authenticated" in result.output
    signed = cli("backup", "sign", "--env", "bk", str(folder))
    assert signed.exit_code == 0, signed.output
    assert cli("backup", "verify", "--env", "bk", str(folder)).exit_code == 0


def test_finding_01_database_names_never_reach_sql_unchecked(pg: PgServer) -> None:
    from llmproxy_ops.ops.pg import check_name

    with pytest.raises(BackupError) as err:
        pg.create_database(INJECTION)
    assert err.value.message == f"refusing {INJECTION!r} as a database name"
    with pytest.raises(BackupError):
        check_name("host=evil.example dbname=x")  # psql -d would read it as a conninfo
    assert INJECTED_ROLE not in _roles(pg)


def test_finding_02_verify_record_never_follows_a_planted_symlink(
    project: Path, cli  # noqa: ANN001
) -> None:
    folder = _create(cli)
    victim = project / "victim.txt"
    victim.write_text("precious\n")
    (folder / ".verify.json.tmp").symlink_to(victim)
    (folder / "verify.json").symlink_to(victim)
    cli("backup", "verify", "--env", "bk", str(folder))
    assert victim.read_text() == "precious\n"
    assert not (folder / "verify.json").is_symlink()
    assert json.loads((folder / "verify.json").read_text())["ok"] is False  # the stray link


def test_finding_05_backups_are_private(project: Path, cli) -> None:  # noqa: ANN001
    os.umask(0o022)
    folder = _create(cli)
    cli("backup", "verify", "--env", "bk", str(folder))
    assert stat.S_IMODE(Path("out/backups").stat().st_mode) == 0o700
    modes = {p.relative_to(folder).as_posix(): stat.S_IMODE(p.stat().st_mode)
             for p in [folder, *folder.rglob("*")]}
    assert {p: m for p, m in modes.items() if m != (0o700 if (folder / p).is_dir() else 0o600)
            } == {}
    assert any(p.endswith(".dump") for p in modes) and "verify.json" in modes


@pytest.mark.parametrize("path", ["../../victim.dump", "/etc/hostname", "db/../../x"])
def test_finding_12_manifest_paths_stay_inside_the_folder(
    project: Path, cli, path: str  # noqa: ANN001
) -> None:
    folder = _create(cli)

    def point_outside(doc: dict) -> None:
        doc["files"][path] = {"sha256": "0" * 64, "size": 0}
        next(iter(doc["databases"].values()))["file"] = path

    _forge(folder, point_outside)
    verified = cli("backup", "verify", "--env", "bk", str(folder))
    assert verified.exit_code == 1 and "bytes, manifest says" not in verified.output
    with pytest.raises(BackupError) as err:
        read_manifest(folder)
    assert err.value.message == (
        f"{folder}/manifest.json: invalid manifest: files: {path!r} is not a relative path "
        "inside the backup folder"
    )
    signed = cli("backup", "sign", "--env", "bk", str(folder))  # the operator cannot adopt it
    assert signed.exit_code == 1 and "is not a relative path inside" in signed.output


def test_finding_12_a_symlinked_member_is_refused(project: Path, cli) -> None:  # noqa: ANN001
    folder = _create(cli)
    dump = next((folder / "db").iterdir())
    outside = project / "outside.dump"
    dump.rename(outside)
    dump.symlink_to(outside)  # same bytes, so the checksum would match through the link
    result = cli("backup", "verify", "--env", "bk", str(folder))
    assert result.exit_code == 1
    assert f"db/{dump.name}: is or passes through a symlink; refused" in result.output
