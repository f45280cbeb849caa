"""`llmproxy-ops smoke-test`: prove a running proxy answers as its configuration says."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from llmproxy_ops.cli.options import ConfigsOpt, EnvFileOpt, EnvOpt, Format, FormatOpt, target
from llmproxy_ops.cli.output import console
from llmproxy_ops.ops.smoke.report import render_table, report_json, write_junit_xml
from llmproxy_ops.ops.smoke.run import run_smoke
from llmproxy_ops.ops.smoke.target import SmokeRequest, smoke_target
from llmproxy_ops.pipeline import DEFAULT_CONFIGS


def smoke_test(
    env: EnvOpt = None,
    configs: ConfigsOpt = DEFAULT_CONFIGS,
    env_file: EnvFileOpt = None,
    url: Annotated[
        str | None, typer.Option("--url", help="any running proxy (default: the env's host:port)")
    ] = None,
    key_env: Annotated[
        str | None,
        typer.Option("--key-env", help="variable holding the key (default: the master key's)"),
    ] = None,
    model: Annotated[
        list[str] | None,
        typer.Option("--model", "-m", help="test only this model group (repeatable)"),
    ] = None,
    expect: Annotated[
        list[str] | None,
        typer.Option("--expect", help="with --url: model groups /v1/models must list"),
    ] = None,
    rate_limits: Annotated[
        bool,
        typer.Option(
            "--rate-limits/--no-rate-limits",
            help="send rpm+1 requests to each group with an enforced rpm and expect a 429",
        ),
    ] = True,
    insecure: Annotated[
        bool, typer.Option("--insecure", help="do not verify TLS certificates")
    ] = False,
    ca_bundle: Annotated[
        Path | None, typer.Option("--ca-bundle", help="CA file to verify TLS with")
    ] = None,
    junit_xml: Annotated[
        Path | None, typer.Option("--junit-xml", help="also write results as JUnit XML")
    ] = None,
    fmt: FormatOpt = Format.text,
) -> None:
    """Run the smoke test against a running proxy; exit 1 if any check fails. Never prints the key.

    Example: llmproxy-ops smoke-test --env dev
    """
    verify: bool | str = False if insecure else (str(ca_bundle) if ca_bundle else True)
    req = SmokeRequest(
        target=target(env, configs, env_file) if env else None,
        url=url,
        key_env=key_env,
        models=tuple(model or ()),
        expected=tuple(expect or ()),
        rate_limits=rate_limits,
        verify_tls=verify,
    )
    report = run_smoke(smoke_target(req))
    if junit_xml:
        write_junit_xml(report, junit_xml)
    if fmt is Format.json:  # one JSON document on stdout, nothing else
        print(report_json(report))
        raise typer.Exit(0 if report.ok else 1)
    console.print(render_table(report))
    total, passed = len(report.checks), sum(c.ok for c in report.checks)
    skipped = sum(c.skipped for c in report.checks)
    if report.ok:
        console.print(f"[green]passed[/green]: all {total} checks")
    else:
        extra = f", {skipped} skipped" if skipped else ""
        console.print(f"[red]failed[/red]: {passed} of {total} checks passed{extra}")
    raise typer.Exit(0 if report.ok else 1)
