"""server-crash-unprotected: a server whose workers the launcher cannot keep alive.

LiteLLM 1.108.7 on CPython before 3.12 dies with SIGSEGV when a garbage collection starts
inside ContextVar.set (CPython gh-148891). The launcher (llmproxy_ops/launcher.py) lets
uvicorn workers collect only between two steps of their event loop; gunicorn's and granian's
workers run LiteLLM outside it, so they collect anywhere (granian's workers were seen to
segfault under streaming load here, benchmarks/perf.py).
"""

from __future__ import annotations

from collections.abc import Iterable

from llmproxy_ops.findings import Finding, Severity
from llmproxy_ops.spec.model import STACK_KEY
from llmproxy_ops.validate.checks._common import get_in, make
from llmproxy_ops.validate.context import CheckContext

UNPROTECTED = ("gunicorn", "granian")


def check_server_crash_unprotected(ctx: CheckContext) -> Iterable[Finding]:
    server = get_in(ctx.spec.root, STACK_KEY, "server")
    if server not in UNPROTECTED:
        return
    yield make(
        ctx,
        Severity.WARNING,
        "server-crash-unprotected",
        f"{server}'s workers collect garbage anywhere: under load LiteLLM on CPython 3.11 dies "
        "with SIGSEGV inside ContextVar.set (CPython gh-148891); only uvicorn's workers are "
        "kept to safe points by the launcher",
        (STACK_KEY, "server"),
        "use server: uvicorn (the default), or run LiteLLM on CPython 3.12 or newer",
    )
