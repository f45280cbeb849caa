"""Backup round trip against the compose stack's db container, with real MLflow traces written
by LiteLLM's mlflow callback for real requests (the ci environment, on its own ports)."""

from __future__ import annotations

import secrets
import shutil
import textwrap
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from llmproxy_ops.ops.backup.create import create_backup
from llmproxy_ops.ops.backup.restore import restore_backup
from llmproxy_ops.ops.backup.settings import BackupContext, context_for
from llmproxy_ops.ops.backup.testing import free_port
from llmproxy_ops.ops.backup.verify import verify_backup
from llmproxy_ops.ops.certs import create_self_signed
from llmproxy_ops.pipeline import Target, runtime_for, start_target
from tests.conftest import REPO

pytestmark = pytest.mark.stack

ENV = "ci-backup"
MASTER_KEY = "sk-" + secrets.token_urlsafe(32)
REQUESTS = 4  # the fake models allow rpm 5: the smoke test after restore needs room
MODELS = ("fake-openai", "fake-anthropic")


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Target, int]]:
    """The ci environment as its own compose project on free ports; always torn down."""
    root = tmp_path_factory.mktemp("stack")
    shutil.copytree(REPO / "configs", root / "configs")
    shutil.copy(REPO / ".env.example", root / ".env.example")
    https = free_port()
    (root / "configs/environments" / f"{ENV}.yaml").write_text(
        textwrap.dedent(f"""\
        layers: [ci.yaml]
        stack:
          port: {free_port()}
          compose:
            project: llmproxy-bktest
            # 2g (the default) got the MLflow server OOM-killed under load on these machines
            mlflow: {{port: {free_port()}, memory: 4g}}
            nginx: {{https_port: {https}, http_port: {free_port()}}}
          backup: {{dir: backups}}
        """)
    )
    (root / ".env").write_text(
        f"LITELLM_MASTER_KEY={MASTER_KEY}\nFAKE_PROVIDER_KEY=fake-{secrets.token_hex(8)}\n"
        f"POSTGRES_PASSWORD=pg-{secrets.token_hex(12)}\nLITELLM_SALT_KEY=salt-{secrets.token_hex(16)}\n"
    )
    create_self_signed(root / "certs", ["localhost", "127.0.0.1"])
    with pytest.MonkeyPatch.context() as mp:
        mp.chdir(root)
        target = Target(env=ENV, configs_dir=Path("configs"))
        try:
            start_target(target)
            yield target, https
        finally:
            _, runtime = runtime_for(target)
            runtime.stop(volumes=True)


def _chat(https: int, n: int) -> None:
    with httpx.Client(verify=False, timeout=60) as client:
        for i in range(n):
            r = client.post(
                f"https://127.0.0.1:{https}/v1/chat/completions",
                headers={"Authorization": f"Bearer {MASTER_KEY}"},
                json={
                    "model": MODELS[i % 2],
                    "messages": [{"role": "user", "content": f"backup {i}"}],
                },
            )
            assert r.status_code == 200, r.text


def _trace_ids(ctx: BackupContext) -> set[str]:
    return {r[0] for r in ctx.pg.query("mlflow", "SELECT request_id FROM trace_info")}


def _wait_traces(ctx: BackupContext, at_least: int, timeout_s: float = 240) -> set[str]:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        ids = _trace_ids(ctx)
        if len(ids) >= at_least:
            return ids
        time.sleep(1)
    raise AssertionError(f"MLflow recorded {len(_trace_ids(ctx))} traces, wanted {at_least}")


def test_compose_create_verify_restore_round_trip(stack: tuple[Target, int]) -> None:
    target, https = stack
    ctx = context_for(target)
    assert ctx.pg.label == "db container" and ctx.databases == ("mlflow",)
    _chat(https, REQUESTS)
    traces = _wait_traces(ctx, REQUESTS)
    ctx.pg.execute(
        "mlflow",
        "CREATE TABLE canary (id bigint PRIMARY KEY);"
        "INSERT INTO canary SELECT generate_series(1, 500);",
    )

    created = create_backup(ctx)
    tables = created.manifest.databases["mlflow"].tables
    assert tables["public.trace_info"].rows == len(traces)
    assert tables["public.canary"].rows == 500
    assert created.manifest.salt_fingerprint == ctx.salt_fingerprint is not None
    assert (
        created.manifest.runtime == "compose"
        and "build/docker-compose.yml" in created.manifest.files
    )
    report = verify_backup(ctx.pg, created.folder, key=ctx.key, salt=ctx.salt_fingerprint)
    assert report.problems == []

    ctx.pg.execute("mlflow", "DELETE FROM canary WHERE id > 10; DELETE FROM trace_tags;")
    result = restore_backup(ctx, created.folder)

    assert result.restored == ["mlflow"] and result.smoke_ok is True, result.notes
    after = ctx.pg.table_stats("mlflow")
    assert after["public.canary"] == tables["public.canary"]
    assert traces <= _trace_ids(ctx)  # every trace is back (the smoke test may add more)
    assert after["public.trace_tags"].rows >= tables["public.trace_tags"].rows
    leftovers = [d for d in ctx.pg.databases() if "__" in d or d.startswith("llmproxy_scratch_")]
    assert leftovers == []
