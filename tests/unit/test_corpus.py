"""The validator against real-world LiteLLM configs (../shared/corpus/litellm-configs).

Believed-valid files must produce no errors, except the explicit, reasoned tables below of
problems confirmed against the pinned LiteLLM; suspect files must get the errors they deserve.
"""

from __future__ import annotations

import csv
from pathlib import Path
from typing import Any

import pytest
import yaml

from llmproxy_ops.findings import Finding, Location, format_path
from llmproxy_ops.validate.shape import check_shape

CORPUS = Path(__file__).resolve().parents[3] / "shared" / "corpus" / "litellm-configs"

# Suspect files whose note describes a shape problem: each (code, path) must be reported.
SHAPE_DETECTED: dict[str, set[tuple[str, str]]] = {
    "Abbiirr__unified-llm-api__litellm_config.yaml": {
        ("unknown-key", "general_settings.json_logs"),
    },
    "BabakEA__ai-observability-demo__litellm__config.yaml": {
        ("unknown-key", "general_settings.otel_tracing"),
        ("unknown-key", "general_settings.health_check_enabled"),
    },
    "BerriAI__litellm__cookbook__rag_gateway__litellm_config.example.yaml": {
        ("wrong-type", "router_settings.fallbacks[0]"),
        ("unknown-key", "litellm_settings.track_cost_per_request"),
    },
    "BerriAI__litellm__litellm__proxy__example_config_yaml__builtin_mcp_config.yaml": {
        ("unknown-key", "mcp_builtin_servers"),
    },
    "BerriAI__litellm__litellm__proxy__example_config_yaml__china_domestic_free_sources.yaml": {
        ("unknown-key", "general_settings.port"),
        ("unknown-key", "general_settings.host"),
    },
    "BerriAI__litellm__tests__local_testing__example_config_yaml__langfuse_config.yaml": {
        ("missing-key", "model_list[0].litellm_params"),
    },
    "ClickHouse__agentic-data-stack__litellm-config.yaml": {
        ("unknown-key", "router_settings.enable_load_balancing"),
        ("unknown-key", "router_settings.enable_cooldowns"),
        ("unknown-key", "general_settings.log_verbose"),
        ("unknown-key", "general_settings.log_level"),
        ("unknown-key", "general_settings.enable_cors"),
        ("unknown-key", "general_settings.cors_allow_origins"),
        ("unknown-key", "general_settings.use_langfuse"),
        ("unknown-key", "general_settings.disable_request_timeout"),
        ("unknown-key", "health_check"),
    },
    "DmacMcgreg__coolify-litellm-docker-compose__litellm-config.yaml": {
        ("unknown-key", "router_settings.default_model"),
    },
    "GabrielFranciscoSM__scalable_ollama_farm__litellm__config.yaml": {
        ("unknown-key", "cache_config"),
    },
    "HerzigGroup__herzig-ai-stack__litellm__config.yaml": {
        ("wrong-type", "model_list[0].litellm_params.drop_params"),
        ("unknown-key", "litellm_settings.default_params"),
    },
    "KaiharaJP__vllm-manager__config__litellm_config.yaml": {
        ("unknown-key", "model_list[0].litellm_params.pass_through_optional_params"),
    },
    "KonstantinosPapazis__llmproxy__config__litellm_config.yaml": {
        ("unknown-key", "general_settings.enable_redis_auth_cache"),
    },
    "LuthienResearch__luthien-proxy__config__litellm_config.yaml": {
        ("unknown-key", "litellm_settings.master_key"),
        ("unknown-key", "litellm_settings.store_model_in_db"),
        ("unknown-key", "litellm_settings.store_prompts_in_spend_logs"),
        ("unknown-key", "litellm_settings.ui_access_mode"),
        ("unknown-key", "litellm_settings.redis_url"),
        ("unknown-key", "litellm_settings.cache_responses"),
        ("unknown-key", "litellm_settings.stream_response"),
        ("unknown-key", "general_settings.health_check"),
        ("unknown-key", "general_settings.cors_origins"),
        ("unknown-key", "general_settings.request_timeout"),
        ("unknown-key", "general_settings.max_requests_per_minute"),
        ("unknown-key", "environment"),
    },
    "Qamarbajwa__unified-ai-gateway__litellm-config.yaml": {
        ("schema", "litellm_settings.cache_params.type"),  # 'qdrant' is not a cache type
    },
    "ShivSingh96__litellm-gateway-demo__config__litellm_config.yaml": {
        ("unknown-key", "general_settings.redis_host"),
        ("unknown-key", "general_settings.redis_port"),
    },
    "amanmprojects__claude-vertex-bridge__config__litellm_config.yaml": {
        ("unknown-key", "callbacks"),
    },
    "backyard-labs__ai-security-gateway__config__litellm_config.yaml": {
        ("unknown-key", "litellm_settings.banned_keywords"),
    },
    "chorned__frugaLLM__config__litellm_config.yaml": {
        ("unknown-key", "litellm_settings.middleware"),
    },
    "coder__balatrollm__config__litellm.yaml": {
        ("unknown-key", "general_settings.set_verbose"),
    },
}

