"""The fake speaks GitHub's device login, the Copilot chat API and Ollama's wire format."""

from __future__ import annotations

import json
from collections.abc import Iterator

import httpx
import pytest

from llmproxy_ops.testing.fake_provider import FakeProvider

GRANT = "urn:ietf:params:oauth:grant-type:device_code"
EDITOR = {"editor-version": "vscode/1.85.1", "Copilot-Integration-Id": "vscode-chat"}
CHAT = {"model": "gpt-4o-mini", "messages": [{"role": "user", "content": "say hello"}]}
REPLY = "Hello from the fake provider."


@pytest.fixture(scope="module")
def fake() -> Iterator[FakeProvider]:
    with FakeProvider(accepted_keys=["sk-only-this"]) as provider:
        yield provider


@pytest.fixture()
def client(fake: FakeProvider) -> Iterator[httpx.Client]:
    fake.reset()
    with httpx.Client(base_url=fake.url, timeout=10) as http:
        yield http


def _device_login(client: httpx.Client) -> tuple[str, list[dict]]:
    code = client.post("/login/device/code", json={"client_id": "Iv1.x", "scope": "read:user"})
    assert code.status_code == 200
    body = code.json()
    assert body["verification_uri"] == "https://github.com/login/device"
    assert len(body["user_code"]) == 9 and body["user_code"][4] == "-"
    poll = {"client_id": "Iv1.x", "device_code": body["device_code"], "grant_type": GRANT}
    answers = [client.post("/login/oauth/access_token", json=poll).json() for _ in range(3)]
    return answers[1]["access_token"], answers


def _copilot_key(client: httpx.Client) -> dict:
    token, _ = _device_login(client)
    answer = client.get("/copilot_internal/v2/token", headers={"Authorization": f"token {token}"})
    assert answer.status_code == 200
    return answer.json()


def test_device_flow_pending_then_token_then_the_code_is_spent(client):
    _, answers = _device_login(client)
    assert answers[0]["error"] == "authorization_pending"
    assert answers[1]["access_token"].startswith("gho_")
    assert answers[2] == {"error": "bad_verification_code"}
    counters = client.get("/_fake/copilot").json()
    assert (counters["device_codes"], counters["access_token_polls"]) == (1, 3)


def test_device_code_needs_a_client_id(client):
    answer = client.post("/login/device/code", json={"scope": "read:user"})
    assert answer.status_code == 404 and answer.json()["message"] == "Not Found"


def test_api_key_exchange_names_an_expiry_and_the_fake_as_chat_base(client, fake):
    key = _copilot_key(client)
    assert key["endpoints"]["api"] == fake.url + "/copilot"
    assert key["expires_at"] > key["refresh_in"] > 0
    bad = client.get("/copilot_internal/v2/token", headers={"Authorization": "token gho_nope"})
    assert (bad.status_code, bad.json()["message"]) == (401, "Bad credentials")


def test_copilot_chat_wants_the_issued_key_and_the_editor_headers(client, fake):
    key = _copilot_key(client)["token"]
    auth = {"Authorization": f"Bearer {key}"}
    ok = client.post("/copilot/chat/completions", json=CHAT, headers={**auth, **EDITOR})
    assert ok.status_code == 200 and ok.json()["choices"][0]["message"]["content"] == REPLY
    bare = client.post("/copilot/chat/completions", json=CHAT, headers=auth)
    assert bare.status_code == 400
    assert bare.json()["error"]["message"] == "bad request: missing Editor-Version header"
    stranger = client.post(
        "/copilot/chat/completions",
        json=CHAT,
        headers={"Authorization": "Bearer sk-only-this", **EDITOR},
    )
    assert stranger.status_code == 401
    assert stranger.json()["error"]["message"] == "unauthorized: token expired or invalid"
    seen = [r for r in fake.requests() if r.path == "/copilot/chat/completions"]
    assert [r.status for r in seen] == [200, 400, 401]
    assert seen[0].headers["editor-version"] == "vscode/1.85.1"


def test_an_expired_copilot_key_is_refused(client):
    client.post("/_fake/copilot", json={"key_ttl_s": 0})
    try:
        key = _copilot_key(client)["token"]
        answer = client.post(
            "/copilot/chat/completions",
            json=CHAT,
            headers={"Authorization": f"Bearer {key}", **EDITOR},
        )
        assert answer.status_code == 401
    finally:
        client.post("/_fake/copilot", json={"key_ttl_s": 1800})


def test_copilot_admin_rejects_unknown_knobs(client):
    answer = client.post("/_fake/copilot", json={"pending": 1})
    assert answer.status_code == 400
    assert answer.json() == {"error": "unknown copilot knob(s): pending"}


@pytest.mark.parametrize(
    ("path", "field"), [("/api/chat", "message"), ("/api/generate", "response")]
)
def test_ollama_non_streaming(client, path, field):
    body = {
        "model": "llama3.2",
        "stream": False,
        "messages": [{"role": "user", "content": "hi"}],
        "prompt": "hi",
    }
    answer = client.post(path, json=body)
    assert answer.status_code == 200
    doc = answer.json()
    text = doc["message"]["content"] if field == "message" else doc["response"]
    assert text == REPLY and doc["done"] is True and doc["eval_count"] == 5


@pytest.mark.parametrize(
    ("path", "field"), [("/api/chat", "message"), ("/api/generate", "response")]
)
def test_ollama_streams_ndjson_by_default(client, path, field):
    answer = client.post(path, json={"model": "llama3.2", "prompt": "hi"})
    assert answer.headers["content-type"] == "application/x-ndjson"
    lines = [json.loads(line) for line in answer.text.splitlines()]
    assert [line["done"] for line in lines] == [False] * 5 + [True]
    pieces = [ln["message"]["content"] if field == "message" else ln["response"] for ln in lines]
    assert "".join(pieces) == REPLY and lines[-1]["done_reason"] == "stop"


def test_ollama_errors_faults_tags_and_show(client):
    assert client.post("/api/chat", json={"stream": False}).json() == {"error": "model is required"}
    failed = client.post("/api/chat", json={"model": "llama-fail-503", "stream": False})
    assert failed.status_code == 503 and "error" in failed.json()
    tags = client.get("/api/tags").json()
    assert [m["name"] for m in tags["models"]] == ["llama3.2:latest"]
    show = client.post("/api/show", json={"name": "llama3.2"}).json()
    assert show["model_info"]["llama.context_length"] == 131072
