"""Key-level summary of two generated LiteLLM schemas (what an upgrade added, removed, changed).

`python -m llmproxy_ops.validate.schema_diff OLD.json NEW.json` prints one line per config
key, grouped by section, for the upgrade's review and changelog (`make upgrade-litellm`).
"""

from __future__ import annotations

import argparse
import json
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

Schema = dict[str, Any]


@dataclass(frozen=True)
class SchemaDiff:
    old_version: str
    new_version: str
    added: list[str]
    removed: list[str]
    changed: list[str]


def config_keys(schema: Schema, prefix: str = "") -> dict[str, Schema]:
    """Every dotted config key of `schema` with its (sub)schema; model_list items as `[]`."""
    keys: dict[str, Schema] = {}
    for name, sub in (schema.get("properties") or {}).items():
        path = f"{prefix}.{name}" if prefix else name
        keys[path] = sub
        keys.update(config_keys(sub, path))
    items = schema.get("items")
    if isinstance(items, dict):
        keys.update(config_keys(items, f"{prefix}[]"))
    return keys


def _leaf(schema: Schema) -> Schema:
    # a section's own entry changes whenever a key below it does: compare its shape only
    return {k: v for k, v in schema.items() if k not in ("properties", "items")}


def diff_schemas(old: Schema, new: Schema) -> SchemaDiff:
    before, after = config_keys(old), config_keys(new)
    common = sorted(set(before) & set(after))
    return SchemaDiff(
        old_version=str(old.get("x-litellm-version", "?")),
        new_version=str(new.get("x-litellm-version", "?")),
        added=sorted(set(after) - set(before)),
        removed=sorted(set(before) - set(after)),
        changed=[k for k in common if _leaf(before[k]) != _leaf(after[k])],
    )


def format_diff(diff: SchemaDiff) -> str:
    lines = [
        f"LiteLLM config keys, {diff.old_version} -> {diff.new_version}: "
        f"{len(diff.added)} added, {len(diff.removed)} removed, {len(diff.changed)} changed"
    ]
    for mark, keys in (("+", diff.added), ("-", diff.removed), ("~", diff.changed)):
        lines.extend(f"  {mark} {key}" for key in keys)
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("old", type=Path, help="the schema before the upgrade")
    parser.add_argument("new", type=Path, help="the schema after it")
    args = parser.parse_args(argv)
    try:
        old, new = (json.loads(p.read_text(encoding="utf-8")) for p in (args.old, args.new))
    except (OSError, ValueError) as exc:
        print(f"schema_diff: {exc}", file=sys.stderr)
        return 2
    sys.stdout.write(format_diff(diff_schemas(old, new)))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
