"""Stage 1 of validation: the shape of LiteLLM's config keys, against the generated schema."""

from __future__ import annotations

import functools
import json
from collections.abc import Callable, Iterator, Mapping
from importlib import resources
from typing import Any

from jsonschema import Draft202012Validator, validators
from jsonschema.exceptions import ValidationError

from llmproxy_ops.findings import Finding, JsonPath, Location, Severity, format_path
from llmproxy_ops.validate.suggest import SECTIONS, enum_hint, unknown_key_hint

Locate = Callable[[JsonPath], Location]

_ARTICLE = {
    "integer": "an integer",
    "number": "a number",
    "string": "a string",
    "boolean": "a boolean",
    "array": "a list",
    "object": "a mapping",
    "null": "null",
}
_VALUE_CHECKS = frozenset(
    {"type", "anyOf", "oneOf", "enum", "minimum", "exclusiveMinimum", "maximum", "exclusiveMaximum"}
)
_RANGE = {"minimum": ">=", "exclusiveMinimum": ">", "maximum": "<=", "exclusiveMaximum": "<"}


@functools.cache
def load_schema() -> dict[str, Any]:
    """The committed schema generated from the pinned LiteLLM (see schema_gen)."""
    text = resources.files("llmproxy_ops").joinpath("validate/litellm_schema.json").read_text()
    schema: dict[str, Any] = json.loads(text)
    return schema


def _properties(
    validator: Any, properties: dict[str, Any], instance: Any, schema: Any
) -> Iterator[ValidationError]:
    """jsonschema's `properties`, walking the instance's keys instead of the schema's: a
    deployment has a handful of litellm_params, LiteLLM's type declares hundreds, and 5,000
    deployments made that 1.5 million lookups. The same errors (check_shape sorts them)."""
    if not validator.is_type(instance, "object"):
        return
    for key, value in instance.items():
        subschema = properties.get(key)
        if subschema is not None and not _plainly_valid(subschema, value):
            yield from validator.descend(value, subschema, path=key, schema_path=key)


# Most of LiteLLM's properties say only a type (and maybe a bound), or nothing at all. A
# value that plainly fits one needs no descent into jsonschema (a new validator per value);
# anything else is left to jsonschema, which then reports the error in its own words.
_TYPE_TESTS: dict[str, Callable[[Any], bool]] = {
    "string": lambda v: isinstance(v, str),
    "integer": lambda v: isinstance(v, int) and not isinstance(v, bool),
    "number": lambda v: isinstance(v, int | float) and not isinstance(v, bool),
    "boolean": lambda v: isinstance(v, bool),
    "null": lambda v: v is None,
    "array": lambda v: isinstance(v, list),
    "object": lambda v: isinstance(v, dict),
}
_BOUNDS: dict[str, Callable[[Any, Any], bool]] = {
    "minimum": lambda v, b: v >= b,
    "exclusiveMinimum": lambda v, b: v > b,
    "maximum": lambda v, b: v <= b,
    "exclusiveMaximum": lambda v, b: v < b,
}
_SIMPLE_KEYS = frozenset({"type", *_BOUNDS})


_Plan = tuple[tuple[Callable[[Any], bool], ...] | None, tuple[tuple[str, Any], ...]]
_PLANS: dict[int, _Plan | None] = {}  # by id of a subschema of the cached schema


def _plan(subschema: Any) -> _Plan | None:
    """(type tests or None for any type, bounds) when the subschema says nothing else."""
    key = id(subschema)
    if key not in _PLANS:
        plan = None
        if isinstance(subschema, dict) and subschema.keys() <= _SIMPLE_KEYS:
            kinds = subschema.get("type")
            kinds = kinds if isinstance(kinds, list) else [kinds] if kinds is not None else None
            tests = None if kinds is None else tuple(
                _TYPE_TESTS[k] for k in kinds if k in _TYPE_TESTS)
            plan = (tests, tuple((k, b) for k, b in subschema.items() if k in _BOUNDS))
        _PLANS[key] = plan
    return _PLANS[key]


def _plainly_valid(subschema: Any, value: Any) -> bool:
    plan = _plan(subschema)
    if plan is None:
        return False
    tests, bounds = plan
    if tests is not None and not any(test(value) for test in tests):
        return False
    if not bounds or isinstance(value, bool) or not isinstance(value, int | float):
        return True  # bounds apply to numbers only
    return all(_BOUNDS[k](value, b) for k, b in bounds)


_Validator = validators.extend(Draft202012Validator, {"properties": _properties})


@functools.cache
def _validator() -> Any:
    return _Validator(load_schema())


@functools.cache
def _section_keys() -> dict[str, frozenset[str]]:
    props = load_schema()["properties"]
    return {name: frozenset(props[name]["properties"]) for name in SECTIONS}


