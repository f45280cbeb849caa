"""unknown-provider / unknown-model: litellm_params.model against the pinned LiteLLM.

unknown-model is a warning about cost tracking and context-window data, so it stays quiet
where the bundled map cannot be expected to know the name:
- providers with no model in the map, and self-hosted ones (lm_studio, ollama, hosted_vllm…)
  and ones whose model names are the user's own (azure deployments, sagemaker endpoints…);
- deployments with an `api_base` other than the provider's official host (a custom server
  serves whatever names it likes);
- deployments that give LiteLLM the price themselves (model_info.base_model or
  input/output_cost_per_token), wildcard models (`openai/*`), and `mock_response`.
"""

from __future__ import annotations

import difflib
import functools
from collections.abc import Iterable
from urllib.parse import urlsplit

from llmproxy_ops.findings import Finding, Severity
from llmproxy_ops.validate.checks._common import Deployment, deployments, did_you_mean, get_in, make
from llmproxy_ops.validate.checks.litellm_facts import LiteLLMFacts, litellm_facts
from llmproxy_ops.validate.context import CheckContext
from llmproxy_ops.validate.secrets import env_ref_name

UNMAPPED_PROVIDERS = frozenset(
    {
        "lm_studio",
        "ollama",
        "ollama_chat",
        "hosted_vllm",
        "vllm",
        "openai_like",
        "custom_openai",
        "custom",
        "llamafile",
        "xinference",
        "oobabooga",
        "triton",
        "docker_model_runner",
        "lemonade",
        "litellm_proxy",
        "huggingface",
        "sagemaker",
        "sagemaker_chat",
        "azure",
        "azure_ai",
        "azure_text",
        "databricks",
        "predibase",
        "petals",
        "infinity",
        "aiohttp_openai",
    }
)
OFFICIAL_HOSTS = frozenset(
    {
        "api.openai.com",
        "api.anthropic.com",
        "generativelanguage.googleapis.com",
        "openrouter.ai",
        "models.github.ai",
        "models.inference.ai.azure.com",
        "api.githubcopilot.com",
        "api.groq.com",
        "api.mistral.ai",
        "api.deepseek.com",
    }
)
COST_KEYS = ("base_model", "input_cost_per_token", "output_cost_per_token")


def split_provider(dep: Deployment) -> tuple[str | None, str]:
    """(provider, model name LiteLLM sends) as LiteLLM reads litellm_params."""
    model = dep.params.get("model")
    model = model if isinstance(model, str) else ""
    custom = dep.params.get("custom_llm_provider")
    if isinstance(custom, str) and custom:
        return custom, model
    if "/" in model:
        prefix, rest = model.split("/", 1)
        return prefix, rest
    return None, model


def _model_path(dep: Deployment) -> tuple[str | int, ...]:
    key = (
        "custom_llm_provider" if isinstance(dep.params.get("custom_llm_provider"), str) else "model"
    )
    return (*dep.path, "litellm_params", key)


def _skip(model: object) -> bool:
    return not isinstance(model, str) or not model or env_ref_name(model) is not None


def custom_providers(ctx: CheckContext) -> set[str]:
    """Providers the config registers itself (litellm_settings.custom_provider_map)."""
    entries = get_in(ctx.spec.root, "litellm_settings", "custom_provider_map")
    entries = entries if isinstance(entries, list) else []
    return {str(e["provider"]) for e in entries if isinstance(e, dict) and "provider" in e}


def litellm_provider(dep: Deployment) -> str | None:
    """The provider LiteLLM's own get_llm_provider() infers (prefix, model map, api_base), or
    None when it raises: exactly what LiteLLM does with this deployment at request time.
    Imports LiteLLM (seconds): asked only when the generated facts cannot say."""
    import os

    os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")
    import litellm

    litellm.suppress_debug_info = True  # it prints a provider-list banner on every failure
    base = dep.params.get("api_base") or dep.params.get("base_url")
    custom = dep.params.get("custom_llm_provider")
    try:
        _, provider, _, _ = litellm.get_llm_provider(
            model=str(dep.params.get("model")),
            custom_llm_provider=custom if isinstance(custom, str) and custom else None,
            api_base=base if isinstance(base, str) and env_ref_name(base) is None else None,
        )
    except Exception:  # noqa: BLE001 - LiteLLM raises BadRequestError, ValueError, KeyError…
        return None
    return str(provider) if provider else None


