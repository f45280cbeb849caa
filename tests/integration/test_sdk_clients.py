"""The official OpenAI and Anthropic SDKs (and Claude Code) through the stock proxy.

One litellm process for the module, rendered from the shipped layers (base + the Claude
Code layer) plus OpenAI-style groups; every upstream is the fake provider, reached through
the real wire formats (ANTHROPIC_API_BASE points the shipped anthropic/ deployments at it).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import anthropic
import httpx
import httpx2
import openai
import pytest

from llmproxy_ops.render import render_build
from llmproxy_ops.render.litellm_hooks.llmproxy_auth_status import MESSAGE as NO_DB_401_MESSAGE
from llmproxy_ops.spec import load_files
from llmproxy_ops.testing.fake_features import TOOL_RESULT_REPLY, embedding
from llmproxy_ops.testing.fake_provider import FakeProvider
from llmproxy_ops.testing.fake_state import RecordedRequest
from llmproxy_ops.validate import validate_spec
from tests.conftest import REPO
from tests.integration.conftest import LiteLLMProcess, run_litellm

pytestmark = pytest.mark.integration

KEY = "sk-sdk-suite-master-7f3a91"
WRONG_KEY = "sk-sdk-suite-wrong-key"
FAKE_KEY = "fake-upstream-key-sdk"
REPLY = "Hello from the fake provider."
CLAUDE = "claude-sonnet-4-5"
RPM_GROUP_LIMIT = 2
WEATHER_TOOL = {
    "name": "get_weather",
    "description": "Current weather of a city.",
    "input_schema": {
        "type": "object",
        "properties": {"city": {"type": "string"}},
        "required": ["city"],
    },
}
TEST_LAYER = f"""\
model_list:
  - model_name: gpt
    litellm_params:
      model: openai/gpt-4o-mini
      api_base: os.environ/FAKE_PROVIDER_OPENAI_BASE
      api_key: os.environ/FAKE_PROVIDER_KEY
  - model_name: gpt-limited
    litellm_params:
      model: openai/gpt-4o-mini
      api_base: os.environ/FAKE_PROVIDER_OPENAI_BASE
      api_key: os.environ/FAKE_PROVIDER_KEY
      rpm: {RPM_GROUP_LIMIT}
  - model_name: embed
    litellm_params:
      model: openai/text-embedding-3-small
      api_base: os.environ/FAKE_PROVIDER_OPENAI_BASE
      api_key: os.environ/FAKE_PROVIDER_KEY
