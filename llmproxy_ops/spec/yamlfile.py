"""Load one YAML file into located containers, reporting duplicate keys and bad input."""

from __future__ import annotations

import os
import re
import stat
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from llmproxy_ops.errors import LayerError
from llmproxy_ops.findings import Finding, JsonPath, Location, Severity
from llmproxy_ops.spec.located import LList, LMap
from llmproxy_ops.spec.yaml_resolve import CachedResolve

# A LiteLLM config of 5,000 deployments is well under 1 MiB; anything this big is a mistake
# (a log or dump passed by accident), and refusing it keeps the validator fast and safe.
MAX_LAYER_BYTES = 4 * 1024 * 1024
# Aliases share one composed node; building walks it again at every alias, so a few hundred
# bytes of nested aliases expand to billions of values ("billion laughs": >60 s and 2.4 GB
# before this limit). Re-walking is allowed as much as the file has distinct values (and at
# least this much): ordinary anchors and `<<: *defaults` stay far below it.
MIN_ALIAS_BUDGET = 10_000

_Loader: Any = type(  # libyaml when present: 10x faster; tags resolved through a cache
    "_Loader", (CachedResolve, getattr(yaml, "CSafeLoader", yaml.SafeLoader)), {})
_MERGE_TAG = "tag:yaml.org,2002:merge"
_TIMESTAMP_TAG = "tag:yaml.org,2002:timestamp"
_STR_TAG = "tag:yaml.org,2002:str"
_INT_TAG = "tag:yaml.org,2002:int"
_PLAIN_INT = re.compile(r"0|[1-9][0-9]*")


@dataclass
class YamlDocument:
    file: str
    data: Any
    findings: list[Finding] = field(default_factory=list)


