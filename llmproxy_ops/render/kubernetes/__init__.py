"""Kubernetes manifests (a kustomize folder) from the validated spec: rendered, never started."""

from llmproxy_ops.render.kubernetes.files import KUSTOMIZATION_FILE, kubernetes_files

__all__ = ["KUSTOMIZATION_FILE", "kubernetes_files"]
