"""The package's layers flow one way ([tool.importlinter] in pyproject.toml), checked by
import-linter on the real import graph (function-level imports included)."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

from tests.conftest import REPO

LINT = Path(sys.executable).with_name("lint-imports")


def _lint(cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([str(LINT), "--no-cache", "--config", str(cwd / "pyproject.toml")],
                          cwd=cwd, capture_output=True, text=True, timeout=300, check=False)


def test_the_layers_are_kept() -> None:
    done = _lint(REPO)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "1 kept, 0 broken" in done.stdout


def test_an_upward_import_breaks_the_contract(tmp_path: Path) -> None:
    """render importing ops (the cycle render/compose.py <-> ops/copilot.py had) fails."""
    shutil.copytree(REPO / "llmproxy_ops", tmp_path / "llmproxy_ops",
                    ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copy(REPO / "pyproject.toml", tmp_path / "pyproject.toml")
    compose = tmp_path / "llmproxy_ops" / "render" / "compose.py"
    compose.write_text(compose.read_text() + "\nfrom llmproxy_ops.ops import copilot  # noqa\n")
    done = _lint(tmp_path)
    assert done.returncode != 0, done.stdout
    assert "llmproxy_ops.render.compose -> llmproxy_ops.ops.copilot" in done.stdout, done.stdout


def test_a_target_fact_importing_a_runtime_breaks_the_contract(tmp_path: Path) -> None:
    """A target's facts are asked by render and validate: they never import a runtime."""
    shutil.copytree(REPO / "llmproxy_ops", tmp_path / "llmproxy_ops",
                    ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copy(REPO / "pyproject.toml", tmp_path / "pyproject.toml")
    facts = tmp_path / "llmproxy_ops" / "targets" / "local" / "facts.py"
    facts.write_text(facts.read_text() + "\nfrom llmproxy_ops.targets.local import runtime  # noqa\n")
    done = _lint(tmp_path)
    assert done.returncode != 0, done.stdout
    assert "llmproxy_ops.targets.local.facts -> llmproxy_ops.targets.local.runtime" in done.stdout, (
        done.stdout)
