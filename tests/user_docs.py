"""The user docs as one text: README.md first, then docs/*.md.

Tests that check what the docs show (commands, make targets, figures, sentences) read this,
so a fact stays checked whichever page it lives on, and a new page is checked without a test
having to name it."""

from __future__ import annotations

from pathlib import Path

from tests.conftest import REPO


def user_doc_files() -> list[Path]:
    """README.md, then every docs/*.md by name (README first: it is read first)."""
    return [REPO / "README.md", *sorted((REPO / "docs").glob("*.md"))]


def user_docs() -> str:
    return "\n".join(path.read_text(encoding="utf-8") for path in user_doc_files())
