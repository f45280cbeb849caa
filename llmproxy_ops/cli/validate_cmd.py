"""`llmproxy-ops validate config`: shape and meaning checks, compiler-style output."""

from __future__ import annotations

import enum
from pathlib import Path
from typing import Annotated

import typer

from llmproxy_ops.cli.boundary import GuardedTyper, report_failures_as_json
from llmproxy_ops.cli.options import ConfigsOpt, EnvFileOpt, EnvOpt, target
from llmproxy_ops.cli.output import (
    console,
    failure_json,
    findings_json,
    print_findings,
    print_summary,
)
from llmproxy_ops.pipeline import DEFAULT_CONFIGS, validate_target

app = GuardedTyper(help="Check configuration before it ships.", no_args_is_help=True)


class Format(enum.StrEnum):
    text = "text"
    json = "json"


@app.command("config")
def validate_config(
    files: Annotated[list[Path] | None, typer.Argument(help="layer files, merged in order")] = None,
    env: EnvOpt = None,
    configs: ConfigsOpt = DEFAULT_CONFIGS,
    env_file: EnvFileOpt = None,
    fmt: Annotated[
        Format, typer.Option("--format", help="text (one line per finding) or json")
    ] = Format.text,
    no_env: Annotated[
        bool,
        typer.Option(
            "--no-env", help="skip checks that need the target environment (env vars, .env.example)"
        ),
    ] = False,
    strict: Annotated[bool, typer.Option("--strict", help="warnings fail too")] = False,
    no_litellm_load: Annotated[
        bool,
        typer.Option(
            "--no-litellm-load",
            help="skip starting the pinned LiteLLM on the rendered config",
        ),
    ] = False,
    no_cache: Annotated[
        bool,
        typer.Option(
            "--no-cache",
            help="start LiteLLM even when an unchanged config's verdict is cached "
            "(build/.validate-cache)",
        ),
    ] = False,
) -> None:
    """Validate an environment or layer files; exit 1 on errors (on warnings too with --strict).

    Example: llmproxy-ops validate config --env dev
    """
    tgt = target(env, configs, env_file, files)
    if fmt is Format.json:  # CI reads stdout: one JSON document, whatever goes wrong
        report_failures_as_json(lambda exc, log: print(failure_json(tgt.describe(), exc, log)))
    validated = validate_target(
        tgt, use_env=not no_env, litellm_load=not no_litellm_load, use_cache=not no_cache
    )
    result, ok = validated.result, validated.result.ok(strict=strict)
    if fmt is Format.json:
        print(findings_json(result, tgt.describe(), ok=ok))
    else:
        print_findings(result.sorted, console)
        print_summary(result, tgt.describe(), console)
    raise typer.Exit(0 if ok else 1)
