"""Runtimes that start, stop and probe the stock LiteLLM proxy."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from llmproxy_ops.runtime.api import StopResult
    from llmproxy_ops.runtime.local_process import LaunchSpec, LocalRuntime, RuntimeStatus

__all__ = ["LaunchSpec", "LocalRuntime", "RuntimeStatus", "StopResult"]


def __getattr__(name: str) -> Any:
    # imported on first use: `validate` needs a constant of runtime.local_fake, not the runtime
    if name in __all__:
        from llmproxy_ops.runtime import local_process

        return getattr(local_process, name)
    raise AttributeError(name)
