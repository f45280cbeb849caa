"""The SO_REUSEPORT listeners and the argv that chooses them (no litellm started here)."""

from __future__ import annotations

import errno
import socket
from pathlib import Path

import pytest

from llmproxy_ops.launcher import listen_sockets
from llmproxy_ops.targets.local.process import LAUNCHER_MODULE, LaunchSpec, LocalRuntime
from tests.conftest import free_port


def test_one_listening_socket_per_worker_on_one_port() -> None:
    port = free_port()
    sockets = listen_sockets("127.0.0.1", port, 3, backlog=16)
    try:
        assert len({s.fileno() for s in sockets}) == 3
        assert {s.getsockname() for s in sockets} == {("127.0.0.1", port)}
        # Each one is listening: a client connection lands in one of their queues.
        with socket.create_connection(("127.0.0.1", port), timeout=2):
            pass
    finally:
        for s in sockets:
            s.close()


def test_a_port_held_by_another_program_is_an_error_and_nothing_is_left_open() -> None:
    with socket.socket() as other:  # a plain listener, as any other server would be
        other.bind(("127.0.0.1", 0))
        other.listen()
        port = other.getsockname()[1]
        with pytest.raises(OSError) as caught:
            listen_sockets("127.0.0.1", port, 2, backlog=16)
        assert caught.value.errno == errno.EADDRINUSE
    # Nothing of ours kept the port: it binds without SO_REUSEPORT now.
    with socket.socket() as again:
        again.bind(("127.0.0.1", port))


@pytest.mark.parametrize(
    ("workers", "server", "reuse_port", "via_module", "supervised"),
    [
        (2, "uvicorn", True, True, "1"),
        (1, "uvicorn", True, True, "1"),  # one worker too: a rollout starts a second beside it
        (2, "uvicorn", False, False, "0"),  # opted out: LiteLLM's CLI as shipped (seeds' way)
        # other servers keep their own process model, on the launcher's event loop
        (2, "gunicorn", True, True, "0"),
        (2, "granian", True, True, "0"),
    ],
)
def test_argv_serves_through_the_launcher(
    tmp_path: Path, workers: int, server: str, reuse_port: bool, via_module: bool,
    supervised: str,
) -> None:
    runtime = LocalRuntime(tmp_path / "run", litellm_bin=Path("/venv/bin/litellm"))
    config = tmp_path / "config.yaml"
    launch = LaunchSpec(
        config_path=config, port=4010, workers=workers, server=server, reuse_port=reuse_port
    )
    argv = runtime._argv(launch, config)
    head = ["/venv/bin/python", "-m", LAUNCHER_MODULE] if via_module else ["/venv/bin/litellm"]
    assert argv[: len(head)] == head
    assert argv[len(head) : len(head) + 2] == ["--config", str(config)]
    assert argv[argv.index("--num_workers") + 1] == str(workers)
    env = runtime._child_env(launch, tmp_path / "workers-x.json")
    assert env["LLMPROXY_SUPERVISE"] == supervised
    assert env["LLMPROXY_PORT"] == "4010"  # LiteLLM's CLI would leave a busy 4000 silently


def test_collection_at_safe_points_applies_cpythons_thresholds() -> None:
    """With automatic collection off, the tick collects what CPython would have: garbage
    cycles are freed, the counts start again, an older generation goes when its count is due."""
    import gc
    import weakref

    from llmproxy_ops.launcher import collect_when_due

    class Node:
        pass

    was_enabled, threshold = gc.isenabled(), gc.get_threshold()
    gc.collect()
    gc.disable()
    gc.set_threshold(50, 2, 1000)
    try:
        refs = []
        for _ in range(60):  # cycles only the collector frees
            a, b = Node(), Node()
            a.other, b.other = b, a
            refs.append(weakref.ref(a))
        del a, b
        assert gc.get_count()[0] >= 50 and all(r() is not None for r in refs)
        collect_when_due()
        assert all(r() is None for r in refs)  # collected at the safe point
        assert gc.get_count()[0] < 50 and gc.get_count()[1] == 1  # a generation-0 collection
        collect_when_due()  # nothing due: nothing collected
        assert gc.get_count()[1] == 1
    finally:
        gc.set_threshold(*threshold)
        if was_enabled:
            gc.enable()
