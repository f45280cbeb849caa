"""`make up`'s environment (dev) streams on every route with no provider key: the local runtime
starts the fake provider beside the stock proxy (stack.local.fake_provider) and hands its URL
to LiteLLM; the official SDKs stream through it; the smoke test passes; `down` stops both."""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import anthropic
import httpx
import openai
import pytest
import yaml

from llmproxy_ops.ops.smoke.run import run_smoke
from llmproxy_ops.ops.smoke.target import SmokeRequest, smoke_target
from llmproxy_ops.pipeline import Target, runtime_for, start_target
from llmproxy_ops.runtime import process
from llmproxy_ops.runtime.api import Runtime
from tests.conftest import REPO, free_port

pytestmark = pytest.mark.integration

MASTER = "sk-dev-streams-3b8e1f6a2c"
REPLY = "Hello from the fake provider."
STREAM_EVENTS = [
    "message_start",
    "content_block_start",
    *["content_block_delta"] * 5,
    "content_block_stop",
    "message_delta",
    "message_stop",
]


@dataclass
class Dev:
    url: str
    target: Target
    runtime: Runtime


@pytest.fixture(scope="module")
def dev(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Dev]:
    """The shipped configs with only dev's port changed, and the .env `make up` writes."""
    project = tmp_path_factory.mktemp("dev")
    shutil.copytree(REPO / "configs", project / "configs")
    shutil.copy(REPO / ".env.example", project / ".env.example")
    dev_yaml = project / "configs/environments/dev.yaml"
    doc = yaml.safe_load(dev_yaml.read_text())
    doc["stack"]["port"] = free_port()
    dev_yaml.write_text(yaml.safe_dump(doc))
    # a stale value copied from .env.example must not win over the URL the runtime picked
    (project / ".env").write_text(
        f"LITELLM_MASTER_KEY={MASTER}\nFAKE_PROVIDER_URL=http://127.0.0.1:9\n")
    (project / ".env").chmod(0o600)
    cwd = Path.cwd()
    os.chdir(project)
    target = Target(env="dev")
    try:
        _, _, status = start_target(target)
        assert status.healthy and status.url
        yield Dev(status.url, target, runtime_for(target)[1])
    finally:
        runtime_for(target)[1].stop()
        os.chdir(cwd)


def test_openai_chat_streams(dev: Dev) -> None:
    client = openai.OpenAI(base_url=dev.url + "/v1", api_key=MASTER, timeout=30, max_retries=0)
    chunks = list(client.chat.completions.create(
        model="mock-gpt", stream=True, messages=[{"role": "user", "content": "say hello"}]))
    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert text == REPLY and len(chunks) > 2
    assert [c.choices[0].finish_reason for c in chunks if c.choices][-1] == "stop"


@pytest.mark.parametrize("model", ["mock-claude", "mock-gpt"])  # Anthropic's route, and the adapter
def test_anthropic_messages_stream_to_message_stop(dev: Dev, model: str) -> None:
    client = anthropic.Anthropic(base_url=dev.url, api_key=MASTER, timeout=30, max_retries=0)
    with client.messages.stream(
        model=model, max_tokens=100, messages=[{"role": "user", "content": "say hello"}]
    ) as stream:
        kinds = [event.type for event in stream if event.type in STREAM_EVENTS]
        final = stream.get_final_message()
    if model == "mock-claude":  # the fake's own SSE, passed through event for event
        assert kinds == STREAM_EVENTS
    else:  # LiteLLM's adapter regroups OpenAI chunks: same frame, its own number of deltas
        assert kinds[:2] == STREAM_EVENTS[:2] and kinds[-3:] == STREAM_EVENTS[-3:]
        assert set(kinds[2:-3]) == {"content_block_delta"}
    assert [b.type for b in final.content] == ["text"] and final.stop_reason == "end_turn"
    assert final.content[0].text == REPLY  # type: ignore[union-attr]


def test_smoke_test_passes_on_dev(dev: Dev) -> None:
    report = run_smoke(smoke_target(SmokeRequest(target=dev.target)))
    assert report.ok, [(c.name, c.detail) for c in report.checks if not c.ok]
    names = {c.name for c in report.checks}
    assert {"chat: mock-gpt", "chat: mock-claude"} <= names


def test_status_shows_the_fake_provider_and_down_stops_it(dev: Dev) -> None:
    status = dev.runtime.status()
    fake = next(u for u in status.units if u.name == "fake-provider")
    assert status.healthy and fake.ok and fake.url is None  # not a replica of the proxy
    pid_text, url = fake.detail.removeprefix("pid ").split(", ")
    assert httpx.get(url + "/_fake/health", timeout=5).status_code == 200
    pid = int(pid_text)
    stopped = dev.runtime.stop()
    assert stopped.was_running and stopped.message.endswith(f"; stopped: fake provider (pid {pid})")
    assert not process.pid_alive(pid) and not dev.runtime.status().running
