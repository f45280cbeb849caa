"""Smoke test of any running LiteLLM proxy (local, compose, behind nginx): one report, every check.

The master key is a secret: it is never put in a detail, a repr or an exception; any
response text quoted in a detail is scrubbed of it first.
"""

from __future__ import annotations

import base64
import json
import re
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import partial
from typing import Any

import httpx

from llmproxy_ops.commands import scrub

PROMPT = [{"role": "user", "content": "Reply with one short word."}]
WRONG_KEY = "sk-llmproxy-ops-smoke-wrong-key"
AUTH_REJECTIONS = (401, 403)
ANTHROPIC_VERSION = "2023-06-01"
_BODY_QUOTE = 300
MINUTE_MARGIN_S = 5.0
# LiteLLM's own rpm/tpm enforcement (router_settings.optional_pre_call_checks), not a provider's
LIMITED = re.compile(r"Model rate limit exceeded")


@dataclass(frozen=True)
class SmokeTarget:
    url: str
    key: str = field(repr=False)
    expected_models: list[str]
    models_to_test: list[str] | None = None
    rpm_enforced: dict[str, int] = field(default_factory=dict)
    # Groups served by Anthropic deployments: also asked through the Messages route
    # (/v1/messages), the one Claude Code and the Anthropic SDK use.
    messages_models: list[str] = field(default_factory=list)
    verify_tls: bool | str = True
    timeout: float = 60.0

    @property
    def tested_models(self) -> list[str]:
        return list(self.expected_models if self.models_to_test is None else self.models_to_test)


@dataclass(frozen=True)
class CheckResult:
    name: str
    ok: bool
    latency_ms: float | None
    detail: str
    skipped: bool = False


@dataclass(frozen=True)
class SmokeReport:
    url: str
    checks: list[CheckResult]
    duration_s: float = 0.0

    @property
    def ok(self) -> bool:
        return bool(self.checks) and all(check.ok for check in self.checks)

    @property
    def failed(self) -> list[CheckResult]:
        return [check for check in self.checks if not check.ok]


class _Fail(Exception):
    """A check's verdict: the detail says what was wrong (already scrubbed)."""


def run_smoke(target: SmokeTarget) -> SmokeReport:
    """Run every check; a failing check never stops the others (a dead proxy skips the rest).

    With no expected_models the models check accepts whatever the proxy lists, and (unless
    models_to_test is given) every listed group is tested.
    """
    started = time.monotonic()
    probe = _Probe(target)
    try:
        checks = _run_checks(probe, target)
    finally:
        probe.client.close()
    return SmokeReport(_public_url(target.url), checks, round(time.monotonic() - started, 3))


def _public_url(url: str) -> str:
    """The URL without user:password (nginx basic auth may be given in it)."""
    parsed = httpx.URL(url)
    return str(parsed.copy_with(userinfo=b"")) if parsed.userinfo else url


def _run_checks(probe: _Probe, target: SmokeTarget) -> list[CheckResult]:
    alive = probe.run("liveliness", probe.liveliness)
    if not alive.ok:
        reason = "skipped: the proxy is not alive (liveliness failed)"
        names = ["models"] + [name for name, _ in _plan(probe, target.tested_models)]
        return [alive] + [CheckResult(name, False, None, reason, skipped=True) for name in names]
    checks = [alive, probe.run("models", probe.models)]
    discover = not target.expected_models and target.models_to_test is None
    models = probe.listed if discover else target.tested_models
    return checks + [probe.run(name, check) for name, check in _plan(probe, models)]


