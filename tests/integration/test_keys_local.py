"""Key rotation against a real, stock litellm on the local runtime (mock + fake provider)."""

from __future__ import annotations

import os
import re
import stat
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from typer.testing import CliRunner

from llmproxy_ops.cli import keys_cmd
from llmproxy_ops.envfile import read_env_file
from llmproxy_ops.ops.keys.rotate import RotateRequest, rotate_master, rotate_provider
from llmproxy_ops.pipeline import Target, runtime_for, start_target
from llmproxy_ops.targets.local.rotation import LOCAL_GAP
from llmproxy_ops.testing.fake_provider import FakeProvider
from tests.conftest import free_port

pytestmark = pytest.mark.integration

OLD_PROVIDER_KEY = "fake-provider-key-old-5e1c"
GOOD_PROVIDER_KEY = "fake-provider-key-new-9a7b"
BAD_PROVIDER_KEY = "fake-provider-key-revoked-0000"
BASE = """\
general_settings: {master_key: os.environ/LITELLM_MASTER_KEY}
litellm_settings: {num_retries: 0, request_timeout: 60}
model_list:
  - model_name: mock-gpt
    litellm_params: {model: openai/mock-gpt, mock_response: "Hello from the mock", api_key: dummy}
  - model_name: fake-openai
    litellm_params:
      model: openai/gpt-4o-mini
      api_base: os.environ/FAKE_OPENAI_BASE
      api_key: os.environ/FAKE_PROVIDER_KEY
  - model_name: fake-anthropic
    litellm_params:
      model: anthropic/claude-sonnet-4-5-20250929
      api_base: os.environ/FAKE_ANTHROPIC_BASE
      api_key: os.environ/FAKE_PROVIDER_KEY
"""




@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Path, str, FakeProvider]]:
    """A running local environment 'k' in its own folder; yields (folder, url, fake)."""
    base = tmp_path_factory.mktemp("keys")
    fake = FakeProvider(accepted_keys=[OLD_PROVIDER_KEY, GOOD_PROVIDER_KEY]).start()
    port = free_port()
    (base / "configs/environments").mkdir(parents=True)
    (base / "configs/base.yaml").write_text(BASE)
    (base / "configs/environments/k.yaml").write_text(
        f"layers: [../base.yaml]\nstack: {{runtime: local, port: {port}, startup_timeout: 300}}\n"
    )
    env = base / ".env"
    env.write_text(
        "# test secrets\nLITELLM_MASTER_KEY=sk-initial-master-key-3f9d0c2b7a\n"
        f"FAKE_PROVIDER_KEY={OLD_PROVIDER_KEY}\nFAKE_OPENAI_BASE={fake.openai_base}\n"
        f"FAKE_ANTHROPIC_BASE={fake.anthropic_base}\n"
    )
    env.chmod(0o600)
    names = ("LITELLM_MASTER_KEY", "FAKE_PROVIDER_KEY", "FAKE_OPENAI_BASE", "FAKE_ANTHROPIC_BASE")
    (base / ".env.example").write_text("".join(f"{n}=\n" for n in names))
    cwd = Path.cwd()
    os.chdir(base)
    try:
        start_target(Target(env="k"))
        yield base, f"http://127.0.0.1:{port}", fake
    finally:
        runtime_for(Target(env="k"))[1].stop(grace=5.0)
        os.chdir(cwd)
        fake.stop()


def master(base: Path) -> str:
    return read_env_file(base / ".env")["LITELLM_MASTER_KEY"]


def models_status(url: str, key: str) -> int:
    return httpx.get(
        f"{url}/v1/models", headers={"Authorization": f"Bearer {key}"}, timeout=10
    ).status_code


def chat_status(url: str, key: str, model: str) -> int:
    payload = {"model": model, "messages": [{"role": "user", "content": "hi"}]}
    headers = {"Authorization": f"Bearer {key}"}
    return httpx.post(
        f"{url}/v1/chat/completions", json=payload, headers=headers, timeout=30
    ).status_code


def test_rotate_master_new_key_accepted_old_rejected_no_gap(stack) -> None:  # noqa: ANN001
    base, url, _ = stack
    old = master(base)
    result = rotate_master(RotateRequest(Target(env="k")))
    new = master(base)
    assert result.ok, (result.steps, result.verification)
    assert new != old and re.fullmatch(r"sk-[A-Za-z0-9_-]{43,}", new)
    assert not result.plan.gap_expected and result.plan.gap_note == LOCAL_GAP
    assert result.gap_s == 0.0  # the new process served before the old one stopped
    assert [c.replica for c in result.verification] == ["litellm"]
    assert (
        result.verification[0].detail
        == "new key: accepted (HTTP 200); old key: rejected (HTTP 401)"
    )
    assert (models_status(url, new), models_status(url, old)) == (200, 401)
    assert result.backup is not None and read_env_file(result.backup)["LITELLM_MASTER_KEY"] == old
    assert stat.S_IMODE(result.backup.stat().st_mode) == 0o600
    assert stat.S_IMODE((base / ".env").stat().st_mode) == 0o600
    assert (base / ".env").read_text().startswith("# test secrets\n")  # other lines kept
    assert old not in repr(result) and new not in repr(result)
    print(f"\nlocal master rotation gap: {result.gap_s:.2f} s")


