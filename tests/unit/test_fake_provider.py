"""The fake provider speaks each wire format and injects each fault (driven with httpx)."""

from __future__ import annotations

import json
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from llmproxy_ops.testing.fake_provider import FakeProvider
from llmproxy_ops.testing.fake_state import Knobs

OPENAI_AUTH = {"Authorization": "Bearer sk-openai"}
ANTHROPIC_AUTH = {"x-api-key": "sk-ant", "anthropic-version": "2023-06-01"}
GEMINI_AUTH = {"x-goog-api-key": "g-key"}
CHAT = {"model": "gpt-4o-mini", "messages": [{"role": "user", "content": "say hello"}]}
CLAUDE = {
    "model": "claude-sonnet-4-5-20250929",
    "max_tokens": 50,
    "messages": [{"role": "user", "content": "say hello"}],
}
GEMINI_BODY = {"contents": [{"role": "user", "parts": [{"text": "say hello"}]}]}
GEMINI_PATH = "/v1beta/models/gemini-2.5-flash"
REPLY = "Hello from the fake provider."


@pytest.fixture(scope="module")
def fake() -> Iterator[FakeProvider]:
    with FakeProvider() as provider:
        yield provider


@pytest.fixture()
def client(fake: FakeProvider) -> Iterator[httpx.Client]:
    fake.reset()
    with httpx.Client(base_url=fake.url, timeout=10) as http:
        yield http


def sse_data(text: str) -> list[str]:
    return [line[len("data: ") :] for line in text.splitlines() if line.startswith("data: ")]


def sse_events(text: str) -> list[tuple[str, dict[str, Any]]]:
    blocks = [b for b in text.split("\n\n") if b.strip()]
    pairs = [dict(line.split(": ", 1) for line in block.splitlines()) for block in blocks]
    return [(p["event"], json.loads(p["data"])) for p in pairs]


# --- wire formats -----------------------------------------------------------------------


@pytest.mark.parametrize(
    "path", ["/v1/chat/completions", "/chat/completions", "/api/v1/chat/completions"]
)
def test_openai_completion_shape(client: httpx.Client, path: str) -> None:
    r = client.post(path, json=CHAT, headers=OPENAI_AUTH)
    assert r.status_code == 200
    body = r.json()
    assert body["object"] == "chat.completion"
    assert body["id"].startswith("chatcmpl-")
    assert isinstance(body["created"], int)
    assert body["model"] == "gpt-4o-mini"
    choice = body["choices"][0]
    assert (choice["index"], choice["finish_reason"]) == (0, "stop")
    assert choice["message"]["role"] == "assistant"
    assert choice["message"]["content"] == REPLY
    assert body["usage"] == {"prompt_tokens": 2, "completion_tokens": 5, "total_tokens": 7}


def test_openai_stream_chunks_end_with_done(client: httpx.Client) -> None:
    r = client.post("/v1/chat/completions", json={**CHAT, "stream": True}, headers=OPENAI_AUTH)
    assert r.headers["content-type"] == "text/event-stream"
    data = sse_data(r.text)
    assert data[-1] == "[DONE]"
    chunks = [json.loads(d) for d in data[:-1]]
    assert all(c["object"] == "chat.completion.chunk" for c in chunks)
    assert len({c["id"] for c in chunks}) == 1
    assert chunks[0]["choices"][0]["delta"]["role"] == "assistant"
    text = "".join(c["choices"][0]["delta"].get("content", "") for c in chunks)
    assert text == REPLY
    assert len(chunks) == 7  # role, 5 pieces, finish
    assert chunks[-1]["choices"][0]["finish_reason"] == "stop"
    assert all("usage" not in c for c in chunks)


def test_openai_stream_include_usage_adds_usage_chunk(client: httpx.Client) -> None:
    body = {**CHAT, "stream": True, "stream_options": {"include_usage": True}}
    chunks = [
        json.loads(d)
        for d in sse_data(client.post("/v1/chat/completions", json=body, headers=OPENAI_AUTH).text)[
            :-1
        ]
    ]
    assert chunks[-1]["choices"] == []
    assert chunks[-1]["usage"] == {"prompt_tokens": 2, "completion_tokens": 5, "total_tokens": 7}
    assert all(c["usage"] is None for c in chunks[:-1])


