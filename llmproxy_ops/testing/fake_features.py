"""What real SDK clients and Claude Code ask beyond plain text: tools, JSON mode, thinking,
prompt caching, embeddings and token counting, answered in each provider's wire format.

Kept apart from fake_wire (plain replies) so the plain path stays the benchmark's hot path:
`render_features` returns None for a request that uses none of this, and the server falls
back to the plain reply.

The fake calls a tool only when the client forces one (OpenAI `tool_choice` "required" or
a named function, Anthropic `tool_choice` "any" or a named tool): a real agent (Claude Code
sends its tools, and prompts naming them, with every request) must never be driven into
running one of its tools by a fake answer.
"""

from __future__ import annotations

import base64
import hashlib
import json
import struct
from collections.abc import Sequence
from typing import Any, Final

from aiohttp import web

from llmproxy_ops.testing import fake_wire as wire
from llmproxy_ops.testing.fake_calls import STATE, Call, auth_failure, provider_error

THINKING_TEXT: Final = "The user wants a short greeting; the fake provider answers it."
SIGNATURE: Final = "fake-signature-EqQBCkYIBxgCKkA"
EMBEDDING_DIMENSIONS: Final = 8
TOOL_RESULT_REPLY: Final = "The tool answered; the fake provider is done."


# --- what a request asks for ------------------------------------------------------------


def tool_to_call(call: Call) -> dict[str, Any] | None:
    """The tool the fake answers with ({"name", "schema"}), or None for a text answer."""
    body = call.body if isinstance(call.body, dict) else {}
    tools = _tools(call.provider, body)
    if not tools or _after_tool_result(call.provider, body):
        return None
    return _forced_tool(call.provider, body.get("tool_choice"), tools)


def _tools(provider: str, body: dict[str, Any]) -> list[dict[str, Any]]:
    found = []
    for tool in body.get("tools") or []:
        if not isinstance(tool, dict):
            continue
        if provider == wire.OPENAI and isinstance(tool.get("function"), dict):
            function = tool["function"]
            found.append({"name": str(function.get("name")), "schema": function.get("parameters")})
        elif provider == wire.ANTHROPIC and "input_schema" in tool:
            found.append({"name": str(tool.get("name")), "schema": tool["input_schema"]})
    return found


def _forced_tool(provider: str, choice: Any, tools: list[dict[str, Any]]) -> dict[str, Any] | None:
    if choice == "required" or (isinstance(choice, dict) and choice.get("type") == "any"):
        return tools[0]
    if not isinstance(choice, dict):
        return None
    name = choice.get("name") if provider == wire.ANTHROPIC else None
    if isinstance(choice.get("function"), dict):
        name = choice["function"].get("name")
    return next((tool for tool in tools if tool["name"] == name), None)


def _after_tool_result(provider: str, body: dict[str, Any]) -> bool:
    messages = body.get("messages") or []
    last = messages[-1] if messages and isinstance(messages[-1], dict) else {}
    if provider == wire.OPENAI:
        return last.get("role") == "tool"
    content = last.get("content")
    return isinstance(content, list) and any(
        isinstance(block, dict) and block.get("type") == "tool_result" for block in content
    )


def wants_thinking(call: Call) -> bool:
    thinking = call.body.get("thinking") if isinstance(call.body, dict) else None
    return isinstance(thinking, dict) and thinking.get("type") in ("enabled", "adaptive")


def json_mode(call: Call) -> dict[str, Any] | None:
    """The OpenAI response_format asking for JSON, or None."""
    fmt = call.body.get("response_format") if isinstance(call.body, dict) else None
    if isinstance(fmt, dict) and fmt.get("type") in ("json_object", "json_schema"):
        return fmt
    return None


def cached_system_tokens(call: Call) -> int:
    """Words of the Anthropic system blocks marked with cache_control (0: nothing to cache)."""
    system = call.body.get("system") if isinstance(call.body, dict) else None
    if not isinstance(system, list):
        return 0
    marked = [b for b in system if isinstance(b, dict) and "cache_control" in b]
    return sum(len(str(b.get("text", "")).split()) for b in marked)


def uses_features(call: Call) -> bool:
    body = call.body if isinstance(call.body, dict) else {}
    if call.provider == wire.ANTHROPIC:
        return bool(
            tool_to_call(call)
            or _after_tool_result(call.provider, body)
            or wants_thinking(call)
            or cached_system_tokens(call)
        )
    if call.provider == wire.OPENAI:
        return bool(
            tool_to_call(call) or _after_tool_result(call.provider, body) or json_mode(call)
        )
    return False