# Suspect files whose problem is not about shape: left to the semantic checks (or loader).
NOT_SHAPE: dict[str, str] = {
    "BasedDesi__nvidia-proxy__litellm_config.yaml": "provider prefix nvidia/ (semantic)",
    "BerriAI__example_litellm_gcp_cloud_run__litellm_config.yaml": (
        "duplicate YAML key (loader), missing provider prefix (semantic); agents: entries "
        "are not typed by LiteLLM's config loader"
    ),
    "BerriAI__litellm__litellm__proxy__example_config_yaml__load_balancer.yaml": (
        "provider prefixes (semantic); deployment-level tpm/rpm are still read by LiteLLM's "
        "routing strategies (deployment.get('tpm')), so they are not a shape error"
    ),
    "BerriAI__litellm__litellm__proxy__example_config_yaml__tool_permission_example.yaml": (
        "'Deny' in a tool_permission rule: LiteLLM's ToolPermissionRule lowercases it, so the "
        "pinned LiteLLM accepts it (checked by test_tool_permission_decision_is_normalised)"
    ),
    "RATDEO__lammastudio__config__litellm.yaml": (
        "master_key `deo`: LiteLLM serves with it, the validator calls it weak (semantic)"
    ),
    "TheMrDJek__observable-vllm-stack__config__litellm.yaml": (
        "general_settings.otel is declared by LiteLLM's own ConfigGeneralSettings at 1.108.7 "
        "(otel: bool), so it is not unknown to the pinned version"
    ),
}

# Believed-valid files that use keys the pinned LiteLLM (1.108.7, incl. litellm-enterprise)
# never reads: confirmed by searching its source; reported for reclassification, not allowed.
CONFIRMED_UNKNOWN_TO_LITELLM: dict[str, set[tuple[str, str]]] = {
    "1aboveio__litellm-deploy__litellm_config.yaml": {
        ("unknown-key", "litellm_settings.default_model"),  # nothing reads litellm.default_model
    },
    "2012952877__ghcp-pool-gateway__litellm__config.yaml": {
        # only litellm_settings.upperbound_key_generate_params is read
        ("unknown-key", "general_settings.upperbound_key_generate_params"),
    },
    # litellm.telemetry left LiteLLM in 1.108 (proxy_server.py drops it as a legacy worker key)
    "BerriAI__litellm__cookbook__misc__config.yaml": {
        ("unknown-key", "litellm_settings.telemetry"),
    },
    "BerriAI__litellm__litellm__proxy__example_config_yaml__oai_misc_config.yaml": {
        ("unknown-key", "litellm_settings.telemetry"),
    },
    "BerriAI__litellm__proxy_server_config.yaml": {
        ("unknown-key", "litellm_settings.telemetry"),
    },
    "BerriAI__litellm__tests__load_tests__loadtest_config.yaml": {
        ("unknown-key", "litellm_settings.telemetry"),
    },
    "Hoangnhvt__Local_LLM_2x5060ti__litellm__config.yaml": {
        ("unknown-key", "litellm_settings.telemetry"),
    },
    "D0wn10ad__ai-gateway__litellm__config.yaml": {
        ("unknown-key", "litellm_settings.default_end_user_params"),  # no such name
    },
    "EsupPortail__esup-myia-mistral-amue__config__litellm_config.yaml": {
        ("unknown-key", "litellm_settings.cooldown_time"),  # a router_settings key
        ("unknown-key", "general_settings.disable_end_user_cost_tracking"),  # litellm_settings
    },
    "Gapminder__gapminder-ai__litellm__config.yaml": {
        ("unknown-key", "general_settings.debug"),  # no such general setting
    },
    "PaplyAI__paply-gateway__config__litellm.yaml": {
        # read as getattr(litellm, ...), i.e. a litellm_settings key
        ("unknown-key", "general_settings.enable_post_custom_auth_checks"),
        ("unknown-key", "litellm_settings.telemetry"),
    },
    "UbhiTS__claude-code-with-gemini__config__litellm_config.yaml": {
        # LiteLLM derives thinkingLevel from reasoning_effort; thinking_level is not a param
        ("unknown-key", "model_list[1].litellm_params.thinking_level"),
        ("unknown-key", "model_list[3].litellm_params.thinking_level"),
        ("unknown-key", "model_list[6].litellm_params.thinking_level"),
    },
}


