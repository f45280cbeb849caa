"""The official SDKs through nginx (HTTPS) on the CI stack: what a client sees in production.

Shares the session's ci stack with test_ci_gate.py; nothing here spends nginx's rate-limit
bucket (a handful of requests).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import anthropic
import httpx
import httpx2
import openai
import pytest

from llmproxy_ops.render.litellm_hooks.llmproxy_auth_status import MESSAGE as NO_DB_401

if TYPE_CHECKING:  # fixtures come from conftest.py; importing it would load it twice
    from tests.stack.conftest import GateStack

pytestmark = pytest.mark.stack

REPLY = "Hello from the fake provider."
CLAUDE = "fake-anthropic"


def oai(stack: GateStack, key: str | None = None) -> openai.OpenAI:
    http = httpx.Client(verify=str(stack.ca_path), timeout=30)
    return openai.OpenAI(
        base_url=stack.https_url + "/v1",
        api_key=key or stack.master_key,
        max_retries=0,
        http_client=http,
    )


def claude(stack: GateStack, **credential: Any) -> anthropic.Anthropic:
    http = httpx2.Client(verify=str(stack.ca_path), timeout=30)
    if not credential:
        credential = {"api_key": stack.master_key}
    return anthropic.Anthropic(
        base_url=stack.https_url, max_retries=0, http_client=http, **credential
    )


def test_openai_sdk_chat_stream_and_models_through_nginx(ci_stack: GateStack) -> None:
    with oai(ci_stack) as client:
        assert {"fake-openai", "fake-anthropic"} <= {m.id for m in client.models.list()}
        answer = client.chat.completions.create(
            model="fake-openai", messages=[{"role": "user", "content": "say hello"}]
        )
        assert answer.choices[0].message.content == REPLY
        stream = client.chat.completions.create(
            model="fake-anthropic",
            messages=[{"role": "user", "content": "say hello"}],
            stream=True,
        )
        text = "".join(c.choices[0].delta.content or "" for c in stream if c.choices)
    assert text == REPLY


@pytest.mark.parametrize("credential", ["api_key", "auth_token"])
def test_anthropic_sdk_messages_through_nginx(ci_stack: GateStack, credential: str) -> None:
    with claude(ci_stack, **{credential: ci_stack.master_key}) as client:
        message = client.messages.create(
            model=CLAUDE, max_tokens=50, messages=[{"role": "user", "content": "say hello"}]
        )
        assert message.content[0].text == REPLY  # type: ignore[union-attr]
        events = list(
            client.messages.create(
                model=CLAUDE,
                max_tokens=50,
                stream=True,
                messages=[{"role": "user", "content": "say hello"}],
            )
        )
        counted = client.messages.count_tokens(
            model=CLAUDE, messages=[{"role": "user", "content": "count these four words"}]
        )
    kinds = [e.type for e in events]
    assert (kinds[0], kinds[-2], kinds[-1]) == ("message_start", "message_delta", "message_stop")
    assert counted.input_tokens == 4


def test_missing_and_wrong_key_are_401_through_nginx(ci_stack: GateStack) -> None:
    wrong_key = "sk-not-the-gate-key"
    with oai(ci_stack, key=wrong_key) as client, pytest.raises(openai.AuthenticationError) as wrong:
        client.models.list()
    assert (wrong.value.status_code, NO_DB_401 in wrong.value.message) == (401, True)
    with (
        claude(ci_stack, api_key=wrong_key) as an,
        pytest.raises(anthropic.AuthenticationError) as wrong_claude,
    ):
        an.messages.create(
            model=CLAUDE, max_tokens=10, messages=[{"role": "user", "content": "hi"}]
        )
    assert wrong_claude.value.status_code == 401
    missing = httpx.get(ci_stack.https_url + "/v1/models", verify=str(ci_stack.ca_path))
    assert missing.status_code == 401
    assert missing.json()["error"]["message"] == "Authentication Error, No api key passed in."


def test_unknown_model_is_a_400_through_nginx(ci_stack: GateStack) -> None:
    with oai(ci_stack) as client, pytest.raises(openai.BadRequestError) as raised:
        client.chat.completions.create(
            model="no-such-model", messages=[{"role": "user", "content": "hi"}]
        )
    assert "Invalid model name passed in model=no-such-model" in raised.value.message
