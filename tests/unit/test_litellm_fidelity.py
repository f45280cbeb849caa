"""Classes of issue 13, each at its root: include:, ${VAR}, LiteLLM's boot verdict on the
master key, providers LiteLLM infers from api_base, keys read outside LiteLLM's types,
settings declared but never read, and where a LiteLLM start-up failure is located."""

from __future__ import annotations

import textwrap
from pathlib import Path

from llmproxy_ops.findings import Severity, format_path
from llmproxy_ops.spec import load_files
from llmproxy_ops.validate import validate_spec
from llmproxy_ops.validate.checks.master_key import check_master_key_boot
from llmproxy_ops.validate.checks.providers import check_unknown_provider
from llmproxy_ops.validate.checks.shell_refs import check_shell_env_reference
from llmproxy_ops.validate.checks.unread import check_unread_setting
from llmproxy_ops.validate.context import CheckContext
from llmproxy_ops.validate.litellm_load import probe_job
from llmproxy_ops.validate.litellm_locate import locate_failure


def write(tmp_path: Path, name: str, text: str) -> Path:
    path = tmp_path / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(textwrap.dedent(text))
    return path


def test_include_is_followed_relative_to_the_file_and_a_missing_one_is_an_error(
    tmp_path: Path,
) -> None:
    main = write(tmp_path, "conf/main.yaml", """\
        include:
          - parts/models.yaml
          - gone.yaml
        model_list:
          - model_name: a
            litellm_params: {model: openai/gpt-4o}
        router_settings:
          fallbacks: [{a: [b]}]
        """)
    write(tmp_path, "conf/parts/models.yaml", """\
        model_list:
          - model_name: b
            litellm_params: {model: openai/gpt-4o-mini}
        """)
    spec = load_files([main])
    assert spec.model_groups() == ["a", "b"]  # lists extend, as LiteLLM's include does
    [f] = [f for f in validate_spec(spec).errors if f.code != "master-key-refused"]
    assert (f.code, f.location.line, format_path(f.path)) == ("include-missing", 3, "include")
    assert f.message == f"included file 'gone.yaml' not found ({tmp_path}/conf/gone.yaml)"
    assert locate_failure(spec, "x", "no", ())[0] == ()
    assert spec.locate(("model_list", 1)).file.endswith("parts/models.yaml")


def test_shell_style_reference_is_an_error_with_the_os_environ_hint(tmp_path: Path) -> None:
    path = write(tmp_path, "c.yaml", """\
        model_list:
          - model_name: v
            litellm_params: {model: "openai/${VLLM_MODEL:-llama}", api_base: "${VLLM_BASE}"}
        """)
    found = list(check_shell_env_reference(CheckContext(load_files([path]))))
    assert [(f.severity, f.code, format_path(f.path)) for f in found] == [
        (Severity.ERROR, "shell-env-reference", "model_list[0].litellm_params.model"),
        (Severity.ERROR, "shell-env-reference", "model_list[0].litellm_params.api_base"),
    ]
    assert found[0].message == (
        "'${VLLM_MODEL:-llama}' is taken literally by LiteLLM (it does not expand ${…})"
    )
    assert found[1].hint == "write os.environ/VLLM_BASE (LiteLLM's only variable syntax)"


