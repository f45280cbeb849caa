"""Generate the JSON Schema of LiteLLM's proxy config keys from the pinned LiteLLM.

Run `python -m llmproxy_ops.validate.schema_gen` to (re)write `litellm_schema.json`,
`--check` to compare it with the committed file (exit 1 and a diff summary on drift).

Everything below is derived from LiteLLM's own code at import time (pydantic models,
signatures, module attributes, and a scan of the proxy source for the keys it reads),
except `OUR_ADDITIONS`: the range/type checks LiteLLM lacks. Run it in a fresh process:
litellm's module attributes change at runtime, the schema must reflect the state right
after import.
"""

from __future__ import annotations

import argparse
import ast
import difflib
import inspect
import json
import os
import sys
import types
import typing
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

from llmproxy_ops.fsutil import atomic_write_text
from llmproxy_ops.validate.stack_schema import STACK_SCHEMA

# Set before litellm is imported: otherwise it tries to download the cost map from GitHub.
os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")

import litellm  # noqa: E402
from pydantic import BaseModel, TypeAdapter  # noqa: E402

from llmproxy_ops.validate.schema_scan import (  # noqa: E402
    UNREAD,
    scan_completion_kwargs,
    scan_deployment_keys,
    scan_general_settings_keys,
    scan_litellm_settings_read_keys,
    scan_litellm_settings_special_keys,
    scan_passed_through_params,
    scan_top_level_keys,
    scan_unread,
)

Schema = dict[str, Any]

SCHEMA_PATH = Path(__file__).with_name("litellm_schema.json")
ANY: Schema = {}

# Our additions: LiteLLM accepts (or coerces) these silently; a deployment must not.
# Applied to every section in which LiteLLM knows the key.
_COUNT: Schema = {"type": ["integer", "null"], "minimum": 0}
_SECONDS: Schema = {"type": ["number", "null"], "exclusiveMinimum": 0}
OUR_ADDITIONS: dict[str, Schema] = {
    "rpm": _COUNT,
    "tpm": _COUNT,
    "max_parallel_requests": _COUNT,
    "num_retries": _COUNT,
    "timeout": _SECONDS,
    "stream_timeout": _SECONDS,
    "request_timeout": _SECONDS,
}

_SCALAR_TYPES = {
    bool: "boolean",
    int: "integer",
    float: "number",
    str: "string",
    list: "array",
    tuple: "array",
    set: "array",
    frozenset: "array",
    dict: "object",
}
# Module-level litellm values computed from these are machine-dependent: leave them untyped.
_ENV_MARKERS = ("environ", "getenv", "get_secret", "time.", "datetime", "uuid")


# ---------------------------------------------------------------- pydantic → shallow schema


def simplify(node: Schema, defs: Schema, depth: int = 0) -> Schema:
    """Reduce a pydantic JSON schema to types, enums and one level of array items.

    Deep structure (nested models) is left unconstrained: the shape check guards key names
    and scalar types, LiteLLM's own validation handles the rest at start-up.
    """
    if "$ref" in node:
        return _simplify_ref(node["$ref"], defs, depth)
    for combo in ("anyOf", "oneOf"):
        if combo in node:
            return _merge_union([simplify(part, defs, depth) for part in node[combo]])
    if "const" in node:
        return {"enum": [node["const"]]}
    if "enum" in node:
        return {"enum": list(node["enum"])}
    kind = node.get("type")
    if kind == "array":
        items = simplify(node.get("items", {}), defs, depth + 1) if depth == 0 else ANY
        return {"type": "array", "items": items} if items else {"type": "array"}
    if isinstance(kind, str):
        return {"type": kind}
    return ANY


def _simplify_ref(ref: str, defs: Schema, depth: int) -> Schema:
    target = defs.get(ref.rsplit("/", 1)[-1], {})
    if "enum" in target or "anyOf" in target:
        return simplify(target, defs, depth)
    if target.get("type") == "object" or "properties" in target:
        return {"type": "object"}
    return simplify(target, defs, depth) if target else ANY


