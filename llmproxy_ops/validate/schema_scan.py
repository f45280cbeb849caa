"""Scans of the pinned LiteLLM's own source for config keys its pydantic types do not declare.

The proxy reads many settings with `general_settings.get("...")`, `getattr(litellm, "...")`
or `config.get("...")`; these scans find them so the generated schema follows the code.
"""

from __future__ import annotations

import ast
import os
import re
from collections.abc import Iterable
from pathlib import Path

# set before litellm is imported: otherwise it tries to download the cost map from GitHub
os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")

import litellm  # noqa: E402

# ---------------------------------------------------------------- proxy source scans


def _proxy_dir() -> Path:
    return Path(litellm.__file__).parent / "proxy"


def _enterprise_dir() -> Path | None:
    """litellm-enterprise ships with litellm[proxy]; the proxy loads its config hooks."""
    try:
        import litellm_enterprise
    except ImportError:
        return None
    return Path(litellm_enterprise.__file__).parent


def _scan_roots(*roots: Path) -> list[Path]:
    enterprise = _enterprise_dir()
    return [*roots, enterprise] if enterprise else list(roots)


_KEY = r"[\"']([A-Za-z0-9_]+)[\"']"  # a quoted identifier-like key, captured
_READ_KEY = r"\b{section}(?:\.get\(|\[)\s*" + _KEY  # section.get("key" / section["key"]


def scan_general_settings_keys() -> list[str]:
    """Keys the proxy reads from general_settings anywhere in its source."""
    read = scan_source(
        _scan_roots(_proxy_dir()), r"general_settings(?:\.get\(|\[)\s*[\"']([A-Za-z0-9_]+)[\"']"
    )
    tested = scan_source(
        _scan_roots(_proxy_dir()), r"[\"']([A-Za-z0-9_]+)[\"']\s+(?:not\s+)?in\s+general_settings\b"
    )
    return sorted({*read, *tested})


def scan_source(roots: Iterable[Path], pattern: str) -> list[str]:
    """Sorted distinct first groups of `pattern` over every .py file under `roots`."""
    regex = re.compile(pattern)
    keys: set[str] = set()
    for root in roots:
        for path in sorted(root.rglob("*.py")):
            keys.update(m.group(1) for m in regex.finditer(path.read_text(encoding="utf-8")))
    return sorted(key for key in keys if not key.startswith("_"))


def scan_litellm_settings_read_keys() -> list[str]:
    """Keys read from litellm_settings directly, or from the litellm module by getattr."""
    package = Path(litellm.__file__).parent
    by_section = scan_source(
        _scan_roots(_proxy_dir()), r"litellm_settings(?:\.get\(|\[)\s*[\"']([A-Za-z0-9_]+)[\"']"
    )
    by_getattr = scan_source(
        _scan_roots(package), r"getattr\(\s*litellm\s*,\s*[\"']([A-Za-z0-9_]+)[\"']"
    )
    return sorted({*by_section, *by_getattr})


def scan_completion_kwargs() -> list[str]:
    """Keyword arguments litellm.main reads out of **kwargs / optional_params by name."""
    main = Path(litellm.__file__).with_name("main.py")
    pattern = re.compile(r"\b(?:kwargs|optional_params)\.(?:get|pop)\(\s*[\"']([A-Za-z0-9_]+)[\"']")
    keys = {m.group(1) for m in pattern.finditer(main.read_text(encoding="utf-8"))}
    return sorted(key for key in keys if not key.startswith("_"))


def scan_passed_through_params() -> list[str]:
    """Keys LiteLLM reads out of the call's non-default params anywhere in the package.

    completion() hands keyword arguments it does not know on as non_default_params, and
    hooks read them there (cache_control_injection_points, web_search_options…): a deployment's
    litellm_params reach those hooks the same way.
    """
    package = Path(litellm.__file__).parent
    return scan_source([package], r"\bnon_default_params(?:\.get\(|\.pop\(|\[)\s*" + _KEY)


def scan_deployment_keys() -> list[str]:
    """Keys the router reads straight off a model_list entry (`deployment.get("tpm")`)."""
    package = Path(litellm.__file__).parent
    roots = [package / "router_strategy", package / "router_utils"]
    pattern = r"\b_?deployment\.get\(\s*" + _KEY
    in_router = re.findall(pattern, (package / "router.py").read_text(encoding="utf-8"))
    return sorted({*scan_source(roots, pattern), *in_router})


