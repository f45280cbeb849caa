"""The one place exceptions become exit codes: 0 ok, 1 expected failure, 2 usage, 3 bug, 130 ^C.

Every command is wrapped once (GuardedTyper.command at registration), around its whole body: the
library call and the reporting after it, so no path of a command escapes the boundary.
"""

from __future__ import annotations

import contextvars
import datetime as dt
import functools
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
_GUARDED = "__llmproxy_ops_boundary__"

# A command that promised machine-readable output (validate --format json) registers how
# a failure is printed as JSON; the boundary then prints that one document on stdout.
JsonReporter = Callable[[OpsError | None, Path | None], None]
_json_reporter: contextvars.ContextVar[JsonReporter | None] = contextvars.ContextVar(
    "json_reporter", default=None
)


def report_failures_as_json(reporter: JsonReporter) -> None:
    """From now on in this command, failures are reported by `reporter` (one JSON document)."""
    _json_reporter.set(reporter)


def guard(command: Callable[..., Any]) -> Callable[..., Any]:
    """Wrap one command in the boundary; typer still sees its signature (functools.wraps)."""
    if getattr(command, _GUARDED, False):
        return command

    @functools.wraps(command)
    def guarded(*args: Any, **kwargs: Any) -> Any:
        token = _json_reporter.set(None)
        try:
            return command(*args, **kwargs)
        except typer.Exit:
            raise
        except KeyboardInterrupt:
            err_console.print("interrupted")
            raise typer.Exit(EXIT_INTERRUPTED) from None
        except OpsError as exc:
            _report(exc, None)
            raise typer.Exit(exc.exit_code) from None
        except Exception:  # noqa: BLE001 - the boundary: anything else is our bug
            log = _write_crash_log()
            _report(None, log)
            err_console.print(
                f"[red]internal error[/red]: an unexpected exception; details in {log}"
            )
            err_console.print("please report it with that file (it contains no secret values)")
            raise typer.Exit(EXIT_BUG) from None
        finally:
            _json_reporter.reset(token)

    setattr(guarded, _GUARDED, True)
    return guarded


class GuardedTyper(typer.Typer):
    """A Typer whose every command runs inside the boundary, wherever the app is invoked
    (the root app or a sub-app on its own, as tests do)."""

    def command(self, *args: Any, **kwargs: Any) -> Callable[[Callable[..., Any]], Any]:
        register = super().command(*args, **kwargs)

        def decorator(func: Callable[..., Any]) -> Callable[..., Any]:
            register(guard(func))
            return func

        return decorator


def is_guarded(command: Callable[..., Any]) -> bool:
    return bool(getattr(command, _GUARDED, False))


def _report(exc: OpsError | None, log: Path | None) -> None:
    reporter = _json_reporter.get()
    if reporter is not None:
        reporter(exc, log)
    if exc is not None:
        report_error(exc)


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
