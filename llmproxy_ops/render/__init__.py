"""Rendering: the merged spec → build/<env>/ files. Deterministic, atomic, no secret values."""

from llmproxy_ops.render.build import RenderResult, render_build

__all__ = ["RenderResult", "render_build"]
