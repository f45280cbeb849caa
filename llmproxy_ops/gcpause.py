"""The cyclic garbage collector, paused while a config is loaded, validated and rendered.

That work allocates hundreds of thousands of small objects (the located tree, its plain
copies, YAML nodes, findings) in a process that already holds ~10^5 long-lived ones (the
schema, LiteLLM's facts); each automatic collection walks them all, and on a config of 5,000
deployments they took more than half of load+merge. The objects form no cycles worth
waiting for (reference counting frees them); whatever cycles there are are collected once
the pause ends, as usual.
"""

from __future__ import annotations

import contextlib
import gc
from collections.abc import Iterator


@contextlib.contextmanager
def collector_paused() -> Iterator[None]:
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()
