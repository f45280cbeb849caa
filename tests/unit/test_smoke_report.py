"""Smoke reporters (table, JUnit XML) and the rule that the master key never reaches output."""

from __future__ import annotations

import base64
import json
import threading
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from rich.console import Console

from llmproxy_ops.ops.smoke.report import junit_xml, render_table, write_junit_xml
from llmproxy_ops.ops.smoke.run import CheckResult, SmokeReport, SmokeTarget, run_smoke

KEY = "sk-unit-secret-master-key-42"

REPORT = SmokeReport(
    url="http://127.0.0.1:4000",
    checks=[
        CheckResult("liveliness", True, 3.2, "HTTP 200"),
        CheckResult("models", False, 12.0, "missing: [beta]; unexpected: x"),
        CheckResult("chat: a<b>&c", True, 250.4, "HTTP 200, 5 chars, usage 1+2 tokens"),
        CheckResult("stream: gpt", False, None, "skipped: the proxy is not alive", skipped=True),
    ],
    duration_s=1.5,
)


def rendered(report: SmokeReport) -> str:
    console = Console(record=True, width=200)
    console.print(render_table(report))
    return console.export_text()


def test_report_ok_needs_every_check() -> None:
    assert not REPORT.ok
    assert [c.name for c in REPORT.failed] == ["models", "stream: gpt"]
    assert SmokeReport("u", [CheckResult("liveliness", True, 1.0, "HTTP 200")]).ok
    assert not SmokeReport("u", []).ok  # nothing checked proves nothing


def test_table_has_one_row_per_check() -> None:
    text = rendered(REPORT)
    assert "smoke test of http://127.0.0.1:4000: failed" in text
    rows = [line for line in text.splitlines() if line.startswith("│")]
    cells = [[cell.strip() for cell in row.strip("│").split("│")] for row in rows]
    assert cells == [
        ["liveliness", "PASS", "3 ms", "HTTP 200"],
        ["models", "FAIL", "12 ms", "missing: [beta]; unexpected: x"],
        ["chat: a<b>&c", "PASS", "250 ms", "HTTP 200, 5 chars, usage 1+2 tokens"],
        ["stream: gpt", "SKIP", "-", "skipped: the proxy is not alive"],
    ]


def test_junit_xml_has_one_testcase_per_check(tmp_path: Path) -> None:
    path = tmp_path / "reports" / "smoke.xml"
    write_junit_xml(REPORT, path)
    suite = ET.parse(path).getroot()
    assert suite.tag == "testsuite"
    assert suite.attrib == {
        "name": "llmproxy-ops smoke",
        "tests": "4",
        "failures": "1",
        "errors": "0",
        "skipped": "1",
        "time": "1.500",
    }
    cases = suite.findall("testcase")
    assert [(c.get("classname"), c.get("name"), c.get("time")) for c in cases] == [
        ("smoke", "liveliness", "0.003"),
        ("smoke", "models", "0.012"),
        ("smoke", "chat: a<b>&c", "0.250"),
        ("smoke", "stream: gpt", "0.000"),
    ]
    failure = cases[1].find("failure")
    assert failure is not None
    assert failure.get("message") == "missing: [beta]; unexpected: x"
    assert cases[0].find("failure") is None and cases[2].find("failure") is None
    skipped = cases[3].find("skipped")
    assert skipped is not None and skipped.get("message") == "skipped: the proxy is not alive"
    prop = suite.find("properties/property")
    assert prop is not None and prop.attrib == {"name": "url", "value": REPORT.url}


def test_junit_write_replaces_the_file_and_leaves_no_temp_file(tmp_path: Path) -> None:
    path = tmp_path / "smoke.xml"
    path.write_text("old content")
    write_junit_xml(REPORT, path)
    assert path.read_text() == junit_xml(REPORT)
    assert path.read_text().startswith("<?xml version='1.0' encoding='utf-8'?>\n<testsuite ")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["smoke.xml"]


class _EchoHandler(BaseHTTPRequestHandler):
    """A server that quotes the caller's Authorization header back in every error."""

    def _answer(self) -> None:
        if self.path == "/health/liveliness":
            body, status = b'"alive"', 200
        else:
            header = self.headers.get("Authorization", "")
            body = json.dumps({"error": {"message": f"bad credentials {header}"}}).encode()
            status = 401
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    do_GET = do_POST = _answer

    def log_message(self, *args: object) -> None:  # keep pytest output clean
        pass


@pytest.fixture
def echo_url() -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _EchoHandler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


def test_the_key_is_scrubbed_from_every_output(echo_url: str) -> None:
    target = SmokeTarget(echo_url, KEY, ["gpt"], rpm_enforced={"gpt": 1})
    report = run_smoke(target)
    details = {c.name: c.detail for c in report.checks}
    # The server did echo the key: the scrubbing is what keeps it out.
    assert details["models"] == "HTTP 401: bad credentials Bearer ***"
    assert details["chat: gpt"] == "HTTP 401: bad credentials Bearer ***"
    assert details["stream: gpt"] == "HTTP 401: bad credentials Bearer ***"
    assert details["rpm: gpt"] == "no HTTP 429 in 2 requests (rpm 1); statuses: 401, 401"
    for text in (repr(target), repr(report), rendered(report), junit_xml(report)):
        assert KEY not in text


def test_url_credentials_never_reach_the_report(echo_url: str) -> None:
    password = "basic-auth-pw-9z"
    url = echo_url.replace("http://", f"http://ops:{password}@")
    report = run_smoke(SmokeTarget(url, KEY, ["gpt"]))
    assert report.url == echo_url
    # The missing-key probe goes out with httpx's Basic header, which the server echoes.
    assert by_name_detail(report, "auth: missing key rejected") == (
        "rejected with HTTP 401: bad credentials Basic ***"
    )
    basic = base64.b64encode(f"ops:{password}".encode()).decode()
    for text in (repr(report), rendered(report), junit_xml(report)):
        assert password not in text and basic not in text and KEY not in text


def by_name_detail(report: SmokeReport, name: str) -> str:
    return next(check.detail for check in report.checks if check.name == name)
