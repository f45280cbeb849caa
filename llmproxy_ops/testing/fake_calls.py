"""Reading one provider request: body, model, stream flag, credentials, and auth checks."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from typing import Any, Final

from aiohttp import web

from llmproxy_ops.testing import fake_wire as wire
from llmproxy_ops.testing.fake_state import FakeState, RecordedRequest

STATE: Final = web.AppKey("state", FakeState)
STOPPING: Final = web.AppKey("stopping", asyncio.Event)
MODELS: Final = web.AppKey("models", tuple)
FAST: Final = web.AppKey("fast", bool)
# Rendered bodies by request shape; only filled in fast mode.
RENDER_CACHE: Final = web.AppKey("render_cache", dict)

_GEMINI_ACTIONS: Final = ("generateContent", "streamGenerateContent")
# Keys whose string values are prompt text in all three formats (roles, types, ids are not).
_TEXT_KEYS: Final = frozenset({"content", "text", "system"})


@dataclass
class Call:
    """One provider request as parsed from the wire."""

    provider: str
    model: str
    stream: bool
    path: str
    query: str
    headers: dict[str, str]
    body: Any
    auth_header: str | None
    auth_value: str | None
    api_key: str | None
    include_usage: bool = False
    sse: bool = True

    @classmethod
    def from_request(
        cls, request: web.Request, *, provider: str, model: str, stream: bool, body: Any
    ) -> Call:
        header, value, key = _credentials(request, provider)
        return cls(
            provider=provider,
            model=model,
            stream=stream,
            path=request.path,
            query=request.query_string,
            headers={k.lower(): v for k, v in request.headers.items()},
            body=body,
            auth_header=header,
            auth_value=value,
            api_key=key,
        )

    @property
    def prompt_tokens(self) -> int:
        return max(1, _count_words(self.body))

    def record(self) -> RecordedRequest:
        return RecordedRequest(
            path=self.path,
            query=self.query,
            provider=self.provider,
            model=self.model,
            stream=self.stream,
            auth_header=self.auth_header,
            auth_value=self.auth_value,
            api_key=self.api_key,
            headers=self.headers,
            body=self.body,
        )


def _count_words(value: Any, counted: bool = False) -> int:
    """Rough prompt size: words in the message texts (good enough for usage numbers)."""
    if isinstance(value, str):
        return len(value.split()) if counted else 0
    if isinstance(value, list):
        return sum(_count_words(v, counted) for v in value)
    if isinstance(value, dict):
        return sum(_count_words(v, k in _TEXT_KEYS) for k, v in value.items())
    return 0


def _bearer(value: str | None) -> str | None:
    if value and value[:7].lower() == "bearer ":
        return value[7:].strip() or None
    return None


def _credentials(request: web.Request, provider: str) -> tuple[str | None, str | None, str | None]:
    """(header name, raw value, key) of the credential this provider's clients send."""
    headers = request.headers
    if provider == wire.ANTHROPIC and "x-api-key" in headers:
        return "x-api-key", headers["x-api-key"], headers["x-api-key"] or None
    if provider == wire.GEMINI:
        if "x-goog-api-key" in headers:
            return "x-goog-api-key", headers["x-goog-api-key"], headers["x-goog-api-key"] or None
        if "key" in request.query:
            return "?key", request.query["key"], request.query["key"] or None
        return None, None, None
    # OpenAI-compatible clients, and Anthropic OAuth / use_bearer_for_custom_base clients.
    value = headers.get("Authorization")
    return ("authorization", value, _bearer(value)) if value is not None else (None, None, None)


def provider_error(provider: str, status: int, message: str | None = None) -> web.Response:
    headers = {"Retry-After": "1"} if status == 429 else None
    return web.json_response(
        wire.error_body(provider, status, message), status=status, headers=headers
    )


def auth_failure(state: FakeState, call: Call) -> web.Response | None:
    """The provider's own rejection when the key is missing or not accepted, else None."""
    if not state.key_accepted(call.api_key):
        return provider_error(call.provider, 401, _auth_message(call))
    if call.provider == wire.ANTHROPIC and "anthropic-version" not in call.headers:
        return provider_error(call.provider, 400, "anthropic-version: header is required")
    return None


def _auth_message(call: Call) -> str:
    missing = call.api_key is None
    if call.provider == wire.ANTHROPIC:
        return "x-api-key header is required" if missing else "invalid x-api-key"
    if call.provider == wire.GEMINI:
        if missing:
            return "Method doesn't allow unregistered callers. Please use API Key."
        return "API key not valid. Please pass a valid API key."
    if missing:
        return "You didn't provide an API key (Authorization: Bearer YOUR_KEY)."
    return "Incorrect API key provided."


async def _json_body(request: web.Request, provider: str) -> dict[str, Any] | web.Response:
    try:
        body = await request.json()
    except ValueError:
        return provider_error(provider, 400, "The request body is not valid JSON.")
    if not isinstance(body, dict):
        return provider_error(provider, 400, "The request body must be a JSON object.")
    return body


async def _model_in_body(request: web.Request, provider: str) -> Call | web.Response:
    """OpenAI and Anthropic name the model and the stream flag in the JSON body."""
    body = await _json_body(request, provider)
    if isinstance(body, web.Response):
        return body
    return Call.from_request(
        request,
        provider=provider,
        model=str(body.get("model", "")),
        stream=bool(body.get("stream")),
        body=body,
    )


async def parse_openai(request: web.Request) -> Call | web.Response:
    call = await _model_in_body(request, wire.OPENAI)
    if isinstance(call, Call):
        options = call.body.get("stream_options")
        call.include_usage = isinstance(options, dict) and bool(options.get("include_usage"))
    return call


async def parse_anthropic(request: web.Request) -> Call | web.Response:
    return await _model_in_body(request, wire.ANTHROPIC)


async def parse_gemini(request: web.Request) -> Call | web.Response:
    model, _, action = request.match_info["target"].partition(":")
    if action not in _GEMINI_ACTIONS:
        return provider_error(wire.GEMINI, 404, f"Method {action!r} is not served by the fake.")
    body = await _json_body(request, wire.GEMINI)
    if isinstance(body, web.Response):
        return body
    call = Call.from_request(
        request,
        provider=wire.GEMINI,
        model=model,
        stream=action == "streamGenerateContent",
        body=body,
    )
    call.sse = request.query.get("alt") == "sse"
    return call
