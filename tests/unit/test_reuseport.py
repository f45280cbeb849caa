"""The SO_REUSEPORT listeners and the argv that chooses them (no litellm started here)."""

from __future__ import annotations

import errno
import socket
from pathlib import Path

import pytest

from llmproxy_ops.runtime.local import REUSEPORT_MODULE, LaunchSpec, LocalRuntime
from llmproxy_ops.runtime.reuseport import listen_sockets
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
    ("workers", "server", "reuse_port", "via_module"),
    [
        (2, "uvicorn", True, True),
        (1, "uvicorn", True, True),  # one worker too: a rollout starts a second proxy beside it
        (2, "uvicorn", False, False),  # opted out: LiteLLM's shared socket
        (2, "gunicorn", True, False),  # other servers have their own process model
        (2, "granian", True, False),
    ],
)
def test_argv_uses_the_module_for_uvicorn_workers(
    tmp_path: Path, workers: int, server: str, reuse_port: bool, via_module: bool
) -> None:
    runtime = LocalRuntime(tmp_path / "run", litellm_bin=Path("/venv/bin/litellm"))
    config = tmp_path / "config.yaml"
    launch = LaunchSpec(
        config_path=config, port=4010, workers=workers, server=server, reuse_port=reuse_port
    )
    argv = runtime._argv(launch, config)
    head = ["/venv/bin/python", "-m", REUSEPORT_MODULE] if via_module else ["/venv/bin/litellm"]
    assert argv[: len(head)] == head
    assert argv[len(head) : len(head) + 2] == ["--config", str(config)]
    assert argv[argv.index("--num_workers") + 1] == str(workers)
