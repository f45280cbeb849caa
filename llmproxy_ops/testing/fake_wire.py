"""Response bodies of the three real wire formats the fake provider speaks.

Pure functions of (model, reply pieces, token counts): the server decides *what* to answer,
this module only knows how OpenAI, Anthropic and Gemini spell it on the wire, so a stock
client (LiteLLM) parses the answers unchanged.
"""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Iterable, Sequence
from typing import Any, Final

REPLY_WORDS: Final = ("Hello", "from", "the", "fake", "provider.")

OPENAI: Final = "openai"
ANTHROPIC: Final = "anthropic"
GEMINI: Final = "gemini"

# Per status: (OpenAI type, OpenAI code, Anthropic type, Google status, message).
_ERRORS: Final[dict[int, tuple[str, str | None, str, str, str]]] = {
    400: (
        "invalid_request_error",
        None,
        "invalid_request_error",
        "INVALID_ARGUMENT",
        "Invalid request.",
    ),
    401: (
        "invalid_request_error",
        "invalid_api_key",
        "authentication_error",
        "UNAUTHENTICATED",
        "Incorrect API key provided.",
    ),
    403: (
        "invalid_request_error",
        None,
        "permission_error",
        "PERMISSION_DENIED",
        "Permission denied.",
    ),
    404: ("invalid_request_error", "model_not_found", "not_found_error", "NOT_FOUND", "Not found."),
    429: (
        "requests",
        "rate_limit_exceeded",
        "rate_limit_error",
        "RESOURCE_EXHAUSTED",
        "Rate limit reached (fake provider).",
    ),
    500: (
        "server_error",
        None,
        "api_error",
        "INTERNAL",
        "The server had an error while processing your request (fake provider).",
    ),
    502: ("server_error", None, "api_error", "UNAVAILABLE", "Bad gateway (fake provider)."),
    503: (
        "server_error",
        None,
        "overloaded_error",
        "UNAVAILABLE",
        "The service is temporarily overloaded (fake provider).",
    ),
    504: ("server_error", None, "api_error", "DEADLINE_EXCEEDED", "Timeout (fake provider)."),
    529: ("server_error", None, "overloaded_error", "UNAVAILABLE", "Overloaded (fake provider)."),
}
ERROR_STATUSES: Final = frozenset(_ERRORS)


def reply_pieces(count: int) -> list[str]:
    """The reply split in `count` stream pieces; joined they give the non-streaming text."""
    return [("" if i == 0 else " ") + REPLY_WORDS[i % len(REPLY_WORDS)] for i in range(count)]


def new_id(prefix: str) -> str:
    return f"{prefix}{uuid.uuid4().hex[:24]}"


def dumps(payload: Any) -> bytes:
    return json.dumps(payload, separators=(",", ":")).encode()


def error_body(provider: str, status: int, message: str | None = None) -> dict[str, Any]:
    """The error JSON each provider returns for `status`."""
    oa_type, oa_code, an_type, g_status, default = _ERRORS.get(status, _ERRORS[500])
    text = message or default
    if provider == ANTHROPIC:
        return {"type": "error", "error": {"type": an_type, "message": text}}
    if provider == GEMINI:
        return {"error": {"code": status, "message": text, "status": g_status}}
    return {"error": {"message": text, "type": oa_type, "param": None, "code": oa_code}}


# --- OpenAI chat completions ----------------------------------------------------------


def openai_usage(prompt_tokens: int, completion_tokens: int) -> dict[str, int]:
    return {
        "prompt_tokens": prompt_tokens,
        "completion_tokens": completion_tokens,
        "total_tokens": prompt_tokens + completion_tokens,
    }


def openai_completion(model: str, pieces: Sequence[str], prompt_tokens: int) -> dict[str, Any]:
    message = {"role": "assistant", "content": "".join(pieces), "refusal": None}
    return {
        "id": new_id("chatcmpl-"),
        "object": "chat.completion",
        "created": int(time.time()),
        "model": model,
        "choices": [{"index": 0, "message": message, "logprobs": None, "finish_reason": "stop"}],
        "usage": openai_usage(prompt_tokens, len(pieces)),
        "system_fingerprint": "fp_fake",
    }


def openai_stream(
    model: str, pieces: Sequence[str], prompt_tokens: int, include_usage: bool
) -> list[bytes]:
    """SSE events: role chunk, one chunk per piece, finish chunk, [usage chunk], [DONE]."""
    base = {
        "id": new_id("chatcmpl-"),
        "object": "chat.completion.chunk",
        "created": int(time.time()),
        "model": model,
        "system_fingerprint": "fp_fake",
    }

    def chunk(delta: dict[str, Any], finish: str | None) -> dict[str, Any]:
        choice = {"index": 0, "delta": delta, "logprobs": None, "finish_reason": finish}
        extra = {"usage": None} if include_usage else {}
        return {**base, "choices": [choice], **extra}

    chunks = [chunk({"role": "assistant", "content": "", "refusal": None}, None)]
    chunks += [chunk({"content": piece}, None) for piece in pieces]
    chunks.append(chunk({}, "stop"))
    if include_usage:
        chunks.append({**base, "choices": [], "usage": openai_usage(prompt_tokens, len(pieces))})
    return [b"data: " + dumps(c) + b"\n\n" for c in chunks] + [b"data: [DONE]\n\n"]