"""
CLAUDE_CODE_CLI = REPO / ".cache" / "claude-code" / "node_modules" / ".bin" / "claude"


@dataclass
class Gateway:
    proxy: LiteLLMProcess
    fake: FakeProvider
    # SDK clients made during one test, closed after it: an unclosed one leaves its sockets
    # to the garbage collector, which reports them (ResourceWarning) in a later test.
    clients: list[openai.OpenAI | anthropic.Anthropic] = field(default_factory=list)

    @property
    def url(self) -> str:
        return self.proxy.url

    def upstream(self, path: str) -> list[RecordedRequest]:
        return [r for r in self.fake.requests() if r.path == path]


@pytest.fixture(scope="module")
def gateway(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Gateway]:
    base = tmp_path_factory.mktemp("sdk")
    layer = base / "sdk-test.yaml"
    layer.write_text(TEST_LAYER)
    spec = load_files(
        [REPO / "configs/base.yaml", REPO / "configs/providers/claude-code.yaml", layer]
    )
    with FakeProvider([FAKE_KEY]) as fake:
        env = {
            "LITELLM_MASTER_KEY": KEY,
            "ANTHROPIC_API_KEY": FAKE_KEY,
            # LiteLLM's anthropic/ provider reads its base URL from here when the
            # deployment names none: the shipped layer runs unchanged against the fake.
            "ANTHROPIC_API_BASE": fake.anthropic_base,
            "FAKE_PROVIDER_OPENAI_BASE": fake.openai_base,
            "FAKE_PROVIDER_KEY": FAKE_KEY,
        }
        result = validate_spec(spec, env=env)
        assert not result.errors, [f.message for f in result.errors]
        build = render_build(spec, base / "build").out_dir
        with run_litellm(build / "config.yaml", env, base / "litellm.log") as proxy:
            yield Gateway(proxy, fake)


@pytest.fixture()
def gw(gateway: Gateway) -> Iterator[Gateway]:
    gateway.fake.reset()
    yield gateway
    while gateway.clients:
        gateway.clients.pop().close()


def oai(gw: Gateway, key: str = KEY, **options: Any) -> openai.OpenAI:
    options.setdefault("max_retries", 0)
    client = openai.OpenAI(base_url=gw.url + "/v1", api_key=key, timeout=30, **options)
    gw.clients.append(client)
    return client


def claude(gw: Gateway, **options: Any) -> anthropic.Anthropic:
    options.setdefault("max_retries", 0)
    if "auth_token" not in options:
        options.setdefault("api_key", KEY)
    client = anthropic.Anthropic(base_url=gw.url, timeout=30, **options)
    gw.clients.append(client)
    return client


def without_credentials(request: httpx.Request | httpx2.Request) -> None:
    """Send no key at all (the SDKs refuse to be built without one)."""
    for header in ("authorization", "x-api-key"):
        request.headers.pop(header, None)


def counted(seen: list[str]) -> dict[str, Any]:
    return {"request": [lambda r: seen.append(str(r.url))]}


# --- OpenAI SDK -------------------------------------------------------------------------


def test_openai_models_lists_every_group(gw: Gateway) -> None:
    ids = {m.id for m in oai(gw).models.list()}
    assert {"gpt", "gpt-limited", "embed", "claude-opus-4-8", "claude-haiku-4-5"} <= ids


def test_openai_chat_plain_and_streamed(gw: Gateway) -> None:
    client = oai(gw)
    answer = client.chat.completions.create(
        model="gpt", messages=[{"role": "user", "content": "say hello"}]
    )
    assert answer.choices[0].message.content == REPLY
    assert answer.usage is not None and answer.usage.completion_tokens == 5
    stream = client.chat.completions.create(
        model="gpt", messages=[{"role": "user", "content": "say hello"}], stream=True
    )
    deltas = [
        c.choices[0].delta.content for c in stream if c.choices and c.choices[0].delta.content
    ]
    assert "".join(deltas) == REPLY
    assert len(deltas) == 5


def test_openai_tool_call(gw: Gateway) -> None:
    tools: Any = [
        {
            "type": "function",
            "function": {"name": "get_weather", "parameters": WEATHER_TOOL["input_schema"]},
        }
    ]
    answer = oai(gw).chat.completions.create(
        model="gpt",
        messages=[{"role": "user", "content": "weather in Paris?"}],
        tools=tools,
        tool_choice="required",
    )
    choice = answer.choices[0]
    assert choice.finish_reason == "tool_calls"
    assert choice.message.tool_calls is not None
    call: Any = choice.message.tool_calls[0]
    assert (call.function.name, json.loads(call.function.arguments)) == (
        "get_weather",
        {"city": "fake"},
    )
    sent = gw.upstream("/v1/chat/completions")[-1].body
    assert (sent["tools"], sent["tool_choice"]) == (tools, "required")


def test_openai_json_mode(gw: Gateway) -> None:
    answer = oai(gw).chat.completions.create(
        model="gpt",
        messages=[{"role": "user", "content": "answer in JSON"}],
        response_format={"type": "json_object"},
    )
    assert json.loads(answer.choices[0].message.content or "") == {"reply": REPLY}
    sent = gw.upstream("/v1/chat/completions")[-1].body
    assert sent["response_format"] == {"type": "json_object"}


def test_openai_embeddings(gw: Gateway) -> None:
    answer = oai(gw).embeddings.create(model="embed", input=["first text", "second text"])
    vectors = [item.embedding for item in answer.data]
    assert vectors == [
        pytest.approx(embedding("first text", 8), abs=1e-6),
        pytest.approx(embedding("second text", 8), abs=1e-6),
    ]
    sent = gw.upstream("/v1/embeddings")[-1]
    assert (sent.body["model"], sent.api_key) == ("text-embedding-3-small", FAKE_KEY)


# --- Anthropic SDK: the Messages API as Claude Code uses it ------------------------------


@pytest.mark.parametrize("credential", ["api_key", "auth_token"])
def test_messages_create_with_x_api_key_or_bearer(gw: Gateway, credential: str) -> None:
    message = claude(gw, **{credential: KEY}).messages.create(
        model=CLAUDE, max_tokens=100, messages=[{"role": "user", "content": "say hello"}]
    )
    assert [block.type for block in message.content] == ["text"]
    assert message.content[0].text == REPLY  # type: ignore[union-attr]
    assert message.stop_reason == "end_turn"
    sent = gw.upstream("/v1/messages")[-1]
    assert (sent.model, sent.auth_header, sent.api_key) == (
        "claude-sonnet-4-5-20250929",
        "x-api-key",
        FAKE_KEY,
    )


def test_messages_stream_full_event_sequence(gw: Gateway) -> None:
    events = list(
        claude(gw).messages.create(
            model=CLAUDE,
            max_tokens=100,
            stream=True,
            messages=[{"role": "user", "content": "say hello"}],
        )
    )
    kinds = [event.type for event in events]
    assert kinds == [
        "message_start",
        "content_block_start",
        *["content_block_delta"] * 5,
        "content_block_stop",
        "message_delta",
        "message_stop",
    ]
    text = "".join(e.delta.text for e in events if e.type == "content_block_delta")  # type: ignore[union-attr]
    assert text == REPLY


def test_messages_stream_helper_with_thinking(gw: Gateway) -> None:
    with claude(gw).messages.stream(
        model=CLAUDE,
        max_tokens=2048,
        thinking={"type": "enabled", "budget_tokens": 1024},
        messages=[{"role": "user", "content": "say hello"}],
    ) as stream:
        final = stream.get_final_message()
    assert [block.type for block in final.content] == ["thinking", "text"]
    thinking: Any = final.content[0]
    assert thinking.signature.startswith("fake-signature-")
    assert gw.upstream("/v1/messages")[-1].body["thinking"] == {
        "type": "enabled",
        "budget_tokens": 1024,
    }


def test_tool_use_round_trip(gw: Gateway) -> None:
    client = claude(gw)
    asked: list[Any] = [{"role": "user", "content": "What is the weather in Paris?"}]
    first = client.messages.create(
        model=CLAUDE,
        max_tokens=200,
        tools=[WEATHER_TOOL],  # type: ignore[list-item]
        tool_choice={"type": "any"},
        messages=asked,
    )
    assert first.stop_reason == "tool_use"
    use: Any = first.content[0]
    assert (use.type, use.name, use.input) == ("tool_use", "get_weather", {"city": "fake"})
    result = {"type": "tool_result", "tool_use_id": use.id, "content": "18 C, sunny"}
    second = client.messages.create(
        model=CLAUDE,
        max_tokens=200,
        tools=[WEATHER_TOOL],  # type: ignore[list-item]
        messages=[
            *asked,
            {"role": "assistant", "content": first.content},
            {"role": "user", "content": [result]},
        ],
    )
    assert second.content[0].text == TOOL_RESULT_REPLY  # type: ignore[union-attr]
    sent = gw.upstream("/v1/messages")[-1].body
    assert sent["messages"][-1]["content"] == [result]
    assert sent["messages"][-2]["content"][0]["id"] == use.id


def test_count_tokens(gw: Gateway) -> None:
    counted = claude(gw).messages.count_tokens(
        model=CLAUDE, messages=[{"role": "user", "content": "count these four words"}]
    )
    assert counted.input_tokens == 4
    assert gw.upstream("/v1/messages/count_tokens")[-1].model == "claude-sonnet-4-5-20250929"


def test_system_prompt_cache_control(gw: Gateway) -> None:
    system: Any = [
        {
            "type": "text",
            "text": "You are a terse assistant.",
            "cache_control": {"type": "ephemeral"},
        }
    ]
    message = claude(gw).messages.create(
        model=CLAUDE,
        max_tokens=100,
        system=system,
        messages=[{"role": "user", "content": "say hello"}],
    )
    assert message.usage.cache_creation_input_tokens == 5  # the marked block's words
    assert gw.upstream("/v1/messages")[-1].body["system"] == system


# --- errors as the SDKs expect them ------------------------------------------------------


def test_missing_key_is_401_for_both_sdks(gw: Gateway) -> None:
    # openai uses httpx, anthropic 2.x its fork httpx2: each gets its own kind of client.
    hooks = {"request": [without_credentials]}
    with httpx.Client(event_hooks=hooks) as bare, pytest.raises(openai.AuthenticationError) as oa:
        oai(gw, http_client=bare).models.list()
    with (
        httpx2.Client(event_hooks=hooks) as bare2,
        pytest.raises(anthropic.AuthenticationError) as an,
    ):
        claude(gw, http_client=bare2).messages.create(
            model=CLAUDE, max_tokens=10, messages=[{"role": "user", "content": "hi"}]
        )
    for error in (oa.value, an.value):
        assert error.status_code == 401
        assert "No api key passed in." in error.message


def test_wrong_key_is_401_for_both_sdks(gw: Gateway) -> None:
    with pytest.raises(openai.AuthenticationError) as oa:
        oai(gw, key=WRONG_KEY).chat.completions.create(
            model="gpt", messages=[{"role": "user", "content": "hi"}]
        )
    with pytest.raises(anthropic.AuthenticationError) as an:
        claude(gw, api_key=WRONG_KEY).messages.create(
            model=CLAUDE, max_tokens=10, messages=[{"role": "user", "content": "hi"}]
        )
    for error in (oa.value, an.value):
        assert error.status_code == 401
        assert NO_DB_401_MESSAGE in error.message
    assert gw.fake.requests() == []  # rejected at the gateway, never forwarded


def test_rpm_exceeded_is_429_rate_limit_error(gw: Gateway) -> None:
    if 60 - time.time() % 60 < 5:  # LiteLLM counts per wall-clock minute
        time.sleep(6)
    client = oai(gw)
    with pytest.raises(openai.RateLimitError) as raised:
        for _ in range(RPM_GROUP_LIMIT + 1):
            client.chat.completions.create(
                model="gpt-limited", messages=[{"role": "user", "content": "hi"}]
            )
    assert raised.value.status_code == 429
    assert len(gw.upstream("/v1/chat/completions")) == RPM_GROUP_LIMIT


def test_unknown_model_is_a_4xx_the_sdks_do_not_retry(gw: Gateway) -> None:
    seen: list[str] = []
    anthropic_seen: list[str] = []
    with (
        httpx.Client(event_hooks=counted(seen)) as http,
        pytest.raises(openai.APIStatusError) as oa,
    ):
        oai(gw, max_retries=2, http_client=http).chat.completions.create(
            model="no-such-model", messages=[{"role": "user", "content": "hi"}]
        )
    with (
        httpx2.Client(event_hooks=counted(anthropic_seen)) as http2,
        pytest.raises(anthropic.APIStatusError) as an,
    ):
        claude(gw, max_retries=2, http_client=http2).messages.create(
            model="no-such-model", max_tokens=10, messages=[{"role": "user", "content": "hi"}]
        )
    for error in (oa.value, an.value):
        assert error.status_code == 400
        assert "Invalid model name passed in model=no-such-model" in error.message
    assert (len(seen), len(anthropic_seen)) == (1, 1)  # 400 is not retried


# --- Claude Code itself ------------------------------------------------------------------


def claude_code_env(gw: Gateway, home: Path) -> dict[str, str]:
    keep = {k: v for k, v in os.environ.items() if k in ("PATH", "LANG", "TERM")}
    return {
        **keep,
        "HOME": str(home),
        "ANTHROPIC_BASE_URL": gw.url,
        "ANTHROPIC_AUTH_TOKEN": KEY,
        "CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC": "1",
        "DISABLE_TELEMETRY": "1",
        "DISABLE_AUTOUPDATER": "1",
    }


@pytest.mark.parametrize(
    ("alias", "upstream_model"),
    [("opus", "claude-opus-4-8"), ("haiku", "claude-haiku-4-5-20251001")],
)
def test_claude_code_cli_answers_through_the_gateway(
    gw: Gateway, tmp_path: Path, alias: str, upstream_model: str
) -> None:
    cli = CLAUDE_CODE_CLI if CLAUDE_CODE_CLI.exists() else shutil.which("claude")
    assert cli, (
        f"Claude Code is not installed: run scripts/install-test-deps.sh ({CLAUDE_CODE_CLI})"
    )
    done = subprocess.run(
        [str(cli), "-p", "say hi", "--model", alias],
        env=claude_code_env(gw, tmp_path),
        cwd=tmp_path,
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert (done.returncode, done.stdout.strip()) == (0, REPLY), done.stderr[-2000:]
    sent = gw.upstream("/v1/messages")
    assert sent and {r.model for r in sent} == {upstream_model}
    assert all(r.stream for r in sent)
