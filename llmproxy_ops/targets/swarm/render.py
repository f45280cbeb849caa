"""The files the `swarm` target adds to a build (render/build.py calls `build_files`):
config.yaml may gain the stack's Redis; rendered files become Docker configs."""

from __future__ import annotations

from pathlib import Path

from llmproxy_ops.render.swarm import swarm_files
from llmproxy_ops.spec.model import Spec


def build_files(spec: Spec, out_dir: Path, env_file: Path | None,
                request_timeout: float) -> dict[str, str]:
    return swarm_files(spec, out_dir=out_dir, env_file=env_file, request_timeout=request_timeout)
