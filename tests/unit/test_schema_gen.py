"""The committed LiteLLM schema is exactly what the pinned LiteLLM generates (upgrade guard)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from importlib.metadata import version
from pathlib import Path

import pytest

from llmproxy_ops.validate import schema_gen
from tests.conftest import REPO

COMMITTED = REPO / "llmproxy_ops" / "validate" / "litellm_schema.json"


def _run_gen(*args: str) -> subprocess.CompletedProcess[str]:
    # a fresh interpreter: litellm's module attributes must be read right after import
    env = {**os.environ, "LITELLM_LOCAL_MODEL_COST_MAP": "True"}
    return subprocess.run(
        [sys.executable, "-m", "llmproxy_ops.validate.schema_gen", *args],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=240,  # the generator also scans LiteLLM's source for unread settings
    )


@pytest.fixture(scope="module")
def regenerated(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("schema") / "litellm_schema.json"
    result = _run_gen("--output", str(out))
    assert result.returncode == 0, result.stderr
    return out


def test_regenerating_from_installed_litellm_equals_committed_file(regenerated: Path) -> None:
    assert regenerated.read_bytes() == COMMITTED.read_bytes(), (
        "litellm_schema.json is stale: run `python -m llmproxy_ops.validate.schema_gen` "
        "and review the diff"
    )


def test_check_mode_passes_on_committed_file() -> None:
    result = _run_gen("--check")
    assert (result.returncode, result.stderr) == (0, "")


def test_check_mode_fails_with_summary_on_a_stale_file(tmp_path: Path) -> None:
    stale = tmp_path / "litellm_schema.json"
    stale.write_text(COMMITTED.read_text().replace('"rpm"', '"rpm_old"', 1))
    result = _run_gen("--check", "--output", str(stale))
    assert result.returncode == 1
    assert "differs from LiteLLM 1.108.7: +1 -1 lines" in result.stderr
    assert [line[0] for line in result.stderr.splitlines() if '"rpm' in line] == ["-", "+"]


def test_committed_file_is_canonical_json() -> None:
    text = COMMITTED.read_text(encoding="utf-8")
    assert text == schema_gen.render(json.loads(text))
    assert text.endswith("}\n")


def test_records_pinned_litellm_version() -> None:
    schema = json.loads(COMMITTED.read_text())
    assert schema["x-litellm-version"] == version("litellm") == "1.108.7"


def _props(schema: dict, *path: str) -> dict:
    node = schema
    for part in path:
        node = node["properties"][part] if part != "[]" else node["items"]
    return node


def test_our_additions_tighten_rate_and_timeout_keys() -> None:
    schema = json.loads(COMMITTED.read_text())
    params = _props(schema, "model_list", "[]", "litellm_params")
    assert params["properties"]["rpm"] == {"minimum": 0, "type": ["integer", "null"]}
    assert params["properties"]["timeout"] == {"exclusiveMinimum": 0, "type": ["number", "null"]}
    router = _props(schema, "router_settings")["properties"]
    assert router["num_retries"] == {"minimum": 0, "type": ["integer", "null"]}
    assert schema["x-our-additions"] == sorted(schema_gen.OUR_ADDITIONS)


def test_sections_are_closed_and_stack_is_our_own_schema() -> None:
    from llmproxy_ops.validate.stack_schema import STACK_SCHEMA

    schema = json.loads(COMMITTED.read_text())
    assert schema["additionalProperties"] is False
    assert schema["properties"]["stack"] == json.loads(json.dumps(STACK_SCHEMA))
    for section in ("general_settings", "router_settings", "litellm_settings"):
        assert _props(schema, section)["additionalProperties"] is False
    deployment = _props(schema, "model_list", "[]")
    assert deployment["required"] == ["model_name", "litellm_params"]
    assert deployment["properties"]["model_info"]["additionalProperties"] is True


def test_keys_come_from_litellm_code_not_hand_lists() -> None:
    import litellm
    from litellm.constants import ROUTER_SETTINGS_MANAGED_OUTSIDE_CONFIG
    from litellm.types.utils import all_litellm_params

    schema = json.loads(COMMITTED.read_text())
    router = set(_props(schema, "router_settings")["properties"])
    expected = set(litellm.Router.get_valid_args()) - ROUTER_SETTINGS_MANAGED_OUTSIDE_CONFIG
    assert router == expected
    params = set(_props(schema, "model_list", "[]", "litellm_params")["properties"])
    assert set(all_litellm_params) <= params
    assert {"temperature", "max_tokens", "extra_headers", "extra_body", "seed"} <= params
    top = set(schema["properties"])
    assert {"model_list", "guardrails", "mcp_servers", "callback_settings", "include"} <= top
    assert "mcp_builtin_servers" not in top  # not read by the pinned proxy
