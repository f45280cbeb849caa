"""This machine's engine as a one-node swarm for a test module, with the data label the
stateful services are placed by (render/swarm.py); left as it was found afterwards (the
engine is shared with compose stacks that assume no swarm)."""

from __future__ import annotations

import subprocess
from collections.abc import Callable, Iterator
from contextlib import contextmanager

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
