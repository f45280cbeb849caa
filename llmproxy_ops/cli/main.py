"""The `llmproxy-ops` command: every verb registered here, each a thin layer over the library."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Annotated

import typer

from llmproxy_ops import __version__
from llmproxy_ops.cli import (
    apply_cmd,
    backup_cmd,
    certs_cmd,
    config_cmd,
    copilot_cmd,
    init_cmd,
    keys_cmd,
    render_cmd,
    runtime_cmd,
    smoke_cmd,
    validate_cmd,
)
from llmproxy_ops.cli.boundary import GuardedTyper

# Local-variable tracebacks would print keys held in frames: never show them.
app = GuardedTyper(
    help="Validated, layered configuration and operations for the stock LiteLLM proxy.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    pretty_exceptions_show_locals=False,
    add_completion=False,
)
app.add_typer(validate_cmd.app, name="validate")
app.add_typer(config_cmd.app, name="config")
app.add_typer(certs_cmd.app, name="certs")
app.add_typer(keys_cmd.app, name="keys")
app.add_typer(backup_cmd.app, name="backup")
app.add_typer(copilot_cmd.app, name="copilot")
app.command("init")(init_cmd.init)
app.command("render")(render_cmd.render)
app.command("up")(runtime_cmd.up)
app.command("apply")(apply_cmd.apply_cmd)
app.command("down")(runtime_cmd.down)
app.command("status")(runtime_cmd.status)
app.command("logs")(runtime_cmd.logs)
app.command("smoke-test")(smoke_cmd.smoke_test)


def _version(value: bool) -> None:
    if value:
        print(f"llmproxy-ops {__version__}")
        raise typer.Exit()


def _project(value: Path | None) -> Path | None:
    # Every path in a project (configs/, .env, build/, .run/) is relative to its folder.
    if value is not None:
        if not value.is_dir():
            raise typer.BadParameter(f"{value} is not a folder", param_hint="--project")
        os.chdir(value)
    return value


@app.callback()
def _root(
    version: bool = typer.Option(
        False, "--version", callback=_version, is_eager=True, help="print the version"
    ),
    project: Annotated[
        Path | None,
        typer.Option(
            "--project",
            "-C",
            envvar="LLMPROXY_OPS_PROJECT",
            callback=_project,
            help="the project folder (configs/, .env, build/); default: the current folder",
        ),
    ] = None,
) -> None:
    """Validated, layered configuration and operations for the stock LiteLLM proxy."""


def main() -> None:
    app()
