"""Fake LLM provider: OpenAI-, Anthropic- and Gemini-compatible upstream with fault injection.

The one stand-in of the project (real providers are unreachable here). It speaks the real
wire formats so the stock LiteLLM proxy talks to it with only `api_base` changed:

    OpenAI     POST {base}/chat/completions   (any prefix: /v1, /api/v1, /inference...)
               GET  /v1/models, /models        Authorization: Bearer <key>
    Anthropic  POST {base}/v1/messages         x-api-key (or Bearer) + anthropic-version
               POST {base}/v1/messages/count_tokens
    OpenAI     POST {base}/embeddings
    Tools, JSON mode, thinking blocks and cache_control: see fake_features.
    Gemini     POST {base}/models/{model}:generateContent | :streamGenerateContent[?alt=sse]
               (LiteLLM appends /models/... to api_base, so use api_base={url}/v1beta)
               x-goog-api-key header or ?key=
    GitHub     device login + Copilot chat (fake_copilot.py)
    Ollama     POST {base}/api/chat | /api/generate, NDJSON streams (fake_ollama.py)

Admin API (no auth): POST /_fake/config, GET /_fake/config, POST /_fake/reset,
GET /_fake/requests, GET /_fake/health. Model names containing `fail-429|500|503`,
`slow-<ms>` or `drip-<chunks>x<ms>` (a slow stream) inject faults without the admin API.

Run: python -m llmproxy_ops.testing.fake_provider --host 127.0.0.1 --port 9000 [--key K] [--fast]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import threading
from collections.abc import Sequence
from dataclasses import asdict
from types import TracebackType
from typing import Any, Final

from aiohttp import web

from llmproxy_ops.testing import fake_copilot, fake_ollama
from llmproxy_ops.testing import fake_wire as wire
from llmproxy_ops.testing.fake_calls import (
    FAST,
    MODELS,
    RENDER_CACHE,
    STATE,
    STOPPING,
    Call,
    auth_failure,
    parse_anthropic,
    parse_gemini,
    parse_openai,
    provider_error,
)
from llmproxy_ops.testing.fake_features import add_feature_routes, render_features
from llmproxy_ops.testing.fake_state import FakeState, Plan, RecordedRequest

DEFAULT_MODELS: Final = ("gpt-4o-mini", "claude-sonnet-4-5-20250929", "gemini-2.5-flash")
MAX_HANG_S: Final = 600.0
_MALFORMED_JSON: Final = b'{"id": "broken", "choices": [{'
_RENDER_CACHE_LIMIT: Final = 4096


# --- provider routes ------------------------------------------------------------------


async def handle_openai(request: web.Request) -> web.StreamResponse:
    return await _serve(request, await parse_openai(request))


async def handle_anthropic(request: web.Request) -> web.StreamResponse:
    return await _serve(request, await parse_anthropic(request))


async def handle_gemini(request: web.Request) -> web.StreamResponse:
    return await _serve(request, await parse_gemini(request))


async def handle_models(request: web.Request) -> web.StreamResponse:
    """GET /v1/models in OpenAI's shape, or Anthropic's when the client is an Anthropic one."""
    anthropic = "anthropic-version" in request.headers or "x-api-key" in request.headers
    provider = wire.ANTHROPIC if anthropic else wire.OPENAI
    call = Call.from_request(request, provider=provider, model="", stream=False, body=None)
    denied = auth_failure(request.app[STATE], call)
    if denied is not None:
        return denied
    models = request.app[MODELS]
    body = wire.anthropic_models(models) if anthropic else wire.openai_models(models)
    return web.json_response(body)


async def _serve(request: web.Request, call: Call | web.Response) -> web.StreamResponse:
    if isinstance(call, web.Response):
        return call  # the body did not parse: already a provider-shaped 400
    state: FakeState = request.app[STATE]
    entry = call.record() if state.record_requests else None  # fast mode skips the log
    if entry is not None:
        state.record(entry)
    response = auth_failure(state, call) or await _answer(request, call, state.plan(call.model))
    if entry is not None:
        entry.status = response.status
    return response


async def _answer(request: web.Request, call: Call, plan: Plan) -> web.StreamResponse:
    if plan.latency_ms:
        await asyncio.sleep(plan.latency_ms / 1000)
    if plan.timeout:
        await _hang(request)
        return provider_error(call.provider, 504)  # only seen if the client is still there
    if plan.status is not None:
        return provider_error(call.provider, plan.status)
    events = _render(request.app, call, plan.chunks)
    if not call.stream:
        body = _MALFORMED_JSON if plan.malformed else events[0]
        return web.Response(body=body, content_type="application/json")
    return await _stream(request, call, events, plan)


async def _hang(request: web.Request) -> None:
    """Hold the request open until the client gives up (or the server stops)."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + MAX_HANG_S
    stopping: asyncio.Event = request.app[STOPPING]
    while loop.time() < deadline and not stopping.is_set():
        transport = request.transport
        if transport is None or transport.is_closing():
            break
        await asyncio.sleep(0.05)


