"""Smoke checks against a scripted server: only 401/403 count as a key rejection, and
Anthropic groups are asked through the Messages route with x-api-key."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from llmproxy_ops.ops.smoke.plan import anthropic_groups
from llmproxy_ops.ops.smoke.run import SmokeTarget, run_smoke
from llmproxy_ops.spec import load_files

KEY = "sk-unit-smoke-auth-key-77"
LIMITED = ("litellm.RateLimitError: Model rate limit exceeded. RPM limit=8, current usage=13.0 "
           "LiteLLM: model group 'busy' failed with the error above.")
PROVIDER_429 = "litellm.RateLimitError: RateLimitError: OpenAIException - quota exceeded"
MESSAGE = {
    "type": "message",
    "content": [{"type": "text", "text": "hello"}],
    "usage": {"input_tokens": 3, "output_tokens": 1},
}


class LiteLLMWithoutDb(BaseHTTPRequestHandler):
    """Answers keys the way LiteLLM 1.108.7 does with no database and no prisma."""

    def do_GET(self) -> None:
        if self.path == "/health/liveliness":
            return self.reply(200, "I'm alive!")
        key = self.headers.get("Authorization", "")
        if key == f"Bearer {KEY}":
            return self.reply(200, {"data": [{"id": "claude"}]})
        if not key:
            return self.reply(500, {"error": {"message": "Internal server error"}})
        return self.reply(400, {"error": {"message": "No connected db."}})

    def do_POST(self) -> None:
        length = int(self.headers.get("Content-Length", 0))
        body = json.loads(self.rfile.read(length))
        if self.path == "/v1/messages" and self.headers.get("x-api-key") == KEY:
            return self.reply(200, {**MESSAGE, "model": body["model"]})
        if self.path == "/v1/chat/completions" and body["model"] == "busy":
            return self.reply(429, {"error": {"message": LIMITED}})
        if self.path == "/v1/chat/completions" and body["model"] == "out-of-quota":
            return self.reply(429, {"error": {"message": PROVIDER_429}})
        return self.reply(404, {"error": {"message": f"not scripted: {self.path}"}})

    def reply(self, status: int, payload: object) -> None:
        data = json.dumps(payload).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture(scope="module")
def url() -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), LiteLLMWithoutDb)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


def test_400_and_500_are_not_accepted_as_key_rejections(url: str) -> None:
    report = run_smoke(SmokeTarget(url, KEY, ["claude"], models_to_test=[]))
    details = {c.name: (c.ok, c.detail) for c in report.checks}
    assert details["auth: missing key rejected"] == (
        False,
        "rejected with HTTP 500, not 401/403: Internal server error",
    )
    assert details["auth: wrong key rejected"] == (
        False,
        "rejected with HTTP 400, not 401/403: No connected db.",
    )


def test_messages_check_uses_x_api_key(url: str) -> None:
    target = SmokeTarget(url, KEY, ["claude"], models_to_test=["claude"], messages_models=["claude"])
    details = {c.name: (c.ok, c.detail) for c in run_smoke(target).checks}
    assert details["messages: claude"] == (True, "HTTP 200, 5 chars, usage 3+1 tokens")


def test_anthropic_groups_come_from_the_deployments(tmp_path: Path) -> None:
    layer = tmp_path / "l.yaml"
    layer.write_text(
        "model_list:\n"
        "  - {model_name: a, litellm_params: {model: anthropic/claude-haiku-4-5}}\n"
        "  - {model_name: o, litellm_params: {model: openai/gpt-4o-mini}}\n"
        "  - {model_name: a, litellm_params: {model: anthropic/claude-sonnet-5}}\n"
        "  - {model_name: m, litellm_params: {model: anthropic/x, mock_response: hi}}\n"
    )
    assert anthropic_groups(load_files([layer])) == ["a", "m"]


def test_a_group_at_its_own_rpm_limit_passes_a_provider_429_fails(url: str) -> None:
    """LiteLLM answering for a group at its own limit proves it is served: a rollout must not
    fail because clients use a group at its limit; a provider's 429 still fails the check."""
    report = run_smoke(SmokeTarget(url, KEY, ["claude"], models_to_test=["busy", "out-of-quota"]))
    details = {c.name: (c.ok, c.detail) for c in report.checks}
    assert details["chat: busy"] == (True, f"HTTP 429: its own limit is used up this minute ({LIMITED})")
    assert details["chat: out-of-quota"] == (False, f"HTTP 429: {PROVIDER_429}")
    # the stream check too (a rollout's check streams from the first group)
    assert details["stream: busy"] == (True, f"HTTP 429: its own limit is used up this minute ({LIMITED})")
