"""Shape check: exact messages, hints and locations for LiteLLM config mistakes."""

from __future__ import annotations

from typing import Any

from llmproxy_ops.findings import Finding, JsonPath, Location, Severity, format_path
from llmproxy_ops.validate.shape import check_shape
from llmproxy_ops.validate.suggest import KNOWN_NON_KEYS


def where(path: JsonPath) -> Location:
    """Locate stand-in: the 'file' is the path asked for, so tests see what was located."""
    return Location(format_path(path), line=len(path) + 1)


def deployment(**params: Any) -> dict[str, Any]:
    return {"model_list": [{"model_name": "m", "litellm_params": {"model": "openai/x", **params}}]}


def only(doc: dict[str, Any]) -> Finding:
    findings = check_shape(doc, where)
    assert len(findings) == 1, findings
    return findings[0]


def summary(findings: list[Finding]) -> list[tuple[str, str, str | None]]:
    return [(f.code, f.message, f.hint) for f in findings]


def test_valid_config_has_no_findings() -> None:
    doc = deployment(rpm=10, tpm=1000, timeout=600, api_key="os.environ/KEY", temperature=0.2)
    doc["general_settings"] = {"master_key": "os.environ/LITELLM_MASTER_KEY"}
    doc["router_settings"] = {"num_retries": 2, "routing_strategy": "simple-shuffle"}
    doc["litellm_settings"] = {"drop_params": True, "request_timeout": 600, "callbacks": ["x"]}
    doc["stack"] = {"runtime": "local", "port": 4000, "workers": "auto", "environment": {"LITELLM_LOG": "ERROR"}}
    assert check_shape(doc, where) == []


def test_typo_in_litellm_params_points_at_the_key_itself() -> None:
    finding = only(deployment(rmp=10))
    assert finding.severity is Severity.ERROR
    assert finding.code == "unknown-key"
    assert finding.message == "unknown key 'rmp' in model_list[0].litellm_params"
    assert finding.hint == "did you mean 'rpm'?"
    assert finding.path == ("model_list", 0, "litellm_params", "rmp")
    assert finding.location == Location("model_list[0].litellm_params.rmp", 5)


def test_typo_in_general_settings() -> None:
    finding = only({"general_settings": {"mater_key": "os.environ/K"}})
    assert (finding.code, finding.message, finding.hint) == (
        "unknown-key",
        "unknown key 'mater_key' in general_settings",
        "did you mean 'master_key'?",
    )


def test_typo_in_litellm_settings() -> None:
    finding = only({"litellm_settings": {"request_timout": 600}})
    assert finding.message == "unknown key 'request_timout' in litellm_settings"
    assert finding.hint == "did you mean 'request_timeout'?"


def test_misspelt_litellm_params_is_unknown_and_the_real_one_missing() -> None:
    doc = {"model_list": [{"model_name": "m", "litelm_params": {"model": "openai/x"}}]}
    assert summary(check_shape(doc, where)) == [
        ("missing-key", "missing required key 'litellm_params' in model_list[0]", None),
        (
            "unknown-key",
            "unknown key 'litelm_params' in model_list[0]",
            "did you mean 'litellm_params'?",
        ),
    ]
    missing, unknown = check_shape(doc, where)
    assert missing.location == Location("model_list[0]", 3)  # the key does not exist: its parent
    assert unknown.location == Location("model_list[0].litelm_params", 4)


def test_rpd_is_not_a_litellm_limit() -> None:
    finding = only(deployment(rpd=1000))
    assert finding.message == "unknown key 'rpd' in model_list[0].litellm_params"
    assert finding.hint == KNOWN_NON_KEYS["rpd"]
    assert finding.hint == (
        "LiteLLM has no requests-per-day limit; use rpm/tpm for rate limits, or a budget "
        "(max_budget + budget_duration, e.g. '1d') to cap daily use"
    )


def test_key_in_the_wrong_section_names_its_home() -> None:
    assert summary(check_shape({"general_settings": {"json_logs": True}}, where)) == [
        (
            "unknown-key",
            "unknown key 'json_logs' in general_settings",
            "'json_logs' is a litellm_settings key: move it there",
        )
    ]
    finding = only({"callbacks": ["otel"]})
    assert finding.message == "unknown key 'callbacks' in the top level"
    assert finding.hint == "'callbacks' is a litellm_settings key: move it there"


