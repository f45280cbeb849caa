"""A bounded load against a proxy while it changes: plain and SSE requests together.

Counts what a change must not cause: failed requests (5xx, resets, refused connections,
timeouts), streams cut (no final `data: [DONE]`), and the longest time without any answer.
A request whose idle keep-alive connection the server closed before any answer is sent
again once, as SDK clients do, and counted (`retried`).
Rejections (4xx: a key the proxy does not take yet, during a master-key rotation) are
counted apart. Clients keep connections alive, as real SDKs do. Loopback only, bounded.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field

import httpx


@dataclass
class LoadReport:
    ok: int = 0
    failed: int = 0
    rejected: int = 0  # 4xx answers (an answer, not a failure of the proxy)
    streams_ok: int = 0
    streams_cut: int = 0
    # Sent again once: the server closed an idle keep-alive connection as the request went
    # out, and no byte of an answer came back (HTTP/1.1's keep-alive race, also at nginx's
    # keepalive_timeout; the OpenAI and Anthropic SDKs retry it by default).
    retried: int = 0
    errors: list[str] = field(default_factory=list)
    answers: list[float] = field(default_factory=list)  # monotonic times of good answers

    @property
    def longest_gap_s(self) -> float:
        return self.longest_gap()[1]

    def disruptions(self, *, max_gap_s: float = 1.0, max_retried: int = 0) -> list[str]:
        """What a change to a running gateway must not cause, as every rollout test asserts
        it (empty: none). A load that got no answer at all proves nothing: that counts too.
        `max_retried`: resends the change announced it may cause (nginx reloads: see
        runtime/nginx_upstream.reload_caveat); any other resend counts."""
        found = [f"{n} {what}" for n, what in (
            (self.failed, "failed"), (self.rejected, "rejected (4xx)"),
            (self.retried if self.retried > max_retried else 0,
             f"retried by the client (announced at most {max_retried})"),
            (self.streams_cut, "streams cut"),
        ) if n]
        if self.longest_gap_s > max_gap_s:
            found.append(f"{self.longest_gap_s:.2f} s without an answer (> {max_gap_s:g} s)")
        if not self.ok or not self.streams_ok:
            found.append(f"too little traffic to tell ({self.ok} ok, {self.streams_ok} streams)")
        return found

    def summary(self) -> str:
        return (f"{self.ok} ok, {self.failed} failed, {self.streams_ok} streams, "
                f"{self.streams_cut} cut, {self.rejected} rejected, {self.retried} retried, "
                f"longest gap {self.longest_gap_s:.2f} s; errors {self.errors}")

    def longest_gap(self) -> tuple[float, float]:
        """(when it began, monotonic; how long) of the longest time without an answer."""
        times = sorted(self.answers)
        gaps = [(a, b - a) for a, b in zip(times, times[1:], strict=False)]
        return max(gaps, key=lambda g: g[1], default=(0.0, 0.0))


@dataclass
class Load:
    url: str
    key: str
    model: str
    plain_clients: int = 2
    stream_clients: int = 1
    key_source: Callable[[], str] | None = None  # read before every request (key rotation)
    verify: bool | str = True  # TLS verification (nginx's self-signed certificate: its path)
    report: LoadReport = field(default_factory=LoadReport)
    _stop: threading.Event = field(default_factory=threading.Event)
    _threads: list[threading.Thread] = field(default_factory=list)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def __enter__(self) -> Load:
        kinds = [False] * self.plain_clients + [True] * self.stream_clients
        self._threads = [threading.Thread(target=self._client, args=(s,), daemon=True)
                         for s in kinds]
        for t in self._threads:
            t.start()
        return self

    def __exit__(self, *_: object) -> None:
        self._stop.set()
        for t in self._threads:
            t.join(timeout=120)

    def _client(self, stream: bool) -> None:
        with httpx.Client(base_url=self.url, timeout=60, verify=self.verify) as client:
            while not self._stop.is_set():
                key = self.key_source() if self.key_source else self.key
                client.headers["Authorization"] = f"Bearer {key}"
                once = stream_once if stream else chat_once
                ok, error = once(client, self.model)
                if not ok and idle_closed(error):
                    with self._lock:
                        self.report.retried += 1
                    ok, error = once(client, self.model)
                self._record(stream, ok, error)

    def _record(self, stream: bool, ok: bool, error: str) -> None:
        with self._lock:
            r = self.report
            rejected = error.endswith(REJECTED)
            if ok or rejected:
                r.answers.append(time.monotonic())
            if rejected:
                r.rejected += 1
            elif stream:
                r.streams_ok += ok
                r.streams_cut += not ok
            else:
                r.ok += ok
                r.failed += not ok
            if error and len(r.errors) < 20:
                r.errors.append(error)


REJECTED = "(rejected)"
_IDLE_CLOSED = "RemoteProtocolError: Server disconnected without sending a response."


def idle_closed(error: str) -> bool:
    """Nothing of an answer arrived before the server closed the connection."""
    return error.endswith(_IDLE_CLOSED) and (
        error.startswith("chat: ") or error.startswith("stream cut after 0 chunks: "))


def _status_error(kind: str, code: int) -> str:
    return f"{kind}: HTTP {code}" + (f" {REJECTED}" if 400 <= code < 500 else "")


def _body(model: str, stream: bool) -> dict[str, object]:
    return {"model": model, "stream": stream, "messages": [{"role": "user", "content": "hi"}]}


def chat_once(client: httpx.Client, model: str) -> tuple[bool, str]:
    try:
        r = client.post("/v1/chat/completions", json=_body(model, False))
    except httpx.HTTPError as exc:
        return False, f"chat: {type(exc).__name__}: {exc}"
    return (True, "") if r.status_code == 200 else (False, _status_error("chat", r.status_code))


def stream_once(client: httpx.Client, model: str) -> tuple[bool, str]:
    """True when the stream ends with `data: [DONE]`; the chunk count is in the error text."""
    ok, _, error = stream_chunks(client, model)
    return ok, error


def stream_chunks(client: httpx.Client, model: str) -> tuple[bool, int, str]:
    chunks = 0
    try:
        with client.stream("POST", "/v1/chat/completions", json=_body(model, True)) as r:
            if r.status_code != 200:
                return False, 0, _status_error("stream", r.status_code)
            for line in r.iter_lines():
                if line == "data: [DONE]":
                    return True, chunks, ""
                chunks += line.startswith("data: ")
    except httpx.HTTPError as exc:
        return False, chunks, f"stream cut after {chunks} chunks: {type(exc).__name__}: {exc}"
    return False, chunks, f"stream ended without [DONE] after {chunks} chunks"
