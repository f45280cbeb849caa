"""`llmproxy-ops validate config`: shape and meaning checks, compiler-style output."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from llmproxy_ops.cli.boundary import GuardedTyper, report_failures_as_json
from llmproxy_ops.cli.options import ConfigsOpt, EnvFileOpt, EnvOpt, Format, target
from llmproxy_ops.cli.output import (
    console,
    failure_json,
    findings_json,
    print_findings,
    print_summary,
    results_json,
)
from llmproxy_ops.errors import UsageError
from llmproxy_ops.findings import ValidationResult
from llmproxy_ops.pipeline import DEFAULT_CONFIGS, Target, validate_each, validate_target

app = GuardedTyper(help="Check configuration before it ships.", no_args_is_help=True)


FormatOpt = Annotated[
    Format, typer.Option("--format", help="text (one line per finding) or json")
]
NoEnvOpt = Annotated[
    bool,
    typer.Option(
        "--no-env", help="skip checks that need the target environment (env vars, .env.example)"
    ),
]
StrictOpt = Annotated[bool, typer.Option("--strict", help="warnings fail too")]
NoLoadOpt = Annotated[
    bool,
    typer.Option(
        "--no-litellm-load", help="skip starting the pinned LiteLLM on the rendered config"
    ),
]
NoCacheOpt = Annotated[
    bool,
    typer.Option(
        "--no-cache",
        help="start LiteLLM even when an unchanged config's verdict is cached "
        "(build/.validate-cache)",
    ),
]


@app.command("config")
def validate_config(
    files: Annotated[list[Path] | None, typer.Argument(help="layer files, merged in order")] = None,
    env: EnvOpt = None,
    configs: ConfigsOpt = DEFAULT_CONFIGS,
    env_file: EnvFileOpt = None,
    fmt: FormatOpt = Format.text,
    no_env: NoEnvOpt = False,
    strict: StrictOpt = False,
    no_litellm_load: NoLoadOpt = False,
    no_cache: NoCacheOpt = False,
    each: Annotated[
        bool,
        typer.Option("--each", help="validate each file on its own (not merged as layers)"),
    ] = False,
) -> None:
    """Validate an environment or layer files; exit 1 on errors (on warnings too with --strict).

    Example: llmproxy-ops validate config --env dev
    """
    if each:
        if env:
            raise UsageError("--each validates the files it is given: give files, not --env")
        targets = [target(None, configs, env_file, [file]) for file in files or []]
        _report_many(targets, fmt, strict, use_env=not no_env, litellm_load=not no_litellm_load,
                     use_cache=not no_cache)
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


@app.command("touched")
def validate_touched(
    files: Annotated[list[Path] | None, typer.Argument(help="changed files")] = None,
    configs: Annotated[
        list[Path] | None,
        typer.Option("--configs", help="configs folder(s) holding environments/ "
                     "(default: configs/ and every folder under it that has one)"),
    ] = None,
    fmt: FormatOpt = Format.text,
    no_env: NoEnvOpt = False,
    strict: StrictOpt = False,
    no_litellm_load: NoLoadOpt = False,
    no_cache: NoCacheOpt = False,
) -> None:
    """Validate every environment that reads one of FILES (layers, includes, .env.example,
    callback modules); exit 1 if one fails. What the pre-commit hook runs.

    Example: llmproxy-ops validate touched configs/base.yaml configs/providers/openai.yaml
    """
    from llmproxy_ops.touched import configs_folders, touched_environments

    folders = configs or configs_folders()
    targets = touched_environments(files or [], folders)
    if not targets and fmt is Format.text:
        console.print("ok: no environment reads the given files")
    _report_many(targets, fmt, strict, use_env=not no_env, litellm_load=not no_litellm_load,
                 use_cache=not no_cache)


def _report_many(targets: list[Target], fmt: Format, strict: bool, **how: bool) -> None:
    results: list[tuple[str, ValidationResult]] = [
        (t.describe(), result) for t, result in validate_each(targets, **how)
    ]
    if fmt is Format.json:
        print(results_json(results, strict=strict))
    else:
        for subject, result in results:
            print_findings(result.sorted, console)
            print_summary(result, subject, console)
    raise typer.Exit(0 if all(r.ok(strict=strict) for _, r in results) else 1)