def test_unknown_key_without_a_near_miss_says_where_to_look() -> None:
    finding = only({"general_settings": {"zzz_nothing_like_it": 1}})
    assert finding.hint == (
        "no similar key at general_settings; see the keys LiteLLM accepts there: "
        "https://docs.litellm.ai/docs/proxy/config_settings"
    )


def test_rpm_as_a_string_is_a_type_error() -> None:
    finding = only(deployment(rpm="10"))
    assert (finding.code, finding.message) == (
        "wrong-type",
        "rpm must be an integer, got string '10'",
    )
    assert finding.path == ("model_list", 0, "litellm_params", "rpm")


def test_negative_tpm_is_out_of_range() -> None:
    finding = only(deployment(tpm=-5))
    assert (finding.code, finding.message) == ("out-of-range", "tpm must be >= 0, got -5")


def test_zero_timeout_is_out_of_range() -> None:
    finding = only(deployment(timeout=0))
    assert (finding.code, finding.message) == ("out-of-range", "timeout must be > 0, got 0")


def test_negative_num_retries_in_router_settings() -> None:
    finding = only({"router_settings": {"num_retries": -1}})
    assert finding.message == "num_retries must be >= 0, got -1"


def test_boolean_is_not_an_integer() -> None:
    assert only(deployment(rpm=True)).message == "rpm must be an integer, got boolean true"


def test_env_reference_is_resolved_by_litellm_not_type_checked_here() -> None:
    assert check_shape(deployment(rpm="os.environ/RPM", timeout="os.environ/T"), where) == []


def test_list_where_a_map_belongs() -> None:
    doc = {"model_list": [{"model_name": "m", "litellm_params": ["model", "openai/x"]}]}
    finding = only(doc)
    assert (finding.code, finding.message) == (
        "wrong-type",
        "litellm_params must be a mapping, got a list",
    )
    assert only({"model_list": {"m": {}}}).message == "model_list must be a list, got a mapping"


def test_value_outside_a_litellm_enum_suggests_the_valid_one() -> None:
    finding = only({"litellm_settings": {"cache": True, "cache_params": {"type": "qdrant"}}})
    assert finding.code == "schema"
    assert finding.message.startswith("type must be one of 'local', 'redis', ")
    assert finding.message.endswith(", got 'qdrant'")
    assert finding.hint == "did you mean 'qdrant-semantic'?"


def test_every_error_is_collected_and_sorted() -> None:
    doc = deployment(rmp=1, tpm=-5, rpm="10")
    doc["general_settings"] = {"mater_key": "x"}
    doc["litellm_settings"] = {"request_timout": 1}
    doc["bogus_section"] = {}
    findings = check_shape(doc, where)
    # sorted by location (here: the path), as every reporter expects
    assert [(str(f.location), f.code, f.message) for f in findings] == [
        ("bogus_section:2:1", "unknown-key", "unknown key 'bogus_section' in the top level"),
        (
            "general_settings.mater_key:3:1",
            "unknown-key",
            "unknown key 'mater_key' in general_settings",
        ),
        (
            "litellm_settings.request_timout:3:1",
            "unknown-key",
            "unknown key 'request_timout' in litellm_settings",
        ),
        (
            "model_list[0].litellm_params.rmp:5:1",
            "unknown-key",
            "unknown key 'rmp' in model_list[0].litellm_params",
        ),
        (
            "model_list[0].litellm_params.rpm:5:1",
            "wrong-type",
            "rpm must be an integer, got string '10'",
        ),
        ("model_list[0].litellm_params.tpm:5:1", "out-of-range", "tpm must be >= 0, got -5"),
    ]


def test_our_stack_section_is_checked_too():
    doc = {"stack": {"prot": 4000, "workers": 0, "runtime": "docker", "bogus": 1}}
    found = [(f.code, f.message, f.hint) for f in check_shape(doc, lambda p: Location("s.yaml"))]
    assert ("unknown-key", "unknown key 'prot' in stack", "did you mean 'port'?") in found
    assert ("out-of-range", "workers must be >= 1, got 0", None) in found
    assert ("schema", "runtime must be one of 'local', 'compose', 'swarm', 'kubernetes', got 'docker'", None) in found
    bogus = [h for c, m, h in found if m == "unknown key 'bogus' in stack"]
    assert bogus and bogus[0].startswith(
        "no similar key at stack; allowed: backup, build_dir, compose, drain_timeout, env_example"
    )