def _merge_union(parts: list[Schema]) -> Schema:
    if any(not part for part in parts):
        return ANY  # one branch accepts anything, so the union does
    if all("type" in part for part in parts):
        detailed = [part for part in parts if set(part) != {"type"}]
        if len(detailed) <= 1:  # e.g. Optional[list[X]]: keep X, add the other types
            merged = dict(detailed[0]) if detailed else {}
            merged["type"] = _sorted_types(part["type"] for part in parts)
            return merged
    enums = [part for part in parts if set(part) == {"enum"}]
    nulls = [part for part in parts if part == {"type": "null"}]
    if enums and len(enums) + len(nulls) == len(parts):
        values = [v for part in enums for v in part["enum"]]
        return {"enum": values + [None] if nulls else values}
    return {"anyOf": parts}


def _sorted_types(kinds: Iterable[str | list[str]]) -> str | list[str]:
    flat: set[str] = set()
    for kind in kinds:
        flat.update([kind] if isinstance(kind, str) else kind)
    if "integer" in flat and "number" in flat:
        flat.discard("integer")
    out = sorted(flat)
    return out[0] if len(out) == 1 else out


def model_properties(model: type[BaseModel]) -> dict[str, Schema]:
    schema = model.model_json_schema()
    defs = schema.get("$defs", {})
    return {name: simplify(prop, defs) for name, prop in schema.get("properties", {}).items()}


def annotation_schema(annotation: Any) -> Schema:
    """Type of a signature annotation, or unconstrained when pydantic cannot express it."""
    if annotation is inspect.Parameter.empty or annotation is Any:
        return ANY
    try:
        schema = TypeAdapter(annotation).json_schema()
    except Exception:  # arbitrary classes, callables, httpx types: leave them open
        return ANY
    return simplify(schema, schema.get("$defs", {}))


def signature_properties(func: Callable[..., Any], skip: Iterable[str] = ()) -> dict[str, Schema]:
    out: dict[str, Schema] = {}
    for name, param in inspect.signature(func).parameters.items():
        if name in skip or param.kind in (param.VAR_POSITIONAL, param.VAR_KEYWORD):
            continue
        out[name] = annotation_schema(_resolve(param.annotation, func))
    return out


def _resolve(annotation: Any, func: Callable[..., Any]) -> Any:
    """Evaluate one string annotation; one unresolvable name must not untype the others."""
    if not isinstance(annotation, str):
        return annotation
    try:
        return eval(annotation, getattr(func, "__globals__", {}))  # noqa: S307 - litellm's own source
    except Exception:
        return inspect.Parameter.empty


def add_missing(target: dict[str, Schema], names: Iterable[str], schema: Schema = ANY) -> None:
    for name in names:
        target.setdefault(name, schema)

# ---------------------------------------------------------------- sections


def litellm_params_schema() -> Schema:
    from litellm.types.router import LiteLLM_Params
    from litellm.types.utils import all_litellm_params

    props = model_properties(LiteLLM_Params)
    # litellm_params are passed to completion(): its keyword arguments are accepted too
    add_missing_items(props, signature_properties(litellm.completion, skip=("messages",)).items())
    add_missing(props, sorted(all_litellm_params))
    add_missing(props, sorted(getattr(litellm, "OPENAI_CHAT_COMPLETION_PARAMS", [])))
    add_missing(props, scan_completion_kwargs())
    add_missing(props, scan_passed_through_params())
    # ... and forwarded to the OpenAI SDK client (extra_body, extra_query, ...)
    add_missing(props, sorted(_openai_create_params()))
    return _object(props, required=["model"])


def add_missing_items(target: dict[str, Schema], items: Iterable[tuple[str, Schema]]) -> None:
    for name, schema in items:
        target.setdefault(name, schema)


def _openai_create_params() -> list[str]:
    from openai.resources.chat.completions import Completions

    skip = {"self", "messages", "model"}
    params = inspect.signature(Completions.create).parameters
    return [name for name, p in params.items() if name not in skip and p.kind is p.KEYWORD_ONLY]


def model_info_schema() -> Schema:
    from litellm.types.router import ModelInfo as RouterModelInfo
    from litellm.types.utils import ModelInfoBase

    props = model_properties(RouterModelInfo)
    add_missing_items(props, sorted(_typeddict_properties(ModelInfoBase).items()))
    # value sets are not closed in practice (mode: batch is used by LiteLLM's own examples)
    props = {name: ANY if "enum" in sub else sub for name, sub in props.items()}
    # free-form metadata in practice (descriptions, UI fields): unknown keys allowed
    return {"type": "object", "properties": props, "additionalProperties": True}


