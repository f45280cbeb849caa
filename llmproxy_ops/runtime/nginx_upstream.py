"""nginx in front of the compose replicas: steer new requests away from one, then drain it.

nginx's own mechanisms, nothing home-made in the request path: the upstream's `server` lines
live in a file nginx.conf includes (render/compose.py); a step rewrites it (the replica being
replaced marked `down`, or a new container added) and runs `nginx -s reload`. The reload
starts new workers with the new list; the old workers stop accepting, finish the requests
and streams they have in flight, then exit. So "drained" is exact: every worker that existed
before the reload is gone (or the drain timeout passed).
"""

from __future__ import annotations

import subprocess
import time
from collections.abc import Callable

from llmproxy_ops.errors import CommandFailed
from llmproxy_ops.render.compose import LITELLM_PORT, NGINX_UPSTREAM_LIVE
from llmproxy_ops.render.nginx import render_upstream

Exec = Callable[..., subprocess.CompletedProcess[str]]  # (argv, *, input=, timeout=)
_POLL_S = 0.5

# Keeps the previous list when the new one does not pass `nginx -t` (the reload would be
# refused anyway; a restarted nginx must not meet a broken file). Prints the PIDs of the
# workers that serve now: the ones the reload retires.
_STEER = f"""set -e
live={NGINX_UPSTREAM_LIVE}
cp "$live" "$live.bak"
cat > "$live.new" && mv "$live.new" "$live"
if ! nginx -t -q 2>/tmp/llmproxy-nginx-t; then
  mv "$live.bak" "$live"; cat /tmp/llmproxy-nginx-t >&2; exit 1
fi
for p in /proc/[0-9]*; do
  case "$(tr '\\0' ' ' < "$p/cmdline" 2>/dev/null)" in
    "nginx: worker process"*) echo "${{p#/proc/}}";;
  esac
done
nginx -s reload
"""
_ALIVE = 'for p in "$@"; do [ -d "/proc/$p" ] && echo "$p"; done; true'


def reload_caveat(reloads: int) -> str | None:
    """What `reloads` nginx reloads may have cost clients, said after a rollout (None: none).
    A reload's retired workers close their idle keep-alive client connections at once; a
    request a client sends on one at that instant is never read. HTTP/1.1 has no way to
    announce the close (HTTP/2 has GOAWAY), so no setting rules it out."""
    if not reloads:
        return None
    return (f"nginx reloaded {reloads} time(s): a request sent on an idle keep-alive "
            "connection at the instant of a reload gets no answer (nothing is processed) and "
            "must be sent again, as the OpenAI and Anthropic SDKs do by default")


class NginxUpstream:
    """The live upstream list of one nginx service, changed through `exec` in its container."""

    def __init__(self, exec_in_nginx: Exec):
        self._exec = exec_in_nginx
        self.reloads = 0  # reloads so far: each closes the idle client connections it retires

    def steer(self, servers: list[tuple[str, bool]]) -> list[str]:
        """Write (host, down) per replica and reload; the PIDs of the workers it retires."""
        text = render_upstream(servers, LITELLM_PORT)
        out = self._exec(["/bin/sh", "-c", _STEER], input=text, timeout=60)
        self.reloads += 1
        return [p for p in out.stdout.split() if p.isdigit()]

    def drain(self, workers: list[str], timeout: float) -> str:
        """Wait until the retired workers exited: their requests and streams are done."""
        t0 = deadline = time.monotonic()
        deadline += timeout
        alive = workers
        while alive and time.monotonic() < deadline:
            time.sleep(_POLL_S)
            alive = self.alive(workers)
        took = time.monotonic() - t0
        if alive:
            # Past the drain timeout the replica is replaced anyway (said, not a failure):
            # the streams still open on it are cut, as the spec's drain_timeout allows.
            return (f"drain timeout {timeout:g} s reached; {len(alive)} old nginx worker(s) "
                    "still had requests in flight")
        return f"in-flight requests finished in {took:.1f} s"

    def alive(self, workers: list[str]) -> list[str]:
        if not workers:
            return []
        try:
            out = self._exec(["/bin/sh", "-c", _ALIVE, "alive", *workers], timeout=30)
        except CommandFailed:  # cannot tell: count them as busy until the timeout
            return workers
        return [p for p in out.stdout.split() if p.isdigit()]
