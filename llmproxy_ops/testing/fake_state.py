"""Mutable state of one fake provider: fault knobs, accepted keys, recorded requests.

Shared between the aiohttp loop thread and the test thread (FakeProvider.configure), so
every access goes through one lock; nothing here awaits.
"""

from __future__ import annotations

import dataclasses
import re
import threading
import time
from dataclasses import dataclass, field
from typing import Any, Final

from llmproxy_ops.testing.fake_wire import ERROR_STATUSES

_FAIL_TRIGGER: Final = re.compile(r"fail-(\d{3})")
_SLOW_TRIGGER: Final = re.compile(r"slow-(\d+)")
# `drip-20x1000`: a stream of 20 chunks, 1000 ms apart, for this model alone (a long stream
# through any proxy, with no admin call that would slow every other request down too)
_DRIP_TRIGGER: Final = re.compile(r"drip-(\d+)x(\d+)")
DEFAULT_CHUNKS: Final = 5


@dataclass(frozen=True)
class Knobs:
    """Fault-injection settings; `fail_count` None means every request fails while set."""

    latency_ms: int = 0
    status: int | None = None
    fail_count: int | None = None
    timeout: bool = False
    malformed: bool = False
    chunks: int = DEFAULT_CHUNKS
    chunk_delay_ms: int = 0

    @property
    def faulty(self) -> bool:
        return self.status is not None or self.timeout or self.malformed

    def updated(self, changes: dict[str, Any]) -> Knobs:
        """A copy with `changes` applied; ValueError names the first bad knob."""
        known = {f.name for f in dataclasses.fields(self)}
        unknown = sorted(set(changes) - known)
        if unknown:
            raise ValueError(f"unknown knob(s): {', '.join(unknown)}; known: {sorted(known)}")
        new = dataclasses.replace(self, **changes)
        new.check()
        return recovered(new) if new.fail_count == 0 else new

    def check(self) -> None:
        for name in ("latency_ms", "chunk_delay_ms"):
            _require_int(name, getattr(self, name), minimum=0)
        _require_int("chunks", self.chunks, minimum=1)
        if self.fail_count is not None:
            _require_int("fail_count", self.fail_count, minimum=0)
        if self.status is not None and self.status not in ERROR_STATUSES:
            raise ValueError(f"status must be one of {sorted(ERROR_STATUSES)} or null")
        for name in ("timeout", "malformed"):
            if not isinstance(getattr(self, name), bool):
                raise ValueError(f"{name} must be true or false")


def recovered(knobs: Knobs) -> Knobs:
    """The fail budget is used up: the provider recovers, slowness settings stay."""
    return dataclasses.replace(knobs, status=None, timeout=False, malformed=False, fail_count=None)


def _require_int(name: str, value: object, *, minimum: int) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        raise ValueError(f"{name} must be an integer >= {minimum}, got {value!r}")


@dataclass(frozen=True)
class Plan:
    """What to do with one provider request, decided once when it arrives."""

    latency_ms: int
    status: int | None
    timeout: bool
    malformed: bool
    chunks: int
    chunk_delay_ms: int


def model_triggers(model: str) -> tuple[int | None, int]:
    """(status, extra latency ms) requested by the model name (`fail-429`, `slow-250`)."""
    fail = _FAIL_TRIGGER.search(model)
    slow = _SLOW_TRIGGER.search(model)
    status = int(fail.group(1)) if fail and int(fail.group(1)) in ERROR_STATUSES else None
    return status, int(slow.group(1)) if slow else 0


@dataclass
class RecordedRequest:
    """One provider request as the fake saw it (the admin API returns these as JSON)."""

    path: str
    query: str
    provider: str
    model: str
    stream: bool
    auth_header: str | None
    auth_value: str | None
    api_key: str | None
    headers: dict[str, str]
    body: Any
    timestamp: float = field(default_factory=time.time)
    status: int | None = None

    def to_json(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


class FakeState:
    """Knobs, the fail budget and the request log of one server."""

    def __init__(self, accepted_keys: frozenset[str] | None = None, record: bool = True):
        self.accepted_keys = accepted_keys
        self.record_requests = record
        self._lock = threading.Lock()
        self._knobs = Knobs()
        self._log: list[RecordedRequest] = []

    @property
    def knobs(self) -> Knobs:
        with self._lock:
            return self._knobs

    def configure(self, changes: dict[str, Any]) -> Knobs:
        with self._lock:
            self._knobs = self._knobs.updated(changes)
            return self._knobs

    def reset(self) -> None:
        with self._lock:
            self._knobs = Knobs()
            self._log.clear()

    def key_accepted(self, key: str | None) -> bool:
        if not key:
            return False
        return self.accepted_keys is None or key in self.accepted_keys

    def record(self, entry: RecordedRequest) -> None:
        if self.record_requests:
            with self._lock:
                self._log.append(entry)

    def requests(self) -> list[RecordedRequest]:
        with self._lock:
            return [dataclasses.replace(r) for r in self._log]

    def plan(self, model: str) -> Plan:
        """Decide this request's faults and spend one unit of the fail budget if faulty."""
        trigger_status, trigger_latency = model_triggers(model)
        with self._lock:
            knobs = self._knobs
            if knobs.faulty and knobs.fail_count is not None:
                self._knobs = self._spend(knobs)
        drip = _DRIP_TRIGGER.search(model)
        return Plan(
            latency_ms=knobs.latency_ms + trigger_latency,
            status=trigger_status or knobs.status,
            timeout=knobs.timeout,
            malformed=knobs.malformed,
            chunks=max(1, int(drip.group(1))) if drip else knobs.chunks,
            chunk_delay_ms=int(drip.group(2)) if drip else knobs.chunk_delay_ms,
        )

    @staticmethod
    def _spend(knobs: Knobs) -> Knobs:
        left = (knobs.fail_count or 0) - 1
        return dataclasses.replace(knobs, fail_count=left) if left > 0 else recovered(knobs)
