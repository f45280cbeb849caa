"""GitHub's device login and the Copilot chat API, as the fake provider speaks them.

LiteLLM's `github_copilot/` route (litellm/llms/github_copilot/authenticator.py) reads every
GitHub address from the environment, so pointing these at the fake stands in for github.com:

    GITHUB_COPILOT_DEVICE_CODE_URL   = {fake}/login/device/code
    GITHUB_COPILOT_ACCESS_TOKEN_URL  = {fake}/login/oauth/access_token
    GITHUB_COPILOT_API_KEY_URL       = {fake}/copilot_internal/v2/token

The API-key answer names `endpoints.api` = {fake as the client reached it}/copilot, so the
chat requests come back here too: POST /copilot/chat/completions (OpenAI-compatible), which
wants a Copilot key this fake issued and the editor headers real Copilot insists on.

Admin: GET /_fake/copilot (counters), POST /_fake/copilot {"pending_polls": n,
"key_ttl_s": s} (how many polls answer authorization_pending; how long a key lives).
"""

from __future__ import annotations

import secrets
import threading
import time
from collections.abc import Awaitable, Callable
from dataclasses import asdict, dataclass, field
from typing import Any, Final

from aiohttp import web

from llmproxy_ops.testing import fake_wire as wire
from llmproxy_ops.testing.fake_calls import STATE, Call, parse_openai, provider_error
from llmproxy_ops.testing.fake_state import FakeState, Plan

DEVICE_CODE_PATH: Final = "/login/device/code"
ACCESS_TOKEN_PATH: Final = "/login/oauth/access_token"
API_KEY_PATH: Final = "/copilot_internal/v2/token"
CHAT_PREFIX: Final = "/copilot"
VERIFICATION_URI: Final = "https://github.com/login/device"
GRANT_TYPE: Final = "urn:ietf:params:oauth:grant-type:device_code"
# Real Copilot refuses clients that do not say which editor they are (seed 004's reason for
# extra_headers); the message is the one api.githubcopilot.com sends.
EDITOR_HEADERS: Final = ("editor-version", "copilot-integration-id")

Answer = Callable[[web.Request, Call, Plan], Awaitable[web.StreamResponse]]


@dataclass
class CopilotCounters:
    device_codes: int = 0
    access_token_polls: int = 0
    access_tokens: int = 0
    api_keys: int = 0
    chats: int = 0


@dataclass
class CopilotState:
    """Issued codes and tokens; a lock because the library API reads from another thread."""

    pending_polls: int = 1
    key_ttl_s: int = 1800
    counters: CopilotCounters = field(default_factory=CopilotCounters)
    devices: dict[str, int] = field(default_factory=dict)  # device code -> polls left pending
    access_tokens: set[str] = field(default_factory=set)
    api_keys: dict[str, float] = field(default_factory=dict)  # key -> expires_at
    lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def snapshot(self) -> dict[str, Any]:
        with self.lock:
            return {
                "pending_polls": self.pending_polls,
                "key_ttl_s": self.key_ttl_s,
                **asdict(self.counters),
            }

    def configure(self, changes: dict[str, Any]) -> None:
        unknown = sorted(set(changes) - {"pending_polls", "key_ttl_s"})
        if unknown:
            raise ValueError(f"unknown copilot knob(s): {', '.join(unknown)}")
        for name, value in changes.items():
            if isinstance(value, bool) or not isinstance(value, int) or value < 0:
                raise ValueError(f"{name} must be an integer >= 0, got {value!r}")
            setattr(self, name, value)


COPILOT: Final = web.AppKey("copilot", CopilotState)
ANSWER: Final[web.AppKey[Answer]] = web.AppKey("copilot_answer")


def add_routes(app: web.Application, answer: Answer) -> None:
    """Register before the generic OpenAI route: it would match /copilot/chat/completions."""
    app[COPILOT] = CopilotState()
    app[ANSWER] = answer
    app.router.add_post(DEVICE_CODE_PATH, device_code)
    app.router.add_post(ACCESS_TOKEN_PATH, access_token)
    app.router.add_get(API_KEY_PATH, api_key)
    app.router.add_post(CHAT_PREFIX + "/chat/completions", chat)
    app.router.add_route("*", "/_fake/copilot", admin)


def _github_error(status: int, message: str) -> web.Response:
    body = {"message": message, "documentation_url": "https://docs.github.com/rest"}
    return web.json_response(body, status=status)


