"""Kubernetes manifests (a kustomize folder) from the validated spec: rendered, never started.

`build_files` is the target's `render` hook (render/build.py): the folder is kustomize's
root; config.yaml (with the in-cluster Redis) and runtime.env become hash-named ConfigMaps.
"""

from __future__ import annotations

from pathlib import Path

from llmproxy_ops.spec.model import Spec
from llmproxy_ops.targets.kubernetes.render.files import KUSTOMIZATION_FILE, kubernetes_files

__all__ = ["KUSTOMIZATION_FILE", "build_files", "kubernetes_files"]


def build_files(spec: Spec, out_dir: Path, env_file: Path | None,
                request_timeout: float, config_yaml: str) -> dict[str, str]:
    return kubernetes_files(spec, request_timeout=request_timeout)
