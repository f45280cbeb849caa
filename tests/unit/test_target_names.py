"""Outside llmproxy_ops/targets/, no code compares a target's name: it asks the target's facts
(targets/registry.py, docs/targets.md). The scan reads the syntax tree, so a comparison cannot
hide behind formatting, and a planted one in a copy proves it is not vacuous."""

from __future__ import annotations

import ast
import shutil
from pathlib import Path

from llmproxy_ops.targets.registry import TARGETS
from tests.conftest import REPO

NAMES = frozenset(TARGETS)
_COMPARING = (ast.Eq, ast.NotEq, ast.In, ast.NotIn)


def _names_in(node: ast.AST) -> list[str]:
    """The target names `node` spells: a string constant, or a tuple/list/set of them."""
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return [node.value] if node.value in NAMES else []
    if isinstance(node, ast.Tuple | ast.List | ast.Set):
        return [name for element in node.elts for name in _names_in(element)]
    return []


def _patterns_named(pattern: ast.pattern) -> list[str]:
    if isinstance(pattern, ast.MatchValue):
        return _names_in(pattern.value)
    if isinstance(pattern, ast.MatchOr):
        return [name for p in pattern.patterns for name in _patterns_named(p)]
    return []


def _named_lists(node: ast.AST) -> list[str]:
    """A tuple/list/set of two or more target names and nothing else: a list of targets kept
    outside the registry (a JSON path such as ("stack", "compose", "db") is not one)."""
    if isinstance(node, ast.Tuple | ast.List | ast.Set) and len(node.elts) >= 2:
        names = [name for element in node.elts for name in _names_in(element)]
        return names if len(names) == len(node.elts) else []
    return []


def name_comparisons(package: Path) -> list[str]:
    """`file:line: names` for every comparison with a target's name outside targets/."""
    found: dict[tuple[Path, int], list[str]] = {}
    for path in sorted(package.rglob("*.py")):
        if "targets" in path.relative_to(package).parts[:1]:
            continue
        tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
        for node in ast.walk(tree):
            names: list[str] = []
            if isinstance(node, ast.Compare) and any(isinstance(o, _COMPARING) for o in node.ops):
                names = [n for side in (node.left, *node.comparators) for n in _names_in(side)]
            elif isinstance(node, ast.match_case):
                names, node = _patterns_named(node.pattern), node.pattern
            else:
                names = _named_lists(node)
            if names:  # a named tuple in a comparison is one finding, not two
                found.setdefault((path.relative_to(package.parent), node.lineno), names)
    return [f"{where}:{line}: {', '.join(names)}" for (where, line), names in sorted(found.items())]


def test_no_code_outside_targets_compares_a_target_name() -> None:
    assert name_comparisons(REPO / "llmproxy_ops") == []


def test_a_planted_comparison_is_caught(tmp_path: Path) -> None:
    package = tmp_path / "llmproxy_ops"
    shutil.copytree(REPO / "llmproxy_ops", package, ignore=shutil.ignore_patterns("__pycache__"))
    nginx = package / "render" / "nginx.py"
    nginx.write_text(nginx.read_text() + (
        "\n\ndef _planted(spec, kind):\n"
        "    if spec.stack.runtime != 'swarm':\n"
        "        return kind in ('local', 'compose')\n"
        "    match kind:\n"
        "        case 'kubernetes':\n"
        "            return True\n"
        "    return False\n"))
    lines = len(nginx.read_text().splitlines())
    assert name_comparisons(package) == [
        f"llmproxy_ops/render/nginx.py:{lines - 5}: swarm",
        f"llmproxy_ops/render/nginx.py:{lines - 4}: local, compose",
        f"llmproxy_ops/render/nginx.py:{lines - 2}: kubernetes",
    ]


def test_the_registry_names_every_target_package() -> None:
    """One package per target, one registry line each: neither without the other."""
    packages = {p.parent.name for p in (REPO / "llmproxy_ops" / "targets").glob("*/facts.py")}
    assert packages == NAMES
    assert all(info.name == name for name, info in TARGETS.items())