def check_unknown_provider(ctx: CheckContext) -> Iterable[Finding]:
    facts: LiteLLMFacts | None = None
    own = custom_providers(ctx)
    for dep in deployments(ctx.spec):
        model = dep.params.get("model")
        if _skip(model) or model == "*":
            continue
        facts = facts or litellm_facts()
        provider, rest = split_provider(dep)
        if provider in own or provider in facts.providers:
            continue  # never asks get_llm_provider: for some providers it logs in over HTTP
        explicit = isinstance(dep.params.get("custom_llm_provider"), str)
        if not explicit and (facts.places(str(model)) or litellm_provider(dep) is not None):
            continue  # LiteLLM infers it (model map, api_base host)
        group = dep.name or str(model)
        if provider is None:
            yield make(
                ctx,
                Severity.ERROR,
                "unknown-provider",
                f"'{group}': LiteLLM cannot tell the provider of model '{model}'",
                _model_path(dep),
                f"write it as <provider>/{model} (e.g. openai/{model} for an OpenAI-compatible "
                "server) or set custom_llm_provider",
            )
        else:
            yield _unknown_provider(ctx, dep, group, provider, facts)


def _unknown_provider(
    ctx: CheckContext, dep: Deployment, group: str, provider: str, facts: LiteLLMFacts
) -> Finding:
    guess = did_you_mean(provider, sorted(facts.providers))
    hint = (f"did you mean '{guess}'?" if guess else "use a provider LiteLLM knows") + (
        " (LiteLLM's providers: litellm.provider_list)"
    )
    return make(
        ctx,
        Severity.ERROR,
        "unknown-provider",
        f"'{group}': unknown provider '{provider}' in model '{dep.params.get('model')}'",
        _model_path(dep),
        hint,
    )


def check_unknown_model(ctx: CheckContext) -> Iterable[Finding]:
    facts: LiteLLMFacts | None = None
    for dep in deployments(ctx.spec):
        model = dep.params.get("model")
        if (
            _skip(model)
            or "*" in str(model)
            or _prices_itself(dep)
            or "mock_response" in dep.params
        ):
            continue
        facts = facts or litellm_facts()
        provider, rest = split_provider(dep)
        if provider is None or not _mapped(provider, facts) or _custom_server(dep):
            continue
        assert isinstance(model, str)
        if _known(provider, model, facts):
            continue
        yield make(
            ctx,
            Severity.WARNING,
            "unknown-model",
            f"'{dep.name or model}': LiteLLM's model map does not know '{model}' "
            "(no cost tracking or context-window data)",
            (*dep.path, "litellm_params", "model"),
            _model_hint(provider, rest, facts),
        )


@functools.lru_cache(maxsize=4096)  # 5,000 deployments name a few dozen models
def _known(provider: str, model: str, facts: LiteLLMFacts) -> bool:
    return any(facts.knows_model(n) for n in candidates(provider, model))


def candidates(provider: str, model: str) -> list[str]:
    """Names the map may know the model by: the whole name, every tail after a `/`
    (bedrock/converse/us.anthropic.x → us.anthropic.x), provider/name, each without a
    `:variant` suffix (openrouter's `:free`)."""
    parts = model.split("/")
    tails = ["/".join(parts[i:]) for i in range(len(parts))]
    names = [*tails, f"{provider}/{tails[-1]}"]
    return names + [n.rsplit(":", 1)[0] for n in names if ":" in n]


def _mapped(provider: str, facts: LiteLLMFacts) -> bool:
    return provider in facts.mapped_providers and provider not in UNMAPPED_PROVIDERS


def _prices_itself(dep: Deployment) -> bool:
    info = dep.entry.get("model_info")
    return any(get_in(info, k) is not None or dep.params.get(k) is not None for k in COST_KEYS)


def _custom_server(dep: Deployment) -> bool:
    base = dep.params.get("api_base") or dep.params.get("base_url")
    if not isinstance(base, str) or not base:
        return False
    if env_ref_name(base) is not None:
        return True  # cannot know where it points: assume a custom server, stay quiet
    try:
        host = urlsplit(base).hostname
    except ValueError:
        return True
    return host not in OFFICIAL_HOSTS


@functools.cache
def _names_of(provider: str, facts: LiteLLMFacts) -> list[str]:
    """The map's names a deployment of `provider` may mean (its own, and bare ones)."""
    own = (m for m in facts.models if m.startswith(f"{provider}/") or "/" not in m)
    return sorted({m.split("/", 1)[1] if "/" in m else m for m in own})


@functools.cache  # one model written in many deployments is looked up once, not per deployment
def _model_hint(provider: str, rest: str, facts: LiteLLMFacts) -> str:
    close = difflib.get_close_matches(rest, _names_of(provider, facts), n=1, cutoff=0.75)
    fix = "set model_info.base_model (or input/output_cost_per_token) so LiteLLM can price it"
    return (
        f"did you mean '{provider}/{close[0]}'? if the name is right, {fix}"
        if close
        else (f"check the model name; if it is right, {fix}")
    )
