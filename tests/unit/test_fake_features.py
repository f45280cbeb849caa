"""The fake provider's answers to SDK features: tools, JSON mode, thinking, caching,
embeddings and count_tokens, in each provider's wire format (driven with httpx)."""

from __future__ import annotations

import base64
import json
import struct
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from llmproxy_ops.testing.fake_features import SIGNATURE, TOOL_RESULT_REPLY, embedding
from llmproxy_ops.testing.fake_provider import FakeProvider

OPENAI_AUTH = {"Authorization": "Bearer sk-openai"}
ANTHROPIC_AUTH = {"x-api-key": "sk-ant", "anthropic-version": "2023-06-01"}
TOOL = {
    "name": "get_weather",
    "input_schema": {
        "type": "object",
        "properties": {"city": {"type": "string"}, "days": {"type": "integer"}},
    },
}
OPENAI_TOOL = {
    "type": "function",
    "function": {"name": "get_weather", "parameters": TOOL["input_schema"]},
}


@pytest.fixture(scope="module")
def fake() -> Iterator[FakeProvider]:
    with FakeProvider() as provider:
        yield provider


@pytest.fixture()
def http(fake: FakeProvider) -> Iterator[httpx.Client]:
    fake.reset()
    with httpx.Client(base_url=fake.url, timeout=10) as client:
        yield client


def claude(**extra: Any) -> dict[str, Any]:
    body = {"model": "claude-sonnet-4-5-20250929", "max_tokens": 50}
    return {**body, "messages": [{"role": "user", "content": "say hello"}], **extra}


def events(text: str) -> list[tuple[str, dict[str, Any]]]:
    blocks = [b for b in text.split("\n\n") if b.strip()]
    pairs = [dict(line.split(": ", 1) for line in block.splitlines()) for block in blocks]
    return [(p["event"], json.loads(p["data"])) for p in pairs]


def test_anthropic_forced_tool_use(http: httpx.Client) -> None:
    body = http.post(
        "/v1/messages",
        json=claude(tools=[TOOL], tool_choice={"type": "any"}),
        headers=ANTHROPIC_AUTH,
    ).json()
    assert body["stop_reason"] == "tool_use"
    [block] = body["content"]
    assert (block["type"], block["name"], block["input"]) == (
        "tool_use",
        "get_weather",
        {"city": "fake", "days": 1},
    )
    assert block["id"].startswith("toolu_")


def test_a_tool_named_in_the_prompt_is_not_called(http: httpx.Client) -> None:
    # Claude Code names its tools in every prompt: only a forced tool_choice calls one.
    asked = claude(tools=[TOOL], messages=[{"role": "user", "content": "use get_weather"}])
    body = http.post("/v1/messages", json=asked, headers=ANTHROPIC_AUTH).json()
    assert [b["type"] for b in body["content"]] == ["text"]
    assert body["stop_reason"] == "end_turn"


def test_anthropic_tool_result_gets_the_closing_answer(http: httpx.Client) -> None:
    result = {"type": "tool_result", "tool_use_id": "toolu_1", "content": "sunny"}
    asked = claude(tools=[TOOL], messages=[{"role": "user", "content": [result]}])
    body = http.post("/v1/messages", json=asked, headers=ANTHROPIC_AUTH).json()
    assert body["content"] == [{"type": "text", "text": TOOL_RESULT_REPLY}]


def test_anthropic_stream_with_thinking_and_tool_use(http: httpx.Client) -> None:
    asked = claude(
        stream=True,
        thinking={"type": "enabled", "budget_tokens": 1024},
        tools=[TOOL],
        tool_choice={"type": "tool", "name": "get_weather"},
    )
    seen = events(http.post("/v1/messages", json=asked, headers=ANTHROPIC_AUTH).text)
    assert [name for name, _ in seen] == [
        "message_start",
        "content_block_start",
        "content_block_delta",
        "content_block_delta",
        "content_block_stop",
        "content_block_start",
        "content_block_delta",
        "content_block_stop",
        "message_delta",
        "message_stop",
    ]
    deltas = [data["delta"] for name, data in seen if name == "content_block_delta"]
    assert deltas == [
        {
            "type": "thinking_delta",
            "thinking": "The user wants a short greeting; the fake provider answers it.",
        },
        {"type": "signature_delta", "signature": SIGNATURE},
        {"type": "input_json_delta", "partial_json": '{"city": "fake", "days": 1}'},
    ]
    assert seen[-2][1]["delta"]["stop_reason"] == "tool_use"


