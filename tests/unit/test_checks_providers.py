"""unknown-provider / unknown-model against the pinned LiteLLM's provider list and model map."""

from __future__ import annotations

import textwrap
from pathlib import Path

from llmproxy_ops.findings import Finding, Severity
from llmproxy_ops.spec import load_files
from llmproxy_ops.validate.checks.providers import check_unknown_model, check_unknown_provider
from llmproxy_ops.validate.context import CheckContext


def load(tmp_path: Path, text: str) -> CheckContext:
    path = tmp_path / "c.yaml"
    path.write_text(textwrap.dedent(text))
    return CheckContext(load_files([path]))


def where(f: Finding) -> tuple[str, int]:
    return Path(f.location.file).name, f.location.line


def test_misspelt_provider_gets_did_you_mean(tmp_path: Path) -> None:
    ctx = load(
        tmp_path,
        """\
        model_list:
          - model_name: claude
            litellm_params: {model: antropic/claude-sonnet-4-5}
        """,
    )
    [f] = check_unknown_provider(ctx)
    assert (f.severity, f.code, where(f)) == (Severity.ERROR, "unknown-provider", ("c.yaml", 3))
    assert (
        f.message == "'claude': unknown provider 'antropic' in model 'antropic/claude-sonnet-4-5'"
    )
    assert f.hint == "did you mean 'anthropic'? (LiteLLM's providers: litellm.provider_list)"


def test_bare_model_needs_a_known_name_or_custom_provider(tmp_path: Path) -> None:
    ctx = load(
        tmp_path,
        """\
        model_list:
          - model_name: gpt
            litellm_params: {model: gpt-4o}
          - model_name: local
            litellm_params: {model: my-model, custom_llm_provider: hosted_vllm}
          - model_name: vllm-local
            litellm_params: {model: vllm}
        """,
    )
    [f] = check_unknown_provider(ctx)
    assert where(f) == ("c.yaml", 7)
    assert f.message == "'vllm-local': LiteLLM cannot tell the provider of model 'vllm'"
    assert f.hint == (
        "write it as <provider>/vllm (e.g. openai/vllm for an OpenAI-compatible server) "
        "or set custom_llm_provider"
    )


def test_custom_llm_provider_is_checked_instead_of_prefix(tmp_path: Path) -> None:
    ctx = load(
        tmp_path,
        """\
        model_list:
          - model_name: a
            litellm_params: {model: meta-llama/Llama-3, custom_llm_provider: hosted_vlm}
        """,
    )
    [f] = check_unknown_provider(ctx)
    assert where(f) == ("c.yaml", 3)
    assert f.message == "'a': unknown provider 'hosted_vlm' in model 'meta-llama/Llama-3'"
    assert f.hint is not None and f.hint.startswith("did you mean 'hosted_vllm'?")


def test_custom_provider_map_and_wildcards_are_known(tmp_path: Path) -> None:
    ctx = load(
        tmp_path,
        """\
        model_list:
          - model_name: "*"
            litellm_params: {model: "*"}
          - model_name: "openai/*"
            litellm_params: {model: "openai/*"}
          - model_name: mine
            litellm_params: {model: my-llm/anything}
        litellm_settings:
          custom_provider_map:
            - {provider: my-llm, custom_handler: handler.my_llm}
        """,
    )
    assert list(check_unknown_provider(ctx)) == []
    assert list(check_unknown_model(ctx)) == []


def test_unknown_model_warns_with_suggestion(tmp_path: Path) -> None:
    ctx = load(
        tmp_path,
        """\
        model_list:
          - model_name: claude
            litellm_params: {model: anthropic/claude-sonet-4-5}
        """,
    )
    [f] = check_unknown_model(ctx)
    assert (f.severity, f.code, where(f)) == (Severity.WARNING, "unknown-model", ("c.yaml", 3))
    assert f.message == (
        "'claude': LiteLLM's model map does not know 'anthropic/claude-sonet-4-5' "
        "(no cost tracking or context-window data)"
    )
    assert f.hint == (
        "did you mean 'anthropic/claude-sonnet-4-5'? if the name is right, set "
        "model_info.base_model (or input/output_cost_per_token) so LiteLLM can price it"
    )


def test_unknown_model_stays_quiet_where_the_map_cannot_know(tmp_path: Path) -> None:
    ctx = load(
        tmp_path,
        """\
        model_list:
          - model_name: mock
            litellm_params: {model: anthropic/claude-nonexistent, mock_response: hi}
          - model_name: local
            litellm_params: {model: lm_studio/qwen3-local}
          - model_name: own-server
            litellm_params: {model: openai/my-finetune, api_base: "http://10.0.0.5:8000/v1"}
          - model_name: priced
            litellm_params: {model: openai/new-model}
            model_info: {input_cost_per_token: 0.000001}
          - model_name: free
            litellm_params: {model: "openrouter/anthropic/claude-3.5-sonnet:free"}
          - model_name: bedrock
            litellm_params: {model: bedrock/converse/us.anthropic.claude-3-5-haiku-20241022-v1:0}
          - model_name: known
            litellm_params: {model: gemini/gemini-2.5-flash}
        """,
    )
    assert list(check_unknown_model(ctx)) == []


def test_odd_shapes_do_not_crash(tmp_path: Path) -> None:
    ctx = load(
        tmp_path,
        """\
        model_list:
          - model_name: a
          - model_name: b
            litellm_params: [1, 2]
          - model_name: c
            litellm_params: {model: 42, custom_llm_provider: [x]}
          - just-a-string
        litellm_settings:
          custom_provider_map: {provider: x}
        """,
    )
    assert list(check_unknown_provider(ctx)) == []
    assert list(check_unknown_model(ctx)) == []