def sample_input(schema: Any) -> dict[str, Any]:
    """Arguments that satisfy a simple JSON schema: every property, one plain value each."""
    properties = schema.get("properties") if isinstance(schema, dict) else None
    if not isinstance(properties, dict):
        return {}
    values = {"string": "fake", "integer": 1, "number": 1.5, "boolean": True, "array": []}
    return {
        name: values.get(str(spec.get("type")), "fake") if isinstance(spec, dict) else "fake"
        for name, spec in properties.items()
    }


# --- rendering --------------------------------------------------------------------------


def render_features(call: Call, chunks: int) -> list[bytes] | None:
    """The body (one element) or SSE events for a feature request; None when plain."""
    if not uses_features(call):
        return None
    pieces = wire.reply_pieces(chunks)
    if call.provider == wire.ANTHROPIC:
        message = anthropic_feature_message(call, pieces)
        if call.stream:
            return anthropic_block_stream(message)
        return [wire.dumps(message)]
    completion = openai_feature_completion(call, pieces)
    if call.stream:
        return openai_feature_stream(completion, call.include_usage)
    return [wire.dumps(completion)]


def anthropic_feature_message(call: Call, pieces: Sequence[str]) -> dict[str, Any]:
    message = wire.anthropic_message(call.model, pieces, call.prompt_tokens)
    blocks: list[dict[str, Any]] = []
    if wants_thinking(call):
        blocks.append({"type": "thinking", "thinking": THINKING_TEXT, "signature": SIGNATURE})
    tool = tool_to_call(call)
    if tool is not None:
        blocks.append(
            {
                "type": "tool_use",
                "id": wire.new_id("toolu_"),
                "name": tool["name"],
                "input": sample_input(tool["schema"]),
            }
        )
        message["stop_reason"] = "tool_use"
    else:
        text = TOOL_RESULT_REPLY if _after_tool_result(wire.ANTHROPIC, call.body) else None
        blocks.append({"type": "text", "text": text or "".join(pieces)})
    message["content"] = blocks
    cached = cached_system_tokens(call)
    if cached:
        message["usage"].update(cache_creation_input_tokens=cached, cache_read_input_tokens=0)
    return message


def anthropic_block_stream(message: dict[str, Any]) -> list[bytes]:
    """Anthropic's event sequence for any content blocks (text, thinking, tool_use)."""
    start = {**message, "content": [], "stop_reason": None}
    start["usage"] = {**message["usage"], "output_tokens": 1}
    events = [wire.anthropic_event("message_start", {"type": "message_start", "message": start})]
    for index, block in enumerate(message["content"]):
        events += _block_events(index, block)
    events += [
        wire.anthropic_event(
            "message_delta",
            {
                "type": "message_delta",
                "delta": {"stop_reason": message["stop_reason"], "stop_sequence": None},
                "usage": {"output_tokens": message["usage"]["output_tokens"]},
            },
        ),
        wire.anthropic_event("message_stop", {"type": "message_stop"}),
    ]
    return events


def _block_events(index: int, block: dict[str, Any]) -> list[bytes]:
    kind = block["type"]
    if kind == "thinking":
        empty: dict[str, Any] = {"type": "thinking", "thinking": "", "signature": ""}
        deltas = [
            {"type": "thinking_delta", "thinking": block["thinking"]},
            {"type": "signature_delta", "signature": block["signature"]},
        ]
    elif kind == "tool_use":
        empty = {**block, "input": {}}
        deltas = [{"type": "input_json_delta", "partial_json": json.dumps(block["input"])}]
    else:
        empty = {"type": "text", "text": ""}
        deltas = [{"type": "text_delta", "text": word} for word in _split(block["text"])]
    events = [
        wire.anthropic_event(
            "content_block_start",
            {"type": "content_block_start", "index": index, "content_block": empty},
        )
    ]
    events += [
        wire.anthropic_event(
            "content_block_delta", {"type": "content_block_delta", "index": index, "delta": d}
        )
        for d in deltas
    ]
    events.append(
        wire.anthropic_event("content_block_stop", {"type": "content_block_stop", "index": index})
    )
    return events


def _split(text: str) -> list[str]:
    words = text.split(" ")
    return [("" if i == 0 else " ") + word for i, word in enumerate(words)]


def openai_feature_completion(call: Call, pieces: Sequence[str]) -> dict[str, Any]:
    completion = wire.openai_completion(call.model, pieces, call.prompt_tokens)
    choice = completion["choices"][0]
    tool = tool_to_call(call)
    if tool is not None:
        choice["message"]["content"] = None
        choice["message"]["tool_calls"] = [
            {
                "id": wire.new_id("call_"),
                "type": "function",
                "function": {
                    "name": tool["name"],
                    "arguments": json.dumps(sample_input(tool["schema"])),
                },
            }
        ]
        choice["finish_reason"] = "tool_calls"
        return completion
    if _after_tool_result(wire.OPENAI, call.body):
        choice["message"]["content"] = TOOL_RESULT_REPLY
        return completion
    fmt = json_mode(call) or {}
    schema = (fmt.get("json_schema") or {}).get("schema")
    payload = sample_input(schema) if schema else {"reply": "".join(pieces)}
    choice["message"]["content"] = json.dumps(payload)
    return completion


