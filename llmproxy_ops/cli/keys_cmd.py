"""`llmproxy-ops keys rotate master|provider VAR`: rotate a secret, restart, verify, roll back.

No option takes a secret value: argv is visible to every user (`ps`). Values come from
stdin or --from-file, and no output ever shows one.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.markup import escape
from rich.table import Table

from llmproxy_ops.cli.boundary import GuardedTyper
from llmproxy_ops.cli.options import ConfigsOpt, EnvFileOpt, EnvName, target
from llmproxy_ops.cli.output import console
from llmproxy_ops.ops.keys.plan import RotationPlan, done_text
from llmproxy_ops.ops.keys.rotate import (
    RotateRequest,
    RotationResult,
    rotate_master,
    rotate_provider,
)
from llmproxy_ops.ops.secret_store import read_secret
from llmproxy_ops.pipeline import DEFAULT_CONFIGS
from llmproxy_ops.runtime.nginx_upstream import reload_caveat

app = GuardedTyper(
    help="Rotate secrets in the env file without downtime where the runtime allows.",
    no_args_is_help=True,
)
rotate = GuardedTyper(help="Rotate the master key or a provider key.", no_args_is_help=True)
app.add_typer(rotate, name="rotate")

DryRun = Annotated[
    bool, typer.Option("--dry-run", help="print the plan (steps, expected gap); change nothing")
]


@rotate.command("master")
def master(
    env: EnvName = "dev",
    configs: ConfigsOpt = DEFAULT_CONFIGS,
    env_file: EnvFileOpt = None,
    dry_run: DryRun = False,
) -> None:
    """Generate a new master key, restart (one replica at a time), verify, roll back on failure.

    Example: llmproxy-ops keys rotate master --env prod --dry-run
    """
    req = RotateRequest(target(env, configs, env_file), dry_run=dry_run)
    _finish(rotate_master(req))


@rotate.command("provider")
def provider(
    variable: Annotated[
        str, typer.Argument(metavar="VAR", help="the env-file variable, e.g. ANTHROPIC_API_KEY")
    ],
    env: EnvName = "dev",
    configs: ConfigsOpt = DEFAULT_CONFIGS,
    env_file: EnvFileOpt = None,
    from_file: Annotated[
        Path | None,
        typer.Option(
            "--from-file", help="read the new value from this file ('-' or default: stdin)"
        ),
    ] = None,
    dry_run: DryRun = False,
) -> None:
    """Replace one provider key (from stdin or a file), restart, smoke-test the groups using it.

    Example: llmproxy-ops keys rotate provider ANTHROPIC_API_KEY --env prod --from-file new.key
    """
    tgt = target(env, configs, env_file)
    if dry_run:
        _finish(rotate_provider(RotateRequest(tgt, dry_run=True, variable=variable)))
        return
    value = read_secret(from_file, prompt=f"new value for {variable} (not echoed): ")
    req = RotateRequest(tgt, variable=variable, value=value)
    _finish(rotate_provider(req))


def _finish(result: RotationResult) -> None:
    print_plan(result.plan)
    if result.dry_run:
        console.print("dry run: nothing was changed")
        raise typer.Exit(0)
    print_result(result)
    raise typer.Exit(0 if result.ok else 1)


def print_plan(plan: RotationPlan) -> None:
    where = f"{plan.runtime}, {len(plan.replicas)} replica(s): {', '.join(plan.replicas)}"
    console.print(f"rotate {plan.variable} of environment '{escape(plan.environment)}' ({where})")
    for i, step in enumerate(plan.steps, 1):
        console.print(f"  {i}. {escape(step)}")
    mark = "[yellow]gap[/yellow]" if plan.gap_expected else "[green]no gap[/green]"
    console.print(f"  {mark}: {escape(plan.gap_note)}")


def print_result(result: RotationResult) -> None:
    console.print(_steps_table("steps", result.steps))
    if result.verification:
        console.print(_checks_table("verification", result.verification))
    if result.gap_s is not None:
        console.print(f"availability gap: {_gap_text(result)}")
    caveat = reload_caveat(result.client_reloads)
    if caveat:
        console.print(caveat, highlight=False)
    if result.rolled_back:
        console.print(_steps_table("rollback", result.rollback_steps))
        if result.rollback_verification:
            console.print(_checks_table("after rollback", result.rollback_verification))
        how = (
            "[yellow]rolled back[/yellow]: the previous value is in place and verified"
            if result.rollback_ok
            else "[red]ROLLBACK FAILED[/red]: check the stack now"
        )
        console.print(f"{how} (backup: {result.backup})")
    elif result.ok:
        console.print(
            f"[green]rotated[/green] {result.plan.variable}; previous env file kept as "
            f"{result.backup} (mode 0600)"
        )
    else:
        console.print(f"[red]failed[/red]: {result.plan.variable} was not changed")


def _gap_text(result: RotationResult) -> str:
    if result.plan.gap_expected:
        return f"{result.gap_s:.1f} s without a healthy proxy (stop to healthy)"
    return f"{result.gap_s:.1f} s ({done_text(result.plan)})"


def _steps_table(title: str, steps: list) -> Table:
    table = Table(title=title, title_justify="left")
    for column in ("step", "result", "seconds", "detail"):
        table.add_column(column)
    for s in steps:
        table.add_row(
            escape(s.name),
            "[green]ok[/green]" if s.ok else "[red]failed[/red]",
            f"{s.duration_s:.1f}",
            escape(s.detail),
        )
    return table


def _checks_table(title: str, checks: list) -> Table:
    table = Table(title=title, title_justify="left")
    for column in ("replica", "result", "detail"):
        table.add_column(column)
    for c in checks:
        table.add_row(
            c.replica, "[green]ok[/green]" if c.ok else "[red]failed[/red]", escape(c.detail)
        )
    return table
