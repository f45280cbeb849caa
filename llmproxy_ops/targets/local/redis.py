"""The redis-server the local runtime starts beside the proxy when its workers share limits.

Several uvicorn workers each count rpm/tpm on their own unless LiteLLM's router names a
Redis (render/stack_redis.py decides when; config.yaml then reads its port and password
through os.environ/). Like the fake provider (runtime/local_fake.py): one process per
environment on a loopback port, started before the proxy, stopped by `down` after it,
shown by `status`, found again through its state file (so one left by a crashed proxy is
reused or stopped, never orphaned).

Secrets: the password (REDIS_PASSWORD from the env file, else one generated into the run
dir) is written into a 0600 config file that redis-server reads: never on its command line,
where every user of the machine could read it. Counters only: no persistence.
"""

from __future__ import annotations

import json
import secrets
import shutil
import socket
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final

from llmproxy_ops import fsutil, netutil
from llmproxy_ops.errors import RuntimeStateError, StackError
from llmproxy_ops.render.stack_redis import LOCAL_HOST, PASSWORD_VAR, PORT_VAR
from llmproxy_ops.runtime import identity, process, recovery

BINARY: Final = "redis-server"
STATE_FILE: Final = "redis.json"
CONF_FILE: Final = "redis.conf"
PASSWORD_FILE: Final = "redis.password"
LOG_FILE: Final = "redis.log"
_START_TIMEOUT_S: Final = 15.0
_LOG_TAIL: Final = 20
INSTALL_HINT: Final = (
    "install it (apt-get install redis-server), or set stack.workers: 1 (one process counts "
    "exactly), or stack.local.redis.enabled: false (each worker counts on its own)"
)

ROLE = "redis"  # its recovery marker (runtime/recovery.py)


@dataclass(frozen=True)
class RedisStatus:
    running: bool
    pid: int | None = None
    port: int | None = None
    healthy: bool = False
    log_path: Path | None = None