async def _stream(
    request: web.Request, call: Call, events: Sequence[bytes], plan: Plan
) -> web.StreamResponse:
    content_type = "text/event-stream" if call.sse else "application/json"
    response = web.StreamResponse(
        headers={"Content-Type": content_type, "Cache-Control": "no-cache"}
    )
    await response.prepare(request)
    if plan.malformed:
        # One good event, then a truncated one and no terminator: a broken stream.
        await response.write(events[0] + b'data: {"choices": [{"delta\n\n')
        return response
    if not plan.chunk_delay_ms:
        await response.write(b"".join(events))
    else:
        for event in events:
            await response.write(event)
            await asyncio.sleep(plan.chunk_delay_ms / 1000)
    await response.write_eof()
    return response


def _render(app: web.Application, call: Call, chunks: int) -> list[bytes]:
    """The body (one element) or SSE events; memoised in fast mode so ids repeat."""
    key = (
        call.provider,
        call.model,
        call.stream,
        call.include_usage,
        call.sse,
        call.prompt_tokens,
        chunks,
    )
    featured = render_features(call, chunks)
    if featured is not None:  # tools, JSON mode, thinking, caching: never memoised
        return featured
    fast, cache = app[FAST], app[RENDER_CACHE]
    if fast and key in cache:
        return list(cache[key])
    events = _render_fresh(call, wire.reply_pieces(chunks))
    if fast:
        if len(cache) >= _RENDER_CACHE_LIMIT:
            cache.clear()
        cache[key] = events
    return events


def _render_fresh(call: Call, pieces: list[str]) -> list[bytes]:
    model, tokens = call.model, call.prompt_tokens
    if call.provider == wire.ANTHROPIC:
        if call.stream:
            return wire.anthropic_stream(model, pieces, tokens)
        return [wire.dumps(wire.anthropic_message(model, pieces, tokens))]
    if call.provider == wire.GEMINI:
        if call.stream:
            payloads = wire.gemini_stream_payloads(model, pieces, tokens)
            return wire.gemini_sse(payloads) if call.sse else wire.gemini_json_array(payloads)
        return [wire.dumps(wire.gemini_response(model, pieces, tokens))]
    if call.stream:
        return wire.openai_stream(model, pieces, tokens, call.include_usage)
    return [wire.dumps(wire.openai_completion(model, pieces, tokens))]


# --- admin API ------------------------------------------------------------------------


async def admin_config(request: web.Request) -> web.Response:
    state: FakeState = request.app[STATE]
    if request.method == "POST":
        try:
            changes = await request.json()
            if not isinstance(changes, dict):
                raise ValueError("config body must be a JSON object")
            state.configure(changes)
        except (ValueError, TypeError) as exc:
            return web.json_response({"error": str(exc)}, status=400)
    return web.json_response(asdict(state.knobs))


async def admin_reset(request: web.Request) -> web.Response:
    request.app[STATE].reset()
    return web.json_response(asdict(request.app[STATE].knobs))


async def admin_requests(request: web.Request) -> web.Response:
    entries = [r.to_json() for r in request.app[STATE].requests()]
    return web.json_response({"requests": entries})


async def admin_health(request: web.Request) -> web.Response:
    return web.json_response({"status": "ok", "fast": request.app[FAST]})


def build_app(
    accepted_keys: Sequence[str] | None = None,
    *,
    fast: bool = False,
    models: Sequence[str] = DEFAULT_MODELS,
) -> web.Application:
    """The aiohttp application; `accepted_keys` None accepts any non-empty key."""
    app = web.Application(client_max_size=16 * 1024 * 1024)
    keys = frozenset(accepted_keys) if accepted_keys else None
    app[STATE] = FakeState(keys, record=not fast)
    app[STOPPING] = asyncio.Event()
    app[MODELS] = tuple(models)
    app[FAST] = fast
    app[RENDER_CACHE] = {}
    _add_routes(app)
    return app


