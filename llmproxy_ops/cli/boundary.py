"""The one place exceptions become exit codes: 0 ok, 1 expected failure, 2 usage, 3 bug, 130 ^C."""

from __future__ import annotations

import datetime as dt
import os
import sys
import tempfile
import traceback
from collections.abc import Callable
from pathlib import Path
from typing import Any

import typer

from llmproxy_ops.cli.output import console, err_console, print_findings
from llmproxy_ops.errors import LayerError, OpsError, ValidationFailed

EXIT_BUG = 3
EXIT_INTERRUPTED = 130


def run(action: Callable[[], Any]) -> Any:
    """Run `action`; report OpsErrors plainly, log unexpected ones, exit with the right code."""
    try:
        return action()
    except typer.Exit:
        raise
    except KeyboardInterrupt:
        err_console.print("interrupted")
        raise typer.Exit(EXIT_INTERRUPTED) from None
    except OpsError as exc:
        report_error(exc)
        raise typer.Exit(exc.exit_code) from None
    except Exception:  # noqa: BLE001 - the boundary: anything else is our bug
        log = _write_crash_log()
        err_console.print(f"[red]internal error[/red]: an unexpected exception; details in {log}")
        err_console.print("please report it with that file (it contains no secret values)")
        raise typer.Exit(EXIT_BUG) from None


def report_error(exc: OpsError) -> None:
    if isinstance(exc, ValidationFailed):
        print_findings(exc.findings, console)
    where = f"{exc.file}:{exc.line}:{exc.col}: " if isinstance(exc, LayerError) else ""
    err_console.print(f"{where}[red]error[/red]: {exc.message}", highlight=False)
    if exc.details:
        err_console.print(exc.details, highlight=False, markup=False)
    if exc.hint:
        err_console.print(f"  hint: {exc.hint}", highlight=False)


def _write_crash_log() -> Path:
    # tracebacks only (no local variables): frames may hold keys
    stamp = dt.datetime.now(dt.UTC).strftime("%Y%m%dT%H%M%SZ")
    fd, name = tempfile.mkstemp(prefix=f"llmproxy-ops-crash-{stamp}-", suffix=".log")
    with os.fdopen(fd, "w", encoding="utf-8") as fh:
        fh.write(f"argv: {sys.argv[:2]}\n{traceback.format_exc()}")
    return Path(name)
