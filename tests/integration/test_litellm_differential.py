"""The validator's verdict against the real LiteLLM's, for every file of the corpus.

"What LiteLLM does" is recorded by running it, never by hand, and never by the validator's
own probe: a separately started LiteLLM process of the pinned version
(llmproxy_ops/testing/litellm_forkserver.py) runs LiteLLM's own CLI entry
(`proxy_cli.run_server`) per file: `litellm --config F --host 127.0.0.1 --port P` on a real
port, asked `GET /v1/models` over HTTP, and `litellm --config F --validate_config`. Starting
`litellm` costs ~7 s here, nearly all imports, so that process imports LiteLLM once and forks
a child per run (a fork server: each child is exactly what `litellm ...` runs after its
imports); it imports nothing of ours. Every file gets the environment a deployment gives it
(every referenced variable, what LiteLLM reads by itself for it, a strong master key); the
validator (shape, meaning and its own isolated LiteLLM stage) sees the same environment.

Agreement: LiteLLM fails to serve <=> the validator reports an error. The one reviewed
exception: errors on files LiteLLM serves, each listed below with its reason (mostly keys
LiteLLM ignores silently, which we report by design: DESIGN.md decision 2). The fidelity figures the docs show
(docs/validation.md) are this run's (`differential.fidelity_table`): a changed figure fails
here until the docs say it.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from llmproxy_ops.validate import differential
from llmproxy_ops.validate.differential import Verdict
from tests.user_docs import user_docs

pytestmark = pytest.mark.integration

CORPUS = Path(__file__).resolve().parents[3] / "shared" / "corpus" / "litellm-configs"

_IGNORED = "LiteLLM ignores the unknown key silently; the pinned source never reads it"
_NO_PROVIDER = (
    "LiteLLM serves /v1/models, then every request to this deployment fails: "
    "get_llm_provider() raises for it"
)
_DROP_LIST = (
    "drop_params is a boolean to LiteLLM: a list is merely truthy (it was meant for "
    "additional_drop_params), so LiteLLM serves and drops every unsupported param"
)
# Errors on files the pinned LiteLLM serves: reviewed, each with its reason. Recorded by
# running LiteLLM (benchmarks/validate_vs_litellm.py writes the verdicts), never by hand.
REVIEWED: dict[str, dict[tuple[str, str], str]] = {
    "1aboveio__litellm-deploy__litellm_config.yaml": {
        ("unknown-key", "litellm_settings.default_model"): _IGNORED,
    },
    "Abbiirr__unified-llm-api__litellm_config.yaml": {
        ("unknown-key", "general_settings.json_logs"): "a litellm_settings key; under general_settings nothing reads it",
    },
    "Ancoren__free-llm-gateway__litellm_config.yaml": {
        ("unknown-provider", "model_list[12].litellm_params.model"): _NO_PROVIDER,
    },
    "BasedDesi__nvidia-proxy__litellm_config.yaml": {
        ("unknown-provider", "model_list[0].litellm_params.model"): _NO_PROVIDER,
    },
    "BerriAI__example_litellm_gcp_cloud_run__litellm_config.yaml": {
        ("duplicate-key", "general_settings.store_model_in_db"): "written twice: LiteLLM's yaml.safe_load keeps the last one silently",
        ("unknown-provider", "model_list[24].litellm_params.model"): _NO_PROVIDER,
    },
    "BerriAI__litellm__litellm__proxy__example_config_yaml__china_domestic_free_sources.yaml": {
        ("unknown-key", "general_settings.host"): _IGNORED,
        ("unknown-key", "general_settings.port"): _IGNORED,
        ("unknown-provider", "model_list[0].litellm_params.model"): _NO_PROVIDER,
        ("unknown-provider", "model_list[1].litellm_params.model"): _NO_PROVIDER,
        ("unknown-provider", "model_list[2].litellm_params.model"): _NO_PROVIDER,
        ("unknown-provider", "model_list[3].litellm_params.model"): _NO_PROVIDER,
    },
    "BerriAI__litellm__litellm__proxy__example_config_yaml__load_balancer.yaml": {
        ("unknown-provider", "model_list[3].litellm_params.model"): _NO_PROVIDER,
    },
    "ClickHouse__agentic-data-stack__litellm-config.yaml": {
        ("unknown-key", "general_settings.cors_allow_origins"): _IGNORED,
        ("unknown-key", "general_settings.disable_request_timeout"): _IGNORED,
        ("unknown-key", "general_settings.enable_cors"): _IGNORED,
        ("unknown-key", "general_settings.log_level"): _IGNORED,
        ("unknown-key", "general_settings.log_verbose"): _IGNORED,
        ("unknown-key", "general_settings.use_langfuse"): _IGNORED,
        ("unknown-key", "health_check"): _IGNORED,
        ("unknown-key", "router_settings.enable_cooldowns"): _IGNORED,
        ("unknown-key", "router_settings.enable_load_balancing"): _IGNORED,
    },
    # served since prometheus_client is installed (stack.metrics): their prometheus callback
    # no longer stops LiteLLM, so what else they hold shows
    "D0wn10ad__ai-gateway__litellm__config.yaml": {
        ("unknown-key", "litellm_settings.default_end_user_params"): _IGNORED,
    },
    "KonstantinosPapazis__llmproxy__config__litellm_config.yaml": {
        ("unknown-key", "general_settings.enable_redis_auth_cache"): "a litellm_settings key; under general_settings nothing reads it",
    },
    "ShivSingh96__litellm-gateway-demo__config__litellm_config.yaml": {
        ("unknown-key", "general_settings.redis_host"): _IGNORED,
        ("unknown-key", "general_settings.redis_port"): _IGNORED,
    },
    "EsupPortail__esup-myia-mistral-amue__config__litellm_config.yaml": {
        ("unknown-key", "general_settings.disable_end_user_cost_tracking"): "a litellm_settings key; under general_settings nothing reads it",
        ("unknown-key", "litellm_settings.cooldown_time"): "a router_settings key; under litellm_settings nothing reads it",
    },
    "GabrielFranciscoSM__scalable_ollama_farm__litellm__config.yaml": {
        ("unknown-key", "cache_config"): _IGNORED,
    },
    "Gapminder__gapminder-ai__litellm__config.yaml": {
        ("unknown-key", "general_settings.debug"): _IGNORED,
    },
    "HerzigGroup__herzig-ai-stack__litellm__config.yaml": {
        ("unknown-key", "litellm_settings.default_params"): _IGNORED,
        ("wrong-type", "model_list[0].litellm_params.drop_params"): _DROP_LIST,
        ("wrong-type", "model_list[1].litellm_params.drop_params"): _DROP_LIST,
        ("wrong-type", "model_list[2].litellm_params.drop_params"): _DROP_LIST,
        ("wrong-type", "model_list[3].litellm_params.drop_params"): _DROP_LIST,
    },
    "Hoangnhvt__Local_LLM_2x5060ti__litellm__config.yaml": {
        ("unknown-key", "litellm_settings.telemetry"): "litellm.telemetry left LiteLLM in 1.108: the proxy drops it",
    },
    "KaiharaJP__vllm-manager__config__litellm_config.yaml": {
        ("unknown-key", "model_list[0].litellm_params.pass_through_optional_params"): _IGNORED,
        ("unknown-provider", "model_list[0].litellm_params.model"): _NO_PROVIDER,
    },
    "LuthienResearch__luthien-proxy__config__litellm_config.yaml": {
        ("unknown-key", "environment"): _IGNORED,
        ("unknown-key", "general_settings.cors_origins"): _IGNORED,
        ("unknown-key", "general_settings.health_check"): _IGNORED,
        ("unknown-key", "general_settings.max_requests_per_minute"): _IGNORED,
        ("unknown-key", "general_settings.request_timeout"): _IGNORED,
        ("unknown-key", "litellm_settings.cache_responses"): _IGNORED,
        ("unknown-key", "litellm_settings.master_key"): "a general_settings key; under litellm_settings nothing reads it",
        ("unknown-key", "litellm_settings.redis_url"): _IGNORED,
        ("unknown-key", "litellm_settings.store_model_in_db"): "a general_settings key; under litellm_settings nothing reads it",
        ("unknown-key", "litellm_settings.store_prompts_in_spend_logs"): _IGNORED,
        ("unknown-key", "litellm_settings.stream_response"): _IGNORED,
        ("unknown-key", "litellm_settings.ui_access_mode"): _IGNORED,
    },
    "amanmprojects__claude-vertex-bridge__config__litellm_config.yaml": {
        ("unknown-key", "callbacks"): "callbacks belong under litellm_settings; at the top level nothing reads them",
    },
    "backyard-labs__ai-security-gateway__config__litellm_config.yaml": {
        ("unknown-key", "litellm_settings.banned_keywords"): _IGNORED,
    },
    "coder__balatrollm__config__litellm.yaml": {
        ("unknown-key", "general_settings.set_verbose"): _IGNORED,
    },
}
# LiteLLM serves with these master keys; the validator calls them weak outside dev (a short,
# shipped-default or low-entropy key guards every provider key behind the gateway)
_WEAK = "a weak master key: LiteLLM serves with it, our policy refuses it outside dev"
for _name in (
    "RATDEO__lammastudio__config__litellm.yaml",
    "cisagov__LME__config__litellm_config.yaml",
    "trailofbits__buttercup__litellm__litellm_config.yaml",
):
    REVIEWED.setdefault(_name, {})[("weak-master-key", "general_settings.master_key")] = _WEAK


@pytest.fixture(scope="module")
def verdicts(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Verdict]:
    files = sorted(CORPUS.glob("*.yaml"))
    if not files:
        pytest.fail(f"corpus folder missing or empty: {CORPUS}")
    return {v.name: v for v in differential.run(files, with_validate_config=True)}


def _litellm_said(v: Verdict) -> str:
    return v.litellm.said


def test_every_file_litellm_cannot_serve_gets_an_error(verdicts: dict[str, Verdict]) -> None:
    missed = {
        name: _litellm_said(v)
        for name, v in verdicts.items()
        if not v.litellm_serves and not v.errors
    }
    assert missed == {}


def test_errors_on_files_litellm_serves_are_only_the_reviewed_ones(
    verdicts: dict[str, Verdict],
) -> None:
    unexpected = {}
    for name, v in sorted(verdicts.items()):
        if not v.litellm_serves:
            continue
        extra = sorted(v.errors - set(REVIEWED.get(name, {})))
        if extra:
            unexpected[name] = extra  # file and (code, key) of each disagreement
    assert unexpected == {}


def test_the_reviewed_list_has_no_stale_entries(verdicts: dict[str, Verdict]) -> None:
    stale = {
        name: sorted(set(keys) - verdicts[name].errors)
        for name, keys in REVIEWED.items()
        if name not in verdicts or not verdicts[name].litellm_serves
        or set(keys) - verdicts[name].errors
    }
    assert stale == {}


def test_the_start_up_stage_agrees_with_litellm_on_the_file_itself(
    verdicts: dict[str, Verdict],
) -> None:
    # the validator's own LiteLLM stage (isolated, in memory, on its rendering of the file)
    # against the real process on the file itself: the same verdict
    differ = {
        name: (_litellm_said(v), v.loader.error_type if v.loader else None)
        for name, v in verdicts.items()
        if v.loader is not None and v.loader.serves != v.litellm_serves
    }
    assert differ == {}


def test_the_real_process_served_the_models_the_in_memory_start_lists(
    verdicts: dict[str, Verdict],
) -> None:
    differ = {
        name: (sorted(v.litellm.models), sorted(v.loader.models))
        for name, v in verdicts.items()
        if v.litellm_serves and v.loader is not None and v.loader.serves
        and sorted(v.litellm.models) != sorted(v.loader.models)
    }
    assert differ == {}


FIDELITY = re.compile(r"<!-- fidelity:begin -->\n(.*?)<!-- fidelity:end -->", re.S)


def test_the_docs_figures_are_this_runs(verdicts: dict[str, Verdict]) -> None:
    shown = FIDELITY.findall(user_docs())
    measured = differential.fidelity_table(list(verdicts.values()))
    assert shown == [measured], (
        "docs/validation.md's fidelity figures differ from this run; if the "
        f"change is right, put this between its fidelity markers:\n{measured}")