def _typeddict_properties(typed_dict: type) -> dict[str, Schema]:
    try:
        hints = typing.get_type_hints(typed_dict)
    except Exception:
        hints = dict(getattr(typed_dict, "__annotations__", {}))
    return {name: annotation_schema(hint) for name, hint in hints.items()}


def deployment_schema() -> Schema:
    from litellm.types.router import Deployment

    props = {name: ANY for name in model_properties(Deployment)}
    # legacy placement still read by the routing strategies: deployment.get("tpm") etc.
    add_missing(props, scan_deployment_keys())
    props["model_name"] = {"type": "string"}
    props["litellm_params"] = litellm_params_schema()
    props["model_info"] = model_info_schema()
    return _object(props, required=["model_name", "litellm_params"])


def general_settings_schema() -> Schema:
    import inspect

    from litellm.proxy._types import ConfigGeneralSettings

    props = model_properties(ConfigGeneralSettings)
    add_missing(props, scan_general_settings_keys())
    declaring = Path(inspect.getfile(ConfigGeneralSettings))
    for key in scan_unread(props, declaring):
        props[key] = {**props[key], UNREAD: True}
    return _object(props)


def router_settings_schema() -> Schema:
    from litellm.constants import ROUTER_SETTINGS_MANAGED_OUTSIDE_CONFIG
    from litellm.types.router import UpdateRouterConfig

    allowed = [
        name
        for name in litellm.Router.get_valid_args()
        if name not in ROUTER_SETTINGS_MANAGED_OUTSIDE_CONFIG
    ]
    typed = model_properties(UpdateRouterConfig)
    from_init = signature_properties(litellm.Router.__init__, skip=("self",))
    props = {name: typed.get(name, from_init.get(name, ANY)) for name in allowed}
    return _object(props)


def litellm_settings_schema() -> Schema:
    env_dependent = _env_dependent_litellm_names()
    props: dict[str, Schema] = {}
    for name in sorted(dir(litellm)):
        value = getattr(litellm, name)
        if name.startswith("_") or not _is_setting_value(value):
            continue
        props[name] = ANY if name in env_dependent else _type_of_default(value)
    add_missing(props, scan_litellm_settings_read_keys())
    for name in scan_litellm_settings_special_keys():
        props[name] = ANY  # the proxy transforms these before use: any input shape it accepts
    props["cache_params"] = cache_params_schema()
    return _object(props)


def cache_params_schema() -> Schema:
    """cache_params are passed to litellm.Cache(**cache_params); it takes **kwargs too."""
    from litellm.caching.caching import Cache

    # keep the value sets only: the scalar annotations are narrower than what Cache accepts
    # (port: str, yet redis takes the 6379 every config writes)
    props = {
        name: sub if "enum" in sub else ANY
        for name, sub in signature_properties(Cache.__init__, skip=("self",)).items()
    }
    return {"type": ["object", "null"], "properties": props, "additionalProperties": True}


def _is_setting_value(value: Any) -> bool:
    if isinstance(value, types.ModuleType) or callable(value):
        return False
    return value is None or type(value) in _SCALAR_TYPES


def _type_of_default(value: Any) -> Schema:
    kind = _SCALAR_TYPES.get(type(value))
    if kind is None:
        return ANY
    if kind == "integer":
        kind = "number"  # an int default (e.g. 6000 s) does not forbid 0.5
    return {"type": [kind, "null"]}


def _env_dependent_litellm_names() -> set[str]:
    tree = ast.parse(Path(litellm.__file__).read_text(encoding="utf-8"))
    names: set[str] = set()
    for node in tree.body:
        targets, value = _assignment(node)
        if value is not None and any(m in ast.unparse(value) for m in _ENV_MARKERS):
            names.update(t.id for t in targets if isinstance(t, ast.Name))
    return names


