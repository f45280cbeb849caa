"""The cyclic garbage collector, paused while a config is loaded, validated and rendered.

That work allocates hundreds of thousands of small objects (the located tree, its plain
copies, YAML nodes, findings) in a process that already holds ~10^5 long-lived ones (the
schema, LiteLLM's facts); each automatic collection walks them all, and on a config of 5,000
deployments they took more than half of load+merge. The objects form no cycles worth
waiting for (reference counting frees them).

When the pause ends, what it built and still holds (the spec, the findings) would all be in
the youngest generation, and the next allocation would walk every one of them (~0.13 s for
5,000 deployments). They are long-lived as far as the collector is concerned, so they are
moved to the oldest generation instead (freeze, then unfreeze: two list splices, no walk);
a cycle among them is found by the next full collection, as for any old object. Skipped when
something else has frozen objects (the local runtime's workers do): unfreezing would undo it.
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
            if gc.get_freeze_count() == 0:
                gc.freeze()
                gc.unfreeze()  # everything alive now: the oldest generation
            gc.enable()
