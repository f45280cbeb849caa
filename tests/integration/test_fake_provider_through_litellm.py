"""The stock LiteLLM proxy talks to the fake provider unchanged, for every provider route."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
import yaml

from llmproxy_ops.testing.fake_provider import FakeProvider

pytestmark = pytest.mark.integration

MASTER_KEY = "sk-test-fake-provider"
REPLY = "Hello from the fake provider."


@dataclass(frozen=True)
class Route:
    """One model of the proxy config and what the fake must see when it is called."""

    name: str
    model: str
    base_suffix: str
    env: str
    key: str
    path: str
    stream_path: str
    auth_header: str
    upstream_model: str

    @property
    def provider(self) -> str:
        return {"x-api-key": "anthropic", "x-goog-api-key": "gemini"}.get(
            self.auth_header, "openai"
        )

    def auth_value(self) -> str:
        return f"Bearer {self.key}" if self.auth_header == "authorization" else self.key


ROUTES = [
    Route(
        "claude",
        "anthropic/claude-sonnet-4-5-20250929",
        "",
        "FAKE_ANTHROPIC_KEY",
        "fake-anthropic-key",
        "/v1/messages",
        "/v1/messages",
        "x-api-key",
        "claude-sonnet-4-5-20250929",
    ),
    Route(
        "gpt",
        "openai/gpt-4o-mini",
        "/v1",
        "FAKE_OPENAI_KEY",
        "fake-openai-key",
        "/v1/chat/completions",
        "/v1/chat/completions",
        "authorization",
        "gpt-4o-mini",
    ),
    Route(
        "openrouter",
        "openrouter/openai/gpt-oss-20b:free",
        "/api/v1",
        "FAKE_OPENROUTER_KEY",
        "fake-openrouter-key",
        "/api/v1/chat/completions",
        "/api/v1/chat/completions",
        "authorization",
        "openai/gpt-oss-20b:free",
    ),
    Route(
        "gemini",
        "gemini/gemini-2.5-flash",
        "/v1beta",
        "FAKE_GEMINI_KEY",
        "fake-gemini-key",
        "/v1beta/models/gemini-2.5-flash:generateContent",
        "/v1beta/models/gemini-2.5-flash:streamGenerateContent",
        "x-goog-api-key",
        "gemini-2.5-flash",
    ),
    Route(
        "github",
        "github/gpt-4o-mini",
        "/inference",
        "FAKE_GITHUB_KEY",
        "fake-github-key",
        "/inference/chat/completions",
        "/inference/chat/completions",
        "authorization",
        "gpt-4o-mini",
    ),
    Route(
        "lmstudio",
        "lm_studio/google/gemma-3-12b",
        "/v1",
        "FAKE_LMSTUDIO_KEY",
        "fake-lmstudio-key",
        "/v1/chat/completions",
        "/v1/chat/completions",
        "authorization",
        "google/gemma-3-12b",
    ),
]
ROUTE_IDS = [r.name for r in ROUTES]
FAILING_MODEL = "openai/gpt-4o-mini-fail-429"  # the fake's static trigger


def proxy_config(fake_url: str) -> dict[str, Any]:
    models = [
        {
            "model_name": r.name,
            "litellm_params": {
                "model": r.model,
                "api_base": fake_url + r.base_suffix,
                "api_key": f"os.environ/{r.env}",
            },
        }
        for r in ROUTES
    ]
    models.append(
        {
            "model_name": "always-429",
            "litellm_params": {
                "model": FAILING_MODEL,
                "api_base": fake_url + "/v1",
                "api_key": "os.environ/FAKE_OPENAI_KEY",
            },
        }
    )
    return {
        "model_list": models,
        "litellm_settings": {"num_retries": 0},
        "router_settings": {"num_retries": 0},
        "general_settings": {"master_key": MASTER_KEY},
    }


@pytest.fixture(scope="module")
def fake() -> Iterator[FakeProvider]:
    with FakeProvider(accepted_keys=[r.key for r in ROUTES]) as provider:
        yield provider


@pytest.fixture(scope="module")
def proxy_url(
    fake: FakeProvider,
    tmp_path_factory: pytest.TempPathFactory,
    litellm_runner: Callable[..., Any],
) -> Iterator[str]:
    folder = tmp_path_factory.mktemp("litellm-fake")
    config = folder / "config.yaml"
    config.write_text(yaml.safe_dump(proxy_config(fake.url), sort_keys=False))
    env = {r.env: r.key for r in ROUTES}
    with litellm_runner(config, env, folder / "litellm.log") as proxy:
        yield proxy.url


@pytest.fixture()
def client(fake: FakeProvider, proxy_url: str) -> Iterator[httpx.Client]:
    fake.reset()
    headers = {"Authorization": f"Bearer {MASTER_KEY}"}
    with httpx.Client(base_url=proxy_url, headers=headers, timeout=30) as http:
        yield http


def chat(model: str, stream: bool = False) -> dict[str, Any]:
    return {
        "model": model,
        "stream": stream,
        "messages": [{"role": "user", "content": "say hello"}],
    }


def stream_contents(client: httpx.Client, model: str) -> list[str]:
    """Content pieces of a streamed answer; fails unless the stream ends with [DONE]."""
    with client.stream("POST", "/v1/chat/completions", json=chat(model, stream=True)) as r:
        assert r.status_code == 200, r.read()
        data = [line[6:] for line in r.iter_lines() if line.startswith("data: ")]
    assert data[-1] == "[DONE]"
    chunks = [json.loads(d) for d in data[:-1]]
    return [c["choices"][0]["delta"].get("content") or "" for c in chunks if c["choices"]]


def assert_seen(fake: FakeProvider, route: Route, *, path: str, stream: bool) -> None:
    [seen] = fake.requests()
    assert (seen.path, seen.provider, seen.model, seen.stream, seen.status) == (
        path,
        route.provider,
        route.upstream_model,
        stream,
        200,
    )
    assert (seen.auth_header, seen.auth_value) == (route.auth_header, route.auth_value())


@pytest.mark.parametrize("route", ROUTES, ids=ROUTE_IDS)
def test_non_streaming_answer_through_proxy(
    fake: FakeProvider, client: httpx.Client, route: Route
) -> None:
    r = client.post("/v1/chat/completions", json=chat(route.name))
    assert r.status_code == 200, r.text
    assert r.json()["choices"][0]["message"]["content"] == REPLY
    assert r.json()["usage"]["completion_tokens"] == 5
    assert_seen(fake, route, path=route.path, stream=False)


@pytest.mark.parametrize("route", ROUTES, ids=ROUTE_IDS)
def test_streaming_answer_through_proxy(
    fake: FakeProvider, client: httpx.Client, route: Route
) -> None:
    pieces = stream_contents(client, route.name)
    assert "".join(pieces) == REPLY
    assert len([p for p in pieces if p]) >= 2  # it arrived in several chunks, not one
    assert_seen(fake, route, path=route.stream_path, stream=True)


def test_gemini_stream_asks_for_sse(fake: FakeProvider, client: httpx.Client) -> None:
    stream_contents(client, "gemini")
    assert [r.query for r in fake.requests()] == ["alt=sse"]


def test_provider_429_reaches_the_client(fake: FakeProvider, client: httpx.Client) -> None:
    r = client.post("/v1/chat/completions", json=chat("always-429"))
    assert r.status_code == 429
    assert r.json()["error"]["code"] == "429"
    assert "Rate limit reached (fake provider)." in r.json()["error"]["message"]
    assert [s.status for s in fake.requests()] == [429]  # num_retries 0: exactly one call


# LiteLLM's own mapping: an OpenAI-style 503 stays 503, Anthropic's 503 (overloaded_error)
# becomes an InternalServerError 500, Gemini's UNAVAILABLE 503 stays 503.
@pytest.mark.parametrize(
    ("model", "client_status"), [("gpt", 503), ("claude", 500), ("gemini", 503)]
)
def test_injected_failure_then_recovery(
    fake: FakeProvider, client: httpx.Client, model: str, client_status: int
) -> None:
    fake.configure(status=503, fail_count=1)
    first = client.post("/v1/chat/completions", json=chat(model))
    second = client.post("/v1/chat/completions", json=chat(model))
    assert (first.status_code, second.status_code) == (client_status, 200), first.text
    assert [s.status for s in fake.requests()] == [503, 200]