class LocalRedis:
    """One redis-server per run directory, found again through its state file."""

    def __init__(self, run_dir: Path, binary: str = BINARY):
        self.run_dir = Path(run_dir)
        self.binary = binary
        self.state_path = self.run_dir / STATE_FILE
        self.conf_path = self.run_dir / CONF_FILE
        self.password_path = self.run_dir / PASSWORD_FILE
        self.log_path = self.run_dir / LOG_FILE

    def up(self, *, port: int | None = None, password: str | None = None) -> RedisStatus:
        """Start it (or keep the one already running: its password stays) until it answers."""
        current = self.status()
        if current.running:
            return current
        binary = shutil.which(self.binary)
        if binary is None:
            raise StackError(f"{self.binary} is not installed: the workers of this environment "
                             "enforce rate limits and must share their counters through Redis",
                             hint=INSTALL_HINT)
        if port is not None and process.port_in_use(LOCAL_HOST, port):
            raise RuntimeStateError(f"port {port} on {LOCAL_HOST} (stack.local.redis.port) is "
                                    "already in use by another process",
                                    hint="stop whatever listens there or choose another port")
        fsutil.ensure_private_dir(self.run_dir)
        port = port or netutil.free_port(LOCAL_HOST)
        password = password or self._password() or secrets.token_urlsafe(24)
        fsutil.atomic_write_text(self.password_path, password + "\n", mode=0o600)
        fsutil.atomic_write_text(self.conf_path, _conf(port, password, self.run_dir), mode=0o600)
        offset = self.log_path.stat().st_size if self.log_path.is_file() else 0
        # argv: the binary and the config file's path only
        env = {"PATH": "/usr/bin:/bin", **recovery.marker_env(self.run_dir, ROLE)}
        pid, ident = identity.spawn([binary, str(self.conf_path)], env, self.log_path)
        self._save({"pid": pid, "port": port, "identity": ident.to_json()})
        try:
            self._wait_healthy(pid, port, password, offset)
        except BaseException:
            process.stop_group(pid)
            self._forget()
            raise
        return self.status()

    def environment(self) -> dict[str, str]:
        """What config.yaml's os.environ/ references need to reach the running one."""
        state, password = self._state(), self._password()
        if not isinstance(state.get("port"), int) or password is None:
            raise RuntimeStateError(f"no redis-server is recorded in {self.run_dir}")
        return {PORT_VAR: str(state["port"]), PASSWORD_VAR: password}

    def down(self, grace: float = 5.0) -> str | None:
        """Stop it; the message, or None when none was running."""
        state = self._state()
        pid = state.get("pid")
        running = isinstance(pid, int) and self._is_ours(pid, state)
        self._forget()
        if not running:
            # a lost or corrupt state file: found by the marker it was started with
            found = recovery.stop_marked(self.run_dir, ROLE, grace)
            return f"stopped: redis-server (pid {found[0]}), found by its run-dir marker" \
                if found else None
        assert isinstance(pid, int)
        process.stop_group(pid, grace)
        return f"stopped: redis-server (pid {pid})"

    def status(self) -> RedisStatus:
        state = self._state()
        pid = state.get("pid")
        if not isinstance(pid, int) or not self._is_ours(pid, state):
            return RedisStatus(False, log_path=self.log_path)
        port = int(state["port"])
        return RedisStatus(True, pid, port, _pong(port, self._password() or ""), self.log_path)

    # ---- internals ---------------------------------------------------------------------------

    def _wait_healthy(self, pid: int, port: int, password: str, offset: int) -> None:
        deadline = time.monotonic() + _START_TIMEOUT_S
        while time.monotonic() < deadline:
            if not process.pid_alive(pid):
                raise self._failed("redis-server exited during start-up", offset)
            if _pong(port, password):
                return
            time.sleep(0.05)
        raise self._failed(f"redis-server did not answer within {_START_TIMEOUT_S:g} s "
                           f"({LOCAL_HOST}:{port})", offset)

    def _failed(self, message: str, offset: int) -> StackError:
        tail = process.tail_lines(self.log_path, _LOG_TAIL, start_offset=offset)
        return StackError(message, hint=f"full log: {self.log_path}", details="\n".join(tail))

    def _is_ours(self, pid: int, state: dict[str, Any]) -> bool:
        """The redis-server we started (identity.py), on our port or with our config: a
        recycled pid, or any redis-server a forged state names, is never signalled.

        (One started by an older version retitled itself `redis-server 127.0.0.1:PORT`.)"""
        argv = " ".join(process.cmdline(pid))
        return process.pid_alive(pid) and BINARY in argv and (
            f"{LOCAL_HOST}:{state.get('port')}" in argv or str(self.conf_path) in argv
        ) and identity.matches(pid, state.get("identity"))


    def _password(self) -> str | None:
        try:
            return self.password_path.read_text().strip() or None
        except FileNotFoundError:
            return None

    def _forget(self) -> None:
        # the password and the config holding it go with the server
        for path in (self.state_path, self.conf_path, self.password_path):
            path.unlink(missing_ok=True)

    def _state(self) -> dict[str, Any]:
        return process.read_json_object(self.state_path)

    def _save(self, state: dict[str, Any]) -> None:
        process.atomic_write_text(self.state_path, json.dumps(state, indent=2) + "\n")


def _conf(port: int, password: str, folder: Path) -> str:
    return "".join(f"{line}\n" for line in (
        f"bind {LOCAL_HOST}", f"port {port}", "protected-mode yes", "daemonize no",
        'logfile ""', f"dir {_quote(str(folder.resolve()))}",
        # its title would overwrite its environment, and with it the token identity.py checks
        "set-proc-title no",
        f"requirepass {_quote(password)}",
        # shared rate-limit counters expire within minutes: nothing to keep
        'save ""', "appendonly no",
    ))


def _quote(value: str) -> str:
    """A redis.conf string: double quotes, every byte outside [A-Za-z0-9] as \\xHH."""
    return '"' + "".join(c if c.isascii() and c.isalnum() else
                         "".join(f"\\x{b:02x}" for b in c.encode()) for c in value) + '"'


def _pong(port: int, password: str) -> bool:
    """AUTH then PING over RESP: a raw socket, so the password is in no process's argv."""
    auth = password.encode()
    request = (b"*2\r\n$4\r\nAUTH\r\n$" + str(len(auth)).encode() + b"\r\n" + auth + b"\r\n"
               b"*1\r\n$4\r\nPING\r\n")
    try:
        with socket.create_connection((LOCAL_HOST, port), timeout=2.0) as sock:
            sock.sendall(request)
            reply = b""
            while b"PONG" not in reply and not reply.startswith(b"-"):
                chunk = sock.recv(256)
                if not chunk:
                    break
                reply += chunk
    except OSError:
        return False
    return reply == b"+OK\r\n+PONG\r\n"
