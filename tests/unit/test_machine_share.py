"""The lock that lets tiers run side by side while a measured test has the machine alone."""

from __future__ import annotations

import fcntl
import threading
import time
from contextlib import closing
from pathlib import Path

from tests.machine_share import MachineLock


def _gate_held(path: Path) -> bool:
    with open(str(path) + ".gate", "a") as probe:
        try:
            fcntl.flock(probe, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            return True
        fcntl.flock(probe, fcntl.LOCK_UN)
        return False


def test_shared_holders_run_together(tmp_path: Path) -> None:
    path = str(tmp_path / "machine.lock")
    with closing(MachineLock(path)) as one, closing(MachineLock(path)) as two, \
            one.held(exclusive=False), two.held(exclusive=False):
        pass  # a second shared holder got in while the first held it


def test_a_measured_test_waits_for_running_tests_and_goes_before_new_ones(
        tmp_path: Path) -> None:
    path = tmp_path / "machine.lock"
    entered: list[str] = []
    release_running = threading.Event()

    def running() -> None:
        with closing(MachineLock(str(path))) as lock, lock.held(exclusive=False):
            entered.append("running")
            release_running.wait(30)

    def take(name: str, exclusive: bool) -> None:
        with closing(MachineLock(str(path))) as lock, lock.held(exclusive=exclusive):
            entered.append(name)

    threads = [threading.Thread(target=running)]
    threads[0].start()
    while not entered:
        time.sleep(0.01)
    threads.append(threading.Thread(target=take, args=("measured", True)))
    threads[1].start()
    deadline = time.monotonic() + 30
    while not _gate_held(path):  # the measured test now waits at the turnstile's far side
        assert time.monotonic() < deadline
        time.sleep(0.01)
    threads.append(threading.Thread(target=take, args=("new", False)))
    threads[2].start()
    time.sleep(0.2)
    assert entered == ["running"]  # neither the measured test nor the new one got in
    release_running.set()
    for thread in threads:
        thread.join(30)
    assert entered == ["running", "measured", "new"]
