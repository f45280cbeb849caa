"""`llmproxy-ops backup create|list|verify|restore|prune`: a thin layer over ops/backup*."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from llmproxy_ops.cli.boundary import GuardedTyper
from llmproxy_ops.cli.options import ConfigsOpt, EnvFileOpt, EnvName, target
from llmproxy_ops.cli.output import console, err_console
from llmproxy_ops.errors import UsageError
from llmproxy_ops.ops.backup.create import create_backup, list_backups
from llmproxy_ops.ops.backup.prune import prune_backups
from llmproxy_ops.ops.backup.restore import restore_backup
from llmproxy_ops.ops.backup.settings import BackupContext, context_for
from llmproxy_ops.ops.backup.sign import sign_backup
from llmproxy_ops.ops.backup.verify import verify_backup
from llmproxy_ops.pipeline import DEFAULT_CONFIGS

app = GuardedTyper(
    help="Back up, verify, restore, sign and prune the stack's databases and configs.",
    no_args_is_help=True,
)

BackupArg = Annotated[Path | None, typer.Argument(help="backup folder (default: the newest)")]


def _ctx(env: str, configs: Path, env_file: Path | None) -> BackupContext:
    return context_for(target(env, configs, env_file))


def _read_passphrase(passphrase_file: Path | None) -> str:
    """From a file or stdin, never argv (visible in ps); first line, newline stripped."""
    if passphrase_file is not None:
        text = _read_file(passphrase_file)
    elif sys.stdin.isatty():
        text = typer.prompt(
            "passphrase for the env file", hide_input=True, confirmation_prompt=True
        )
    else:
        text = sys.stdin.readline()
    value = text.splitlines()[0] if text else ""
    if not value:
        raise UsageError("empty passphrase")
    return value


def _read_file(path: Path) -> str:
    try:
        return path.read_text(encoding="utf-8")
    except OSError as exc:
        raise UsageError(f"cannot read passphrase file {path}: {exc.strerror}") from None


@app.command("create")
def create(
    env: EnvName = "dev",
    configs: ConfigsOpt = DEFAULT_CONFIGS,
    env_file: EnvFileOpt = None,
    include_secrets: Annotated[
        bool, typer.Option("--include-secrets", help="also store the env file, encrypted")
    ] = False,
    passphrase_file: Annotated[
        Path | None, typer.Option("--passphrase-file", help="passphrase (else read from stdin)")
    ] = None,
) -> None:
    """Dump every database (same snapshot as the recorded table checksums), configs and build.

    Example: llmproxy-ops backup create --env prod --include-secrets --passphrase-file /root/bk.pass
    """
    ctx = _ctx(env, configs, env_file)
    passphrase = _read_passphrase(passphrase_file) if include_secrets else None
    result = create_backup(ctx, passphrase=passphrase)
    tables = sum(len(d.tables) for d in result.manifest.databases.values())
    console.print(
        f"[green]created[/green]: {result.folder} ({_size(result.size)}, "
        f"{len(result.manifest.databases)} database(s), {tables} tables, "
        f"{result.duration_s:.1f} s)"
    )
    console.print(f"  next: llmproxy-ops backup verify --env {env} {result.folder}")


@app.command("list")
def list_(
    env: EnvName = "dev", configs: ConfigsOpt = DEFAULT_CONFIGS, env_file: EnvFileOpt = None
) -> None:
    """Backups of an environment, oldest first, with their last verify result.

    Example: llmproxy-ops backup list --env prod
    """
    ctx = _ctx(env, configs, env_file)
    table = Table("backup", "created (UTC)", "size", "databases", "status")
    for info in list_backups(ctx.backup_dir, ctx.env, ctx.key):
        dbs = ", ".join(sorted(info.manifest.databases)) if info.manifest else "?"
        table.add_row(info.folder.name, info.created[:19], _size(info.size), dbs, info.status)
    console.print(table)


def _pick(ctx: BackupContext, backup: Path | None) -> Path:
    if backup is not None:
        return backup
    found = list_backups(ctx.backup_dir, ctx.env, ctx.key)
    if not found:
        raise UsageError(f"no backups of {ctx.env} in {ctx.backup_dir}")
    return found[-1].folder


@app.command("verify")
def verify(
    backup: BackupArg = None,
    env: EnvName = "dev",
    configs: ConfigsOpt = DEFAULT_CONFIGS,
    env_file: EnvFileOpt = None,
) -> None:
    """Checksums, pg_restore --list, a real restore into a scratch db; exit 1 on a mismatch.

    Example: llmproxy-ops backup verify --env prod backups/prod-20250101T030000Z
    """
    ctx = _ctx(env, configs, env_file)
    folder = _pick(ctx, backup)
    report = verify_backup(ctx.pg, folder, key=ctx.key, salt=ctx.salt_fingerprint)
    for problem in report.problems:
        err_console.print(f"[red]error[/red]: {folder.name}: {problem}", markup=True)
    if not report.ok:
        console.print(f"[red]failed[/red]: {folder} ({len(report.problems)} problem(s))")
        raise typer.Exit(1)
    console.print(
        f"[green]verified[/green]: {folder} ({report.checked_tables} tables restored "
        f"and compared, {report.duration_s:.1f} s)"
    )


@app.command("restore")
def restore(
    backup: Annotated[Path, typer.Argument(help="backup folder")],
    env: EnvName = "dev",
    configs: ConfigsOpt = DEFAULT_CONFIGS,
    env_file: EnvFileOpt = None,
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="print the plan, change nothing")
    ] = False,
    yes: Annotated[bool, typer.Option("--yes", "-y", help="do not ask for confirmation")] = False,
) -> None:
    """Restore the databases of a backup (the proxy is stopped meanwhile), then smoke-test.

    Example: llmproxy-ops backup restore --env prod backups/prod-20250101T030000Z --dry-run
    """
    ctx = _ctx(env, configs, env_file)
    plan = restore_backup(ctx, backup, dry_run=True)
    console.print(f"plan for restoring {backup} into {env}:")
    for i, step in enumerate(plan.plan, 1):
        console.print(f"  {i}. {step}")
    if dry_run:
        console.print("dry run: nothing was changed")
        return
    if not yes and not typer.confirm("replace the databases with this backup?", default=False):
        raise typer.Exit(1)
    result = restore_backup(ctx, backup)
    for note in result.notes:
        console.print(f"  {note}")
    for old in result.kept_old:
        console.print(f"  kept the previous database as {old} (drop it once satisfied)")
    ok = result.smoke_ok is not False
    console.print(
        f"{'[green]restored[/green]' if ok else '[red]restored, but[/red]'}: "
        f"{', '.join(result.restored)} from {backup}"
    )
    raise typer.Exit(0 if ok else 1)


@app.command("sign")
def sign(
    backup: Annotated[Path, typer.Argument(help="backup folder")],
    env: EnvName = "dev",
    configs: ConfigsOpt = DEFAULT_CONFIGS,
    env_file: EnvFileOpt = None,
) -> None:
    """Authenticate a backup this machine did not make, once you checked where it came from.

    Example: llmproxy-ops backup sign --env prod /srv/incoming/prod-20250101T030000Z
    """
    ctx = _ctx(env, configs, env_file)
    key = sign_backup(backup, ctx.key)
    console.print(f"[green]signed[/green]: {backup} with backup key {key} ({ctx.key.path})")
    console.print(f"  next: llmproxy-ops backup verify --env {env} {backup}")


@app.command("prune")
def prune(
    env: EnvName = "dev",
    configs: ConfigsOpt = DEFAULT_CONFIGS,
    env_file: EnvFileOpt = None,
    keep: Annotated[
        int | None, typer.Option("--keep", help="keep the newest N (default stack.backup.keep)")
    ] = None,
    max_age_days: Annotated[
        int | None, typer.Option("--max-age-days", help="also drop older ones")
    ] = None,
    dry_run: Annotated[bool, typer.Option("--dry-run", help="only print what would go")] = False,
) -> None:
    """Delete old backups; never the newest verified one.

    Example: llmproxy-ops backup prune --env prod --keep 7 --max-age-days 30
    """
    ctx = _ctx(env, configs, env_file)
    result = prune_backups(
        ctx.backup_dir,
        ctx.env,
        keep=keep or ctx.keep,
        max_age_days=max_age_days or ctx.max_age_days,
        dry_run=dry_run,
        key=ctx.key,
    )
    verb = "would delete" if dry_run else "deleted"
    for folder, why in result.deleted:
        console.print(f"{verb}: {folder} ({why})")
    for folder, why in result.kept:
        console.print(f"kept: {folder} ({why})")
    console.print(f"{len(result.deleted)} {verb}, {len(result.kept)} kept")


def _size(n: int) -> str:
    for unit in ("B", "KiB", "MiB", "GiB"):
        if n < 1024 or unit == "GiB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1024  # type: ignore[assignment]
    return f"{n} B"
