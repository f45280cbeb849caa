"""PostgreSQL access through its own clients (psql, pg_dump, pg_restore), on the host or in the
db container: the same SQL and the same dump format either way.

No driver library: the clients are what an operator would run by hand, they exist in every
postgres image, and a dump taken by `pg_dump` is restorable without this project.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO
from urllib.parse import unquote, urlsplit

from llmproxy_ops.errors import BackupError, CommandFailed

MAINTENANCE_DB = "postgres"
END_MARK = "__llmproxy_ops_end__"
_PG_BIN_GLOB = "/usr/lib/postgresql/*/bin"
_TIMEOUT_S = 3600.0
# Every database name that reaches SQL or a client's -d goes through `ident`/`check_name`,
# whatever its source (a backup's manifest may come from anyone): plain lower-case
# identifiers only. A `-d` value with `=` would even be read as a connection string.
IDENTIFIER = re.compile(r"[a-z_][a-z0-9_]{0,62}")

# Every user table (partition leaves included, parents excluded: pg_dump dumps rows per leaf).
TABLES_SQL = """SELECT format('%I.%I', n.nspname, c.relname) FROM pg_class c
JOIN pg_namespace n ON n.oid = c.relnamespace WHERE c.relkind = 'r'
AND n.nspname NOT IN ('pg_catalog', 'information_schema')
AND n.nspname NOT LIKE 'pg\\_toast%' AND n.nspname NOT LIKE 'pg\\_temp%' ORDER BY 1"""


@dataclass(frozen=True)
class TableStats:
    rows: int
    checksum: str  # md5 over the sorted md5s of each row's text form ("" for an empty table)


def check_name(name: str) -> str:
    if not isinstance(name, str) or not IDENTIFIER.fullmatch(name):
        raise BackupError(
            f"refusing {name!r} as a database name",
            hint="database names are a-z, 0-9 and _ (starting with a letter or _), "
            "at most 63 characters",
        )
    return name


def ident(name: str) -> str:
    """A checked database name as a quoted SQL identifier."""
    return '"' + check_name(name) + '"'


def literal(text: str) -> str:
    """A SQL string literal (standard_conforming_strings: only the quote is special)."""
    if "\0" in text:
        raise BackupError("refusing a NUL character in a SQL string")
    return "'" + text.replace("'", "''") + "'"


def find_pg_bin(tool: str) -> str | None:
    """`tool` on PATH, else in Debian's versioned folder (newest first)."""
    found = shutil.which(tool)
    if found:
        return found
    for folder in sorted(Path("/").glob(_PG_BIN_GLOB.lstrip("/")), reverse=True):
        if (folder / tool).is_file():
            return str(folder / tool)
    return None


@dataclass(frozen=True)
class PgServer:
    """Where the clients run: `prefix` (e.g. `docker compose exec -T db`) or the host."""

    prefix: tuple[str, ...] = ()
    conn: dict[str, str] = field(default_factory=dict, repr=False)  # PGHOST, PGPASSWORD...
    user: str | None = None
    label: str = "host"

    @classmethod
    def from_url(cls, url: str) -> PgServer:
        """A postgresql:// URL, passed to the clients as PG* variables (argv is visible in ps)."""
        parts = urlsplit(url)
        if parts.scheme not in ("postgres", "postgresql"):
            raise BackupError(
                "the backup server URL is not a postgresql:// URL",
                hint="set it to postgresql://USER:PASSWORD@HOST:PORT/",
            )
        conn = {"PGHOST": parts.hostname or "127.0.0.1", "PGPORT": str(parts.port or 5432)}
        if parts.username:
            conn["PGUSER"] = unquote(parts.username)
        if parts.password:
            conn["PGPASSWORD"] = unquote(parts.password)
        return cls(conn=conn, user=conn.get("PGUSER"), label=f"{conn['PGHOST']}:{conn['PGPORT']}")

    @classmethod
    def in_container(cls, exec_prefix: list[str], user: str) -> PgServer:
        return cls(prefix=tuple(exec_prefix), user=user, label="db container")

    def argv(self, tool: str, *args: str) -> list[str]:
        if self.prefix:
            return [*self.prefix, tool, *args]
        binary = find_pg_bin(tool)
        if binary is None:
            raise BackupError(
                f"{tool} not found on PATH or in {_PG_BIN_GLOB}",
                hint="install the PostgreSQL client: apt-get install postgresql-client",
            )
        return [binary, *args]

    def env(self) -> dict[str, str]:
        return {**os.environ, **self.conn}

    def user_args(self) -> list[str]:
        return ["-U", self.user] if self.user else []

    # ---- plain calls ------------------------------------------------------------------------

    def run(
        self,
        tool: str,
        *args: str,
        stdin: IO[bytes] | None = None,
        stdout: IO[bytes] | None = None,
        input: bytes | None = None,
    ) -> str:
        """Run a client; a failure raises CommandFailed (stderr kept, never the password)."""
        cmd = self.argv(tool, *args)
        feed = (
            {"input": input}
            if input is not None
            else {"stdin": stdin if stdin is not None else subprocess.DEVNULL}
        )
        proc = subprocess.run(
            cmd,
            **feed,  # type: ignore[call-overload]
            stdout=stdout if stdout is not None else subprocess.PIPE,
            stderr=subprocess.PIPE,
            env=self.env(),
            timeout=_TIMEOUT_S,
            check=False,
        )
        out = _text(proc.stdout) if stdout is None else ""
        if proc.returncode != 0:
            err = _text(proc.stderr)
            failed = CommandFailed(cmd, proc.returncode, out, err)
            failed.details = err.strip()[-4000:] or None
            raise failed
        return out

    def query(self, db: str, sql: str) -> list[list[str]]:
        """Rows of one statement, fields split on tab."""
        out = self.run("psql", *self._psql_args(db), "-c", sql)
        return [line.split("\t") for line in out.splitlines() if line]

    def execute(self, db: str, sql: str) -> None:
        """A script of statements, run one by one (explicit BEGIN/COMMIT allowed)."""
        self.run("psql", *self._psql_args(db), "-f", "-", input=sql.encode())

    def _psql_args(self, db: str) -> list[str]:
        return [
            "-X",
            "-q",
            "-A",
            "-t",
            "-F",
            "\t",
            "-v",
            "ON_ERROR_STOP=1",
            *self.user_args(),
            "-d",
            check_name(db),
        ]

    # ---- databases --------------------------------------------------------------------------

    def databases(self) -> set[str]:
        rows = self.query(MAINTENANCE_DB, "SELECT datname FROM pg_database")
        return {r[0] for r in rows}

    def create_database(self, name: str) -> None:
        self.execute(MAINTENANCE_DB, f"CREATE DATABASE {ident(name)}")

    def drop_database(self, name: str) -> None:
        self.execute(MAINTENANCE_DB, f"DROP DATABASE IF EXISTS {ident(name)} WITH (FORCE)")

    def server_version(self) -> str:
        return self.query(MAINTENANCE_DB, "SHOW server_version")[0][0]

    def client_version(self, tool: str = "pg_dump") -> str:
        return self.run(tool, "--version").strip()

    # ---- dump / restore ---------------------------------------------------------------------

    def dump(self, db: str, out: IO[bytes], snapshot: str | None = None) -> None:
        """`pg_dump -Fc` streamed to `out` (a host file, also when pg_dump runs in a container)."""
        snap = [f"--snapshot={snapshot}"] if snapshot else []
        self.run("pg_dump", "-Fc", *snap, *self.user_args(), "-d", check_name(db), stdout=out)

    def restore(self, db: str, dump: Path) -> None:
        """pg_restore into an existing empty database; the dump is streamed over stdin."""
        with _open_no_link(dump) as fh:
            self.run(
                "pg_restore",
                "--exit-on-error",
                "--no-owner",
                "--no-privileges",
                *self.user_args(),
                "-d",
                check_name(db),
                stdin=fh,
            )

    def restore_list(self, dump: Path) -> str:
        with _open_no_link(dump) as fh:
            return self.run("pg_restore", "--list", stdin=fh)

    def table_stats(self, db: str) -> dict[str, TableStats]:
        return stats_from_rows(self.query(db, stats_sql(self.query(db, TABLES_SQL))))

    @contextmanager
    def snapshot_session(self, db: str) -> Iterator[PsqlSession]:
        session = PsqlSession(self, db)
        try:
            yield session
        finally:
            session.close()


