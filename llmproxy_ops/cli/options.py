"""Options shared by several commands, declared once."""

from __future__ import annotations

import enum
from pathlib import Path
from typing import Annotated

import typer

from llmproxy_ops.pipeline import DEFAULT_CONFIGS, Target

EnvOpt = Annotated[
    str | None,
    typer.Option("--env", "-e", help="environment name: configs/environments/NAME.yaml"),
]
# the environment a command acts on: a default ("dev") where the command has one, else required
EnvName = Annotated[
    str, typer.Option("--env", "-e", help="environment (configs/environments/NAME.yaml)")
]
ConfigsOpt = Annotated[
    Path,
    typer.Option(
        "--configs",
        envvar="LLMPROXY_OPS_CONFIGS",
        help="configs folder holding environments/ (e.g. configs/examples/home-gateway)",
    ),
]


class Format(enum.StrEnum):
    """Every command that can print a machine-readable result spells it `--format json`."""

    text = "text"
    json = "json"


FormatOpt = Annotated[Format, typer.Option("--format", help="text, or json for machines")]
EnvFileOpt = Annotated[
    Path | None,
    typer.Option("--env-file", help="secret store to read (default: the spec's stack.env_file)"),
]


def target(env: str | None, configs: Path = DEFAULT_CONFIGS, env_file: Path | None = None,
           files: list[Path] | None = None) -> Target:
    return Target(env=env, files=tuple(files or ()), configs_dir=configs, env_file=env_file)
