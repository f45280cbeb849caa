"""Thin typer layer: parse options → one library call → report."""