def _sources() -> dict[str, str]:
    if not CORPUS.is_dir():
        pytest.fail(f"corpus folder missing: {CORPUS} (expected ../shared next to the repo)")
    with (CORPUS / "SOURCES.tsv").open(encoding="utf-8", newline="") as handle:
        return {row["filename"]: row["notes"] for row in csv.DictReader(handle, delimiter="\t")}


def _findings(name: str) -> list[Finding]:
    doc: Any = yaml.safe_load((CORPUS / name).read_text(encoding="utf-8"))
    return check_shape(doc or {}, lambda path: Location(name))


def _codes_and_paths(findings: list[Finding]) -> set[tuple[str, str]]:
    return {(f.code, format_path(f.path)) for f in findings}


def _suspect(notes: dict[str, str]) -> set[str]:
    return {name for name, note in notes.items() if note.startswith("suspect:")}


def test_every_corpus_file_is_listed_and_every_suspect_is_classified() -> None:
    notes = _sources()
    on_disk = {p.name for p in CORPUS.glob("*.yaml")}
    assert on_disk == set(notes)
    assert _suspect(notes) == set(SHAPE_DETECTED) | set(NOT_SHAPE)
    assert not set(SHAPE_DETECTED) & set(NOT_SHAPE)
    assert not set(CONFIRMED_UNKNOWN_TO_LITELLM) & _suspect(notes)


def test_believed_valid_files_have_no_shape_errors() -> None:
    notes = _sources()
    report = {}
    for name in sorted(set(notes) - _suspect(notes)):
        got = _codes_and_paths(_findings(name))
        if got != CONFIRMED_UNKNOWN_TO_LITELLM.get(name, set()):
            report[name] = sorted(got)
    assert report == {}


@pytest.mark.parametrize("name", sorted(SHAPE_DETECTED))
def test_suspect_files_report_what_their_note_describes(name: str) -> None:
    _sources()
    got = _codes_and_paths(_findings(name))
    assert SHAPE_DETECTED[name] <= got


@pytest.mark.parametrize("name", sorted(NOT_SHAPE))
def test_suspects_with_non_shape_problems_are_shape_clean(name: str) -> None:
    # documents the boundary: if one starts failing, move it to SHAPE_DETECTED
    _sources()
    assert _findings(name) == []


# --- full validation (shape + semantic checks, environment checks off as for any foreign file)

# Believed-valid files with semantic problems confirmed against the pinned LiteLLM.
CONFIRMED_SEMANTIC: dict[str, set[tuple[str, str]]] = {
    # zhipu/ is not in litellm.provider_list; get_llm_provider() raises on it
    "Ancoren__free-llm-gateway__litellm_config.yaml": {("unknown-provider", "model_list[12].litellm_params.model")},
    # bare o1-preview: LiteLLM's own get_llm_provider() raises on it at the pin. (Bare dall-e-3,
    # claude-sonnet-4-20250514 and the bedrock claude-3 ids left the model map at 1.108, but
    # get_llm_provider() still infers openai/anthropic/bedrock for them: not errors.)
    "BerriAI__litellm__litellm__proxy___new_secret_config.yaml": {
        ("unknown-provider", "model_list[3].litellm_params.model"),
    },
    # two entries with the same model_name and litellm_params (the issue requires an error)
    "BerriAI__litellm__litellm__proxy__example_config_yaml__pass_through_config.yaml": {("duplicate-deployment", "model_list[3]")},
    # database_url with a literal password in the URL (the issue requires an error)
    "BerriAI__litellm__tests__batches_tests__local-litellm__litellm-config.yaml": {("literal-secret", "general_settings.database_url")},
}