def test_openai_models_list(client: httpx.Client) -> None:
    body = client.get("/v1/models", headers=OPENAI_AUTH).json()
    assert body["object"] == "list"
    assert [m["id"] for m in body["data"]][0] == "gpt-4o-mini"


def test_anthropic_message_shape(client: httpx.Client) -> None:
    body = client.post("/v1/messages", json=CLAUDE, headers=ANTHROPIC_AUTH).json()
    assert body["type"] == "message" and body["role"] == "assistant"
    assert body["id"].startswith("msg_")
    assert body["content"] == [{"type": "text", "text": REPLY}]
    assert body["stop_reason"] == "end_turn"
    assert body["usage"] == {"input_tokens": 2, "output_tokens": 5}


def test_anthropic_stream_event_sequence(client: httpx.Client) -> None:
    r = client.post("/v1/messages", json={**CLAUDE, "stream": True}, headers=ANTHROPIC_AUTH)
    events = sse_events(r.text)
    names = [name for name, _ in events]
    assert names == ["message_start", "content_block_start", "ping"] + [
        "content_block_delta"
    ] * 5 + ["content_block_stop", "message_delta", "message_stop"]
    assert all(name == data["type"] for name, data in events)
    assert "".join(d["delta"]["text"] for n, d in events if n == "content_block_delta") == REPLY
    assert events[-2][1]["delta"]["stop_reason"] == "end_turn"
    assert events[0][1]["message"]["model"] == "claude-sonnet-4-5-20250929"


def test_gemini_generate_content_shape(client: httpx.Client) -> None:
    body = client.post(
        GEMINI_PATH + ":generateContent", json=GEMINI_BODY, headers=GEMINI_AUTH
    ).json()
    candidate = body["candidates"][0]
    assert candidate["content"] == {"parts": [{"text": REPLY}], "role": "model"}
    assert candidate["finishReason"] == "STOP"
    assert body["usageMetadata"] == {
        "promptTokenCount": 2,
        "candidatesTokenCount": 5,
        "totalTokenCount": 7,
    }


def test_gemini_stream_sse_with_query_key(client: httpx.Client) -> None:
    r = client.post(GEMINI_PATH + ":streamGenerateContent?alt=sse&key=q-key", json=GEMINI_BODY)
    assert r.status_code == 200
    chunks = [json.loads(d) for d in sse_data(r.text)]
    assert len(chunks) == 5
    assert "".join(c["candidates"][0]["content"]["parts"][0]["text"] for c in chunks) == REPLY
    assert chunks[-1]["candidates"][0]["finishReason"] == "STOP"
    assert "usageMetadata" in chunks[-1] and "usageMetadata" not in chunks[0]
    assert client.get("/_fake/requests").json()["requests"][0]["auth_header"] == "?key"


def test_gemini_stream_without_sse_is_a_json_array(client: httpx.Client) -> None:
    r = client.post(GEMINI_PATH + ":streamGenerateContent", json=GEMINI_BODY, headers=GEMINI_AUTH)
    assert len(r.json()) == 5


# --- auth -------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def strict() -> Iterator[FakeProvider]:
    with FakeProvider(accepted_keys=["good"]) as provider:
        yield provider


@pytest.mark.parametrize(
    ("path", "headers", "body", "expected"),
    [
        (
            "/v1/chat/completions",
            {"Authorization": "Bearer bad"},
            CHAT,
            {
                "error": {
                    "message": "Incorrect API key provided.",
                    "type": "invalid_request_error",
                    "param": None,
                    "code": "invalid_api_key",
                }
            },
        ),
        (
            "/v1/messages",
            {"x-api-key": "bad", "anthropic-version": "2023-06-01"},
            CLAUDE,
            {
                "type": "error",
                "error": {"type": "authentication_error", "message": "invalid x-api-key"},
            },
        ),
        (
            "/v1/messages",
            {"anthropic-version": "2023-06-01"},
            CLAUDE,
            {
                "type": "error",
                "error": {
                    "type": "authentication_error",
                    "message": "x-api-key header is required",
                },
            },
        ),
        (
            GEMINI_PATH + ":generateContent",
            {"x-goog-api-key": "bad"},
            GEMINI_BODY,
            {
                "error": {
                    "code": 401,
                    "message": "API key not valid. Please pass a valid API key.",
                    "status": "UNAUTHENTICATED",
                }
            },
        ),
    ],
)
def test_wrong_or_missing_key_is_rejected_in_provider_shape(
    strict: FakeProvider, path: str, headers: dict[str, str], body: Any, expected: Any
) -> None:
    r = httpx.post(strict.url + path, json=body, headers=headers)
    assert (r.status_code, r.json()) == (401, expected)


