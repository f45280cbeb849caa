import json
import os
from pathlib import Path

import pytest
import yaml

from llmproxy_ops.errors import RenderError
from llmproxy_ops.render import render_build
from llmproxy_ops.render.build import render_files
from llmproxy_ops.spec import load_files

LAYER = """
model_list:
  - model_name: claude
    litellm_params:
      model: anthropic/claude-sonnet-4-5-20250929
      api_key: os.environ/ANTHROPIC_API_KEY
general_settings:
  master_key: os.environ/LITELLM_MASTER_KEY
stack:
  port: 4555
  environment: {LITELLM_LOG: ERROR}
"""


def _spec(write):
    return load_files([write("env.yaml", LAYER)])


def test_config_keeps_env_references_and_drops_our_section(write, in_tmp):
    files = render_files(_spec(write))
    config = yaml.safe_load(files["config.yaml"])
    assert config["model_list"][0]["litellm_params"]["api_key"] == "os.environ/ANTHROPIC_API_KEY"
    assert config["general_settings"]["master_key"] == "os.environ/LITELLM_MASTER_KEY"
    assert "stack" not in config
    # offline-friendly default and the 401 callback (no database here) rendered in
    assert config["litellm_settings"] == {
        "json_logs": True, "callbacks": ["llmproxy_auth_status.handler"]}


def test_manifest_lists_names_never_values(write, in_tmp, monkeypatch):
    monkeypatch.setenv("ANTHROPIC_API_KEY", "sk-ant-secret-value-123456789")
    files = render_files(_spec(write))
    manifest = json.loads(files["env-manifest.json"])
    assert manifest["required"] == ["ANTHROPIC_API_KEY", "LITELLM_MASTER_KEY"]
    assert manifest["runtime"] == ["LITELLM_LOCAL_MODEL_COST_MAP", "LITELLM_LOG"]
    assert "sk-ant-secret" not in "".join(files.values())
    assert files["runtime.env"].splitlines()[1:] == ["LITELLM_LOCAL_MODEL_COST_MAP=True", "LITELLM_LOG=ERROR"]


def test_render_is_byte_identical_across_runs(write, in_tmp):
    out = in_tmp / "build" / "x"
    first = render_build(_spec(write), out)
    before = {p.name: p.read_bytes() for p in out.iterdir()}
    second = render_build(_spec(write), out)
    assert (first.changed, second.changed) == (True, False)
    assert {p.name: p.read_bytes() for p in out.iterdir()} == before


def test_failed_write_keeps_the_previous_build(write, in_tmp, monkeypatch):
    out = in_tmp / "build" / "x"
    render_build(_spec(write), out)
    before = {p.name: p.read_bytes() for p in out.iterdir()}
    spec = load_files([write("env.yaml", LAYER.replace("model_name: claude", "model_name: claude-2"))])
    real_replace = os.replace

    def failing_replace(src, dst):
        if Path(dst) == out and ".new-" in Path(src).name:
            raise OSError(28, "No space left on device")
        return real_replace(src, dst)

    monkeypatch.setattr(os, "replace", failing_replace)
    with pytest.raises(RenderError, match="No space left on device"):
        render_build(spec, out)
    assert {p.name: p.read_bytes() for p in out.iterdir()} == before
    assert sorted(p.name for p in out.parent.iterdir()) == ["x"]  # no staging left behind


def test_libyaml_and_pure_python_emitters_give_the_same_bytes(monkeypatch):
    import llmproxy_ops.render.litellm_config as module
    from llmproxy_ops.render.litellm_config import render_litellm_yaml
    from llmproxy_ops.spec import load_environment
    from tests.conftest import REPO

    spec = load_environment(REPO / "configs/examples/home-gateway", "prod")
    fast = render_litellm_yaml(spec)
    monkeypatch.setattr(module, "_DUMPER", yaml.SafeDumper)
    assert render_litellm_yaml(spec) == fast