def openai_feature_stream(completion: dict[str, Any], include_usage: bool) -> list[bytes]:
    """Chunks of one feature completion: role, the content or tool calls whole, finish."""
    message, finish = completion["choices"][0]["message"], completion["choices"][0]["finish_reason"]
    base = {k: completion[k] for k in ("id", "created", "model", "system_fingerprint")}
    base["object"] = "chat.completion.chunk"

    def chunk(delta: dict[str, Any], reason: str | None) -> dict[str, Any]:
        return {
            **base,
            "choices": [{"index": 0, "delta": delta, "logprobs": None, "finish_reason": reason}],
        }

    chunks = [chunk({"role": "assistant", "content": ""}, None)]
    if message.get("tool_calls"):
        calls = [{"index": i, **c} for i, c in enumerate(message["tool_calls"])]
        chunks.append(chunk({"tool_calls": calls}, None))
    else:
        chunks.append(chunk({"content": message["content"]}, None))
    chunks.append(chunk({}, finish))
    if include_usage:
        chunks.append({**base, "choices": [], "usage": completion["usage"]})
    return [b"data: " + wire.dumps(c) + b"\n\n" for c in chunks] + [b"data: [DONE]\n\n"]


# --- extra routes: embeddings and token counting ----------------------------------------


def embedding(text: str, dimensions: int) -> list[float]:
    """A deterministic unit-free vector per text (same text, same vector)."""
    digest = hashlib.sha256(text.encode()).digest() * (dimensions // 32 + 1)
    return [round(b / 255 - 0.5, 6) for b in digest[:dimensions]]


def openai_embeddings(model: str, body: dict[str, Any]) -> dict[str, Any]:
    raw = body.get("input")
    texts = [raw] if isinstance(raw, str) else list(raw or [])
    dims = body.get("dimensions")
    dims = dims if isinstance(dims, int) and dims > 0 else EMBEDDING_DIMENSIONS
    base64_wanted = body.get("encoding_format") == "base64"
    data = []
    for index, text in enumerate(texts):
        vector = embedding(json.dumps(text) if not isinstance(text, str) else text, dims)
        encoded: Any = vector
        if base64_wanted:
            encoded = base64.b64encode(struct.pack(f"<{dims}f", *vector)).decode()
        data.append({"object": "embedding", "index": index, "embedding": encoded})
    tokens = sum(len(str(t).split()) for t in texts)
    return {
        "object": "list",
        "data": data,
        "model": model,
        "usage": {"prompt_tokens": tokens, "total_tokens": tokens},
    }


async def handle_embeddings(request: web.Request) -> web.StreamResponse:
    return await _serve_simple(
        request, wire.OPENAI, lambda call: openai_embeddings(call.model, call.body)
    )


async def handle_count_tokens(request: web.Request) -> web.StreamResponse:
    return await _serve_simple(
        request, wire.ANTHROPIC, lambda call: {"input_tokens": call.prompt_tokens}
    )


async def _serve_simple(request: web.Request, provider: str, answer: Any) -> web.StreamResponse:
    """Parse, record, check auth and answer JSON; the fault knobs apply as for chat."""
    try:
        body = await request.json()
    except ValueError:
        return provider_error(provider, 400, "The request body is not valid JSON.")
    if not isinstance(body, dict):
        return provider_error(provider, 400, "The request body must be a JSON object.")
    call = Call.from_request(
        request, provider=provider, model=str(body.get("model", "")), stream=False, body=body
    )
    state = request.app[STATE]
    entry = call.record() if state.record_requests else None
    if entry is not None:
        state.record(entry)
    plan = state.plan(call.model)
    response = auth_failure(state, call)
    if response is None and plan.status is not None:
        response = provider_error(provider, plan.status)
    if response is None:
        response = web.json_response(answer(call))
    if entry is not None:
        entry.status = response.status
    return response


def add_feature_routes(app: web.Application, prefix: str) -> None:
    """Embeddings (OpenAI) and count_tokens (Anthropic), under any api_base prefix."""
    app.router.add_post("/" + prefix + "embeddings", handle_embeddings)
    app.router.add_post("/" + prefix + "v1/messages/count_tokens", handle_count_tokens)