def test_accepted_key_passes_and_missing_openai_key_fails(strict: FakeProvider) -> None:
    ok = httpx.post(
        strict.url + "/v1/chat/completions", json=CHAT, headers={"Authorization": "Bearer good"}
    )
    missing = httpx.post(strict.url + "/v1/chat/completions", json=CHAT)
    assert (ok.status_code, missing.status_code) == (200, 401)


def test_anthropic_requires_version_header(client: httpx.Client) -> None:
    r = client.post("/v1/messages", json=CLAUDE, headers={"x-api-key": "k"})
    assert (r.status_code, r.json()["error"]["message"]) == (
        400,
        "anthropic-version: header is required",
    )


# --- knobs ------------------------------------------------------------------------------


def test_status_fails_fail_count_times_then_recovers(
    fake: FakeProvider, client: httpx.Client
) -> None:
    fake.configure(status=429, fail_count=2)
    codes = [client.post("/v1/chat/completions", json=CHAT, headers=OPENAI_AUTH) for _ in range(3)]
    assert [r.status_code for r in codes] == [429, 429, 200]
    assert codes[0].headers["Retry-After"] == "1"
    assert codes[0].json()["error"]["code"] == "rate_limit_exceeded"
    assert [r.status for r in fake.requests()] == [429, 429, 200]


def test_status_without_fail_count_fails_every_request(client: httpx.Client) -> None:
    assert client.post("/_fake/config", json={"status": 503}).json()["status"] == 503
    codes = {
        client.post("/v1/messages", json=CLAUDE, headers=ANTHROPIC_AUTH).status_code
        for _ in range(3)
    }
    r = client.post("/v1/messages", json=CLAUDE, headers=ANTHROPIC_AUTH)
    assert codes == {503}
    assert r.json()["error"]["type"] == "overloaded_error"


def test_latency_delays_the_answer(fake: FakeProvider, client: httpx.Client) -> None:
    fake.configure(latency_ms=300)
    started = time.monotonic()
    assert client.post("/chat/completions", json=CHAT, headers=OPENAI_AUTH).status_code == 200
    assert time.monotonic() - started >= 0.3


def test_model_name_triggers(fake: FakeProvider, client: httpx.Client) -> None:
    r = client.post(
        "/v1beta/models/x-fail-500:generateContent", json=GEMINI_BODY, headers=GEMINI_AUTH
    )
    assert r.json() == {
        "error": {
            "code": 500,
            "status": "INTERNAL",
            "message": "The server had an error while processing your request (fake provider).",
        }
    }
    started = time.monotonic()
    slow = client.post(
        "/v1/chat/completions", json={**CHAT, "model": "m-slow-250"}, headers=OPENAI_AUTH
    )
    assert slow.status_code == 200 and time.monotonic() - started >= 0.25
    # a slow stream for one model only: 4 chunks 100 ms apart, every other model as before
    started = time.monotonic()
    drip = client.post("/v1/chat/completions", headers=OPENAI_AUTH,
                       json={**CHAT, "model": "long-drip-4x100", "stream": True})
    data = sse_data(drip.text)
    assert len(data) == 4 + 3 and data[-1] == "[DONE]"  # role, 4 pieces, finish, [DONE]
    assert time.monotonic() - started >= 0.3
    assert fake.state.knobs.chunks == 5  # nothing configured for the others


def test_malformed_body_is_not_json(fake: FakeProvider, client: httpx.Client) -> None:
    fake.configure(malformed=True)
    r = client.post("/v1/chat/completions", json=CHAT, headers=OPENAI_AUTH)
    assert r.status_code == 200
    with pytest.raises(json.JSONDecodeError):
        r.json()


def test_malformed_stream_breaks_without_done(fake: FakeProvider, client: httpx.Client) -> None:
    fake.configure(malformed=True, fail_count=1)
    broken = client.post("/v1/chat/completions", json={**CHAT, "stream": True}, headers=OPENAI_AUTH)
    data = sse_data(broken.text)
    assert len(data) == 2 and "[DONE]" not in data
    json.loads(data[0])
    with pytest.raises(json.JSONDecodeError):
        json.loads(data[1])
    healed = client.post("/v1/chat/completions", json={**CHAT, "stream": True}, headers=OPENAI_AUTH)
    assert sse_data(healed.text)[-1] == "[DONE]"


