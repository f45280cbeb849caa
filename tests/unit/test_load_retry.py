"""testing/load.py: which failures a load client sends again (once), as SDK clients do."""

from __future__ import annotations

import pytest

from llmproxy_ops.testing.load import idle_closed

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
