"""Python modules a LiteLLM config names, found and checked by reading them, never importing.

LiteLLM loads a `module.attribute` value with get_instance_fn
(litellm/proxy/types_utils/utils.py): `<config folder>/module/path.py` if that file exists,
else a plain import. Importing a file from a config's folder would run whatever it holds, and
validation never executes user code (DESIGN decision 10): the file is parsed (`ast`) and the
attribute looked up among its top-level names. The places LiteLLM 1.108.7 loads them from:
callbacks (callback_utils.py, proxy_server.py), custom handlers of custom_provider_map,
custom guardrails (guardrail_registry.py), custom auth and key hooks (general_settings).
"""

from __future__ import annotations

import ast
import importlib.machinery
import os
import sys
import sysconfig
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from llmproxy_ops.findings import JsonPath

MAX_MODULE_BYTES = 1 << 20  # larger than any hook: read no further
CALLBACK_LISTS = ("callbacks", "success_callback", "failure_callback", "audit_log_callbacks")
AUTH_HOOK = "custom_auth"  # asked on every request, the probe's GET /v1/models included
GENERAL_HOOKS = ("custom_key_generate", "custom_key_update", "custom_key_policy",
                 "custom_team_metadata_validate", "custom_sso", "custom_ui_sso_sign_in_handler")


@dataclass(frozen=True)
class ModuleRef:
    """One `module.attribute` value and what LiteLLM does with what it loads."""

    path: JsonPath
    value: str
    kind: str  # callback | handler | guardrail | auth | function

    @property
    def module(self) -> str:
        return self.value.rsplit(".", 1)[0]

    @property
    def attribute(self) -> str:
        return self.value.rsplit(".", 1)[1]

    @property
    def well_formed(self) -> bool:
        """Dotted identifiers only: anything else is no module LiteLLM could import."""
        return all(part.isidentifier() for part in self.value.split("."))

    def file_in(self, folder: Path) -> Path:
        """Where get_instance_fn looks first: the module path under the config's folder."""
        *parents, name = self.module.split(".")
        return folder.joinpath(*parents, f"{name}.py")


def _dotted(value: Any) -> bool:
    return isinstance(value, str) and "." in value.strip(".") and not value.startswith(
        ("os.environ/", "s3://", "gcs://"))


def module_refs(config: Mapping[str, Any]) -> list[ModuleRef]:
    """Every module reference LiteLLM would load from this config, in document order."""
    return list(_refs(config))


def _refs(config: Mapping[str, Any]) -> Iterator[ModuleRef]:
    settings = config.get("litellm_settings")
    settings = settings if isinstance(settings, Mapping) else {}
    for key in CALLBACK_LISTS:
        value = settings.get(key)
        if isinstance(value, list):
            yield from (ModuleRef(("litellm_settings", key, i), v, "callback")
                        for i, v in enumerate(value) if _dotted(v))
        elif _dotted(value):
            yield ModuleRef(("litellm_settings", key), str(value), "callback")
    if _dotted(settings.get("post_call_rules")):
        yield ModuleRef(("litellm_settings", "post_call_rules"), settings["post_call_rules"],
                        "function")
    providers = settings.get("custom_provider_map")
    for i, entry in enumerate(providers if isinstance(providers, list) else []):
        if isinstance(entry, Mapping) and _dotted(entry.get("custom_handler")):
            yield ModuleRef(("litellm_settings", "custom_provider_map", i, "custom_handler"),
                            entry["custom_handler"], "handler")
    general = config.get("general_settings")
    general = general if isinstance(general, Mapping) else {}
    for key in (AUTH_HOOK, *GENERAL_HOOKS):
        if _dotted(general.get(key)):
            yield ModuleRef(("general_settings", key), general[key],
                            "auth" if key == AUTH_HOOK else "function")
    guardrails = config.get("guardrails")
    for i, entry in enumerate(guardrails if isinstance(guardrails, list) else []):
        params = entry.get("litellm_params") if isinstance(entry, Mapping) else None
        if isinstance(params, Mapping) and _dotted(params.get("guardrail")):
            yield ModuleRef(("guardrails", i, "litellm_params", "guardrail"),
                            params["guardrail"], "guardrail")


@dataclass(frozen=True)
class ModuleReading:
    """What reading a module file found: its top-level names, or why it could not be read."""

    file: Path
    names: frozenset[str] = frozenset()
    open_ended: bool = False  # `from x import *` or a module __getattr__: any name may exist
    problem: str | None = None  # unreadable, too large, or a syntax error (with its line)

    def defines(self, name: str) -> bool:
        return self.open_ended or name in self.names


def read_module(file: Path) -> ModuleReading:
    """Parse `file` (never run it) and collect the names its top level binds."""
    try:
        with file.open("rb") as handle:
            source = handle.read(MAX_MODULE_BYTES + 1)
    except OSError as exc:
        return ModuleReading(file, problem=f"cannot be read ({exc.strerror})")
    if len(source) > MAX_MODULE_BYTES:
        return ModuleReading(file, problem=f"is larger than {MAX_MODULE_BYTES >> 20} MiB")
    try:
        tree = ast.parse(source, filename=str(file))
    except (SyntaxError, ValueError) as exc:
        line = getattr(exc, "lineno", None)
        where = f" at line {line}" if line else ""
        why = getattr(exc, "msg", exc)
        return ModuleReading(file, problem=f"is not valid Python{where}: {why}")
    names: set[str] = set()
    open_ended = _bind(tree.body, names)
    return ModuleReading(file, frozenset(names), open_ended)


def _bind(body: list[ast.stmt], names: set[str]) -> bool:
    """Add what `body` binds at module level; True when the set cannot be known."""
    open_ended = False
    for node in body:
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
            names.add(node.name)
            open_ended |= node.name == "__getattr__"
        elif isinstance(node, ast.Assign | ast.AnnAssign | ast.AugAssign):
            targets = node.targets if isinstance(node, ast.Assign) else [node.target]
            names.update(n.id for t in targets for n in ast.walk(t) if isinstance(n, ast.Name))
        elif isinstance(node, ast.Import | ast.ImportFrom):
            for alias in node.names:
                open_ended |= alias.name == "*"
                names.add(alias.asname or alias.name.split(".")[0])
        elif isinstance(node, ast.If | ast.Try | ast.With | ast.For | ast.While):
            for block in ("body", "orelse", "finalbody", "handlers"):
                for part in getattr(node, block, []):
                    inner = part.body if isinstance(part, ast.ExceptHandler) else [part]
                    open_ended |= _bind(inner, names)
    return open_ended


def installed(module: str) -> bool:
    """Whether the module's top-level package is in the interpreter's libraries (found by
    path, not imported; the working folder and PYTHONPATH do not count: the probe and a
    deployed LiteLLM image do not see them)."""
    top = module.split(".", 1)[0]
    if top in sys.builtin_module_names:
        return True
    return importlib.machinery.PathFinder.find_spec(top, library_path()) is not None


def library_path() -> list[str]:
    """sys.path without what is not the interpreter's own libraries (site-packages included)."""
    paths = sysconfig.get_paths()
    roots = {os.path.realpath(paths[n]) for n in ("stdlib", "platstdlib", "purelib", "platlib")
             if paths.get(n)}
    return [p for p in sys.path if p and any(
        os.path.realpath(p) == r or os.path.realpath(p).startswith(r + os.sep) for r in roots)]