# Suspect files whose problem the semantic checks (or the loader) must find.
SEMANTIC_DETECTED: dict[str, set[tuple[str, str]]] = {
    "BasedDesi__nvidia-proxy__litellm_config.yaml": {("unknown-provider", "model_list[0].litellm_params.model")},
    "BerriAI__example_litellm_gcp_cloud_run__litellm_config.yaml": {
        ("duplicate-key", "general_settings.store_model_in_db"),
        ("unknown-provider", "model_list[24].litellm_params.model"),
    },
    "BerriAI__litellm__litellm__proxy__example_config_yaml__load_balancer.yaml": {("unknown-provider", "model_list[3].litellm_params.model")},
    "KaiharaJP__vllm-manager__config__litellm_config.yaml": {("unknown-provider", "model_list[0].litellm_params.model")},
    # master_key: deo. LiteLLM serves with it; three letters are guessable: an error outside dev
    "RATDEO__lammastudio__config__litellm.yaml": {("weak-master-key", "general_settings.master_key")},
}
# master_key: sk-1234, which LiteLLM 1.108.7 itself refuses to start with (master_key_boot_check)
for _name in (
    "BerriAI__litellm__cookbook__misc__config.yaml",
    "BerriAI__litellm__litellm__proxy__example_config_yaml__oai_misc_config.yaml",
    "BerriAI__litellm__proxy_server_config.yaml",
    "BerriAI__litellm__tests__batches_tests__local-litellm__litellm-config.yaml",
    "BerriAI__litellm__tests__integration__mcp_sdk1__test_config_mcp_e2e.yaml",
    "BerriAI__litellm__tests__load_tests__loadtest_config.yaml",
    # sk-lme-llama-proxy, a documented shipped default: guessable, an error outside dev
    "cisagov__LME__config__litellm_config.yaml",
):
    CONFIRMED_SEMANTIC.setdefault(_name, set()).add(("weak-master-key", "general_settings.master_key"))

# The corpus ships no Python files: every callback, handler, guardrail or auth module a file
# names is missing here, and the pinned LiteLLM fails to import it the same way (its start-up is
# compared in tests/integration/test_litellm_differential.py). The validator reads such modules,
# never imports them (checks/callback_modules.py).
_CB = "callback-module"
UNSHIPPED_MODULES: dict[str, set[tuple[str, str]]] = {
    "2012952877__ghcp-pool-gateway__litellm__config.yaml": {(_CB, "litellm_settings.callbacks[0]")},
    "BerriAI__litellm__litellm__proxy___new_secret_config.yaml": {(_CB, "litellm_settings.callbacks[0]")},
    "BerriAI__litellm__litellm__proxy__example_config_yaml__otel_test_config.yaml": {
        (_CB, f"guardrails[{i}].litellm_params.guardrail") for i in (3, 4, 5)},
    "BerriAI__litellm__litellm__proxy__example_config_yaml__pass_through_config.yaml": {(_CB, "general_settings.custom_auth")},
    "CIRISAI__CIRISProxy__litellm_config.yaml": {
        (_CB, "litellm_settings.callbacks[0]"), (_CB, "litellm_settings.success_callback[0]"),
        (_CB, "litellm_settings.failure_callback[0]"), (_CB, "general_settings.custom_auth")},
    "Causal-Insights__ai-gateway__litellm_config.yaml": {
        (_CB, f"litellm_settings.custom_provider_map[{i}].custom_handler") for i in range(3)},
    "JinY0ung-Shin__UniBridge__litellm__config.yaml": {(_CB, "litellm_settings.callbacks")},
    "Lullow__llm-guardrails__litellm__config.yaml": {
        (_CB, "guardrails[1].litellm_params.guardrail"), (_CB, "guardrails[2].litellm_params.guardrail")},
    "PaplyAI__paply-gateway__config__litellm.yaml": {(_CB, "general_settings.custom_auth")},
    "UbhiTS__claude-code-with-gemini__config__litellm_config.yaml": {(_CB, "litellm_settings.callbacks[0]")},
    "cabinlab__litellm-claude-code__config__litellm_config.yaml": {(_CB, "litellm_settings.custom_provider_map[0].custom_handler")},
    "chorned__frugaLLM__config__litellm_config.yaml": {(_CB, "litellm_settings.callbacks")},
    "tauven__litellm-plugin-collection__litellm__litellm_config.yaml": {
        (_CB, f"litellm_settings.callbacks[{i}]") for i in range(3)},
}
for _name, _found in UNSHIPPED_MODULES.items():
    CONFIRMED_SEMANTIC.setdefault(_name, set()).update(_found)