def test_master_key_boot_verdict_is_litellms(tmp_path: Path) -> None:
    demo = load_files([write(tmp_path, "a.yaml", "general_settings:\n  master_key: sk-1234\n")])
    [f] = check_master_key_boot(CheckContext(demo))
    assert (f.code, format_path(f.path)) == ("master-key-refused", "general_settings.master_key")
    assert f.message == "LiteLLM refuses to start: the master key is a publicly known default."
    ref = load_files([write(tmp_path, "b.yaml", "general_settings:\n  master_key: os.environ/K\n")])
    assert list(check_master_key_boot(CheckContext(ref))) == []  # --no-env: value unknown
    [unset] = check_master_key_boot(CheckContext(ref, env={}))
    assert unset.message == (
        "LiteLLM refuses to start: no master key is set, so every request would be accepted "
        "without authentication."
    )
    assert list(check_master_key_boot(CheckContext(ref, env={"K": "sk-strong-1"}))) == []
    none = load_files([write(tmp_path, "c.yaml", "model_list: []\n")])
    assert list(check_master_key_boot(CheckContext(none, env={"LITELLM_MASTER_KEY": "sk-x"}))) == []
    permit = {"LITELLM_DANGEROUSLY_PERMIT_WEAK_OR_UNSET_MASTER_KEY": "true"}
    assert list(check_master_key_boot(CheckContext(none, env=permit))) == []


def test_provider_inferred_from_api_base_is_not_unknown(tmp_path: Path) -> None:
    path = write(tmp_path, "c.yaml", """\
        model_list:
          - model_name: nim
            litellm_params: {model: nvidia/llama-3.1, api_base: "https://integrate.api.nvidia.com/v1"}
          - model_name: bare
            litellm_params: {model: nvidia/llama-3.1}
        """)
    found = list(check_unknown_provider(CheckContext(load_files([path]))))
    assert [format_path(f.path) for f in found] == ["model_list[1].litellm_params.model"]


def test_keys_litellm_reads_outside_its_types_are_known_and_unread_ones_warned(
    tmp_path: Path,
) -> None:
    path = write(tmp_path, "c.yaml", """\
        model_list:
          - model_name: c
            litellm_params:
              model: anthropic/claude-sonnet-4-5
              cache_control_injection_points: [{location: message, role: system}]
        general_settings:
          master_key: os.environ/LITELLM_MASTER_KEY
          database_type: dynamo_db
        """)
    spec = load_files([path])
    assert validate_spec(spec).errors == []
    [f] = check_unread_setting(CheckContext(spec))
    assert (f.severity, f.code, f.location.line) == (Severity.WARNING, "unread-setting", 8)
    assert f.message == (
        "general_settings.database_type is declared by LiteLLM but never read: it has no effect"
    )


def test_start_up_failures_are_located_at_the_key_litellm_names(tmp_path: Path) -> None:
    spec = load_files([write(tmp_path, "c.yaml", """\
        litellm_settings:
          callbacks: custom_callbacks.proxy_handler_instance
        guardrails:
          - guardrail_name: g
            litellm_params: {guardrail: presidio, mode: pre_call}
        """)])
    message = "Could not import proxy_handler_instance from custom_callbacks"
    assert locate_failure(spec, "ImportError", message, ())[0] == ("litellm_settings", "callbacks")
    frames = ("/x/litellm/proxy/guardrails/init_guardrails.py:9:init_guardrails_v2",)
    assert locate_failure(spec, "ValueError", "bad", frames)[0] == ("guardrails",)


def test_probe_environment_has_dummies_and_keeps_the_master_keys_weakness() -> None:
    config = {"general_settings": {"master_key": "os.environ/MK"},
              "model_list": [{"litellm_params": {"api_key": "os.environ/OPENAI_API_KEY",
                                                 "api_base": "os.environ/VLLM_URL"}}]}
    job = probe_job("j", Path("c.yaml"), config, {"MK": "sk-1234", "OPENAI_API_KEY": "real"})
    assert job.env["MK"] == "sk-1234"  # the boot check must see exactly this
    assert job.env["OPENAI_API_KEY"] == "llmproxy-ops-dummy-openai_api_key"  # never the value
    assert "VLLM_URL" in job.unset  # missing in the known environment: stays missing
    free = probe_job("j", Path("c.yaml"), config, None)
    assert free.env["VLLM_URL"] == "http://127.0.0.1:9"
    assert free.env["MK"].startswith("sk-llmproxy-ops-probe-")
    assert "LITELLM_MASTER_KEY" in free.unset
