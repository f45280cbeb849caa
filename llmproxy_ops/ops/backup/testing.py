"""A throwaway PostgreSQL server (initdb + pg_ctl in a temp folder) and MLflow-shaped test data,
for the backup tests and benchmark. Real Postgres, never a mock."""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path

from llmproxy_ops.netutil import free_port
from llmproxy_ops.ops.pg import PgServer, find_pg_bin

APT_PACKAGES = "postgresql postgresql-client"
RUN_AS = "postgres"  # initdb refuses to run as root

# The shape of MLflow's tracking tables for traces (mlflow/store/tracking/dbmodels), plus a
# canary table whose ids are written in sequence.
MLFLOW_SCHEMA = """
CREATE TABLE experiments (experiment_id serial PRIMARY KEY, name varchar(256) UNIQUE NOT NULL,
  artifact_location varchar(256), lifecycle_stage varchar(32), creation_time bigint,
  last_update_time bigint);
CREATE TABLE trace_info (request_id varchar(50) PRIMARY KEY,
  experiment_id integer NOT NULL REFERENCES experiments, timestamp_ms bigint NOT NULL,
  execution_time_ms bigint, status varchar(50) NOT NULL, client_request_id varchar(50),
  request_preview varchar(1000), response_preview varchar(1000));
CREATE TABLE trace_tags (key varchar(250), value varchar(8000),
  request_id varchar(50) REFERENCES trace_info ON DELETE CASCADE, PRIMARY KEY (key, request_id));
CREATE TABLE trace_request_metadata (key varchar(250), value varchar(8000),
  request_id varchar(50) REFERENCES trace_info ON DELETE CASCADE, PRIMARY KEY (key, request_id));
CREATE TABLE canary (id bigint PRIMARY KEY, note text, written_at timestamptz DEFAULT now());
INSERT INTO experiments (name, artifact_location, lifecycle_stage, creation_time, last_update_time)
  VALUES ('litellm', 'mlflow-artifacts:/1', 'active', 1700000000000, 1700000000000);
"""


def traces_sql(first: int, last: int) -> str:
    """Trace rows first..last with tags and metadata, like LiteLLM's mlflow callback writes."""
    return f"""
INSERT INTO trace_info SELECT 'tr-' || md5(g::text), 1, 1700000000000 + g * 1000,
  100 + g % 900, CASE WHEN g % 50 = 0 THEN 'ERROR' ELSE 'OK' END, NULL,
  '{{"model": "fake-openai", "messages": [{{"role": "user", "content": "hello ' || g || '"}}]}}',
  '{{"choices": [{{"message": {{"content": "hi ' || g || ' ✓"}}}}]}}'
  FROM generate_series({first}, {last}) g;
INSERT INTO trace_tags SELECT 'mlflow.traceName', 'litellm-completion', 'tr-' || md5(g::text)
  FROM generate_series({first}, {last}) g;
INSERT INTO trace_request_metadata SELECT 'mlflow.trace_schema.version', '3',
  'tr-' || md5(g::text) FROM generate_series({first}, {last}) g;
"""


def _missing_hint(tool: str) -> str:
    return (
        f"{tool} not found (PATH, /usr/lib/postgresql/*/bin): these tests need a real "
        f"PostgreSQL server; install it with: apt-get install -y {APT_PACKAGES}"
    )


@dataclass
class ThrowawayPostgres:
    folder: Path
    port: int
    pg_ctl: str

    @property
    def url(self) -> str:
        return f"postgresql://postgres@127.0.0.1:{self.port}/"

    def server(self) -> PgServer:
        return PgServer.from_url(self.url)

    def stop(self) -> None:
        _as_owner(
            [self.pg_ctl, "-D", str(self.folder / "data"), "-m", "immediate", "stop"], check=False
        )
        shutil.rmtree(self.folder, ignore_errors=True)


def _as_owner(cmd: list[str], *, check: bool = True) -> subprocess.CompletedProcess[str]:
    if os.geteuid() == 0:
        cmd = ["runuser", "-u", RUN_AS, "--", *cmd]
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=120, check=False)
    if check and proc.returncode != 0:
        raise RuntimeError(f"{' '.join(cmd)} failed ({proc.returncode}): {proc.stderr.strip()}")
    return proc


def start_postgres() -> ThrowawayPostgres:
    """initdb (trust auth, loopback only) and pg_ctl start on a free port; caller stops it."""
    initdb, pg_ctl = find_pg_bin("initdb"), find_pg_bin("pg_ctl")
    if initdb is None or pg_ctl is None:
        raise RuntimeError(_missing_hint("initdb" if initdb is None else "pg_ctl"))
    folder = Path(tempfile.mkdtemp(prefix="llmproxy-pg-"))
    if os.geteuid() == 0:
        shutil.chown(folder, RUN_AS, RUN_AS)
    data, port = folder / "data", free_port()
    _as_owner(
        [
            initdb,
            "-D",
            str(data),
            "-U",
            "postgres",
            "--auth=trust",
            "-E",
            "UTF8",
            "--locale=C.UTF-8",
            "--no-sync",
        ]
    )
    opts = f"-p {port} -k {folder} -c listen_addresses=127.0.0.1 -c fsync=off"
    server = ThrowawayPostgres(folder, port, pg_ctl)
    try:
        _as_owner([pg_ctl, "-D", str(data), "-o", opts, "-l", str(folder / "log"), "-w", "start"])
    except RuntimeError:
        server.stop()
        raise
    return server
