"""workers-max-rss-*: the memory guard (stack.workers_max_rss) set where it can act.

The launcher's supervisor recycles a uvicorn worker whose resident memory passes the limit
(llmproxy_ops/launcher.py). Below a fresh LiteLLM worker's own size (~320 MiB with 1.108.7)
every worker would be replaced as soon as it serves; at or above the container's memory limit
the kernel's OOM killer acts first, killing the container with every connection it holds;
gunicorn and granian keep their own workers, which the guard never sees.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

from llmproxy_ops.findings import Finding, Severity, format_path
from llmproxy_ops.spec.model import STACK_KEY
from llmproxy_ops.targets.registry import target_of
from llmproxy_ops.validate.checks._common import make, stack_settings
from llmproxy_ops.validate.context import CheckContext

KEY = "workers_max_rss"
MIN_MIB = 128  # below LiteLLM's bare import: a limit that only ever replaces workers
_SIZE = re.compile(r"([0-9]+(?:\.[0-9]+)?)([kmg]?)")
_MIB_PER = {"": 1 / 2**20, "k": 1 / 1024, "m": 1, "g": 1024}


def check_workers_max_rss(ctx: CheckContext) -> Iterable[Finding]:
    stack = stack_settings(ctx.spec)
    limit = stack.workers_max_rss if stack is not None else None
    if stack is None or limit is None:
        return
    path = (STACK_KEY, KEY)
    if limit < MIN_MIB:
        yield make(ctx, Severity.ERROR, "workers-max-rss-too-low",
                   f"stack.{KEY} is {limit} MiB: a LiteLLM worker is larger than that as soon "
                   "as it starts, so every worker would be replaced as soon as it serves",
                   path, f"set at least {MIN_MIB} (a fresh worker's RSS plus what it may "
                   "gain; docs/performance.md)")
    memory = target_of(stack).litellm_memory(ctx.spec)
    container = size_mib(memory[0]) if memory is not None else None
    if memory is not None and container is not None and limit >= container:
        yield make(ctx, Severity.ERROR, "workers-max-rss-over-limit",
                   f"stack.{KEY} is {limit} MiB, not below the container's memory limit "
                   f"{format_path(memory[1])}: {memory[0]} ({container:g} MiB): the OOM "
                   "killer ends the container, and every connection it holds, first",
                   path, f"set it below {container:g} MiB (the container's workers share that "
                   "limit), or raise the memory limit")
    if stack.server != "uvicorn":
        yield make(ctx, Severity.WARNING, "workers-max-rss-unused",
                   f"stack.{KEY} guards uvicorn workers only: {stack.server} keeps its own "
                   "workers, which the launcher never sees",
                   path, "use server: uvicorn (the default), or remove the setting")


def size_mib(size: str) -> float | None:
    """Docker's sizes (512m, 4g, 1.5g, bytes without a unit) in MiB; None if not a size."""
    found = _SIZE.fullmatch(str(size).strip().lower())
    return float(found.group(1)) * _MIB_PER[found.group(2)] if found else None
