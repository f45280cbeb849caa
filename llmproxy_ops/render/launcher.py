"""The launcher every container target serves LiteLLM through, rendered beside config.yaml.

llmproxy_ops/launcher.py is one module that imports nothing else of the package: the build
carries its bytes to the container (a compose mount, a swarm config, a Kubernetes ConfigMap)
the way it carries config.yaml, so it runs in any image with LiteLLM in it, the official one
included, and an upgrade of llmproxy-ops reaches running replicas through `apply`. The local
runtime runs the same module from the venv (`python -m llmproxy_ops.launcher`).
"""

from __future__ import annotations

from pathlib import Path

import llmproxy_ops

LAUNCHER_FILE = "llmproxy_launcher.py"
CONTAINER_DIR = "/app"  # where config.yaml and the shipped hooks are mounted too
_SOURCE = Path(llmproxy_ops.__file__).resolve().parent / "launcher.py"
MAX_RSS_VAR = "LLMPROXY_MAX_RSS_MB"  # launcher.py's memory guard (not imported: see above)


def launcher_files() -> dict[str, str]:
    """File name → content: the launcher, as the build carries it."""
    return {LAUNCHER_FILE: _SOURCE.read_text(encoding="utf-8")}


def launcher_argv() -> list[str]:
    """How a container starts it (python3 is in the official LiteLLM image and in ours; the
    health checks use it too)."""
    return ["python3", f"{CONTAINER_DIR}/{LAUNCHER_FILE}"]


def launcher_environment(
    workers: int, server: str, max_rss_mib: int | None = None
) -> dict[str, str]:
    """Several uvicorn workers are supervised (a socket each, restarted when one dies). One
    worker in a container is served in the launcher's own process: the engine restarts the
    container, a supervisor and a fork server would only cost memory; gunicorn and granian
    keep their own workers. The memory guard (stack.workers_max_rss) is the supervisor's, so
    it supervises one worker too: the replacement starts beside it in the same container."""
    guarded = server == "uvicorn" and max_rss_mib is not None
    env = {"LLMPROXY_SUPERVISE": "1" if server == "uvicorn" and (workers > 1 or guarded) else "0"}
    if guarded:
        env[MAX_RSS_VAR] = str(max_rss_mib)
    return env
