"""Ask a stack's own Prometheus from inside its container (`docker exec ... wget`): it publishes
no port, and on Swarm its address is on an overlay network this machine cannot reach.
busybox's wget (prom/prometheus) and Debian's (our offline image) both take `-q -O -`."""

from __future__ import annotations

import json
import subprocess
from typing import Any
from urllib.parse import urlencode

PORT = 9090


def container_of(*labels: str) -> str | None:
    """The running Prometheus container matching every `key=value` label, if any."""
    filters = [arg for label in labels for arg in ("--filter", f"label={label}")]
    found = subprocess.run(["docker", "ps", "-q", *filters], capture_output=True, text=True,
                           timeout=30, check=True).stdout.split()
    return found[0] if found else None


def api(container: str, path: str, **params: str) -> Any:
    """`data` of Prometheus's HTTP API answer at /api/v1/<path>."""
    url = f"http://127.0.0.1:{PORT}/api/v1/{path}" + (f"?{urlencode(params)}" if params else "")
    out = subprocess.run(["docker", "exec", container, "wget", "-q", "-O", "-", url],
                         capture_output=True, text=True, timeout=30, check=True).stdout
    answer = json.loads(out)
    assert answer["status"] == "success", answer
    return answer["data"]
