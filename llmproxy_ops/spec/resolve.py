"""Resolve an environment (or a list of files) into one merged, located Spec.

Layers and includes are confined: every file named by another one must resolve (symlinks
followed) inside the configs folder of the environment; for files named on the command line,
inside the project (the working directory) or one of their own folders. A config from a pull
request can then not read ~/.ssh/id_rsa or a secret file into findings or a rendered config.
"""

from __future__ import annotations

import os
from pathlib import Path

from llmproxy_ops.errors import LayerError
from llmproxy_ops.findings import Finding, Location
from llmproxy_ops.spec.includes import expand_includes
from llmproxy_ops.spec.located import LList, LMap
from llmproxy_ops.spec.merge import Merger
from llmproxy_ops.spec.model import Spec
from llmproxy_ops.spec.yamlfile import load_yaml

LAYERS_KEY = "layers"
ENVIRONMENTS_DIR = "environments"


def display_path(path: Path) -> str:
    """Paths in findings are relative to the working directory when they can be."""
    try:
        rel = os.path.relpath(path)
    except ValueError:  # another drive on Windows
        return str(path)
    return str(path) if rel.startswith("..") else rel


def environment_file(configs_dir: Path, env: str) -> Path:
    return configs_dir / ENVIRONMENTS_DIR / f"{env}.yaml"


def available_environments(configs_dir: Path) -> list[str]:
    folder = configs_dir / ENVIRONMENTS_DIR
    return sorted(p.stem for p in folder.glob("*.yaml")) if folder.is_dir() else []


def load_environment(configs_dir: Path, env: str) -> Spec:
    """Merge the layers an environment file names, then the file itself, into a Spec."""
    path = environment_file(configs_dir, env)
    if not (configs_dir / ENVIRONMENTS_DIR).is_dir():
        # run from outside a project: say where we looked and how to point at one
        raise LayerError(
            f"no environment '{env}': there is no {ENVIRONMENTS_DIR}/ folder in "
            f"{configs_dir.resolve()} (looked for {path.resolve()})",
            file=display_path(path),
            hint="run it from the project folder, or point at the project: "
            "llmproxy-ops --project DIR ... (or LLMPROXY_OPS_PROJECT=DIR); "
            "--configs DIR names the configs folder alone",
        )
    if not path.is_file():
        known = ", ".join(available_environments(configs_dir)) or "none"
        raise LayerError(
            f"no environment '{env}'",
            file=display_path(path),
            hint=f"environments in {display_path(configs_dir)}: {known}",
        )
    spec = load_files([path], confine=configs_dir)
    spec.name = env
    spec.configs_dir = configs_dir
    return spec


def load_files(paths: list[Path], *, confine: Path | None = None) -> Spec:
    """Merge `paths` in order, each one's own `layers:` first; LayerError when unreadable.

    Layers and includes must stay inside `confine` (default: the working directory or the
    folder of a named file)."""
    resolved = [resolve_file(p, display_path(p), None) for p in paths]
    resolver = _Resolver(confinement(resolved, confine))
    for path, given in zip(resolved, paths, strict=True):
        problem = outside(path, resolver.roots, display_path(given), "file")
        if problem:  # e.g. configs/environments/prod.yaml as a symlink out of the folder
            raise LayerError(problem, file=display_path(given))
    merged = LMap(Location(display_path(paths[0]) if paths else "<none>"))
    for path in resolved:
        resolver.apply(path, merged, chain=())
    return Spec(
        name=" + ".join(display_path(p) for p in paths),
        root=merged,
        sources=resolver.sources,
        findings=resolver.findings + resolver.merger.findings,
    )


def confinement(files: list[Path], confine: Path | None) -> tuple[Path, ...]:
    """Where layers and includes may be: the configs folder, else the project (working
    directory) and the folders of the files named on the command line."""
    if confine is not None:
        return (resolve_file(confine, display_path(confine), None),)
    return tuple(dict.fromkeys([Path.cwd().resolve(), *(f.parent for f in files)]))


def resolve_file(path: Path, shown: str, named_at: Location | None) -> Path:
    """`path` with every symlink followed; a loop is a located LayerError, not a crash."""
    try:
        return path.resolve()
    except (RuntimeError, OSError):  # Python 3.11 raises RuntimeError on a symlink loop
        where = named_at or Location(shown)
        raise LayerError(
            f"'{shown}' is a symlink loop", file=where.file, line=where.line, col=where.col,
            hint="point the symlink at a real file",
        ) from None


def outside(path: Path, roots: tuple[Path, ...], shown: str, what: str) -> str | None:
    """Why `path` may not be read (it resolves outside every root), or None."""
    if any(path.is_relative_to(root) for root in roots):
        return None
    return f"{what} '{shown}' resolves to {path}, {confined_to(roots)}"


def confined_to(roots: tuple[Path, ...]) -> str:
    where = " or ".join(display_path(r) for r in roots)
    return f"outside {where}; layers and includes must stay inside the configs folder"


class _Resolver:
    def __init__(self, roots: tuple[Path, ...]) -> None:
        self.roots = roots
        self.merger = Merger()
        self.sources: list[str] = []
        self.findings: list[Finding] = []

    def apply(
        self, path: Path, merged: LMap, chain: tuple[Path, ...], named_at: Location | None = None
    ) -> None:
        shown = display_path(path)
        if path in chain:
            cycle = " -> ".join(display_path(p) for p in (*chain, path))
            where = named_at or Location(shown)
            raise LayerError(
                f"layer cycle: {cycle}", file=where.file, line=where.line, col=where.col
            )
        if named_at is not None:
            problem = outside(path, self.roots, shown, "layer")
            if problem:
                raise LayerError(problem, file=named_at.file, line=named_at.line,
                                 col=named_at.col, hint="copy the file into the configs folder")
        if named_at is not None and not path.exists():
            raise LayerError(
                f"layer '{shown}' not found",
                file=named_at.file,
                line=named_at.line,
                col=named_at.col,
                hint="layer paths are relative to the file that names them",
            )
        doc = load_yaml(path, shown)
        self.findings.extend(doc.findings)
        for child, loc in self._layer_refs(doc.data, path):
            self.apply(child, merged, (*chain, path), named_at=loc)
        doc.data.drop(LAYERS_KEY)
        included = expand_includes(doc.data, path, display_path, self.findings, self.roots)
        self.merger.merge(merged, doc.data)
        self.sources.extend([*included, shown])

    def _layer_refs(self, data: LMap, path: Path) -> list[tuple[Path, Location]]:
        refs = data.get(LAYERS_KEY)
        if refs is None:
            return []
        where = data.locs[LAYERS_KEY]
        if not isinstance(refs, LList) or not all(isinstance(r, str) for r in refs):
            raise LayerError(
                "'layers' must be a list of file paths",
                file=where.file,
                line=where.line,
                col=where.col,
            )
        return [
            (resolve_file(path.parent / ref, ref, loc), loc)
            for ref, loc in zip(refs, refs.locs, strict=True)
        ]