def _add_routes(app: web.Application) -> None:
    fake_copilot.add_routes(app, _answer)  # first: its chat path would match the OpenAI one
    fake_ollama.add_routes(app)
    prefix = "{prefix:(?:[^{}]+/)?}"  # any api_base path in front of the provider path
    app.router.add_post("/" + prefix + "chat/completions", handle_openai)
    app.router.add_post("/" + prefix + "v1/messages", handle_anthropic)
    app.router.add_post("/" + prefix + "models/{target:[^/]+}", handle_gemini)
    add_feature_routes(app, prefix)
    app.router.add_get("/v1/models", handle_models)
    app.router.add_get("/models", handle_models)
    app.router.add_route("*", "/_fake/config", admin_config)
    app.router.add_post("/_fake/reset", admin_reset)
    app.router.add_get("/_fake/requests", admin_requests)
    app.router.add_get("/_fake/health", admin_health)


# --- library API ----------------------------------------------------------------------


class FakeProvider:
    """The fake served from a background thread on 127.0.0.1 and a free port."""

    def __init__(
        self,
        accepted_keys: Sequence[str] | None = None,
        *,
        fast: bool = False,
        host: str = "127.0.0.1",
        port: int = 0,
    ):
        self._app = build_app(accepted_keys, fast=fast)
        self._host, self._port = host, port
        self._loop: asyncio.AbstractEventLoop | None = None
        self._runner: web.AppRunner | None = None
        self._thread: threading.Thread | None = None
        self.url = ""

    @property
    def state(self) -> FakeState:
        return self._app[STATE]

    @property
    def openai_base(self) -> str:
        return self.url + "/v1"

    @property
    def anthropic_base(self) -> str:
        return self.url

    @property
    def gemini_base(self) -> str:
        return self.url + "/v1beta"

    def start(self) -> FakeProvider:
        if self._thread is not None:
            return self
        ready = threading.Event()
        failure: list[BaseException] = []
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(
            target=self._run, args=(ready, failure), name="fake-provider", daemon=True
        )
        self._thread.start()
        ready.wait(timeout=30)
        if failure or not self.url:
            self.stop()
            raise RuntimeError(f"fake provider did not start: {failure[:1]}")
        return self

    def _run(self, ready: threading.Event, failure: list[BaseException]) -> None:
        assert self._loop is not None
        asyncio.set_event_loop(self._loop)
        try:
            self._loop.run_until_complete(self._serve())
        except BaseException as exc:  # reported to start(), never swallowed silently
            failure.append(exc)
            ready.set()
            return
        ready.set()
        self._loop.run_forever()

    async def _serve(self) -> None:
        self._runner = web.AppRunner(self._app, access_log=None, shutdown_timeout=2.0)
        await self._runner.setup()
        site = web.TCPSite(self._runner, self._host, self._port)
        await site.start()
        host, port = self._runner.addresses[0][:2]
        self.url = f"http://{host}:{port}"

    def stop(self) -> None:
        loop, thread = self._loop, self._thread
        if loop is None or thread is None:
            return
        if self._runner is not None and loop.is_running():
            loop.call_soon_threadsafe(self._app[STOPPING].set)
            asyncio.run_coroutine_threadsafe(self._runner.cleanup(), loop).result(timeout=15)
        loop.call_soon_threadsafe(loop.stop)
        thread.join(timeout=15)
        loop.close()
        self._loop = self._thread = self._runner = None

    def configure(self, **knobs: Any) -> dict[str, Any]:
        """Change fault knobs (see Knobs); returns the full current settings."""
        return asdict(self.state.configure(knobs))

    def reset(self) -> None:
        self.state.reset()

    def requests(self) -> list[RecordedRequest]:
        return self.state.requests()

    def __enter__(self) -> FakeProvider:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()


# --- command line ---------------------------------------------------------------------


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m llmproxy_ops.testing.fake_provider",
        description="Fake OpenAI/Anthropic/Gemini upstream with fault injection.",
        epilog="example: python -m llmproxy_ops.testing.fake_provider --port 9000 --key sk-a",
    )
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=9000)
    parser.add_argument(
        "--key",
        action="append",
        default=[],
        help="accepted API key (repeatable); default: any non-empty key",
    )
    parser.add_argument(
        "--fast", action="store_true", help="benchmark mode: no request log, precomputed bodies"
    )
    return parser.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> None:
    args = parse_args(argv)
    app = build_app(args.key or None, fast=args.fast)
    banner = json.dumps({"fake_provider": f"http://{args.host}:{args.port}", "fast": args.fast})
    web.run_app(
        app,
        host=args.host,
        port=args.port,
        access_log=None,
        print=lambda _: print(banner, flush=True),
        shutdown_timeout=2.0,
    )


if __name__ == "__main__":
    main()
