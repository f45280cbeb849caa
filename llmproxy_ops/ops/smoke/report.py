"""Reporters for a SmokeReport: a rich table for people, JUnit XML for CI."""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from dataclasses import asdict
from pathlib import Path

from rich.markup import escape
from rich.table import Table

from llmproxy_ops.fsutil import atomic_write_text
from llmproxy_ops.ops.smoke.run import CheckResult, SmokeReport

SUITE_NAME = "llmproxy-ops smoke"


def result_label(check: CheckResult) -> str:
    if check.skipped:
        return "SKIP"
    return "PASS" if check.ok else "FAIL"


def format_latency(check: CheckResult) -> str:
    return "-" if check.latency_ms is None else f"{check.latency_ms:.0f} ms"


def report_json(report: SmokeReport) -> str:
    """The report for machines: url, ok, duration and every check (details already scrubbed)."""
    doc = {"url": report.url, "ok": report.ok, "duration_s": report.duration_s,
           "checks": [asdict(check) for check in report.checks]}
    return json.dumps(doc, indent=2, sort_keys=True)


def render_table(report: SmokeReport) -> Table:
    """One row per check: check, result, latency, detail."""
    verdict = "[green]passed[/green]" if report.ok else "[red]failed[/red]"
    table = Table(title=f"smoke test of {report.url}: {verdict}", title_justify="left")
    table.add_column("check", no_wrap=True)
    table.add_column("result", no_wrap=True)
    table.add_column("latency", justify="right", no_wrap=True)
    table.add_column("detail", overflow="fold")
    styles = {"PASS": "green", "FAIL": "red", "SKIP": "yellow"}
    for check in report.checks:
        label = result_label(check)
        # Names and details quote model names and server text, which may contain [brackets].
        table.add_row(
            escape(check.name),
            f"[{styles[label]}]{label}[/]",
            format_latency(check),
            escape(check.detail),
        )
    return table


def junit_xml(report: SmokeReport) -> str:
    """JUnit XML: one testcase per check, failures and skips as child elements."""
    failures = sum(1 for c in report.checks if not c.ok and not c.skipped)
    skipped = sum(1 for c in report.checks if c.skipped)
    suite = ET.Element(
        "testsuite",
        {
            "name": SUITE_NAME,
            "tests": str(len(report.checks)),
            "failures": str(failures),
            "errors": "0",
            "skipped": str(skipped),
            "time": f"{report.duration_s:.3f}",
        },
    )
    ET.SubElement(ET.SubElement(suite, "properties"), "property", name="url", value=report.url)
    for check in report.checks:
        suite.append(_testcase(check))
    ET.indent(suite)
    return ET.tostring(suite, encoding="unicode", xml_declaration=True) + "\n"


def _testcase(check: CheckResult) -> ET.Element:
    seconds = (check.latency_ms or 0.0) / 1000
    case = ET.Element("testcase", classname="smoke", name=check.name, time=f"{seconds:.3f}")
    if check.skipped:
        ET.SubElement(case, "skipped", message=check.detail)
    elif not check.ok:
        ET.SubElement(
            case, "failure", message=check.detail, type="SmokeCheckFailed"
        ).text = check.detail
    else:
        ET.SubElement(case, "system-out").text = check.detail
    return case


def write_junit_xml(report: SmokeReport, path: Path) -> None:
    """Write the JUnit XML atomically (a CI reader never sees half a file)."""
    atomic_write_text(Path(path), junit_xml(report))
