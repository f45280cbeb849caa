"""`llmproxy-ops init`: create the env file (mode 0600) with a fresh master key."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from llmproxy_ops.cli.output import console
from llmproxy_ops.envfile import MASTER_KEY_VAR
from llmproxy_ops.ops.init_env import InitResult, init_env_file


def init(
    env_file: Annotated[Path, typer.Option("--env-file", help="where to create it")] = Path(".env"),
) -> None:
    """Create the env file with a fresh master key, or add the key an existing file lacks.

    Refuses while a proxy started with the old key is running (the new key would not match).

    Example: llmproxy-ops init
    """
    result = init_env_file(env_file)
    if result is InitResult.CREATED:
        console.print(f"created {env_file} (mode 0600) with a new {MASTER_KEY_VAR}")
    elif result is InitResult.KEY_ADDED:
        console.print(f"added a new {MASTER_KEY_VAR} to {env_file} (it had none); other lines kept")
    else:
        console.print(f"{env_file} exists with a {MASTER_KEY_VAR}; left unchanged")
