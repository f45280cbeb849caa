"""Reporters: findings as compiler-style lines or stable JSON."""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path

from rich.console import Console

from llmproxy_ops.errors import LayerError, OpsError, UsageError
from llmproxy_ops.findings import Finding, Location, Severity, ValidationResult

console = Console(highlight=False, soft_wrap=True)
err_console = Console(stderr=True, highlight=False, soft_wrap=True)


def finding_line(f: Finding) -> str:
    """`file:line:col: severity[code] path: message (hint: ...)` — one line, grep-friendly."""
    from llmproxy_ops.findings import format_path

    text = f"{f.location}: {f.severity.value}[{f.code}] {format_path(f.path)}: {f.message}"
    return f"{text} (hint: {f.hint})" if f.hint else text


def print_findings(findings: Sequence[Finding], out: Console) -> None:
    for f in findings:
        style = "red" if f.severity is Severity.ERROR else "yellow"
        out.print(f"[{style}]{_escape(finding_line(f))}[/{style}]")


def print_summary(result: ValidationResult, subject: str, out: Console) -> None:
    errors, warnings = len(result.errors), len(result.warnings)
    if not errors and not warnings:
        out.print(f"[green]ok[/green]: {_escape(subject)} is valid")
    else:
        out.print(f"{_escape(subject)}: {errors} error(s), {warnings} warning(s)")


def findings_doc(result: ValidationResult, subject: str, *, ok: bool) -> dict[str, object]:
    doc: dict[str, object] = {
        "subject": subject,
        "ok": ok,
        "errors": len(result.errors),
        "warnings": len(result.warnings),
        "findings": [f.as_dict() for f in result.sorted],
    }
    if result.stages:
        doc["stages"] = result.stages  # e.g. {"litellm": "cached"}
    return doc


def findings_json(result: ValidationResult, subject: str, *, ok: bool) -> str:
    return json.dumps(findings_doc(result, subject, ok=ok), indent=2, sort_keys=True)


def results_json(results: Sequence[tuple[str, ValidationResult]], *, strict: bool) -> str:
    """Several subjects (validate touched, --each): one document, one entry per subject."""
    docs = [findings_doc(r, s, ok=r.ok(strict=strict)) for s, r in results]
    return json.dumps({"ok": all(d["ok"] for d in docs), "results": docs}, indent=2,
                      sort_keys=True)


def failure_json(subject: str, exc: OpsError | None, crash_log: Path | None) -> str:
    """The findings_json document for a run that failed before it had a result."""
    finding = _failure_finding(exc, crash_log)
    doc = {
        "subject": subject,
        "ok": False,
        "errors": 1,
        "warnings": 0,
        "findings": [finding.as_dict()],
        "exit_code": exc.exit_code if exc is not None else 3,
    }
    return json.dumps(doc, indent=2, sort_keys=True)


def _failure_finding(exc: OpsError | None, crash_log: Path | None) -> Finding:
    if exc is None:
        message = f"internal error: an unexpected exception; details in {crash_log}"
        return Finding(Severity.ERROR, "internal-error", message, Location("<llmproxy-ops>"))
    if isinstance(exc, LayerError):
        where, code = Location(exc.file, exc.line, exc.col), "load-error"
    elif isinstance(exc, UsageError):
        where, code = Location("<command line>"), "usage-error"
    else:
        where, code = Location("<llmproxy-ops>"), "error"
    return Finding(Severity.ERROR, code, exc.message, where, (), exc.hint)


def _escape(text: str) -> str:
    from rich.markup import escape

    return escape(text)
