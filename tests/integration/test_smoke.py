"""run_smoke against a real, stock litellm started by LocalRuntime (mock_response models)."""

from __future__ import annotations

import re
import time
from collections.abc import Iterator

import pytest
import yaml
from rich.console import Console

from llmproxy_ops.ops.smoke.report import junit_xml, render_table
from llmproxy_ops.ops.smoke.run import SmokeReport, SmokeTarget, run_smoke
from llmproxy_ops.render.litellm_hooks import hook_files
from llmproxy_ops.render.litellm_hooks.llmproxy_auth_status import MESSAGE as NO_DB_401
from llmproxy_ops.targets.local.process import LaunchSpec, LocalRuntime
from tests.conftest import free_port

pytestmark = pytest.mark.integration

KEY = "sk-llmproxy-ops-smoke-test-5d21e8"
MODELS = ["mock-gpt", "mock-claude", "mock-limited"]
CONFIG = """\
model_list:
  - model_name: mock-gpt
    litellm_params:
      {model: openai/mock-gpt, mock_response: "Hello from the mock model", api_key: dummy}
  - model_name: mock-claude
    litellm_params: {model: anthropic/claude-mock, mock_response: "hi", api_key: dummy}
  - model_name: mock-limited
    litellm_params: {model: openai/mock-limited, mock_response: "limited", api_key: dummy, rpm: 3}
router_settings: {optional_pre_call_checks: ["enforce_model_rate_limits"]}
general_settings: {master_key: os.environ/LITELLM_MASTER_KEY}
litellm_settings:
  {json_logs: true, request_timeout: 600, callbacks: ["llmproxy_auth_status.handler"]}
"""




@pytest.fixture(scope="module")
def proxy_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    base = tmp_path_factory.mktemp("smoke")
    config = base / "config.yaml"
    config.write_text(CONFIG)
    for name, content in hook_files(yaml.safe_load(CONFIG)).items():
        (base / name).write_text(content)  # as rendered: beside config.yaml
    runtime = LocalRuntime(base / "run")
    env = {"LITELLM_MASTER_KEY": KEY, "LITELLM_LOCAL_MODEL_COST_MAP": "True"}
    status = runtime.up(LaunchSpec(config_path=config, env=env, port=free_port()))
    assert status.url is not None
    yield status.url
    runtime.down(grace=5.0)


def by_name(report: SmokeReport) -> dict[str, tuple[bool, str]]:
    return {check.name: (check.ok, check.detail) for check in report.checks}


def rendered(report: SmokeReport) -> str:
    console = Console(record=True, width=200)
    console.print(render_table(report))
    return console.export_text()


def test_smoke_passes_against_stock_litellm(proxy_url: str) -> None:
    # mock-limited is listed but not chatted with: its 3 rpm belong to the rpm test.
    target = SmokeTarget(proxy_url, KEY, MODELS, models_to_test=["mock-gpt", "mock-claude"])
    report = run_smoke(target)
    checks = by_name(report)
    assert list(checks) == [
        "liveliness",
        "models",
        "auth: missing key rejected",
        "auth: wrong key rejected",
        "chat: mock-gpt",
        "chat: mock-claude",
        "stream: mock-gpt",
    ]
    assert report.ok, checks
    assert checks["liveliness"] == (True, "HTTP 200")
    assert checks["models"] == (
        True,
        "3 model groups, as expected: mock-claude, mock-gpt, mock-limited",
    )
    # Without a database: 401 from LiteLLM (with prisma installed) and from our callback.
    assert checks["auth: missing key rejected"] == (
        True,
        "rejected with HTTP 401: Authentication Error, No api key passed in.",
    )
    assert checks["auth: wrong key rejected"] == (True, f"rejected with HTTP 401: {NO_DB_401}")
    assert checks["chat: mock-gpt"] == (True, "HTTP 200, 25 chars, usage 10+20 tokens")
    assert checks["chat: mock-claude"] == (True, "HTTP 200, 2 chars, usage 10+20 tokens")
    ok, detail = checks["stream: mock-gpt"]
    # mock_response streams in 3-character pieces: 9 content chunks + 1 finish chunk.
    assert ok and re.fullmatch(r"10 chunks, first after \d+ ms, ended with \[DONE\]", detail)
    assert all(c.latency_ms is not None and c.latency_ms >= 0 for c in report.checks)


def test_models_check_reports_missing_and_unexpected(proxy_url: str) -> None:
    expected = ["mock-gpt", "mock-claude", "not-configured"]
    report = run_smoke(SmokeTarget(proxy_url, KEY, expected, models_to_test=["mock-claude"]))
    checks = by_name(report)
    assert checks["models"] == (False, "missing: not-configured; unexpected: mock-limited")
    assert checks["chat: mock-claude"][0] is True  # one failing check does not stop the others
    assert not report.ok
    assert [c.name for c in report.failed] == ["models"]