def read_bytes(path: Path, display: str) -> bytes:
    """At most MAX_LAYER_BYTES of a regular file: its size is checked before it is read (a
    50 MiB file is refused unread; /dev/zero or a FIFO is no YAML file and never blocks)."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | os.O_CLOEXEC)
    except FileNotFoundError:
        raise LayerError("file not found", file=display) from None
    except OSError as exc:
        raise LayerError(f"cannot read file: {exc.strerror}", file=display) from None
    info = os.fstat(fd)
    if not stat.S_ISREG(info.st_mode):
        os.close(fd)
        what = "a directory" if stat.S_ISDIR(info.st_mode) else "not a regular file"
        raise LayerError(f"is {what}, expected a YAML file", file=display)
    size = info.st_size
    with os.fdopen(fd, "rb") as fh:
        raw = fh.read(MAX_LAYER_BYTES + 1) if size <= MAX_LAYER_BYTES else b""
    if size > MAX_LAYER_BYTES or len(raw) > MAX_LAYER_BYTES:
        raise LayerError(
            f"file is {max(size, len(raw)) / 1048576:.1f} MiB; layers over "
            f"{MAX_LAYER_BYTES // 1048576} MiB are refused",
            file=display,
            hint="is this really a LiteLLM config? split it into smaller layers",
        )
    return raw


def read_text(path: Path, display: str) -> str:
    """File contents as text, or a located LayerError (missing, too big, not UTF-8)."""
    raw = read_bytes(path, display)
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = raw[: exc.start].count(b"\n") + 1
        col = exc.start - (raw.rfind(b"\n", 0, exc.start) + 1) + 1
        raise LayerError(
            f"not valid UTF-8 (byte 0x{raw[exc.start]:02x})",
            file=display,
            line=line,
            col=col,
            hint="save the file as UTF-8",
        ) from None


def load_yaml(path: Path, display: str) -> YamlDocument:
    """Parse `path`; the top level must be a mapping. Errors carry file:line:col."""
    text = read_text(path, display)
    return parse_yaml(text, display)


def parse_yaml(text: str, display: str) -> YamlDocument:
    try:
        node = yaml.compose(text, Loader=_Loader)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line, col = (mark.line + 1, mark.column + 1) if mark else (1, 1)
        problem = exc.problem or exc.context or "invalid YAML"
        hint = None
        if _char_at(text, line, col) == "\t":
            # PyYAML's words ("cannot start any token") do not say what is wrong with a tab
            problem = "a tab character; YAML does not allow tabs for indentation"
            hint = "indent with spaces (2 per level is usual)"
        raise LayerError(
            f"YAML syntax error: {problem}", file=display, line=line, col=col, hint=hint
        ) from None
    except yaml.YAMLError as exc:
        raise LayerError(f"YAML error: {exc}", file=display) from None
    if node is None:
        raise LayerError("file is empty", file=display, hint="a layer must be a YAML mapping")
    if not isinstance(node, yaml.MappingNode):
        kind = "a list" if isinstance(node, yaml.SequenceNode) else "a single value"
        raise LayerError(
            f"top level is {kind}, expected a mapping of config sections",
            file=display,
            line=node.start_mark.line + 1,
            col=node.start_mark.column + 1,
        )
    builder = _Builder(display)
    data = builder.build(node)
    return YamlDocument(display, data, builder.findings)


def _char_at(text: str, line: int, col: int) -> str:
    lines = text.splitlines()
    if not 0 < line <= len(lines) or not 0 < col <= len(lines[line - 1]):
        return ""
    return lines[line - 1][col - 1]


class _Builder:
    """Turns composed nodes into LMap/LList, detecting duplicate keys on the way."""

    def __init__(self, file: str):
        self.file = file
        self.findings: list[Finding] = []
        self._constructor = yaml.SafeLoader("")
        self._seen: set[int] = set()      # nodes built at least once
        self._building: set[int] = set()  # containers being built (an alias inside: a cycle)
        self._rewalks = 0                 # node visits through aliases

    def loc(self, node: yaml.Node) -> Location:
        return Location(self.file, node.start_mark.line + 1, node.start_mark.column + 1)

    def build(self, node: yaml.Node, path: JsonPath = ()) -> Any:
        self._count(node)
        if isinstance(node, yaml.MappingNode | yaml.SequenceNode):
            self._building.add(id(node))
            try:
                return self._container(node, path)
            finally:
                self._building.discard(id(node))
        return self._scalar(node, path)

    def _count(self, node: yaml.Node) -> None:
        """Refuse a recursive alias and an alias expansion beyond the budget (a located
        error, before the time and memory go)."""
        if id(node) in self._building:
            raise self._error(node, "an alias refers to a value that contains it (a "
                              "recursive alias); it would expand forever",
                              "use the anchor's value only outside itself")
        if id(node) not in self._seen:
            self._seen.add(id(node))
            return
        self._rewalks += 1
        budget = max(MIN_ALIAS_BUDGET, len(self._seen))
        if self._rewalks > budget:
            raise self._error(node, f"aliases expand to more than {budget:,} extra values "
                              "(nested aliases multiply: an alias bomb?); refused",
                              "write the values out, or use fewer levels of aliases")

    def _error(self, node: yaml.Node, message: str, hint: str) -> LayerError:
        return LayerError(message, file=self.file, line=node.start_mark.line + 1,
                          col=node.start_mark.column + 1, hint=hint)

    def _container(self, node: yaml.Node, path: JsonPath) -> Any:
        if isinstance(node, yaml.MappingNode):
            return self._mapping(node, path)
        seq = LList(self.loc(node))
        for i, item in enumerate(node.value):
            seq.add(self.build(item, (*path, i)), self.loc(item))
        return seq

    def _scalar(self, node: yaml.Node, path: JsonPath) -> Any:
        if node.tag == _STR_TAG and isinstance(node, yaml.ScalarNode):
            return node.value  # what SafeConstructor returns for a str, without its dispatch
        if node.tag == _INT_TAG and _PLAIN_INT.fullmatch(node.value):
            return int(node.value)  # a plain decimal: no sign, base or YAML 1.1 octal to read
        try:
            return self._constructor.construct_object(node, deep=True)
        except yaml.constructor.ConstructorError as exc:
            hint = "remove the tag or quote the value to keep it as text"
            return self._unreadable(node, path, f"cannot read value: {exc.problem}", hint)
        except Exception:  # noqa: BLE001 - PyYAML's constructors raise anything on bad scalars
            # `2026-13-45` resolves as a timestamp and its constructor raises ValueError;
            # `!!bool maybe` a KeyError, `!!timestamp 2026` an AttributeError.
            if node.tag == _TIMESTAMP_TAG:
                message = f"'{node.value}' looks like a date but is not a valid one"
                hint = "write a real date (YYYY-MM-DD) or quote the value to keep it as text"
            else:
                tag = node.tag.replace("tag:yaml.org,2002:", "!!")
                message = f"cannot read '{node.value}' as {tag}"
                hint = "remove the tag or quote the value to keep it as text"
            return self._unreadable(node, path, message, hint)

    def _unreadable(self, node: yaml.Node, path: JsonPath, message: str, hint: str | None) -> Any:
        """A located error; the text as written stands in, so validation goes on."""
        self.findings.append(
            Finding(Severity.ERROR, "bad-value", message, self.loc(node), path, hint)
        )
        return node.value if isinstance(node, yaml.ScalarNode) else None

    def _mapping(self, node: yaml.MappingNode, path: JsonPath) -> LMap:
        out = LMap(self.loc(node))
        explicit = [(k, v) for k, v in node.value if k.tag != _MERGE_TAG]
        # YAML merge keys (<<: *anchor) first, so explicit keys override them as YAML says
        for key_node, value_node in node.value:
            if key_node.tag == _MERGE_TAG:
                self._merge_into(out, value_node, path)
        seen: dict[Any, Location] = {}
        for key_node, value_node in explicit:
            key = self.build(key_node)
            if not isinstance(key, str | int | float | bool) and key is not None:
                raise LayerError(
                    "mapping keys must be plain values",
                    file=self.file,
                    line=key_node.start_mark.line + 1,
                    col=key_node.start_mark.column + 1,
                )
            here = self.loc(key_node)
            part: str | int = key if isinstance(key, str | int) else str(key)
            if key in seen:
                self.findings.append(_duplicate(key, here, seen[key], (*path, part)))
            seen[key] = here
            out.put(key, self.build(value_node, (*path, part)), here)
        return out

    def _merge_into(self, out: LMap, value_node: yaml.Node, path: JsonPath) -> None:
        sources = value_node.value if isinstance(value_node, yaml.SequenceNode) else [value_node]
        for src in sources:
            if not isinstance(src, yaml.MappingNode):
                raise LayerError(
                    "'<<' merge needs a mapping",
                    file=self.file,
                    line=src.start_mark.line + 1,
                    col=src.start_mark.column + 1,
                )
            merged = self.build(src, path)
            for key, val in merged.items():
                if key not in out:
                    out.put(key, val, merged.locs[key])


def _duplicate(key: Any, here: Location, first: Location, path: JsonPath) -> Finding:
    return Finding(
        path=path,
        severity=Severity.ERROR,
        code="duplicate-key",
        message=f"duplicate key '{key}' (first at line {first.line}); YAML keeps only the last one",
        location=here,
        hint="remove one of them or merge their contents",
    )