def _proxy_server_tree() -> ast.Module:
    return ast.parse((_proxy_dir() / "proxy_server.py").read_text(encoding="utf-8"))


def _class_methods(tree: ast.Module, class_name: str) -> dict[str, ast.AST]:
    for node in tree.body:
        if isinstance(node, ast.ClassDef) and node.name == class_name:
            return {
                item.name: item
                for item in node.body
                if isinstance(item, ast.FunctionDef | ast.AsyncFunctionDef)
            }
    raise LookupError(f"class {class_name} not found in litellm proxy_server.py")


def _passes_config(call: ast.Call) -> bool:
    values = list(call.args) + [kw.value for kw in call.keywords]
    return any(isinstance(v, ast.Name) and v.id == "config" for v in values)


def scan_top_level_keys() -> list[str]:
    """Top-level sections read by ProxyConfig.get_config/load_config and the methods they
    hand the config to."""
    methods = _class_methods(_proxy_server_tree(), "ProxyConfig")
    todo, seen, keys = ["get_config", "load_config"], set(), set()
    while todo:
        name = todo.pop()
        if name in seen or name not in methods:
            continue
        seen.add(name)
        for node in ast.walk(methods[name]):
            if not isinstance(node, ast.Call) or not isinstance(node.func, ast.Attribute):
                continue
            receiver = node.func.value
            if isinstance(receiver, ast.Name) and receiver.id == "self" and _passes_config(node):
                todo.append(node.func.attr)
            if _is_config_get(node):
                keys.add(node.args[0].value)  # type: ignore[attr-defined]
    return sorted(keys)


def _is_config_get(node: ast.Call) -> bool:
    func = node.func
    return (
        isinstance(func, ast.Attribute)
        and func.attr == "get"
        and isinstance(func.value, ast.Name)
        and func.value.id == "config"
        and bool(node.args)
        and isinstance(node.args[0], ast.Constant)
        and isinstance(node.args[0].value, str)
    )


def scan_litellm_settings_special_keys() -> list[str]:
    """Keys load_config special-cases in its `for key, value in litellm_settings.items()` loop."""
    load_config = _class_methods(_proxy_server_tree(), "ProxyConfig")["load_config"]
    keys: set[str] = set()
    for node in ast.walk(load_config):
        if not isinstance(node, ast.For) or not isinstance(node.iter, ast.Call):
            continue
        if "litellm_settings" not in ast.unparse(node.iter):
            continue
        for comp in ast.walk(node):
            if isinstance(comp, ast.Compare) and ast.unparse(comp.left) == "key":
                keys.update(_string_constants(comp.comparators))
    return sorted(keys)


def _string_constants(nodes: Iterable[ast.AST]) -> set[str]:
    found: set[str] = set()
    for node in nodes:
        for sub in ast.walk(node):
            if isinstance(sub, ast.Constant) and isinstance(sub.value, str):
                found.add(sub.value)
    return found


# ---------------------------------------------------------------- declared but never read

UNREAD = "x-litellm-unread"  # schema keyword: LiteLLM declares the key but no code reads it


def _names_in_code(source: str) -> set[str]:
    """Identifiers and string constants a module's code uses (comments excluded)."""
    try:
        tree = ast.parse(source)
    except SyntaxError:
        return set()
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Constant) and isinstance(node.value, str) and len(node.value) < 80:
            names.add(node.value)
        elif isinstance(node, ast.Attribute):
            names.add(node.attr)
        elif isinstance(node, ast.Name):
            names.add(node.id)
        elif isinstance(node, ast.keyword) and node.arg:
            names.add(node.arg)
    return names


def scan_unread(declared: Iterable[str], declaring_file: Path) -> list[str]:
    """Of `declared`, the keys no code of LiteLLM (or litellm-enterprise) uses outside the
    file that declares them: a setting accepted by the type and then never read."""
    package = Path(litellm.__file__).parent
    keys = sorted(set(declared))
    mentions = re.compile(r"\b(?:" + "|".join(map(re.escape, keys)) + r")\b")
    used: set[str] = set()
    for root in _scan_roots(package):
        for path in sorted(root.rglob("*.py")):
            if path.resolve() == declaring_file.resolve():
                continue
            text = path.read_text(encoding="utf-8")
            if mentions.search(text):  # parse only files that mention a key at all (speed)
                used |= _names_in_code(text)
    return sorted(key for key in keys if key not in used)
