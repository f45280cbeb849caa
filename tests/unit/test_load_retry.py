"""testing/load.py: which failures a load client sends again (once), as SDK clients do."""

from __future__ import annotations

import pytest

from llmproxy_ops.runtime.nginx_upstream import reload_caveat
from llmproxy_ops.testing.load import LoadReport, idle_closed

CLOSED = "RemoteProtocolError: Server disconnected without sending a response."


@pytest.mark.parametrize(
    ("error", "retried"),
    [
        (f"chat: {CLOSED}", True),
        (f"stream cut after 0 chunks: {CLOSED}", True),
        (f"stream cut after 3 chunks: {CLOSED}", False),  # an answer had begun: a cut stream
        ("chat: ConnectError: [Errno 111] Connection refused", False),  # nothing serves
        ("chat: HTTP 502", False),
    ],
)
def test_only_an_unanswered_idle_close_is_sent_again(error: str, retried: bool) -> None:
    assert idle_closed(error) is retried


def _report(retried: int) -> LoadReport:
    return LoadReport(ok=10, streams_ok=3, retried=retried, answers=[0.0, 0.5, 1.0])


def test_a_resend_counts_unless_the_rollout_announced_it() -> None:
    assert _report(1).disruptions() == ["1 retried by the client (announced at most 0)"]
    assert _report(3).disruptions(max_retried=3) == []
    assert _report(4).disruptions(max_retried=3) == [
        "4 retried by the client (announced at most 3)"]


def test_the_reload_caveat_is_said_only_after_a_reload() -> None:
    assert reload_caveat(0) is None
    said = reload_caveat(4)
    assert said is not None and said.startswith("nginx reloaded 4 time(s): a request sent on")