def check_shape(doc: Mapping[str, Any], locate: Locate) -> list[Finding]:
    """Every schema finding for `doc` (never stopping at the first), sorted."""
    found: dict[tuple[str, JsonPath, str], Finding] = {}
    for error in _validator().iter_errors(doc):
        if _is_env_reference(error):
            continue
        for finding in _findings(error, locate):
            found.setdefault((finding.code, finding.path, finding.message), finding)
    return sorted(found.values(), key=Finding.sort_key)


def _is_env_reference(error: ValidationError) -> bool:
    # LiteLLM resolves os.environ/VAR anywhere in the config before use; its value is checked
    # by the environment checks, not here
    value = error.instance
    return (
        isinstance(value, str)
        and value.startswith("os.environ/")
        and error.validator in _VALUE_CHECKS
    )


def _findings(error: ValidationError, locate: Locate) -> Iterator[Finding]:
    path: JsonPath = tuple(error.absolute_path)
    kind = error.validator
    if kind == "additionalProperties":
        yield from _unknown_keys(error, path, locate)
    elif kind == "required":
        yield from _missing_keys(error, path, locate)
    elif kind == "type" or (kind in ("anyOf", "oneOf") and _only_type_errors(error)):
        yield _finding("wrong-type", _type_message(error, path), path, locate)
    elif kind in ("anyOf", "oneOf") and _closest(error) is not None:
        yield from _findings(_closest(error), locate)  # type: ignore[arg-type]
    elif kind in _RANGE:
        bound = f"{_RANGE[str(kind)]} {error.validator_value}"
        message = f"{_name(path)} must be {bound}, got {error.instance!r}"
        yield _finding("out-of-range", message, path, locate)
    elif kind == "enum":
        yield _enum_finding(error, path, locate)
    else:
        yield _finding("schema", f"{_name(path)}: {error.message}", path, locate)


def _finding(
    code: str, message: str, path: JsonPath, locate: Locate, hint: str | None = None
) -> Finding:
    return Finding(Severity.ERROR, code, message, locate(path), path, hint)


def _unknown_keys(error: ValidationError, path: JsonPath, locate: Locate) -> Iterator[Finding]:
    allowed = error.schema.get("properties", {}) if isinstance(error.schema, dict) else {}
    where = format_path(path) if path else "the top level"
    # only whole sections can be mixed up with each other (json_logs under general_settings)
    elsewhere = {s: k for s, k in _section_keys().items() if len(path) <= 1 and path != (s,)}
    for key in error.instance:
        if key in allowed:
            continue
        key_path = (*path, key)
        hint = unknown_key_hint(str(key), allowed, where, elsewhere)
        yield _finding("unknown-key", f"unknown key '{key}' in {where}", key_path, locate, hint)


def _missing_keys(error: ValidationError, path: JsonPath, locate: Locate) -> Iterator[Finding]:
    where = format_path(path) if path else "the top level"
    for key in error.validator_value:
        if key not in error.instance:
            message = f"missing required key '{key}' in {where}"
            yield Finding(Severity.ERROR, "missing-key", message, locate(path), (*path, key))


def _closest(error: ValidationError) -> ValidationError | None:
    """Of the alternatives that failed, the one whose type fit (workers: 0 → 'must be >= 1')."""
    fitting = [sub for sub in error.context or [] if sub.validator not in ("type", "const", "enum")]
    return fitting[0] if len(fitting) == 1 else None


def _only_type_errors(error: ValidationError) -> bool:
    return bool(error.context) and all(sub.validator == "type" for sub in error.context)


def _type_message(error: ValidationError, path: JsonPath) -> str:
    if error.validator == "type":
        expected = error.validator_value
    else:
        expected = [t for sub in error.context or [] for t in _as_list(sub.validator_value)]
    kinds = [k for k in _as_list(expected) if k != "null"] or ["null"]
    wanted = " or ".join(_ARTICLE.get(k, k) for k in dict.fromkeys(kinds))
    return f"{_name(path)} must be {wanted}, got {_describe(error.instance)}"


def _enum_finding(error: ValidationError, path: JsonPath, locate: Locate) -> Finding:
    values = [v for v in error.validator_value if v is not None]
    listed = ", ".join(repr(v) for v in values)
    message = f"{_name(path)} must be one of {listed}, got {error.instance!r}"
    return _finding("schema", message, path, locate, enum_hint(error.instance, values))


def _as_list(value: Any) -> list[Any]:
    return list(value) if isinstance(value, list) else [value]


def _name(path: JsonPath) -> str:
    """The key itself when the path ends in one (rpm), else the whole path (model_list[0])."""
    if path and isinstance(path[-1], str):
        return path[-1]
    return format_path(path) if path else "the config"


def _describe(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return f"boolean {str(value).lower()}"
    if isinstance(value, str):
        return f"string {value!r}"
    if isinstance(value, int):
        return f"integer {value}"
    if isinstance(value, float):
        return f"number {value}"
    if isinstance(value, list):
        return "a list"
    if isinstance(value, dict):
        return "a mapping"
    return type(value).__name__
