"""Runtimes that start, stop and probe the stock LiteLLM proxy."""

from llmproxy_ops.runtime.local import LaunchSpec, LocalRuntime, RuntimeStatus, StopResult

__all__ = ["LaunchSpec", "LocalRuntime", "RuntimeStatus", "StopResult"]
