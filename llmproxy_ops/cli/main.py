"""The `llmproxy-ops` command: every verb registered here, each a thin layer over the library."""

from __future__ import annotations

import functools
import importlib
import os
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Annotated

import typer

from llmproxy_ops import __version__
from llmproxy_ops.cli.boundary import GuardedTyper

# Every command: its name → (module in llmproxy_ops.cli, attribute: a Typer group or a
# function). A run imports only the module of the command it names (`validate`, which a
# pre-commit hook runs on every commit, then starts without the runtimes, Docker or Jinja).
COMMANDS: dict[str, tuple[str, str]] = {
    "validate": ("validate_cmd", "app"),
    "config": ("config_cmd", "app"),
    "certs": ("certs_cmd", "app"),
    "keys": ("keys_cmd", "app"),
    "backup": ("backup_cmd", "app"),
    "copilot": ("copilot_cmd", "app"),
    "init": ("init_cmd", "init"),
    "render": ("render_cmd", "render"),
    "up": ("runtime_cmd", "up"),
    "apply": ("apply_cmd", "apply_cmd"),
    "down": ("runtime_cmd", "down"),
    "status": ("runtime_cmd", "status"),
    "logs": ("runtime_cmd", "logs"),
    "smoke-test": ("smoke_cmd", "smoke_test"),
}
_ROOT_OPTIONS_WITH_VALUE = ("--project", "-C")


def build_app(names: Sequence[str] = tuple(COMMANDS)) -> GuardedTyper:
    """The command line with the commands `names` registered (all of them by default)."""
    # Local-variable tracebacks would print keys held in frames: never show them.
    root = GuardedTyper(
        help="Validated, layered configuration and operations for the stock LiteLLM proxy.",
        no_args_is_help=True,
        pretty_exceptions_enable=False,
        pretty_exceptions_show_locals=False,
        add_completion=False,
    )
    root.callback()(_root)
    for name in names:
        module, attribute = COMMANDS[name]
        target = getattr(importlib.import_module(f"llmproxy_ops.cli.{module}"), attribute)
        if isinstance(target, typer.Typer):
            root.add_typer(target, name=name)
        else:
            root.command(name)(target)
    return root


def command_named(argv: Sequence[str]) -> str | None:
    """The command an argument list names (after the root options), if it is one of ours."""
    args = iter(argv)
    for arg in args:
        if arg in _ROOT_OPTIONS_WITH_VALUE:
            next(args, None)
        elif not arg.startswith("-"):
            return arg if arg in COMMANDS else None
    return None


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


@functools.cache
def _full_app() -> GuardedTyper:
    return build_app()


def __getattr__(name: str) -> GuardedTyper:
    if name == "app":  # every command: for tests and documentation (`from ... import app`)
        return _full_app()
    raise AttributeError(name)


def main() -> None:
    named = command_named(sys.argv[1:])
    build_app([named] if named else tuple(COMMANDS))()