# Suspects the validator does not flag, with the reason (re-checked against LiteLLM 1.108.7).
NOT_AN_ERROR_AT_THE_PIN = {
    "BerriAI__litellm__litellm__proxy__example_config_yaml__tool_permission_example.yaml",
    "TheMrDJek__observable-vllm-stack__config__litellm.yaml",
}


def _all_errors(name: str) -> set[tuple[str, str]]:
    """Static errors (--no-env), without the master-key refusal: _refused() predicts that."""
    from llmproxy_ops.spec import load_files
    from llmproxy_ops.validate import validate_spec

    result = validate_spec(load_files([CORPUS / name]))
    errors = {(f.code, format_path(f.path)) for f in result.errors}
    refusal = {e for e in errors if e[0] == "master-key-refused"}
    assert refusal == _refused(name), name
    return errors - refusal


def _refused(name: str) -> set[tuple[str, str]]:
    """LiteLLM's own boot verdict on what the file itself says about its master key: with
    --no-env the environment is unknown, so a key the file leaves to it (no master_key, or an
    os.environ/ reference) decides nothing (checks/implicit_env.py names LITELLM_MASTER_KEY)."""
    from litellm.proxy.auth.master_key_boot_check import (
        UnsafeMasterKeyRefused,
        master_key_boot_verdict,
    )

    doc: Any = yaml.safe_load((CORPUS / name).read_text(encoding="utf-8")) or {}
    general = doc.get("general_settings") or {}
    key = general.get("master_key")
    if key is None or (isinstance(key, str) and key.startswith("os.environ/")):
        return set()  # the value is unknown without an environment
    verdict = master_key_boot_verdict(
        master_key=key, environment_master_key=None, general_settings=general,
        config_file_path=None, override_env_is_on=False, salt_key_is_set=True,
        database_is_configured=False,
    )
    if not isinstance(verdict, UnsafeMasterKeyRefused):
        return set()
    path = "general_settings.master_key" if "master_key" in general else (
        "general_settings" if general else "$")
    return {("master-key-refused", path)}


def test_believed_valid_files_have_no_errors_beyond_the_confirmed_ones() -> None:
    notes = _sources()
    report = {}
    for name in sorted(set(notes) - _suspect(notes)):
        expected = CONFIRMED_UNKNOWN_TO_LITELLM.get(name, set()) | CONFIRMED_SEMANTIC.get(name, set())
        got = _all_errors(name)
        if got != expected:
            report[name] = sorted(got ^ expected)
    assert report == {}


def test_every_suspect_file_gets_an_error_or_a_documented_reason() -> None:
    notes = _sources()
    assert set(SEMANTIC_DETECTED) <= _suspect(notes)
    missing = {}
    for name in sorted(_suspect(notes)):
        expected = SHAPE_DETECTED.get(name, set()) | SEMANTIC_DETECTED.get(name, set())
        got = _all_errors(name)
        if name in NOT_AN_ERROR_AT_THE_PIN:
            assert got == set(), name
        elif not expected or not expected <= got:
            missing[name] = sorted(expected - got) or "no expectation recorded"
    assert missing == {}


def test_tool_permission_decision_is_normalised() -> None:
    from litellm.types.proxy.guardrails.guardrail_hooks.tool_permission import ToolPermissionRule

    assert ToolPermissionRule(id="x", tool_name="Read", decision="Deny").decision == "deny"
