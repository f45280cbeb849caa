"""Semantic checks over the merged spec, one module per family (registered in validate.semantic)."""
