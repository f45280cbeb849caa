"""Layered configuration: YAML with positions, layer resolution, merge with provenance."""

from llmproxy_ops.spec.model import Spec, StackSettings
from llmproxy_ops.spec.resolve import load_environment, load_files

__all__ = ["Spec", "StackSettings", "load_environment", "load_files"]
