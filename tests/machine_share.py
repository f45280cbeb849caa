"""Tiers side by side, measurements alone: a machine-wide lock the test runs share.

scripts/test-tiers.sh runs the process tier beside the docker and swarm tiers (each alone
keeps the two cores about half busy). A test marked `measured` asserts what a user sees under load
(0 failed, no second without an answer) during a change to a running gateway: what it
measures is the gateway, so it runs with the machine to itself, never beside another tier's
stacks starting or another load. Every other test shares the machine.

With TEST_MACHINE_LOCK=PATH (set by the tier script) each test takes PATH shared, a measured
test takes it exclusive; a measured test waiting for its turn blocks new tests from starting
(a writer-preferring lock: PATH.gate is the turnstile), so it waits at most for the tests
already running. Without the variable nothing is locked. The time each test waited is
printed at the end of the run.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import time
from collections.abc import Iterator
from typing import IO, Any

import pytest

MARKER = "measured"


class MachineLock:
    def __init__(self, path: str) -> None:
        self._main: IO[str] = open(path, "a")  # noqa: SIM115 - held for the whole session
        self._gate: IO[str] = open(path + ".gate", "a")  # noqa: SIM115

    def close(self) -> None:
        self._main.close()
        self._gate.close()

    @contextlib.contextmanager
    def held(self, *, exclusive: bool) -> Iterator[None]:
        fcntl.flock(self._gate, fcntl.LOCK_EX)  # waits while a measured test waits or runs
        try:
            fcntl.flock(self._main, fcntl.LOCK_EX if exclusive else fcntl.LOCK_SH)
            if not exclusive:  # a shared holder lets the next one in at once
                fcntl.flock(self._gate, fcntl.LOCK_UN)
            try:
                yield
            finally:
                fcntl.flock(self._main, fcntl.LOCK_UN)
        finally:
            fcntl.flock(self._gate, fcntl.LOCK_UN)  # a no-op when already let go


class MachineShare:
    """The pytest plugin: registered by tests/conftest.py when TEST_MACHINE_LOCK is set."""

    def __init__(self, path: str) -> None:
        self.lock = MachineLock(path)
        self.waited: dict[str, float] = {}

    @pytest.hookimpl(wrapper=True)
    def pytest_runtest_protocol(self, item: pytest.Item, nextitem: Any) -> Any:
        asked = time.monotonic()
        with self.lock.held(exclusive=item.get_closest_marker(MARKER) is not None):
            self.waited[item.nodeid] = time.monotonic() - asked
            return (yield)

    def pytest_unconfigure(self) -> None:
        self.lock.close()

    def pytest_terminal_summary(self, terminalreporter: Any) -> None:
        waits = sorted(self.waited.items(), key=lambda kv: -kv[1])
        terminalreporter.section("waiting for the machine (tiers side by side)")
        longest = ", ".join(f"{nodeid} {s:.0f} s" for nodeid, s in waits[:5] if s >= 1)
        terminalreporter.write_line(
            f"{sum(self.waited.values()):.0f} s in all; longest: {longest or 'none'}")


def register(config: pytest.Config) -> None:
    path = os.environ.get("TEST_MACHINE_LOCK", "")
    if path:
        config.pluginmanager.register(MachineShare(path), "machine_share")
