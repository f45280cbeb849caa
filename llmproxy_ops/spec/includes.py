"""LiteLLM's `include:` directive, followed the way the pinned LiteLLM follows it.

LiteLLM (proxy/common_utils/config_includes.py) reads each named file relative to the config
that declares it (falling back to the root config's folder), extends list values, replaces
every other top-level value, reads a file once, and stops with FileNotFoundError when one is
missing. The same merge here keeps each value's provenance, so model groups defined in an
included file count and findings point into it.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from llmproxy_ops.findings import Finding, Location, Severity
from llmproxy_ops.spec.located import LList, LMap
from llmproxy_ops.spec.yamlfile import load_yaml

INCLUDE_KEY = "include"
MISSING_HINT = (
    "include paths are relative to the file that names them; LiteLLM stops with "
    "FileNotFoundError when one is missing"
)


def resolve_include(entry: str, declared_in: Path, root: Path) -> Path:
    """LiteLLM's resolve_include_file_path: next to the declaring file, else next to the root.

    OSError/RuntimeError (a symlink loop) is the caller's to report."""
    declared = (declared_in.parent / entry).resolve()
    from_root = (root.parent / entry).resolve()
    if from_root == declared or not from_root.exists() or declared.exists():
        return declared
    return from_root


def expand_includes(
    data: LMap, root: Path, display: Callable[[Path], str], findings: list[Finding],
    confine: tuple[Path, ...] = (),
) -> list[str]:
    """Merge every included file into `data` (in place); the files read, for provenance.

    A file outside `confine` (symlinks followed) is a finding and is not read."""
    pending = _entries(data, root, findings)
    loaded, sources = {root}, []
    while pending:
        entry, declared_in, loc = pending.pop(0)
        try:
            path = resolve_include(entry, declared_in, root)
        except (OSError, RuntimeError):
            findings.append(Finding(Severity.ERROR, "include-unsafe",
                                    f"included file '{entry}' is a symlink loop", loc,
                                    (INCLUDE_KEY,), "point the symlink at a real file"))
            continue
        if path in loaded:
            continue
        loaded.add(path)
        if confine and not any(path.is_relative_to(root) for root in confine):
            where = " or ".join(display(root) for root in confine)
            findings.append(Finding(
                Severity.ERROR, "include-unsafe",
                f"included file '{entry}' resolves to {path}, outside {where}; "
                "layers and includes must stay inside the configs folder", loc, (INCLUDE_KEY,),
                "copy the file into the configs folder",
            ))
            continue
        if not path.is_file():
            findings.append(Finding(
                Severity.ERROR, "include-missing",
                f"included file '{entry}' not found ({display(path)})", loc, (INCLUDE_KEY,),
                MISSING_HINT,
            ))
            continue
        doc = load_yaml(path, display(path))
        findings.extend(doc.findings)
        pending.extend(_entries(doc.data, path, findings))
        _merge(data, doc.data)
        sources.append(display(path))
    data.drop(INCLUDE_KEY)
    return sources


def _entries(
    data: LMap, declared_in: Path, findings: list[Finding]
) -> list[tuple[str, Path, Location]]:
    value = data.get(INCLUDE_KEY)
    if value is None:
        return []
    if not isinstance(value, LList) or not all(isinstance(v, str) for v in value):
        where = data.locs.get(INCLUDE_KEY, data.loc)
        findings.append(Finding(
            Severity.ERROR, "include-shape", "'include' must be a list of file paths", where,
            (INCLUDE_KEY,), "LiteLLM raises ValueError on any other shape",
        ))
        return []
    return [(entry, declared_in, loc) for entry, loc in zip(value, value.locs, strict=True)]


def _merge(base: LMap, included: LMap) -> None:
    # top level only, as LiteLLM's _merged: lists extend, anything else replaces
    for key, value in included.items():
        if key == INCLUDE_KEY:
            continue
        current = base.get(key)
        if isinstance(current, LList) and isinstance(value, LList):
            for item, loc in zip(value, value.locs, strict=True):
                current.add(item, loc)
        else:
            base.put(key, value, included.locs[key])