def openai_models(models: Iterable[str]) -> dict[str, Any]:
    data = [{"id": m, "object": "model", "created": 1700000000, "owned_by": "fake"} for m in models]
    return {"object": "list", "data": data}


# --- Anthropic Messages ---------------------------------------------------------------


def anthropic_message(model: str, pieces: Sequence[str], input_tokens: int) -> dict[str, Any]:
    return {
        "id": new_id("msg_"),
        "type": "message",
        "role": "assistant",
        "model": model,
        "content": [{"type": "text", "text": "".join(pieces)}],
        "stop_reason": "end_turn",
        "stop_sequence": None,
        "usage": {"input_tokens": input_tokens, "output_tokens": len(pieces)},
    }


def anthropic_event(name: str, payload: dict[str, Any]) -> bytes:
    return b"event: " + name.encode() + b"\ndata: " + dumps(payload) + b"\n\n"


def anthropic_stream(model: str, pieces: Sequence[str], input_tokens: int) -> list[bytes]:
    """The event sequence of Anthropic's Messages streaming API, one text block."""
    start = anthropic_message(model, [], input_tokens)
    start.update(
        content=[], stop_reason=None, usage={"input_tokens": input_tokens, "output_tokens": 1}
    )
    events = [
        anthropic_event("message_start", {"type": "message_start", "message": start}),
        anthropic_event(
            "content_block_start",
            {
                "type": "content_block_start",
                "index": 0,
                "content_block": {"type": "text", "text": ""},
            },
        ),
        anthropic_event("ping", {"type": "ping"}),
    ]
    events += [
        anthropic_event(
            "content_block_delta",
            {
                "type": "content_block_delta",
                "index": 0,
                "delta": {"type": "text_delta", "text": piece},
            },
        )
        for piece in pieces
    ]
    events += [
        anthropic_event("content_block_stop", {"type": "content_block_stop", "index": 0}),
        anthropic_event(
            "message_delta",
            {
                "type": "message_delta",
                "delta": {"stop_reason": "end_turn", "stop_sequence": None},
                "usage": {"output_tokens": len(pieces)},
            },
        ),
        anthropic_event("message_stop", {"type": "message_stop"}),
    ]
    return events


def anthropic_models(models: Iterable[str]) -> dict[str, Any]:
    data = [
        {"type": "model", "id": m, "display_name": m, "created_at": "2025-01-01T00:00:00Z"}
        for m in models
    ]
    first, last = (data[0]["id"], data[-1]["id"]) if data else (None, None)
    return {"data": data, "has_more": False, "first_id": first, "last_id": last}


# --- Gemini generateContent -----------------------------------------------------------


def gemini_usage(prompt_tokens: int, candidate_tokens: int) -> dict[str, int]:
    return {
        "promptTokenCount": prompt_tokens,
        "candidatesTokenCount": candidate_tokens,
        "totalTokenCount": prompt_tokens + candidate_tokens,
    }


def _gemini_candidate(text: str, finish: str | None) -> dict[str, Any]:
    candidate: dict[str, Any] = {
        "content": {"parts": [{"text": text}], "role": "model"},
        "index": 0,
    }
    if finish:
        candidate["finishReason"] = finish
    return candidate


def gemini_response(model: str, pieces: Sequence[str], prompt_tokens: int) -> dict[str, Any]:
    return {
        "candidates": [_gemini_candidate("".join(pieces), "STOP")],
        "usageMetadata": gemini_usage(prompt_tokens, len(pieces)),
        "modelVersion": model,
        "responseId": new_id(""),
    }


def gemini_stream_payloads(
    model: str, pieces: Sequence[str], prompt_tokens: int
) -> list[dict[str, Any]]:
    """One GenerateContentResponse per piece; the last carries finishReason and usage."""
    response_id = new_id("")
    payloads = []
    for i, piece in enumerate(pieces):
        last = i == len(pieces) - 1
        payload: dict[str, Any] = {
            "candidates": [_gemini_candidate(piece, "STOP" if last else None)]
        }
        if last:
            payload["usageMetadata"] = gemini_usage(prompt_tokens, len(pieces))
        payload.update(modelVersion=model, responseId=response_id)
        payloads.append(payload)
    return payloads


def gemini_sse(payloads: Sequence[dict[str, Any]]) -> list[bytes]:
    # Google separates SSE events with CRLF pairs; clients must accept both line endings.
    return [b"data: " + dumps(p) + b"\r\n\r\n" for p in payloads]


def gemini_json_array(payloads: Sequence[dict[str, Any]]) -> list[bytes]:
    """streamGenerateContent without alt=sse: one JSON array written element by element."""
    parts = [(b"[" if i == 0 else b",\r\n") + dumps(p) for i, p in enumerate(payloads)]
    return [*parts, b"]"] if parts else [b"[]"]
