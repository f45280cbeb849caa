"""Hostile inputs against real parts: a PostgreSQL server, the CLI, docker compose, processes.

Each test is one finding of issue 23: it failed on the code before the fix and passes after.
"""

from __future__ import annotations

import secrets
import textwrap
from collections.abc import Iterator
from pathlib import Path

import pytest
from typer.testing import CliRunner

from llmproxy_ops.cli.main import app
from llmproxy_ops.ops.backup.testing import MLFLOW_SCHEMA, start_postgres, traces_sql
from llmproxy_ops.ops.pg import PgServer


class Cli:
    """`llmproxy-ops ARGS` in-process through the real error boundary (exit codes 0/1/2/3)."""

    def __init__(self) -> None:
        self.runner = CliRunner()

    def __call__(self, *args: str, input: str | None = None):  # noqa: A002 - typer's name
        return self.runner.invoke(app, list(args), input=input)


@pytest.fixture
def cli() -> Cli:
    return Cli()


@pytest.fixture(scope="session")
def pg() -> Iterator[PgServer]:
    server = start_postgres()  # raises with the apt packages to install: a failure, not a skip
    try:
        yield server.server()
    finally:
        server.stop()


@pytest.fixture
def db(pg: PgServer) -> Iterator[str]:
    name = f"mlflow_{secrets.token_hex(3)}"
    pg.create_database(name)
    pg.execute(name, MLFLOW_SCHEMA + traces_sql(1, 20))
    yield name
    pg.drop_database(name)


@pytest.fixture
def project(tmp_path: Path, pg: PgServer, db: str, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A project (local runtime) whose backups go to out/backups from the test server."""
    monkeypatch.chdir(tmp_path)
    (tmp_path / "configs/environments").mkdir(parents=True)
    (tmp_path / "configs/base.yaml").write_text(textwrap.dedent("""\
        model_list:
          - model_name: mock
            litellm_params: {model: openai/mock, mock_response: hi, api_key: dummy}
        """))
    (tmp_path / "configs/environments/bk.yaml").write_text(textwrap.dedent(f"""\
        layers: [../base.yaml]
        stack:
          backup: {{dir: out/backups, databases: [{db}], server_url_env: PG_URL}}
        """))
    conn = pg.conn
    url = f"postgresql://{conn['PGUSER']}@{conn['PGHOST']}:{conn['PGPORT']}/"
    (tmp_path / ".env").write_text(f"PG_URL={url}\nLITELLM_MASTER_KEY=sk-x\n")
    (tmp_path / ".env").chmod(0o600)
    (tmp_path / "build/bk").mkdir(parents=True)
    (tmp_path / "build/bk/config.yaml").write_text("model_list: []\n")
    return tmp_path
