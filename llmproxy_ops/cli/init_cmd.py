"""`llmproxy-ops init`: create the env file (mode 0600) with a fresh master key."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from llmproxy_ops.cli.output import console
from llmproxy_ops.envfile import MASTER_KEY_VAR, ensure_env_file


def init(
    env_file: Annotated[Path, typer.Option("--env-file", help="where to create it")] = Path(".env"),
) -> None:
    """Create the env file with a freshly generated master key, unless it exists.

    Example: llmproxy-ops init
    """
    created = ensure_env_file(env_file)
    if created:
        console.print(f"created {env_file} (mode 0600) with a new {MASTER_KEY_VAR}")
    else:
        console.print(f"{env_file} exists; left unchanged")