def _plan(probe: _Probe, models: list[str]) -> list[tuple[str, Callable[[], str]]]:
    """The checks after liveliness and models, in the order they run."""
    plan: list[tuple[str, Callable[[], str]]] = [
        ("auth: missing key rejected", partial(probe.rejected, None)),
        ("auth: wrong key rejected", partial(probe.rejected, WRONG_KEY)),
    ]
    plan += [(f"chat: {model}", partial(probe.chat, model)) for model in models]
    messages = [m for m in probe.target.messages_models if m in models]
    plan += [(f"messages: {model}", partial(probe.messages, model)) for model in messages]
    if models:
        plan.append((f"stream: {models[0]}", partial(probe.stream, models[0])))
    for model, rpm in sorted(probe.target.rpm_enforced.items()):
        plan.append((f"rpm: {model}", partial(probe.rpm, model, rpm)))
    return plan


class _Probe:
    """The checks; each returns a detail when it passes and raises _Fail when it does not."""

    def __init__(self, target: SmokeTarget):
        self.target = target
        self.saw_server_error = False
        self.listed: list[str] = []  # model groups /v1/models answered, in its order
        self.secrets = _secrets(target)
        self.client = self.new_client()

    def new_client(self) -> httpx.Client:
        return httpx.Client(
            base_url=self.target.url.rstrip("/"),
            verify=self.target.verify_tls,
            timeout=self.target.timeout,
            event_hooks={"response": [self.note_status]},
        )

    def note_status(self, response: httpx.Response) -> None:
        self.saw_server_error |= response.status_code >= 500

    def run(self, name: str, check: Callable[[], str]) -> CheckResult:
        t0 = time.perf_counter()
        try:
            detail, ok = check(), True
        except _Fail as exc:
            detail, ok = str(exc), False
        except httpx.HTTPError as exc:
            detail, ok = f"{type(exc).__name__}: {self.scrub(str(exc))}", False
        latency = round((time.perf_counter() - t0) * 1000, 1)
        self.fresh_connections_after_server_error()
        return CheckResult(name, ok, latency, self.scrub(detail))

    def fresh_connections_after_server_error(self) -> None:
        # After an unhandled exception (LiteLLM's 500 for a missing key without prisma)
        # uvicorn resets the kept-alive connection without "Connection: close": the next
        # check would fail with a ReadError that is not its own fault.
        if self.saw_server_error:
            self.client.close()
            self.client = self.new_client()
            self.saw_server_error = False

    def scrub(self, text: str) -> str:
        return scrub(text, self.secrets, min_len=1)  # each is a credential, however short

    def auth(self, key: str | None = None) -> dict[str, str]:
        key = self.target.key if key is None else key
        return {"Authorization": f"Bearer {key}"}

    def limited_now(self, response: httpx.Response) -> str | None:
        """The group's own rpm/tpm is used up this minute: LiteLLM answered for it, so it is
        configured and served. Not a failure: a rollout must not fail because clients use
        the group at its limit (with several processes the new one shares their counters)."""
        if response.status_code != 429:
            return None
        message = _error_message(response)
        if not LIMITED.search(message):
            return None  # a provider's 429 (its quota) is a failure of the check
        return f"HTTP 429: its own limit is used up this minute ({self.quote(message)})"

    def expect_2xx(self, response: httpx.Response) -> Any:
        if not response.is_success:
            raise _Fail(f"HTTP {response.status_code}: {self.quote(_error_message(response))}")
        try:
            return response.json()
        except ValueError as exc:
            raise _Fail(
                f"HTTP {response.status_code}, not JSON: {self.quote(response.text)}"
            ) from exc

    def quote(self, text: str) -> str:
        text = " ".join(self.scrub(text).split())
        return text if len(text) <= _BODY_QUOTE else text[:_BODY_QUOTE] + "…"

    # ---- checks ------------------------------------------------------------------------------

    def liveliness(self) -> str:
        response = self.client.get("/health/liveliness")
        if response.status_code != 200:
            raise _Fail(f"HTTP {response.status_code}: {self.quote(response.text)}")
        return "HTTP 200"

    def models(self) -> str:
        body = self.expect_2xx(self.client.get("/v1/models", headers=self.auth()))
        self.listed = _model_ids(body)
        if not self.target.expected_models:
            if not self.listed:
                raise _Fail("the proxy lists no model groups")
            return f"{len(self.listed)} model groups listed: {', '.join(self.listed)}"
        listed, expected = set(self.listed), set(self.target.expected_models)
        missing, unexpected = sorted(expected - listed), sorted(listed - expected)
        problems = [
            f"{label}: {', '.join(names)}"
            for label, names in (("missing", missing), ("unexpected", unexpected))
            if names
        ]
        if problems:
            raise _Fail("; ".join(problems))
        return f"{len(listed)} model groups, as expected: {', '.join(sorted(listed))}"

    def rejected(self, key: str | None) -> str:
        # /v1/models: if auth were open, a chat request would cost money; this one does not.
        headers = {} if key is None else {"Authorization": f"Bearer {key}"}
        response = self.client.get("/v1/models", headers=headers)
        if response.is_success:
            raise _Fail(f"accepted with HTTP {response.status_code}: the proxy does not check keys")
        message = self.quote(_error_message(response))
        if response.status_code not in AUTH_REJECTIONS:
            # e.g. LiteLLM without a database and without our auth-status callback: 400
            # "No connected db." (SDKs raise BadRequestError), or 500 without prisma (retried).
            raise _Fail(f"rejected with HTTP {response.status_code}, not 401/403: {message}")
        return f"rejected with HTTP {response.status_code}: {message}"

    def chat(self, model: str) -> str:
        payload = {"model": model, "messages": PROMPT}
        response = self.client.post("/v1/chat/completions", json=payload, headers=self.auth())
        limited = self.limited_now(response)
        if limited:
            return limited
        body = self.expect_2xx(response)
        content = _content(body)
        if not isinstance(content, str) or not content.strip():
            quoted = self.quote(json.dumps(body))
            raise _Fail(f"choices[0].message.content is empty or missing: {quoted}")
        usage = body.get("usage") if isinstance(body, dict) else None
        if not isinstance(usage, dict):
            raise _Fail("the response has no usage block")
        tokens = f"{usage.get('prompt_tokens')}+{usage.get('completion_tokens')} tokens"
        return f"HTTP 200, {len(content)} chars, usage {tokens}"

    def messages(self, model: str) -> str:
        """Anthropic's Messages route, authenticated the way Anthropic clients do (x-api-key)."""
        headers = {"x-api-key": self.target.key, "anthropic-version": ANTHROPIC_VERSION}
        payload = {"model": model, "max_tokens": 32, "messages": PROMPT}
        response = self.client.post("/v1/messages", json=payload, headers=headers)
        limited = self.limited_now(response)
        if limited:
            return limited
        body = self.expect_2xx(response)
        texts = _message_texts(body)
        if not "".join(texts).strip():
            raise _Fail(f"no text block in the message: {self.quote(json.dumps(body))}")
        usage = body.get("usage") if isinstance(body, dict) else None
        if not isinstance(usage, dict):
            raise _Fail("the message has no usage block")
        tokens = f"{usage.get('input_tokens')}+{usage.get('output_tokens')} tokens"
        return f"HTTP 200, {len(''.join(texts))} chars, usage {tokens}"

    def stream(self, model: str) -> str:
        payload = {"model": model, "messages": PROMPT, "stream": True}
        t0 = time.perf_counter()
        with self.client.stream(
            "POST", "/v1/chat/completions", json=payload, headers=self.auth()
        ) as response:
            if not response.is_success:
                response.read()
                limited = self.limited_now(response)
                if limited:
                    return limited
                raise _Fail(f"HTTP {response.status_code}: {self.quote(_error_message(response))}")
            chunks, first_ms, done = self.read_sse(response, t0)
        if not done:
            raise _Fail(f"{chunks} chunks but the stream did not end with data: [DONE]")
        if chunks < 2:
            raise _Fail(f"only {chunks} data chunk before [DONE]: the answer was not streamed")
        return f"{chunks} chunks, first after {first_ms:.0f} ms, ended with [DONE]"

    def read_sse(self, response: httpx.Response, t0: float) -> tuple[int, float, bool]:
        """Count `data:` chunks up to [DONE]; an error event inside the stream fails the check."""
        chunks, first_ms, done = 0, 0.0, False
        for line in response.iter_lines():
            if not line.startswith("data:"):
                continue
            data = line[len("data:") :].strip()
            if data == "[DONE]":
                done = True
                break
            if chunks == 0:
                first_ms = (time.perf_counter() - t0) * 1000
            chunks += 1
            if _is_error_event(data):
                raise _Fail(f"error event in the stream: {self.quote(data)}")
        return chunks, first_ms, done

    def rpm(self, model: str, rpm: int) -> str:
        """rpm+1 quick requests must meet a 429; earlier checks may already have used some quota.

        LiteLLM counts per UTC wall-clock minute: a burst that straddles a minute boundary
        starts counting afresh, so it is not begun in a minute's last seconds and is
        repeated once if it crossed a boundary anyway.
        """
        _wait_for_minute_start(margin_s=MINUTE_MARGIN_S)
        for _ in range(2):
            minute = _utc_minute()
            statuses = self.burst(model, rpm + 1)
            if statuses[-1] == 429:
                # the proof spends the group's budget: say until when its callers get 429s
                until = time.strftime("%H:%M", time.gmtime((_utc_minute() + 1) * 60))
                return (f"HTTP 429 at request {len(statuses)} of {rpm + 1} (rpm {rpm}); "
                        f"{model} answers 429 until {until} UTC")
            if _utc_minute() == minute:
                break
        seen = ", ".join(str(code) for code in statuses)
        raise _Fail(f"no HTTP 429 in {rpm + 1} requests (rpm {rpm}); statuses: {seen}")

    def burst(self, model: str, count: int) -> list[int]:
        """Status codes of up to `count` back-to-back requests, stopping at the first 429."""
        payload = {"model": model, "messages": PROMPT}
        statuses: list[int] = []
        for _ in range(count):
            response = self.client.post("/v1/chat/completions", json=payload, headers=self.auth())
            statuses.append(response.status_code)
            if response.status_code == 429:
                break
        return statuses


