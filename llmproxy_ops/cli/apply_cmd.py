"""`llmproxy-ops apply`: change a running environment without dropping a request."""

from __future__ import annotations

from typing import Annotated

import typer

from llmproxy_ops.cli.options import ConfigsOpt, EnvFileOpt, EnvName, target
from llmproxy_ops.cli.output import console
from llmproxy_ops.ops.apply.deploy import ApplyRequest, ApplyResult, Deployment, apply
from llmproxy_ops.pipeline import DEFAULT_CONFIGS
from llmproxy_ops.runtime.nginx_upstream import reload_caveat


def apply_cmd(
    env: EnvName = "dev",
    configs: ConfigsOpt = DEFAULT_CONFIGS,
    env_file: EnvFileOpt = None,
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="show the diff, change nothing")
    ] = False,
    rollback: Annotated[
        bool, typer.Option("--rollback", help="go back to the build that ran before this one")
    ] = False,
) -> None:
    """Diff the configs against the running build, roll the change out, smoke-test it.

    No change exits 0 and touches nothing; a failed check rolls back by itself (exit 1).
    Example: llmproxy-ops apply --env dev --dry-run
    """
    req = ApplyRequest(target(env, configs, env_file), dry_run=dry_run, rollback=rollback)
    result = apply(req)
    _print_diff(result)
    if result.deployment is None:
        raise typer.Exit(0)
    _print_deployment("rollout", result.deployment)
    if result.ok:
        console.print(f"[green]applied[/green]: {env} now runs build {result.target}")
        raise typer.Exit(0)
    console.print(f"[red]failed[/red]: {result.deployment.failed_check}")
    if result.rollback is not None:
        _print_deployment("rollback", result.rollback)
        back = "rolled back" if result.rollback.ok else "ROLLBACK FAILED"
        console.print(f"{back}: {env} runs build {result.running}")
    else:
        console.print(f"the running build {result.running} kept serving; nothing changed")
    raise typer.Exit(1)


def _print_diff(result: ApplyResult) -> None:
    if not result.changed:
        note = " (rolling back anyway)" if result.target else ""
        console.print(f"{result.env}: no changes against the running build{note}")
        return
    console.out(result.diff.text(), highlight=False)
    if result.dry_run:
        console.print("dry run: nothing was changed")


def _print_deployment(label: str, deployment: Deployment) -> None:
    console.print(f"{label} to build {deployment.release}:")
    for step in deployment.steps:
        mark = "[green]ok[/green]" if step.ok else "[red]FAILED[/red]"
        console.print(f"  {mark} {step.name} ({step.duration_s:.1f}s) {step.detail}".rstrip())
    gap = deployment.rollout.gap_s
    if gap is not None:
        console.print(f"  time with nothing serving: {gap:.1f}s")
    caveat = reload_caveat(deployment.rollout.client_reloads)
    if caveat:  # said, not hidden: the one disruption this rollout cannot rule out
        console.print(f"  {caveat}", highlight=False)
