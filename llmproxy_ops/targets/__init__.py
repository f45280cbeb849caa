"""Deployment targets as plug-ins: one package per target (`targets/<name>/`) holds all it
knows, and `targets/registry.py` is the one place that names them (docs/targets.md)."""
