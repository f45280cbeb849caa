"""The Postgres init script: the databases of the compose stack (run once, on an empty volume)."""

from __future__ import annotations

INITDB_FILE = "initdb.sql"
# litellm: LiteLLM's own tables (only used with stack.compose.litellm.use_db);
# mlflow: the tracking server's backend store.
DATABASES = ("litellm", "mlflow")


def render_initdb() -> str:
    """SQL run by the postgres entrypoint as POSTGRES_USER (who then owns the databases)."""
    lines = [
        "-- Rendered by llmproxy-ops. Runs once, when the db volume is empty\n",
        "-- (mounted into /docker-entrypoint-initdb.d).\n",
    ]
    lines += [f"CREATE DATABASE {name};\n" for name in DATABASES]
    return "".join(lines)
