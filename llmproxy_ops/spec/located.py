"""Containers that remember where each entry was written.

PyYAML's constructors drop positions, so values are loaded into these dict/list subclasses
whose `locs` map each key (or index) to the Location of the key (or item) in its file.
Merging copies the locations along with the values, so provenance survives layering.
"""

from __future__ import annotations

from typing import Any

from llmproxy_ops.findings import JsonPath, Location


class LMap(dict[Any, Any]):
    def __init__(self, loc: Location):
        super().__init__()
        self.loc = loc
        self.locs: dict[Any, Location] = {}

    def put(self, key: Any, value: Any, loc: Location) -> None:
        self[key] = value
        self.locs[key] = loc

    def drop(self, key: Any) -> None:
        self.pop(key, None)
        self.locs.pop(key, None)


class LList(list[Any]):
    def __init__(self, loc: Location):
        super().__init__()
        self.loc = loc
        self.locs: list[Location] = []

    def add(self, value: Any, loc: Location) -> None:
        self.append(value)
        self.locs.append(loc)


def locate(root: Any, path: JsonPath, default: Location) -> Location:
    """The location of the deepest existing part of `path` (its own key when it exists)."""
    node, best = root, getattr(root, "loc", default)
    for part in path:
        if isinstance(node, LMap) and part in node:
            best, node = node.locs.get(part, best), node[part]
        elif isinstance(node, LList) and isinstance(part, int) and 0 <= part < len(node):
            best, node = node.locs[part], node[part]
        else:
            break
    return best


def to_plain(value: Any) -> Any:
    """Strip location bookkeeping: plain dicts/lists for dumping and hashing."""
    if isinstance(value, dict):
        return {k: to_plain(v) for k, v in value.items()}
    if isinstance(value, list):
        return [to_plain(v) for v in value]
    return value


def walk_locations(value: Any, prefix: JsonPath = ()) -> list[tuple[JsonPath, Location]]:
    """Every (path, location) pair under `value`, depth first in document order."""
    out: list[tuple[JsonPath, Location]] = []
    if isinstance(value, LMap):
        for key, child in value.items():
            out.append(((*prefix, key), value.locs[key]))
            out.extend(walk_locations(child, (*prefix, key)))
    elif isinstance(value, LList):
        for i, child in enumerate(value):
            out.append(((*prefix, i), value.locs[i]))
            out.extend(walk_locations(child, (*prefix, i)))
    return out
