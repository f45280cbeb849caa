"""Rendering: the merged spec → build/<env>/ files. Deterministic, atomic, no secret values."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from llmproxy_ops.render.build import RenderResult, render_build

__all__ = ["RenderResult", "render_build"]


def __getattr__(name: str) -> Any:
    # imported on first use: `validate` reads render.litellm_config, not the build writer
    if name in __all__:
        from llmproxy_ops.render import build

        return getattr(build, name)
    raise AttributeError(name)