def test_chunks_and_chunk_delay_stream_incrementally(
    fake: FakeProvider, client: httpx.Client
) -> None:
    fake.configure(chunks=4, chunk_delay_ms=200)
    arrivals = []
    started = time.monotonic()
    with client.stream(
        "POST", "/v1/chat/completions", json={**CHAT, "stream": True}, headers=OPENAI_AUTH
    ) as r:
        for line in r.iter_lines():
            if line.startswith("data: "):
                arrivals.append(time.monotonic() - started)
    assert len(arrivals) == 7  # role, 4 pieces, finish, [DONE]
    assert arrivals[0] < 0.15  # the first chunk came before the rest were produced
    assert arrivals[-1] - arrivals[0] >= 1.0


def test_timeout_hangs_until_client_gives_up(fake: FakeProvider, client: httpx.Client) -> None:
    fake.configure(timeout=True, fail_count=1)
    with pytest.raises(httpx.ReadTimeout):
        client.post("/v1/chat/completions", json=CHAT, headers=OPENAI_AUTH, timeout=0.5)
    assert client.post("/v1/chat/completions", json=CHAT, headers=OPENAI_AUTH).status_code == 200


# --- admin API, fast mode, CLI ----------------------------------------------------------


def test_admin_rejects_unknown_or_bad_knobs(client: httpx.Client) -> None:
    unknown = client.post("/_fake/config", json={"latency": 5})
    bad = client.post("/_fake/config", json={"status": 418})
    assert unknown.status_code == 400
    assert unknown.json()["error"].startswith("unknown knob(s): latency; known:")
    assert bad.json() == {
        "error": "status must be one of [400, 401, 403, 404, 429, 500, 502, 503, 504, 529] or null"
    }


def test_knob_validation_messages() -> None:
    with pytest.raises(ValueError, match=r"^chunks must be an integer >= 1, got 0$"):
        Knobs().updated({"chunks": 0})
    assert Knobs().updated({"status": 500, "fail_count": 0}).status is None


def test_requests_record_auth_and_reset_clears(client: httpx.Client) -> None:
    client.post("/v1/messages", json={**CLAUDE, "stream": True}, headers=ANTHROPIC_AUTH)
    [seen] = client.get("/_fake/requests").json()["requests"]
    assert {
        k: seen[k]
        for k in (
            "path",
            "provider",
            "model",
            "auth_header",
            "auth_value",
            "api_key",
            "stream",
            "status",
        )
    } == {
        "path": "/v1/messages",
        "provider": "anthropic",
        "model": CLAUDE["model"],
        "auth_header": "x-api-key",
        "auth_value": "sk-ant",
        "api_key": "sk-ant",
        "stream": True,
        "status": 200,
    }
    assert seen["timestamp"] > 0
    client.post("/_fake/reset")
    assert client.get("/_fake/requests").json() == {"requests": []}
    assert client.get("/_fake/health").json() == {"status": "ok", "fast": False}


def test_fast_mode_keeps_no_log_and_repeats_bodies() -> None:
    with FakeProvider(fast=True) as fast, httpx.Client(base_url=fast.url) as http:
        first, second = (
            http.post("/v1/chat/completions", json=CHAT, headers=OPENAI_AUTH) for _ in range(2)
        )
        assert first.content == second.content
        assert fast.requests() == []


def test_cli_serves_until_terminated() -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "llmproxy_ops.testing.fake_provider",
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
            "--key",
            "only",
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    try:
        base = f"http://127.0.0.1:{port}"
        _wait_for(base + "/_fake/health")
        ok = httpx.post(
            base + "/v1/chat/completions", json=CHAT, headers={"Authorization": "Bearer only"}
        )
        denied = httpx.post(base + "/v1/chat/completions", json=CHAT, headers=OPENAI_AUTH)
        assert (ok.status_code, denied.status_code) == (200, 401)
    finally:
        proc.terminate()
        output = proc.communicate(timeout=15)[0].decode()
    assert json.loads(output.splitlines()[0]) == {"fake_provider": base, "fast": False}


def _wait_for(url: str, timeout_s: float = 20) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        try:
            if httpx.get(url).status_code == 200:
                return
        except httpx.TransportError:
            time.sleep(0.1)
    raise AssertionError(f"{url} did not answer within {timeout_s}s")
