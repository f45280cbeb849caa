"""Where the Kubernetes tests find their tools: they fail, never skip, when one is missing."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from tests.conftest import REPO


def tool(path: str | Path | None, name: str) -> str:
    if path is None or not Path(path).is_file():
        pytest.fail(f"{name} is not installed: run scripts/install-test-deps.sh", pytrace=False)
    return str(path)


def kubectl_path() -> str:
    """kubectl on PATH, else the one scripts/install-test-deps.sh extracts into .tools/bin."""
    return tool(shutil.which("kubectl") or REPO / ".tools/bin/kubectl", "kubectl")
