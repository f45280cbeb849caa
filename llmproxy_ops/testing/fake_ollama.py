"""Ollama's own wire format, as the fake provider speaks it (LiteLLM's ollama/, ollama_chat/).

    POST {base}/api/chat       ollama_chat/ route: {"message": {...}} per chunk
    POST {base}/api/generate   ollama/ route:      {"response": "..."} per chunk
    GET  {base}/api/tags       the pulled models
    POST {base}/api/show       model details (LiteLLM asks for the context length)

Streaming is NDJSON (one JSON object per line, the last with "done": true), and, as in
Ollama, a request that does not say "stream": false streams. No auth: Ollama has none.
Fault knobs and model-name triggers of the fake apply; errors are Ollama's {"error": "..."}.
"""

from __future__ import annotations

import asyncio
import hashlib
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any, Final

from aiohttp import web

from llmproxy_ops.testing import fake_wire as wire
from llmproxy_ops.testing.fake_calls import STATE, Call
from llmproxy_ops.testing.fake_state import FakeState, Plan

OLLAMA: Final = "ollama"
PULLED: Final = ("llama3.2:latest",)
_PREFIX: Final = "/{prefix:(?:[^{}]+/)?}api/"


def add_routes(app: web.Application) -> None:
    app.router.add_post(_PREFIX + "chat", handle_chat)
    app.router.add_post(_PREFIX + "generate", handle_generate)
    app.router.add_get(_PREFIX + "tags", handle_tags)
    app.router.add_post(_PREFIX + "show", handle_show)


def _error(status: int, message: str) -> web.Response:
    return web.json_response({"error": message}, status=status)


def _now() -> str:
    return datetime.now(UTC).isoformat().replace("+00:00", "Z")


async def _parse(request: web.Request) -> Call | web.Response:
    try:
        body = await request.json()
    except ValueError:
        return _error(400, "invalid character in request body")
    if not isinstance(body, dict):
        return _error(400, "json: cannot unmarshal request body into a request object")
    if not body.get("model"):
        return _error(400, "model is required")
    return Call.from_request(
        request,
        provider=OLLAMA,
        model=str(body["model"]),
        stream=body.get("stream", True) is not False,
        body=body,
    )


async def handle_chat(request: web.Request) -> web.StreamResponse:
    return await _serve(request, await _parse(request), chat=True)


async def handle_generate(request: web.Request) -> web.StreamResponse:
    return await _serve(request, await _parse(request), chat=False)


async def _serve(
    request: web.Request, call: Call | web.Response, *, chat: bool
) -> web.StreamResponse:
    if isinstance(call, web.Response):
        return call
    state: FakeState = request.app[STATE]
    entry = call.record()
    state.record(entry)
    response = await _answer(request, call, state.plan(call.model), chat=chat)
    entry.status = response.status
    return response


async def _answer(
    request: web.Request, call: Call, plan: Plan, *, chat: bool
) -> web.StreamResponse:
    if plan.latency_ms:
        await asyncio.sleep(plan.latency_ms / 1000)
    if plan.status is not None:
        return _error(plan.status, f"fake provider: injected status {plan.status}")
    lines = _lines(call, wire.reply_pieces(plan.chunks), chat=chat)
    if not call.stream:
        return web.Response(body=lines[-1], content_type="application/json")
    response = web.StreamResponse(headers={"Content-Type": "application/x-ndjson"})
    await response.prepare(request)
    for line in lines:
        await response.write(line)
        if plan.chunk_delay_ms:
            await asyncio.sleep(plan.chunk_delay_ms / 1000)
    await response.write_eof()
    return response


def _lines(call: Call, pieces: Sequence[str], *, chat: bool) -> list[bytes]:
    """NDJSON lines when streaming; else one object holding the whole reply."""
    final = _final(call, len(pieces))
    if not call.stream:
        return [wire.dumps({**_piece(call.model, "".join(pieces), chat=chat), **final}) + b"\n"]
    lines = [
        wire.dumps({**_piece(call.model, text, chat=chat), "done": False}) + b"\n"
        for text in pieces
    ]
    return [*lines, wire.dumps({**_piece(call.model, "", chat=chat), **final}) + b"\n"]


def _piece(model: str, text: str, *, chat: bool) -> dict[str, Any]:
    head: dict[str, Any] = {"model": model, "created_at": _now()}
    if chat:
        head["message"] = {"role": "assistant", "content": text}
    else:
        head["response"] = text
    return head


def _final(call: Call, completion_tokens: int) -> dict[str, Any]:
    """The closing fields: Ollama reports usage as eval counts and durations in ns."""
    return {
        "done": True,
        "done_reason": "stop",
        "total_duration": 1_000_000,
        "load_duration": 100_000,
        "prompt_eval_count": call.prompt_tokens,
        "prompt_eval_duration": 200_000,
        "eval_count": completion_tokens,
        "eval_duration": 700_000,
    }


async def handle_tags(request: web.Request) -> web.Response:
    models = [
        {
            "name": name,
            "model": name,
            "modified_at": _now(),
            "size": 2019393189,
            "digest": hashlib.sha256(name.encode()).hexdigest(),
            "details": _details(),
        }
        for name in PULLED
    ]
    return web.json_response({"models": models})


async def handle_show(request: web.Request) -> web.Response:
    try:
        body = await request.json()
    except ValueError:
        return _error(400, "invalid character in request body")
    name = str(body.get("model") or body.get("name") or "") if isinstance(body, dict) else ""
    if not name:
        return _error(400, "model is required")
    return web.json_response(
        {
            "modelfile": f"FROM {name}\n",
            "parameters": 'stop "<|eot_id|>"',
            "template": "{{ if .Tools }}tools{{ end }}{{ .Prompt }}",
            "details": _details(),
            "model_info": {"general.architecture": "llama", "llama.context_length": 131072},
            "modified_at": _now(),
            "capabilities": ["completion", "tools"],
        }
    )


def _details() -> dict[str, Any]:
    return {
        "format": "gguf",
        "family": "llama",
        "families": ["llama"],
        "parameter_size": "3.2B",
        "quantization_level": "Q4_K_M",
    }
