"""Human views of a merged spec: plain YAML, YAML annotated with provenance, diffs."""

from __future__ import annotations

import difflib
from typing import Any

import yaml

from llmproxy_ops.spec.located import LList, LMap, to_plain
from llmproxy_ops.spec.model import Spec


def plain_yaml(spec: Spec) -> str:
    return yaml.safe_dump(to_plain(spec.root), sort_keys=False, allow_unicode=True, width=100)


def annotated_yaml(spec: Spec) -> str:
    """The merged YAML with `# file:line` after every key and list item."""
    lines: list[str] = [f"# layers, in merge order: {', '.join(spec.sources)}"]
    _emit_map(spec.root, 0, lines)
    return "\n".join(lines) + "\n"


def _scalar(value: Any) -> str:
    text = yaml.safe_dump(value, default_flow_style=True, allow_unicode=True, width=10**6)
    return text.removesuffix("\n...\n").strip()


def _emit_map(node: LMap, indent: int, lines: list[str], first_prefix: str | None = None) -> None:
    for i, (key, value) in enumerate(node.items()):
        pad = first_prefix if (first_prefix is not None and i == 0) else " " * indent
        where = f"  # {node.locs[key]}"
        if isinstance(value, LMap) and value:
            lines.append(f"{pad}{_scalar(key)}:{where}")
            _emit_map(value, indent + 2, lines)
        elif isinstance(value, LList) and value:
            lines.append(f"{pad}{_scalar(key)}:{where}")
            _emit_list(value, indent + 2, lines)
        else:
            lines.append(f"{pad}{_scalar(key)}: {_scalar(to_plain(value))}{where}")


def _emit_list(node: LList, indent: int, lines: list[str]) -> None:
    for item, loc in zip(node, node.locs, strict=True):
        prefix = " " * indent + "- "
        if isinstance(item, LMap) and item:
            _emit_map(item, indent + 2, lines, first_prefix=prefix)
        elif isinstance(item, LList) and item:
            lines.append(f"{prefix}  # {loc}")
            _emit_list(item, indent + 2, lines)
        else:
            lines.append(f"{prefix}{_scalar(to_plain(item))}  # {loc}")


def diff_specs(a: Spec, b: Spec) -> str:
    """Unified diff of the two merged configurations ('' when they are identical)."""
    left, right = plain_yaml(a).splitlines(keepends=True), plain_yaml(b).splitlines(keepends=True)
    return "".join(difflib.unified_diff(left, right, fromfile=a.name, tofile=b.name))
