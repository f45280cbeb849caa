"""Reporters: findings as compiler-style lines or stable JSON."""

from __future__ import annotations

import json
from collections.abc import Sequence

from rich.console import Console

from llmproxy_ops.findings import Finding, Severity, ValidationResult

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


def findings_json(result: ValidationResult, subject: str, *, ok: bool) -> str:
    doc = {
        "subject": subject,
        "ok": ok,
        "errors": len(result.errors),
        "warnings": len(result.warnings),
        "findings": [f.as_dict() for f in result.sorted],
    }
    return json.dumps(doc, indent=2, sort_keys=True)


def _escape(text: str) -> str:
    from rich.markup import escape

    return escape(text)