def _secrets(target: SmokeTarget) -> list[str]:
    """The key, and basic-auth credentials of the URL as typed and as httpx sends them."""
    url = httpx.URL(target.url)
    found = [target.key]
    if url.password:
        basic = base64.b64encode(f"{url.username}:{url.password}".encode()).decode()
        found += [url.password, basic]
    return sorted({s for s in found if s}, key=len, reverse=True)


def _utc_minute() -> int:
    return int(time.time() // 60)


def _wait_for_minute_start(margin_s: float) -> None:
    left = 60 - time.time() % 60
    if left < margin_s:
        time.sleep(left + 0.2)


def _model_ids(body: Any) -> list[str]:
    data = body.get("data") if isinstance(body, dict) else None
    if not isinstance(data, list):
        raise _Fail("the /v1/models answer has no data list")
    ids = [str(item.get("id")) for item in data if isinstance(item, dict)]
    return list(dict.fromkeys(ids))


def _is_error_event(data: str) -> bool:
    try:
        event = json.loads(data)
    except ValueError:
        return True  # not JSON: not a chunk a client could use
    return isinstance(event, dict) and "error" in event


def _message_texts(body: Any) -> list[str]:
    content = body.get("content") if isinstance(body, dict) else None
    if not isinstance(content, list):
        return []
    return [
        str(b.get("text", "")) for b in content if isinstance(b, dict) and b.get("type") == "text"
    ]


def _content(body: Any) -> Any:
    try:
        return body["choices"][0]["message"]["content"]
    except (KeyError, IndexError, TypeError):
        return None


def _error_message(response: httpx.Response) -> str:
    try:
        error = response.json().get("error")
    except (ValueError, AttributeError):
        return response.text
    if isinstance(error, dict) and "message" in error:
        return str(error["message"])
    return response.text
