"""literal-secret / weak-demo-key: credentials written into a layer instead of the env file."""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator
from typing import Any

from llmproxy_ops.findings import Finding, JsonPath, Severity
from llmproxy_ops.spec.model import Spec
from llmproxy_ops.validate.checks._common import describe, env_file_name, get_in, make
from llmproxy_ops.validate.context import CheckContext
from llmproxy_ops.validate.secrets import classify, env_ref_name, redact

MASTER_KEY_PATH: JsonPath = ("general_settings", "master_key")
# conventional names, so the hint reads like the .env.example users already have
_KNOWN_NAMES = {"master_key": "LITELLM_MASTER_KEY", "salt_key": "LITELLM_SALT_KEY"}


def iter_strings(
    value: Any, path: JsonPath = (), key: Any = None
) -> Iterator[tuple[JsonPath, Any, str]]:
    """(path, nearest mapping key, value) for every string in the tree, list items included."""
    if isinstance(value, str):
        yield path, key, value
    elif isinstance(value, dict):
        for k, child in value.items():
            yield from iter_strings(child, (*path, k), k)
    elif isinstance(value, list):
        for i, child in enumerate(value):
            yield from iter_strings(child, (*path, i), key)


# A key whose format names its provider belongs in that provider's variable, whatever the
# deployment's model prefix says (an sk-ant- key under `openai/...` is still Anthropic's).
_KIND_NAMES = {
    "Anthropic API key": "ANTHROPIC_API_KEY",
    "OpenAI project key": "OPENAI_API_KEY",
    "OpenRouter API key": "OPENROUTER_API_KEY",
    "Google API key": "GEMINI_API_KEY",
    "GitHub token": "GITHUB_API_KEY",
}


def suggest_env_name(spec: Spec, path: JsonPath, key: Any, kind: str | None = None) -> str:
    """A variable name for the hint: LITELLM_MASTER_KEY, ANTHROPIC_API_KEY, DATABASE_URL…"""
    if len(path) == 2 and path[0] == "environment_variables":
        return str(path[1])
    if key in _KNOWN_NAMES:
        return _KNOWN_NAMES[str(key)]
    if kind in _KIND_NAMES:
        return _KIND_NAMES[str(kind)]
    if key == "api_key" and path[:1] == ("model_list",):
        provider = _deployment_provider(spec, path)
        if provider:
            return re.sub(r"[^A-Z0-9]+", "_", provider.upper()) + "_API_KEY"
    return re.sub(r"[^A-Z0-9]+", "_", str(key).upper()).strip("_") or "SECRET"


def _deployment_provider(spec: Spec, path: JsonPath) -> str | None:
    """custom_llm_provider, or the `provider/` prefix of the model (a bare name has none)."""
    params = (
        get_in(spec.model_list[path[1]], "litellm_params") if isinstance(path[1], int) else None
    )
    provider = get_in(params, "custom_llm_provider")
    if isinstance(provider, str) and provider:
        return provider
    model = get_in(params, "model")
    return model.split("/", 1)[0] if isinstance(model, str) and "/" in model else None


def check_literal_secret(ctx: CheckContext) -> Iterable[Finding]:
    env_file = env_file_name(ctx.spec)
    for path, key, value in iter_strings(ctx.spec.root):
        hit = classify(key, value)
        if hit is None:
            continue
        name = suggest_env_name(ctx.spec, path, key, hit.kind)
        yield make(
            ctx,
            Severity.ERROR,
            "literal-secret",
            f"literal {hit.kind} in {describe(ctx.spec, path)} ({hit.redacted})",
            path,
            f"move it to {env_file} as {name}=... and write os.environ/{name} here; "
            "rotate it if this file was ever shared or committed",
        )


def check_weak_demo_key(ctx: CheckContext) -> Iterable[Finding]:
    """A literal master key that is not a real secret is a demo value anyone can guess."""
    value = get_in(ctx.spec.root, *MASTER_KEY_PATH)
    if not isinstance(value, str) or env_ref_name(value) is not None:
        return
    if classify("master_key", value) is not None:
        return  # a real-looking literal key: check_literal_secret reports it
    yield make(
        ctx,
        Severity.WARNING,
        "weak-demo-key",
        f"general_settings.master_key is a demo value ({redact(value)}); anyone can guess it",
        MASTER_KEY_PATH,
        f"generate one (sk- + `openssl rand -hex 32`), put LITELLM_MASTER_KEY=... in "
        f"{env_file_name(ctx.spec)} and write os.environ/LITELLM_MASTER_KEY here",
    )