async def _form(request: web.Request) -> dict[str, Any]:
    """GitHub takes the OAuth fields as JSON or as a form; LiteLLM sends JSON."""
    if request.content_type == "application/json":
        try:
            body = await request.json()
        except ValueError:
            return {}
        return body if isinstance(body, dict) else {}
    return dict(await request.post())


async def device_code(request: web.Request) -> web.Response:
    body = await _form(request)
    if not body.get("client_id"):
        return _github_error(404, "Not Found")  # what github.com answers without a client id
    state = request.app[COPILOT]
    code = secrets.token_hex(20)
    user_code = f"{secrets.token_hex(2).upper()}-{secrets.token_hex(2).upper()}"
    with state.lock:
        state.devices[code] = state.pending_polls
        state.counters.device_codes += 1
    return web.json_response(
        {
            "device_code": code,
            "user_code": user_code,
            "verification_uri": VERIFICATION_URI,
            "expires_in": 899,
            "interval": 5,
        }
    )


async def access_token(request: web.Request) -> web.Response:
    """GitHub answers 200 with an `error` field while the user has not typed the code yet."""
    body = await _form(request)
    state = request.app[COPILOT]
    code = str(body.get("device_code", ""))
    with state.lock:
        state.counters.access_token_polls += 1
        if body.get("grant_type") != GRANT_TYPE:
            return web.json_response({"error": "unsupported_grant_type"})
        if code not in state.devices:
            return web.json_response({"error": "bad_verification_code"})
        if state.devices[code] > 0:
            state.devices[code] -= 1
            return web.json_response(
                {
                    "error": "authorization_pending",
                    "error_description": "The authorization request is still pending.",
                }
            )
        del state.devices[code]  # a device code is good for one token
        token = "gho_" + secrets.token_hex(18)
        state.access_tokens.add(token)
        state.counters.access_tokens += 1
    return web.json_response({"access_token": token, "token_type": "bearer", "scope": "read:user"})


async def api_key(request: web.Request) -> web.Response:
    state = request.app[COPILOT]
    authorization = request.headers.get("Authorization", "")
    scheme, _, token = authorization.partition(" ")
    with state.lock:
        if scheme.lower() != "token" or token not in state.access_tokens:
            return _github_error(401, "Bad credentials")
        expires_at = int(time.time()) + state.key_ttl_s
        key = f"tid={secrets.token_hex(16)};exp={expires_at};sku=fake;8kp=1:fake"
        state.api_keys[key] = expires_at
        state.counters.api_keys += 1
    origin = f"{request.scheme}://{request.host}"  # as the client reached the fake
    return web.json_response(
        {
            "token": key,
            "expires_at": expires_at,
            "refresh_in": max(0, state.key_ttl_s - 300),
            "endpoints": {"api": origin + CHAT_PREFIX},
            "chat_enabled": True,
        }
    )


async def chat(request: web.Request) -> web.StreamResponse:
    call = await parse_openai(request)
    if isinstance(call, web.Response):
        return call
    fake: FakeState = request.app[STATE]
    entry = call.record()
    fake.record(entry)
    response = _refusal(request.app[COPILOT], call) or await request.app[ANSWER](
        request, call, fake.plan(call.model)
    )
    entry.status = response.status
    return response


def _refusal(state: CopilotState, call: Call) -> web.Response | None:
    """Copilot's own answer to a missing/expired key or a client that is not an editor."""
    with state.lock:
        expires_at = state.api_keys.get(call.api_key or "")
        if expires_at is None or expires_at <= time.time():
            return provider_error(wire.OPENAI, 401, "unauthorized: token expired or invalid")
    for header in EDITOR_HEADERS:
        if not call.headers.get(header):
            name = "-".join(part.capitalize() for part in header.split("-"))
            return provider_error(wire.OPENAI, 400, f"bad request: missing {name} header")
    with state.lock:
        state.counters.chats += 1
    return None


async def admin(request: web.Request) -> web.Response:
    state = request.app[COPILOT]
    if request.method == "POST":
        try:
            changes = await request.json()
            if not isinstance(changes, dict):
                raise ValueError("config body must be a JSON object")
            state.configure(changes)
        except (ValueError, TypeError) as exc:
            return web.json_response({"error": str(exc)}, status=400)
    return web.json_response(state.snapshot())