def test_failed_verification_rolls_back_and_the_old_key_works_again(stack) -> None:  # noqa: ANN001
    base, url, _ = stack
    before = (base / ".env").read_text()
    old = master(base)

    def tamper() -> None:
        # Someone edits the store right after our write: the proxy starts with a key that is
        # not the one rotation generated, so the new key is rejected on verification.
        text = (base / ".env").read_text()
        (base / ".env").write_text(
            re.sub(r"LITELLM_MASTER_KEY=\S+", "LITELLM_MASTER_KEY=sk-tampered-key-77e1aa90", text)
        )

    result = rotate_master(RotateRequest(Target(env="k"), on_written=tamper))
    assert not result.ok and result.rolled_back and result.rollback_ok
    assert (
        result.verification[0].detail
        == "new key: rejected (HTTP 401); old key: rejected (HTTP 401)"
    )
    assert result.rollback_verification[0].detail.startswith("new key: accepted (HTTP 200)")
    assert (base / ".env").read_text() == before
    assert models_status(url, old) == 200
    assert models_status(url, "sk-tampered-key-77e1aa90") == 401


def test_cli_rotation_reports_the_gap_and_never_prints_a_key(stack) -> None:  # noqa: ANN001
    base, url, _ = stack
    old = master(base)
    out = CliRunner().invoke(keys_cmd.app, ["rotate", "master", "--env", "k"], terminal_width=200)
    new = master(base)
    assert out.exit_code == 0, out.output
    assert "no gap: no gap expected: the new process starts beside the old one" in out.output
    assert (
        "availability gap: 0.0 s (the new process started beside the old one, which drained)"
        in out.output
    )
    assert "rotated LITELLM_MASTER_KEY" in out.output
    assert old not in out.output and new not in out.output
    assert (models_status(url, new), models_status(url, old)) == (200, 401)


def test_provider_rotation_smoke_tests_the_groups_using_it(stack) -> None:  # noqa: ANN001
    base, url, fake = stack
    req = RotateRequest(Target(env="k"), variable="FAKE_PROVIDER_KEY", value=GOOD_PROVIDER_KEY)
    result = rotate_provider(req)
    assert result.ok, result.verification
    assert result.plan.model_groups == ("fake-openai", "fake-anthropic")
    assert result.verification[0].detail == "7 checks passed (fake-openai, fake-anthropic)"
    assert read_env_file(base / ".env")["FAKE_PROVIDER_KEY"] == GOOD_PROVIDER_KEY
    assert chat_status(url, master(base), "fake-openai") == 200


def test_bad_provider_key_fails_exactly_its_groups_and_rolls_back(stack) -> None:  # noqa: ANN001
    base, url, fake = stack
    before = read_env_file(base / ".env")["FAKE_PROVIDER_KEY"]
    req = RotateRequest(Target(env="k"), variable="FAKE_PROVIDER_KEY", value=BAD_PROVIDER_KEY)
    result = rotate_provider(req)
    assert not result.ok and result.rolled_back and result.rollback_ok
    failed = [part.split(":")[0:2] for part in result.verification[0].detail.split("; ")]
    assert [":".join(p) for p in failed] == [
        "chat: fake-openai",
        "chat: fake-anthropic",
        "stream: fake-openai",
    ]
    assert "mock-gpt" not in result.verification[0].detail
    assert BAD_PROVIDER_KEY not in result.verification[0].detail
    assert read_env_file(base / ".env")["FAKE_PROVIDER_KEY"] == before
    key = master(base)
    assert [chat_status(url, key, m) for m in ("fake-openai", "fake-anthropic", "mock-gpt")] == [
        200,
        200,
        200,
    ]


def test_cli_provider_reads_stdin_and_refuses_unknown_variables(stack) -> None:  # noqa: ANN001
    out = CliRunner().invoke(
        keys_cmd.app, ["rotate", "provider", "NOPE_KEY", "--env", "k"], input="x\n"
    )
    assert out.exit_code == 2
    assert "NOPE_KEY is not referenced by environment 'k'" in out.output
    assert "FAKE_ANTHROPIC_BASE, FAKE_OPENAI_BASE, FAKE_PROVIDER_KEY" in out.output