def _assignment(node: ast.stmt) -> tuple[list[ast.expr], ast.expr | None]:
    if isinstance(node, ast.Assign):
        return node.targets, node.value
    if isinstance(node, ast.AnnAssign):
        return [node.target], node.value
    return [], None


def _object(props: dict[str, Schema], required: list[str] | None = None) -> Schema:
    out: Schema = {"type": "object", "properties": props, "additionalProperties": False}
    if required:
        out["required"] = required
    return out


# ---------------------------------------------------------------- assembly


def apply_additions(schema: Schema) -> None:
    """Tighten OUR_ADDITIONS keys in every closed section that LiteLLM gives them."""
    props = schema.get("properties", {})
    for name, sub in props.items():
        if name in OUR_ADDITIONS and schema.get("additionalProperties") is False:
            props[name] = dict(OUR_ADDITIONS[name])
        elif isinstance(sub, dict):
            apply_additions(sub)
    if isinstance(schema.get("items"), dict):
        apply_additions(schema["items"])


def build_schema() -> Schema:
    sections: dict[str, Schema] = {name: ANY for name in scan_top_level_keys()}
    from litellm.proxy.common_utils.config_includes import INCLUDE_KEY

    sections[INCLUDE_KEY] = {"type": "array", "items": {"type": "string"}}
    sections["model_list"] = {"type": ["array", "null"], "items": deployment_schema()}
    sections["general_settings"] = _nullable(general_settings_schema())
    sections["router_settings"] = _nullable(router_settings_schema())
    sections["litellm_settings"] = _nullable(litellm_settings_schema())
    sections["environment_variables"] = {"type": ["object", "null"]}
    # llmproxy-ops' own section (hand-written: LiteLLM never sees it)
    sections["stack"] = STACK_SCHEMA
    schema = _object(sections)
    apply_additions(schema)
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "title": "LiteLLM proxy config (generated by llmproxy_ops.validate.schema_gen)",
        "x-litellm-version": _version("litellm"),
        "x-litellm-enterprise-version": _version("litellm-enterprise"),
        "x-our-additions": sorted(OUR_ADDITIONS),
        **schema,
    }


def _nullable(schema: Schema) -> Schema:
    # an empty YAML section (`general_settings:`) loads as null; LiteLLM treats it as {}
    return {**schema, "type": ["object", "null"]}


def _version(distribution: str) -> str | None:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version(distribution)
    except PackageNotFoundError:
        return None


def render(schema: Schema) -> str:
    return json.dumps(schema, indent=1, sort_keys=True, ensure_ascii=False) + "\n"


def check(path: Path, fresh: str) -> list[str]:
    """Diff lines between the committed schema and a fresh one (empty when equal)."""
    committed = path.read_text(encoding="utf-8") if path.exists() else ""
    if committed == fresh:
        return []
    return list(
        difflib.unified_diff(
            committed.splitlines(), fresh.splitlines(), "committed", "generated", lineterm=""
        )
    )


def write_or_diff(argv: list[str] | None, description: str, default: Path, what: str,
                  fresh: Callable[[], str]) -> tuple[Path, list[str]]:
    """The command line of a generated file (this schema, validate/facts_gen.py's facts):
    write it fresh, or with --check only compare; (the file, diff lines: empty when equal
    or written)."""
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("--check", action="store_true", help="compare, do not write")
    parser.add_argument("--output", type=Path, default=default, help=what)
    args = parser.parse_args(argv)
    text = fresh()
    if not args.check:
        atomic_write_text(args.output, text)
        return args.output, []
    return args.output, check(args.output, text)


def main(argv: list[str] | None = None) -> int:
    output, diff = write_or_diff(argv, __doc__.splitlines()[0], SCHEMA_PATH, "schema file",
                                 lambda: render(build_schema()))
    if diff:
        added = sum(1 for line in diff if line.startswith("+") and not line.startswith("+++"))
        removed = sum(1 for line in diff if line.startswith("-") and not line.startswith("---"))
        sys.stderr.write(
            f"{output} differs from LiteLLM {_version('litellm')}: +{added} -{removed} lines"
            " (regenerate with python -m llmproxy_ops.validate.schema_gen and review the diff)\n"
        )
        sys.stderr.write("\n".join(diff[:200]) + "\n")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
