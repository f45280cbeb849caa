"""This machine's engine as a one-node swarm for a test module, with the data label the
stateful services are placed by (targets/swarm/render.py); left as it was found afterwards (the
engine is shared with compose stacks that assume no swarm)."""

from __future__ import annotations

import os
import subprocess
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

LABEL = "llmproxy-ops.data"


def docker(*args: str, check: bool = True) -> str:
    proc = subprocess.run(["docker", *args], capture_output=True, text=True, timeout=120,
                          check=False)
    if check and proc.returncode != 0:
        raise AssertionError(f"docker {' '.join(args)}: {proc.stderr}")
    return proc.stdout


@contextmanager
def one_node_swarm(remove_leftovers: Callable[[], object]) -> Iterator[str]:
    """The node id. `remove_leftovers` runs first when the engine already was a swarm: a run
    killed before its teardown (e.g. by `timeout`) left its stack."""
    created = docker("info", "--format", "{{.Swarm.LocalNodeState}}").strip() != "active"
    if created and docker("swarm", "init", check=False) == "":  # several addresses: pick one
        docker("swarm", "init", "--advertise-addr", "127.0.0.1")
    node = docker("info", "--format", "{{.Swarm.NodeID}}").strip()
    docker("node", "update", "--label-add", f"{LABEL}=true", node)
    if not created:
        remove_leftovers()
    try:
        yield node
    finally:
        if created:
            docker("swarm", "leave", "--force", check=False)
        else:
            docker("node", "update", "--label-rm", LABEL, node, check=False)


# ---- two nodes on one machine (scripts/swarm-second-node.sh) --------------------------------

SECOND_NODE_SCRIPT = Path(__file__).resolve().parents[1] / "scripts" / "swarm-second-node.sh"
CANNOT = 3  # the script's exit code when this kernel cannot run a second node
# The node runs LiteLLM replicas; the fake provider (no placement) may land there too.
NODE2_IMAGES = "llmproxy-ops/litellm:1.108.7 llmproxy-ops/fake-provider:latest"


def second_node(action: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["bash", str(SECOND_NODE_SCRIPT), action], capture_output=True,
                          text=True, timeout=900, check=False,
                          env={**os.environ, "NODE2_IMAGES": NODE2_IMAGES})


@contextmanager
def swarm_where_possible_of_two(remove_leftovers: Callable[[], object]) -> Iterator[str]:
    """Two nodes (the second in a network namespace) where this machine can run them, else
    one; yields the line that says which and why, for the run's output."""
    why_one = "not root: a second node needs a network namespace and its own dockerd"
    if os.geteuid() == 0:
        up = second_node("up")
        if up.returncode == 0:
            main = docker("info", "--format", "{{.Swarm.NodeID}}").strip()
            docker("node", "update", "--label-add", f"{LABEL}=true", main)
            try:
                remove_leftovers()
                yield "2 nodes (the second: scripts/swarm-second-node.sh)"
            finally:
                docker("node", "update", "--label-rm", LABEL, main, check=False)
                down = second_node("down")  # leaves the swarm too when `up` created it
                assert down.returncode == 0, down.stderr
            return
        second_node("down")
        if up.returncode != CANNOT:
            raise AssertionError(f"scripts/swarm-second-node.sh up failed:\n{up.stderr}")
        why_one = up.stderr.strip().splitlines()[-1] if up.stderr.strip() else "exit 3"
    with one_node_swarm(remove_leftovers):
        yield f"1 node: no second one here ({why_one})"
