"""The `compose` deployment target: all it knows lives in this package (docs/targets.md)."""
