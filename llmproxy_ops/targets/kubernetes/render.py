"""The files the `kubernetes` target adds to a build (render/build.py calls `build_files`):
the folder is kustomize's root; config.yaml (with the in-cluster Redis) and runtime.env
become hash-named ConfigMaps."""

from __future__ import annotations

from pathlib import Path

from llmproxy_ops.render.kubernetes import kubernetes_files
from llmproxy_ops.spec.model import Spec


def build_files(spec: Spec, out_dir: Path, env_file: Path | None,
                request_timeout: float) -> dict[str, str]:
    return kubernetes_files(spec, request_timeout=request_timeout)