def stats_sql(tables: list[list[str]]) -> str:
    """One statement: name, row count and content checksum of every table."""
    parts = [
        f"SELECT {literal(t[0])}, count(*), "
        f"coalesce(md5(string_agg(md5(x::text), '' ORDER BY md5(x::text))), '') FROM {t[0]} x"
        for t in tables
    ]
    return " UNION ALL ".join(parts) if parts else "SELECT NULL, NULL, NULL WHERE false"


def stats_from_rows(rows: list[list[str]]) -> dict[str, TableStats]:
    return {r[0]: TableStats(int(r[1]), r[2]) for r in rows}


def _text(value: bytes | str | None) -> str:
    if isinstance(value, bytes):
        return value.decode(errors="replace")
    return value or ""


def _open_no_link(path: Path) -> IO[bytes]:
    """A dump for reading; a symlink planted in a backup folder is refused, not followed."""
    return os.fdopen(os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC), "rb")


class PsqlSession:
    """One psql process kept open: a repeatable-read transaction whose snapshot pg_dump shares,
    so the table stats recorded in the manifest describe exactly the rows in the dump."""

    def __init__(self, server: PgServer, db: str):
        self._server = server
        cmd = server.argv("psql", *server._psql_args(db))
        self._proc = subprocess.Popen(
            cmd,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            env=server.env(),
            text=True,
        )

    def ask(self, sql: str) -> list[list[str]]:
        """Send one statement, read its rows up to an end marker."""
        assert self._proc.stdin is not None and self._proc.stdout is not None
        self._proc.stdin.write(f"{sql.rstrip().rstrip(';')};\n\\echo {END_MARK}\n")
        self._proc.stdin.flush()
        rows: list[list[str]] = []
        for line in self._proc.stdout:
            if line.rstrip("\n") == END_MARK:
                return rows
            if line.strip():
                rows.append(line.rstrip("\n").split("\t"))
        err = self._proc.stderr.read() if self._proc.stderr else ""
        raise BackupError(f"psql session ended unexpectedly: {err.strip()[-2000:]}")

    def begin_snapshot(self) -> str:
        self.ask("BEGIN ISOLATION LEVEL REPEATABLE READ, READ ONLY")
        return self.ask("SELECT pg_export_snapshot()")[0][0]

    def table_stats(self) -> dict[str, TableStats]:
        return stats_from_rows(self.ask(stats_sql(self.ask(TABLES_SQL))))

    def close(self) -> None:
        if self._proc.poll() is None:
            try:
                assert self._proc.stdin is not None
                self._proc.stdin.write("ROLLBACK;\n\\q\n")
                self._proc.stdin.close()
                self._proc.wait(timeout=30)
            except (OSError, subprocess.TimeoutExpired):
                self._proc.kill()
                self._proc.wait()
        for pipe in (self._proc.stdin, self._proc.stdout, self._proc.stderr):
            if pipe is not None:
                pipe.close()
