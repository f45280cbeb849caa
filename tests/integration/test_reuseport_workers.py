"""Two uvicorn workers, a SO_REUSEPORT socket each (llmproxy_ops/launcher.py), real litellm."""

from __future__ import annotations

import collections
import re
import socket
import subprocess
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from llmproxy_ops.errors import StackError
from llmproxy_ops.runtime.process import cmdline, pid_alive
from llmproxy_ops.targets.local.process import (
    LAUNCHER_MODULE,
    LaunchSpec,
    LocalRuntime,
    RuntimeStatus,
)
from tests.integration.test_local_runtime import (
    CONFIG,
    KEY,
    launch_for,
    processes_using,
    write_config,
)

pytestmark = pytest.mark.integration

_PID = re.compile(r"pid=(\d+)")
# With 16 connections hashed over 2 sockets, all on one worker has odds 2 in 65,536.
CONNECTIONS = 16


def socket_pids(state: str, port: int) -> list[set[int]]:
    """For each socket on 127.0.0.1:port in `state` (ss syntax), the pids holding it."""
    out = subprocess.run(
        ["ss", "-Htnp", "state", state, f"( sport = :{port} )"],
        capture_output=True,
        text=True,
        check=True,
        timeout=10,
    ).stdout
    return [{int(p) for p in _PID.findall(line)} for line in out.splitlines()]


def workers_of(status: RuntimeStatus) -> set[int]:
    assert status.port is not None and status.pid is not None
    held = socket_pids("listening", status.port)
    return {pid for pids in held for pid in pids} - {status.pid}


def chat(url: str, client: httpx.Client | None = None) -> httpx.Response:
    body = {"model": "mock-gpt", "messages": [{"role": "user", "content": "hi"}]}
    headers = {"Authorization": f"Bearer {KEY}"}
    post = client.post if client else httpx.post
    return post(f"{url}/v1/chat/completions", json=body, headers=headers, timeout=30)


