"""Which variables a deployment needs (names only, never values) and the runtime defaults."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

from llmproxy_ops.spec.model import STACK_KEY, Spec

ENV_REF_PREFIX = "os.environ/"

# Runtime variables rendered for every deployment. Not secrets; a spec may override them.
RUNTIME_DEFAULTS: dict[str, str] = {
    # LiteLLM fetches its model cost map from GitHub at start and retries for seconds when
    # offline; the bundled copy is the one the pinned version was tested with anyway.
    "LITELLM_LOCAL_MODEL_COST_MAP": "True",
}


def env_references(value: Any, path: tuple[Any, ...] = ()) -> Iterator[tuple[str, tuple[Any, ...]]]:
    """(VAR, json path) for every `os.environ/VAR` string in `value`, in document order."""
    if isinstance(value, dict):
        for key, child in value.items():
            yield from env_references(child, (*path, key))
    elif isinstance(value, list):
        for i, child in enumerate(value):
            yield from env_references(child, (*path, i))
    elif isinstance(value, str) and value.startswith(ENV_REF_PREFIX):
        yield value[len(ENV_REF_PREFIX) :], path


def required_variables(spec: Spec) -> list[str]:
    # the located tree itself (dict and list subclasses): no plain copy needed to walk it
    sections = {k: v for k, v in spec.root.items() if k != STACK_KEY}
    return sorted({name for name, _ in env_references(sections)})


def runtime_environment(spec: Spec) -> dict[str, str]:
    return {**RUNTIME_DEFAULTS, **spec.stack.environment}


def render_runtime_env(spec: Spec) -> str:
    lines = [
        "# Non-secret runtime settings, rendered by llmproxy-ops. Secrets: see the env file.\n"
    ]
    lines += [f"{k}={v}\n" for k, v in sorted(runtime_environment(spec).items())]
    return "".join(lines)


def render_manifest(spec: Spec) -> str:
    manifest = {
        "environment": spec.name,
        "env_file": str(spec.stack.env_file),
        "required": required_variables(spec),
        "runtime": sorted(runtime_environment(spec)),
        "layers": spec.sources,
    }
    return json.dumps(manifest, indent=2, sort_keys=True) + "\n"


DEFAULT_MASTER_KEY_VAR = "LITELLM_MASTER_KEY"  # what LiteLLM reads when the config names none


def master_key_var(spec: Spec) -> str:
    """The variable that holds the master key: the one the config names, else LiteLLM's own."""
    return master_key_variable(spec) or DEFAULT_MASTER_KEY_VAR


def master_key_variable(spec: Spec) -> str | None:
    """The variable general_settings.master_key refers to (None for a literal or no key)."""
    settings = spec.root.get("general_settings")
    key = settings.get("master_key") if isinstance(settings, dict) else None
    if isinstance(key, str) and key.startswith(ENV_REF_PREFIX):
        return key[len(ENV_REF_PREFIX):]
    return None
