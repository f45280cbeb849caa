"""`llmproxy-ops render`: validated spec → build/<env>/ (config.yaml, runtime.env, manifest)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from llmproxy_ops.cli.options import ConfigsOpt, EnvFileOpt, EnvName, target
from llmproxy_ops.cli.output import console, print_findings
from llmproxy_ops.pipeline import DEFAULT_CONFIGS, render_target


def render(
    env: EnvName,
    out: Annotated[
        Path | None, typer.Option("--out", help="output folder (default build/ENV)")
    ] = None,
    configs: ConfigsOpt = DEFAULT_CONFIGS,
    env_file: EnvFileOpt = None,
    no_env: Annotated[
        bool, typer.Option("--no-env", help="skip checks that need the target environment")
    ] = False,
) -> None:
    """Validate and render an environment; nothing is written when validation fails.

    Example: llmproxy-ops render --env dev
    """
    validated, result = render_target(
        target(env, configs, env_file), out=out, use_env=not no_env
    )
    print_findings(validated.result.warnings, console)
    state = "written" if result.changed else "unchanged"
    console.print(f"rendered {env} → {result.out_dir}/ ({', '.join(result.files)}; {state})")