@pytest.fixture(scope="module")
def two_workers(
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[tuple[LocalRuntime, LaunchSpec, RuntimeStatus]]:
    base = tmp_path_factory.mktemp("reuseport")
    runtime = LocalRuntime(base / "run")
    launch = launch_for(write_config(base), workers=2)
    status = runtime.up(launch)
    yield runtime, launch, status
    runtime.down(grace=5.0)


def test_each_worker_listens_on_its_own_socket(two_workers: tuple) -> None:
    runtime, launch, status = two_workers
    assert status.healthy and status.workers == 2
    assert LAUNCHER_MODULE in cmdline(status.pid)  # the supervisor, running LiteLLM's CLI
    held = socket_pids("listening", launch.port)
    assert len(held) == 2
    # The supervisor keeps both sockets open (so a restarted worker finds its queue), and
    # each worker holds only its own: two different workers.
    assert all(status.pid in pids and len(pids) == 2 for pids in held)
    assert len(workers_of(status)) == 2
    log = runtime.log_path.read_text()
    assert "uvicorn x2, a socket per worker" in log
    # CPython 3.11's collector crashed LiteLLM inside ContextVar.set under load: the workers
    # collect at safe points only (llmproxy_ops/launcher.py, CPython gh-148891)
    assert "Serving on the uvloop event loop; garbage collection at safe points" in log


def test_each_worker_freezes_its_start_up_objects(two_workers: tuple) -> None:
    """gc.freeze after start-up: a full collection no longer re-walks LiteLLM's ~700k
    start-up objects (~0.4 s per collection here, a pause for every request in flight)."""
    runtime, _, status = two_workers
    frozen = [int(n) for n in re.findall(r"gc\.freeze: (\d+) start-up objects",
                                          runtime.log_path.read_text())]
    assert len(frozen) == 2 and min(frozen) > 100_000, frozen
    assert chat(status.url).status_code == 200  # and serving goes on


def shared_fraction(pid: int) -> float:
    """The part of a process's resident memory that other processes map too (smaps_rollup)."""
    kib = {}
    for line in Path(f"/proc/{pid}/smaps_rollup").read_text().splitlines()[1:]:
        key, value = line.split(":", 1)
        kib[key] = int(value.split()[0])
    return (kib["Shared_Clean"] + kib["Shared_Dirty"]) / kib["Rss"]


def parent_of(pid: int) -> int:
    stat = Path(f"/proc/{pid}/stat").read_text()
    return int(stat[stat.rindex(")") + 2 :].split()[1])


def test_workers_share_the_proxy_app_imported_once(two_workers: tuple) -> None:
    """The supervisor imports the proxy app (and what a worker imports to serve), freezes it
    out of the collector, then forks the fork server the workers come from: most of a
    worker's memory is pages it shares. A worker importing the app itself (a spawned fork
    server, LLMPROXY_SHARE_APP=0) shares about a quarter of its memory; sharing shares
    three quarters here, after requests."""
    _, _, status = two_workers
    for stream in (False, True):  # a served request's lazy imports happen before the reading
        body = {"model": "mock-gpt", "stream": stream,
                "messages": [{"role": "user", "content": "hi"}]}
        answer = httpx.post(f"{status.url}/v1/chat/completions", json=body,
                            headers={"Authorization": f"Bearer {KEY}"}, timeout=30)
        assert answer.status_code == 200
    workers = workers_of(status)
    fork_servers = {parent_of(pid) for pid in workers}
    assert len(fork_servers) == 1
    fork_server = fork_servers.pop()
    # forked from the supervisor (same command line), not spawned (`python -c ...`)
    assert parent_of(fork_server) == status.pid
    assert cmdline(fork_server) == cmdline(status.pid)
    shared = {pid: round(shared_fraction(pid), 2) for pid in workers}
    assert min(shared.values()) >= 0.5, shared


def test_new_connections_spread_over_both_workers(two_workers: tuple) -> None:
    _, launch, status = two_workers
    clients = [httpx.Client() for _ in range(CONNECTIONS)]
    try:
        for client in clients:  # one keep-alive connection each, opened in a burst
            assert chat(status.url, client).status_code == 200
        per_worker = collections.Counter(
            pid
            for pids in socket_pids("established", launch.port)
            for pid in pids & workers_of(status)
        )
    finally:
        for client in clients:
            client.close()
    assert sum(per_worker.values()) == CONNECTIONS
    assert len(per_worker) == 2, per_worker


def test_a_killed_worker_is_replaced_and_serving_goes_on(two_workers: tuple) -> None:
    runtime, _, status = two_workers
    before = workers_of(status)
    victim = min(before)
    subprocess.run(["kill", "-KILL", str(victim)], check=True)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        # the socket's holders agree with the supervisor's own records: while it spawns the
        # replacement, the fork server holds the socket for an instant too (seen once in CI)
        now = workers_of(status)
        recorded = {w["pid"] for w in runtime.status().worker_records}
        if len(now) == 2 and victim not in now and now == recorded:
            break
        time.sleep(0.2)
    assert len(now) == 2 and victim not in now and (now & before) == before - {victim}
    for _ in range(10):
        assert chat(status.url).status_code == 200
    after = runtime.status()
    assert after.healthy
    assert f"Worker [{victim}] died (killed by SIGKILL); restarting it" in (
        runtime.log_path.read_text())
    # never silent: status counts the restart and says how the worker ended
    assert after.restarts == 1, after.worker_records
    assert after.last_exit.startswith("killed by SIGKILL at "), after.last_exit
    assert sorted(w["pid"] for w in after.worker_records) == sorted(now)


def test_down_stops_the_supervisor_and_every_worker(two_workers: tuple) -> None:
    """Runs last in this module: it stops the shared process."""
    runtime, launch, status = two_workers
    workers = workers_of(status)
    result = runtime.down(grace=15.0)
    assert result.was_running and not result.forced
    assert not pid_alive(status.pid)
    assert not any(pid_alive(pid) for pid in workers)
    assert processes_using(launch.config_path.resolve()) == []
    with socket.socket() as probe:  # the port is free again
        probe.bind(("127.0.0.1", launch.port))


def test_a_worker_that_cannot_start_stops_the_server(tmp_path: Path) -> None:
    """No restart loop: LiteLLM failing at start-up in a worker ends the start, as with one."""
    runtime = LocalRuntime(tmp_path / "run")
    broken = CONFIG.replace("litellm_params:", "litelm_params:")
    launch = launch_for(write_config(tmp_path, broken), workers=2)
    with pytest.raises(StackError) as caught:
        runtime.up(launch)
    assert str(caught.value) == "litellm exited with code 3 during start-up"
    assert caught.value.details is not None
    assert "Application startup failed. Exiting." in caught.value.details
    assert "could not start; stopping" in runtime.log_path.read_text()
    assert processes_using(launch.config_path.resolve()) == []


def test_shared_socket_is_still_available(tmp_path: Path) -> None:
    """reuse_port=False runs LiteLLM's own `--num_workers` (one socket for both workers)."""
    runtime = LocalRuntime(tmp_path / "run")
    launch = launch_for(write_config(tmp_path), workers=2, reuse_port=False)
    status = runtime.up(launch)
    try:
        assert status.pid is not None and LAUNCHER_MODULE not in cmdline(status.pid)
        assert len(socket_pids("listening", launch.port)) == 1
        assert chat(status.url).status_code == 200
    finally:
        runtime.down(grace=5.0)


def test_stopping_answers_a_kept_alive_connection_and_closes_it_after(tmp_path: Path) -> None:
    """SIGTERM does not close an idle kept-alive connection under a client about to reuse it
    (that client would get a reset): its next request is answered with Connection: close."""
    runtime = LocalRuntime(tmp_path / "run")
    status = runtime.up(launch_for(write_config(tmp_path), workers=1))
    assert status.url is not None
    stopper = threading.Thread(target=runtime.down, kwargs={"grace": 60.0})
    try:
        with httpx.Client() as client:
            assert chat(status.url, client).status_code == 200  # the connection is kept alive
            stopper.start()
            deadline = time.monotonic() + 10  # SIGTERM reaches the worker: it logs its drain
            while "Draining: 1 connection(s)" not in runtime.log_path.read_text():
                if time.monotonic() > deadline:
                    break  # (no drain at all: the request below tells what stopping did)
                time.sleep(0.05)
            answer = chat(status.url, client)
    finally:
        if stopper.ident:  # started: it stops the proxy
            stopper.join(90)
        else:
            runtime.down(grace=5.0)
    assert answer.status_code == 200
    assert answer.headers["connection"] == "close"
    assert not stopper.is_alive() and not runtime.status().running
