"""`apply` on the local runtime under load: real litellm processes, the fake provider upstream."""

from __future__ import annotations

import json
import os
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from typer.testing import CliRunner

from llmproxy_ops.cli.main import app
from llmproxy_ops.ops.apply.deploy import ApplyRequest, apply
from llmproxy_ops.pipeline import Target, runtime_for, start_target
from llmproxy_ops.releases import ReleaseStore
from llmproxy_ops.testing.fake_provider import FakeProvider
from llmproxy_ops.testing.load import Load, stream_chunks
from tests.conftest import free_port

pytestmark = pytest.mark.integration

KEY = "sk-apply-test-master-key-7c1e9a"
SLOW_CHUNKS = 40  # x 500 ms: a 20 s stream
BASE = """\
general_settings: {master_key: os.environ/LITELLM_MASTER_KEY}
litellm_settings: {num_retries: 0, request_timeout: 60}
router_settings: {optional_pre_call_checks: [enforce_model_rate_limits]}
model_list:
  - model_name: fast
    litellm_params:
      model: openai/gpt-4o-mini
      api_base: os.environ/FAKE_OPENAI_BASE
      api_key: os.environ/FAKE_PROVIDER_KEY
      rpm: RPM
  - model_name: slow
    litellm_params:
      model: openai/gpt-4o-mini
      api_base: os.environ/SLOW_OPENAI_BASE
      api_key: os.environ/FAKE_PROVIDER_KEY
"""
NEW_GROUP = """\
  - model_name: added
    litellm_params: {model: openai/mock-gpt, mock_response: "hello from the new group", api_key: dummy}
"""
BROKEN_GROUP = """\
  - model_name: broken
    litellm_params:
      model: openai/gpt-4o-mini
      api_base: http://127.0.0.1:9/v1
      api_key: os.environ/FAKE_PROVIDER_KEY
"""


@pytest.fixture(scope="module")
def env(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Path, str]]:
    base = tmp_path_factory.mktemp("apply")
    fast, slow = FakeProvider(fast=True).start(), FakeProvider().start()
    slow.configure(chunks=SLOW_CHUNKS, chunk_delay_ms=500)
    port = free_port()
    (base / "configs/environments").mkdir(parents=True)
    (base / "configs/base.yaml").write_text(BASE.replace("RPM", "100000"))
    (base / "configs/environments/a.yaml").write_text(
        "layers: [../base.yaml]\n"
        f"stack: {{runtime: local, port: {port}, startup_timeout: 300, drain_timeout: 40}}\n"
    )
    names = {"LITELLM_MASTER_KEY": KEY, "FAKE_PROVIDER_KEY": "fake-key-1",
             "FAKE_OPENAI_BASE": fast.openai_base, "SLOW_OPENAI_BASE": slow.openai_base}
    (base / ".env").write_text("".join(f"{k}={v}\n" for k, v in names.items()))
    (base / ".env").chmod(0o600)
    (base / ".env.example").write_text("".join(f"{k}=\n" for k in names))
    cwd = Path.cwd()
    os.chdir(base)
    try:
        start_target(Target(env="a"))
        yield base, f"http://127.0.0.1:{port}"
    finally:
        runtime_for(Target(env="a"))[1].stop(grace=5.0)
        os.chdir(cwd)
        fast.stop()
        slow.stop()


def edit(base: Path, rpm: int, extra: str = "") -> None:
    (base / "configs/base.yaml").write_text(BASE.replace("RPM", str(rpm)) + extra)


def models(url: str) -> list[str]:
    r = httpx.get(f"{url}/v1/models", headers={"Authorization": f"Bearer {KEY}"}, timeout=10)
    return sorted(m["id"] for m in r.json()["data"])


def running_pid(base: Path) -> int:
    return int((base / ".run/a/litellm.pid").read_text())


def test_dry_run_shows_the_diff_and_changes_nothing(env) -> None:  # noqa: ANN001
    base, _ = env
    store_before = [r.id for r in ReleaseStore_of(base).all()]
    pid = running_pid(base)
    edit(base, 5000)
    try:
        result = apply(ApplyRequest(Target(env="a"), dry_run=True))
    finally:
        edit(base, 100000)
    assert result.changed and result.deployment is None
    assert result.diff.changed_names == ("config.yaml",)
    assert "-    rpm: 100000\n+    rpm: 5000\n" in result.diff.text()
    assert [r.id for r in ReleaseStore_of(base).all()] == store_before
    assert running_pid(base) == pid