def test_cache_control_reports_cache_creation_tokens(http: httpx.Client) -> None:
    system = [
        {"type": "text", "text": "four words of system", "cache_control": {"type": "ephemeral"}}
    ]
    body = http.post("/v1/messages", json=claude(system=system), headers=ANTHROPIC_AUTH).json()
    assert body["usage"]["cache_creation_input_tokens"] == 4
    assert body["usage"]["cache_read_input_tokens"] == 0


def test_count_tokens(http: httpx.Client, fake: FakeProvider) -> None:
    response = http.post("/v1/messages/count_tokens", json=claude(), headers=ANTHROPIC_AUTH)
    assert response.json() == {"input_tokens": 2}
    denied = http.post(
        "/v1/messages/count_tokens", json=claude(), headers={"anthropic-version": "2023-06-01"}
    )
    assert denied.status_code == 401
    assert denied.json()["error"] == {
        "type": "authentication_error",
        "message": "x-api-key header is required",
    }
    assert [r.path for r in fake.requests()] == ["/v1/messages/count_tokens"] * 2


def test_openai_tool_call_streamed(http: httpx.Client) -> None:
    asked = {
        "model": "gpt-4o-mini",
        "stream": True,
        "tools": [OPENAI_TOOL],
        "tool_choice": "required",
        "messages": [{"role": "user", "content": "weather"}],
    }
    lines = [
        line[6:]
        for line in http.post(
            "/v1/chat/completions", json=asked, headers=OPENAI_AUTH
        ).text.splitlines()
        if line.startswith("data: ")
    ]
    assert lines[-1] == "[DONE]"
    chunks = [json.loads(line) for line in lines[:-1]]
    call = chunks[1]["choices"][0]["delta"]["tool_calls"][0]
    assert (call["index"], call["function"]["name"], json.loads(call["function"]["arguments"])) == (
        0,
        "get_weather",
        {"city": "fake", "days": 1},
    )
    assert chunks[-1]["choices"][0]["finish_reason"] == "tool_calls"


def test_openai_json_schema_mode(http: httpx.Client) -> None:
    schema = {
        "type": "object",
        "properties": {"answer": {"type": "string"}, "ok": {"type": "boolean"}},
    }
    fmt = {"type": "json_schema", "json_schema": {"name": "r", "schema": schema}}
    asked = {
        "model": "gpt-4o-mini",
        "response_format": fmt,
        "messages": [{"role": "user", "content": "x"}],
    }
    body = http.post("/v1/chat/completions", json=asked, headers=OPENAI_AUTH).json()
    assert json.loads(body["choices"][0]["message"]["content"]) == {"answer": "fake", "ok": True}


@pytest.mark.parametrize("encoding", ["float", "base64"])
def test_embeddings(http: httpx.Client, encoding: str) -> None:
    asked = {
        "model": "text-embedding-3-small",
        "input": ["a b", "c"],
        "dimensions": 4,
        "encoding_format": encoding,
    }
    body = http.post("/v1/embeddings", json=asked, headers=OPENAI_AUTH).json()
    vectors = [item["embedding"] for item in body["data"]]
    if encoding == "base64":
        vectors = [list(struct.unpack("<4f", base64.b64decode(v))) for v in vectors]
    assert vectors == [
        pytest.approx(embedding("a b", 4), abs=1e-6),
        pytest.approx(embedding("c", 4), abs=1e-6),
    ]
    assert body["usage"] == {"prompt_tokens": 3, "total_tokens": 3}
    assert embedding("a b", 4) == embedding("a b", 4) != embedding("c", 4)
