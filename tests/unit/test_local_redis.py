"""The local runtime's redis-server (targets/local/redis.py), a real one on loopback."""

from __future__ import annotations

import shutil
import socket
from pathlib import Path

import pytest

from llmproxy_ops.errors import RuntimeStateError
from llmproxy_ops.runtime import process
from llmproxy_ops.targets.local.redis import LocalRedis


def test_a_running_one_is_kept_with_its_password(tmp_path: Path) -> None:
    redis = LocalRedis(tmp_path)
    try:
        first = redis.up(password="from-the-env-file")
        # no password in argv; not retitled (set-proc-title no keeps its environment intact)
        assert first.healthy and process.cmdline(first.pid or 0) == [
            shutil.which("redis-server"), str(tmp_path / "redis.conf")]
        # a second start (a rollout, or after a crashed proxy) reuses it, password and all
        assert redis.up(password="changed-since") == first
        assert redis.environment() == {"LLMPROXY_REDIS_PORT": str(first.port),
                                       "REDIS_PASSWORD": "from-the-env-file"}
    finally:
        assert redis.down() == f"stopped: redis-server (pid {first.pid})"
    assert redis.down() is None and not redis.status().running


def test_a_configured_port_in_use_is_refused_before_starting(tmp_path: Path) -> None:
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        with pytest.raises(RuntimeStateError) as caught:
            LocalRedis(tmp_path).up(port=port)
    assert caught.value.message == (
        f"port {port} on 127.0.0.1 (stack.local.redis.port) is already in use by another process")
    assert sorted(p.name for p in tmp_path.iterdir()) == []