def test_chat_with_an_unconfigured_model_fails(proxy_url: str) -> None:
    report = run_smoke(SmokeTarget(proxy_url, KEY, MODELS, models_to_test=["not-configured"]))
    ok, detail = by_name(report)["chat: not-configured"]
    assert not ok
    assert detail.startswith("HTTP 400: ")
    assert "not-configured" in detail


def test_a_wrong_key_fails_the_authenticated_checks(proxy_url: str) -> None:
    wrong = "sk-not-the-master-key-0000"
    report = run_smoke(SmokeTarget(proxy_url, wrong, MODELS, models_to_test=["mock-claude"]))
    checks = by_name(report)
    failing = f"HTTP 401: {NO_DB_401}"
    assert checks["models"] == (False, failing)
    assert checks["chat: mock-claude"] == (False, failing)
    assert checks["stream: mock-claude"] == (False, failing)
    assert checks["liveliness"][0] and checks["auth: wrong key rejected"][0]
    assert [c.name for c in report.failed] == ["models", "chat: mock-claude", "stream: mock-claude"]


def test_rpm_check_meets_a_429(proxy_url: str) -> None:
    target = SmokeTarget(
        proxy_url, KEY, MODELS, models_to_test=[], rpm_enforced={"mock-limited": 3}
    )
    report = run_smoke(target)
    ok, detail = by_name(report)["rpm: mock-limited"]
    until = re.fullmatch(
        r"HTTP 429 at request 4 of 4 \(rpm 3\); mock-limited answers 429 until (\d\d:\d\d) UTC",
        detail)
    assert ok and until, detail
    # the minute named is the one after the burst's: now or, past a boundary, the one just begun
    minutes = {time.strftime("%H:%M", time.gmtime((time.time() // 60 + n) * 60)) for n in (0, 1)}
    assert until[1] in minutes, (until[1], minutes)
    assert report.ok


def test_rpm_check_fails_where_no_limit_is_enforced(proxy_url: str) -> None:
    target = SmokeTarget(proxy_url, KEY, MODELS, models_to_test=[], rpm_enforced={"mock-claude": 2})
    report = run_smoke(target)
    assert by_name(report)["rpm: mock-claude"] == (
        False,
        "no HTTP 429 in 3 requests (rpm 2); statuses: 200, 200, 200",
    )


def test_the_key_never_appears_in_any_output(proxy_url: str) -> None:
    target = SmokeTarget(
        proxy_url, KEY, MODELS + ["not-configured"], rpm_enforced={"mock-claude": 1}
    )
    report = run_smoke(target)
    assert not report.ok  # failures quote server answers: the riskiest path
    for text in (repr(target), repr(report), rendered(report), junit_xml(report)):
        assert KEY not in text


def test_a_dead_proxy_skips_every_other_check() -> None:
    target = SmokeTarget(f"http://127.0.0.1:{free_port()}", KEY, ["mock-gpt"])
    report = run_smoke(target)
    first, *rest = report.checks
    assert first.name == "liveliness" and not first.ok
    assert first.detail.startswith("ConnectError: ")
    assert [c.name for c in rest] == [
        "models",
        "auth: missing key rejected",
        "auth: wrong key rejected",
        "chat: mock-gpt",
        "stream: mock-gpt",
    ]
    assert all(c.skipped and not c.ok for c in rest)
    assert {c.detail for c in rest} == {"skipped: the proxy is not alive (liveliness failed)"}


def test_without_expected_models_every_listed_group_is_tested(proxy_url: str) -> None:
    """Runs after the rpm test: mock-limited may be rate limited, so only its presence counts."""
    report = run_smoke(SmokeTarget(proxy_url, KEY, []))
    checks = by_name(report)
    assert list(checks) == [
        "liveliness",
        "models",
        "auth: missing key rejected",
        "auth: wrong key rejected",
        "chat: mock-gpt",
        "chat: mock-claude",
        "chat: mock-limited",
        "stream: mock-gpt",
    ]
    assert checks["models"] == (True, "3 model groups listed: mock-gpt, mock-claude, mock-limited")
    assert checks["chat: mock-gpt"][0] and checks["chat: mock-claude"][0]
    assert checks["stream: mock-gpt"][0]


def test_anthropic_groups_are_asked_through_the_messages_route(proxy_url: str) -> None:
    target = SmokeTarget(
        proxy_url, KEY, MODELS, models_to_test=["mock-claude"], messages_models=["mock-claude"]
    )
    report = run_smoke(target)
    ok, detail = by_name(report)["messages: mock-claude"]
    assert ok and re.fullmatch(r"HTTP 200, 2 chars, usage \d+\+\d+ tokens", detail), detail
    assert [c.name for c in report.checks][-2:] == ["messages: mock-claude", "stream: mock-claude"]
