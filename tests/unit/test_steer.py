"""Connection steering within one SO_REUSEPORT group (real sockets on 127.0.0.1)."""

from __future__ import annotations

import socket

from llmproxy_ops.launcher import listen_sockets
from llmproxy_ops.runtime import steer
from tests.conftest import free_port

CONNECTIONS = 24


def accepted(groups: list[list[socket.socket]], port: int) -> list[int]:
    """Open CONNECTIONS connections; how many each group's sockets got."""
    clients = [socket.create_connection(("127.0.0.1", port), timeout=5) for _ in range(CONNECTIONS)]
    counts = []
    for group in groups:
        n = 0
        for sock in group:
            sock.setblocking(False)
            while True:
                try:
                    sock.accept()[0].close()
                    n += 1
                except BlockingIOError:
                    break
        counts.append(n)
    for c in clients:
        c.close()
    return counts


def test_a_new_group_joins_without_taking_connections_until_steered() -> None:
    port = free_port()
    old = listen_sockets("127.0.0.1", port, 2, backlog=64)
    new = listen_sockets("127.0.0.1", port, 2, backlog=64, steer_behind=2)
    try:
        assert accepted([old, new], port) == [CONNECTIONS, 0]
        steer.attach(new[0], offset=2, count=2)
        assert accepted([old, new], port) == [0, CONNECTIONS]
        for sock in old:
            sock.close()
        steer.detach(new[0])
        assert accepted([new], port) == [CONNECTIONS]
    finally:
        for sock in old + new:
            sock.close()
