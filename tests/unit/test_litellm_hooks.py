"""The auth-status callback: rendered beside config.yaml, mounted in compose, and only ever
relabelling LiteLLM's own no-database rejection."""

from __future__ import annotations

import asyncio
from pathlib import Path

import yaml
from fastapi import HTTPException
from litellm.proxy._types import ProxyErrorTypes, ProxyException

from llmproxy_ops.render.build import render_files
from llmproxy_ops.render.litellm_hooks import hook_files
from llmproxy_ops.render.litellm_hooks.llmproxy_auth_status import MESSAGE, handler
from llmproxy_ops.spec import load_environment
from tests.conftest import REPO

HOOK = "llmproxy_auth_status.py"


def relabel(exc: Exception) -> HTTPException | None:
    return asyncio.run(handler.async_post_call_failure_hook({}, exc, None))


def test_no_db_rejection_becomes_401() -> None:
    no_db = ProxyException(
        message="No connected db.", type=ProxyErrorTypes.no_db_connection, code=400, param=None
    )
    answer = relabel(no_db)
    assert answer is not None
    assert (answer.status_code, answer.detail) == (401, MESSAGE)


def test_every_other_failure_is_left_alone() -> None:
    outage = ProxyException(
        message="Service Unavailable, the authentication database is temporarily unreachable.",
        type=ProxyErrorTypes.no_db_connection,
        code=503,
        param=None,
    )
    assert relabel(outage) is None  # a database outage must stay a 503
    assert relabel(Exception("No api key passed in.")) is None
    assert relabel(ValueError("No connected db.")) is None


def test_rendered_only_when_a_callback_names_it() -> None:
    assert hook_files({"litellm_settings": {"callbacks": ["llmproxy_auth_status.handler"]}}) == {
        HOOK: (REPO / "llmproxy_ops/render/litellm_hooks" / HOOK).read_text()
    }
    assert hook_files({"litellm_settings": {"callbacks": ["otel"]}}) == {}
    assert hook_files({}) == {}


def test_every_shipped_environment_renders_and_mounts_it(tmp_path: Path) -> None:
    for env in ("dev", "ci", "prod", "claude-code"):
        spec = load_environment(REPO / "configs", env)
        files = render_files(spec, out_dir=tmp_path / env, env_file=tmp_path / ".env")
        assert HOOK in files, env
        config = yaml.safe_load(files["config.yaml"])
        # the ci stack runs with stack.metrics: LiteLLM's prometheus callback beside ours
        metrics = ["prometheus"] if spec.stack.metrics else []
        assert config["litellm_settings"]["callbacks"] == ["llmproxy_auth_status.handler", *metrics]
        if "docker-compose.yml" in files:
            litellm = yaml.safe_load(files["docker-compose.yml"])["services"]["litellm"]
            assert f"./{HOOK}:/app/{HOOK}:ro" in litellm["volumes"]
            assert set(litellm["labels"]) == {
                "llmproxy-ops.sha256.config.yaml",
                f"llmproxy-ops.sha256.{HOOK}",
                "llmproxy-ops.sha256.llmproxy_launcher.py",
            }