def test_cli_dry_run_status_drift_and_up_on_a_running_env(env) -> None:  # noqa: ANN001
    base, _ = env
    cli = CliRunner()
    edit(base, 5000)
    try:
        dry = cli.invoke(app, ["apply", "--env", "a", "--dry-run"], terminal_width=200)
        st = cli.invoke(app, ["status", "--env", "a", "--format", "json"])
    finally:
        edit(base, 100000)
    assert dry.exit_code == 0, dry.output
    assert "+    rpm: 5000" in dry.output and dry.output.endswith("dry run: nothing was changed\n")
    assert st.exit_code == 0, st.output
    doc = json.loads(st.output)
    assert doc["running"] and doc["runtime"] == "local" and doc["build"] == "0001"
    assert doc["drift"] == (
        "the configs changed since build 0001 started: see `llmproxy-ops apply --env a --dry-run`"
    )
    assert json.loads(cli.invoke(app, ["status", "--env", "a", "--format", "json"]).output)["drift"] is None
    up = cli.invoke(app, ["up", "--env", "a"], terminal_width=200)
    assert up.exit_code == 1
    assert "environment 'a' is already running" in up.output
    assert "change it with: llmproxy-ops apply --env a" in up.output


def test_no_change_exits_clean_and_touches_nothing(env) -> None:  # noqa: ANN001
    base, _ = env
    pid = running_pid(base)
    result = apply(ApplyRequest(Target(env="a")))
    assert not result.changed and result.deployment is None and result.ok
    assert result.diff.text() == "no changes"
    assert running_pid(base) == pid


def test_rpm_edit_and_new_group_under_load_drop_nothing(env) -> None:  # noqa: ANN001
    base, url = env
    pid = running_pid(base)
    long_stream: dict[str, object] = {}

    def slow_stream() -> None:
        # Started once the new proxy is healthy and still being checked on its own port, so
        # the old proxy serves it and has to drain it.
        nxt = base / ".run/a/next/state.json"
        deadline = time.monotonic() + 600
        while not (nxt.is_file() and json.loads(nxt.read_text())["time_to_healthy_s"]):
            if time.monotonic() > deadline:
                return
            time.sleep(0.05)
        steer = base / ".run/a/next/steer"
        long_stream["steered_before"] = steer.is_file()
        with httpx.Client(base_url=url, headers={"Authorization": f"Bearer {KEY}"},
                          timeout=120) as client:
            long_stream["result"] = stream_chunks(client, "slow")

    slow = threading.Thread(target=slow_stream, daemon=True)
    slow.start()
    edit(base, 50000, NEW_GROUP)
    with Load(url, KEY, "fast") as load:
        result = apply(ApplyRequest(Target(env="a")))
    slow.join(timeout=90)
    report = load.report
    assert result.ok, result.deployment and result.deployment.steps
    assert result.diff.changed_names == ("config.yaml",)
    assert (report.failed, report.rejected, report.streams_cut) == (0, 0, 0), report.errors
    assert report.ok > 10 and report.streams_ok > 3
    assert long_stream["steered_before"] is False
    # every content chunk, plus LiteLLM's first (role) and last (finish_reason) chunks
    assert long_stream["result"] == (True, SLOW_CHUNKS + 2, "")
    assert "added" in models(url) and running_pid(base) != pid
    assert result.deployment is not None and result.deployment.rollout.gap_s == 0.0
    print(f"\napply under load: {report.ok} requests, {report.streams_ok} streams, "
          f"0 failed, longest gap {report.longest_gap_s:.2f} s")


def test_a_change_failing_its_smoke_test_rolls_back_by_itself(env) -> None:  # noqa: ANN001
    base, url = env
    pid, running = running_pid(base), ReleaseStore_of(base).running()
    edit(base, 50000, NEW_GROUP + BROKEN_GROUP)
    try:
        with Load(url, KEY, "fast") as load:
            result = apply(ApplyRequest(Target(env="a")))
    finally:
        edit(base, 50000, NEW_GROUP)
    assert not result.ok and result.rollback is None  # the old proxy never stopped serving
    assert result.deployment is not None
    assert result.deployment.failed_check is not None
    assert result.deployment.failed_check.startswith(
        "check the new proxy on its own port: smoke test failed: chat: broken"
    )
    assert (load.report.failed, load.report.rejected, load.report.streams_cut) == (0, 0, 0), (
        load.report.errors
    )
    assert running_pid(base) == pid and ReleaseStore_of(base).running() == running
    assert "broken" not in models(url)


def ReleaseStore_of(base: Path) -> ReleaseStore:  # noqa: N802
    from llmproxy_ops.pipeline import load_target

    return ReleaseStore(load_target(Target(env="a")))
