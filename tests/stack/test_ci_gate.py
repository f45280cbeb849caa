"""The CI gate: the rendered ci stack (litellm, db, mlflow, nginx, fake provider) proven through
nginx over HTTPS. Tests run in file order on one stack; nginx's own 429 comes last because it
spends the rate-limit bucket every other test draws on.
"""

from __future__ import annotations

import contextlib
import json
import socket
import ssl
import subprocess
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from typing import TYPE_CHECKING

import httpx
import pytest
import yaml

from llmproxy_ops.ops.smoke.run import run_smoke
from llmproxy_ops.ops.smoke.target import SmokeRequest, smoke_target
from llmproxy_ops.pipeline import Target
from tests.conftest import REPO

if TYPE_CHECKING:  # fixtures come from conftest.py; importing it would load it twice
    from tests.stack.conftest import GateStack

pytestmark = pytest.mark.stack

SECURITY_HEADERS = {
    "strict-transport-security": "max-age=31536000; includeSubDomains",
    "x-content-type-options": "nosniff",
    "x-frame-options": "DENY",
    "referrer-policy": "no-referrer",
}
CHUNKS, CHUNK_DELAY_MS = 6, 400
NGINX_429_BODY = {
    "error": {"message": "rate limit exceeded (nginx)", "type": "rate_limit_error", "code": 429}
}
BURST_REQUESTS, BURST_CONCURRENCY = 300, 16
MLFLOW_POLL_S = 60.0  # under load LiteLLM took up to ~18 s to log a trace


def client(stack: GateStack, **kwargs: object) -> httpx.Client:
    return httpx.Client(verify=str(stack.ca_path), timeout=30.0, **kwargs)  # type: ignore[arg-type]


def auth(stack: GateStack) -> dict[str, str]:
    return {"Authorization": f"Bearer {stack.master_key}"}


def assert_security_headers(response: httpx.Response) -> None:
    # exactly one value each: nginx hides LiteLLM's own copies and adds its own, always
    seen = {name: response.headers.get_list(name) for name in SECURITY_HEADERS}
    assert seen == {name: [value] for name, value in SECURITY_HEADERS.items()}, (
        response.status_code,
        dict(response.headers),
    )


def fake_admin(stack: GateStack) -> str:
    published = stack.compose("port", "fake-provider", "9000").stdout.strip()
    return f"http://{published}/_fake"


def chat(stack: GateStack, model: str, content: str, **extra: object) -> dict[str, object]:
    return {"model": model, "messages": [{"role": "user", "content": content}], **extra}


# ---- streaming ------------------------------------------------------------------------------


def stream_arrivals(stack: GateStack) -> tuple[int, list[float]]:
    """Status and arrival times (s) of each `data:` chunk of a fake-openai stream via nginx."""
    payload = chat(stack, "fake-openai", "Stream, please.", stream=True)
    arrivals: list[float] = []
    with client(stack) as http:
        t0 = time.monotonic()
        with http.stream(
            "POST", f"{stack.https_url}/v1/chat/completions", json=payload, headers=auth(stack)
        ) as response:
            if response.status_code != 200:
                response.read()
                return response.status_code, []
            for line in response.iter_lines():
                if line.startswith("data:") and line[5:].strip() != "[DONE]":
                    arrivals.append(time.monotonic() - t0)
    return 200, arrivals


def wait_for_next_minute() -> None:
    # LiteLLM counts rpm per UTC wall-clock minute. This test runs before the smoke test
    # (whose rpm check spends fake-openai's 5 requests of its minute); a 429 means something
    # spent them anyway: the next minute has them again.
    time.sleep(60 - time.time() % 60 + 1.0)


def test_sse_chunks_arrive_incrementally_through_nginx(ci_stack: GateStack) -> None:
    admin = fake_admin(ci_stack)
    knobs = httpx.post(
        f"{admin}/config", json={"chunks": CHUNKS, "chunk_delay_ms": CHUNK_DELAY_MS}, timeout=10
    ).json()
    assert (knobs["chunks"], knobs["chunk_delay_ms"]) == (CHUNKS, CHUNK_DELAY_MS)
    try:
        status, arrivals = stream_arrivals(ci_stack)
        if status == 429:  # LiteLLM's rpm for fake-openai, spent this minute
            wait_for_next_minute()
            status, arrivals = stream_arrivals(ci_stack)
    finally:
        httpx.post(f"{admin}/reset", timeout=10).raise_for_status()
    assert status == 200
    assert len(arrivals) >= CHUNKS
    # Buffered by nginx, every chunk would arrive together after the last one was sent.
    spread = (CHUNKS - 2) * CHUNK_DELAY_MS / 1000
    assert arrivals[0] < arrivals[-1] - spread, arrivals


# ---- the smoke test --------------------------------------------------------------------------


def test_smoke_passes_for_every_model_group_through_nginx(ci_stack: GateStack) -> None:
    with contextlib.chdir(ci_stack.root):  # the gate's env file and configs are project-relative
        target = smoke_target(
            SmokeRequest(
                target=Target(env=ci_stack.env),
                url=ci_stack.https_url,
                verify_tls=str(ci_stack.ca_path),
            )
        )
    assert target.expected_models == ["mock-gpt", "fake-openai", "fake-anthropic"]
    assert target.rpm_enforced == {"mock-gpt": 60, "fake-openai": 5}
    report = run_smoke(target)
    assert report.ok, [(c.name, c.detail) for c in report.failed]
    assert [c.name for c in report.checks] == [
        "liveliness",
        "models",
        "auth: missing key rejected",
        "auth: wrong key rejected",
        "chat: mock-gpt",
        "chat: fake-openai",
        "chat: fake-anthropic",
        "messages: fake-anthropic",
        "stream: mock-gpt",
        "rpm: fake-openai",
        "rpm: mock-gpt",
    ]


# ---- security headers on 200, 4xx/5xx rejections and 413 ------------------------------------


def test_security_headers_on_success_and_rejections(ci_stack: GateStack) -> None:
    with client(ci_stack) as http:
        ok = http.get(f"{ci_stack.https_url}/v1/models", headers=auth(ci_stack))
        wrong = http.get(
            f"{ci_stack.https_url}/v1/models", headers={"Authorization": "Bearer sk-gate-wrong-key"}
        )
        missing = http.get(f"{ci_stack.https_url}/v1/models")
    assert ok.status_code == 200
    assert_security_headers(ok)
    # 401 without a database: prisma in the image (no key), base.yaml's callback (wrong key).
    for rejected in (wrong, missing):
        assert rejected.status_code == 401
        assert_security_headers(rejected)


def test_security_headers_and_json_on_413(ci_stack: GateStack) -> None:
    body = b"x" * (21 * 1024 * 1024)  # the ci environment keeps client_max_body_size 20m
    with client(ci_stack) as http:
        response = http.post(
            f"{ci_stack.https_url}/v1/chat/completions",
            content=body,
            headers={**auth(ci_stack), "Content-Type": "application/json"},
        )
    assert response.status_code == 413
    assert response.json()["error"]["message"] == "request body larger than 20m (nginx)"
    assert_security_headers(response)


# ---- TLS and plain HTTP ---------------------------------------------------------------------


def handshake(stack: GateStack, version: ssl.TLSVersion) -> str:
    """The negotiated version; the client allows exactly `version` and every cipher."""
    ctx = ssl.create_default_context(cafile=str(stack.ca_path))
    # Security level 0 so the client itself would use TLS 1.0/1.1: a refusal is the server's.
    ctx.set_ciphers("DEFAULT:@SECLEVEL=0")
    ctx.minimum_version = ctx.maximum_version = version
    port = int(stack.https_url.rsplit(":", 1)[1])
    with (
        socket.create_connection(("127.0.0.1", port), timeout=10) as raw,
        ctx.wrap_socket(raw, server_hostname="localhost") as tls,
    ):
        return str(tls.version())


@pytest.mark.parametrize("version", [ssl.TLSVersion.TLSv1, ssl.TLSVersion.TLSv1_1])
def test_tls_1_0_and_1_1_are_refused_by_the_server(ci_stack: GateStack, version) -> None:  # noqa: ANN001
    with pytest.raises(ssl.SSLError) as refused:
        handshake(ci_stack, version)
    assert refused.value.reason == "TLSV1_ALERT_PROTOCOL_VERSION"  # the server's alert


@pytest.mark.parametrize(
    ("version", "name"), [(ssl.TLSVersion.TLSv1_2, "TLSv1.2"), (ssl.TLSVersion.TLSv1_3, "TLSv1.3")]
)
def test_tls_1_2_and_1_3_are_accepted(ci_stack: GateStack, version, name: str) -> None:  # noqa: ANN001
    assert handshake(ci_stack, version) == name


def test_plain_http_redirects_to_https_except_liveness(ci_stack: GateStack) -> None:
    with httpx.Client(timeout=30.0, follow_redirects=False) as http:
        moved = http.get(f"{ci_stack.http_url}/v1/models?probe=1")
        alive = http.get(f"{ci_stack.http_url}/health/liveliness")
    assert moved.status_code == 301
    assert moved.headers["location"] == f"{ci_stack.https_url}/v1/models?probe=1"
    assert alive.status_code == 200


# ---- MLflow and Postgres --------------------------------------------------------------------


def traces_with(stack: GateStack, marker: str) -> list[dict]:
    search = {
        "locations": [{"type": "MLFLOW_EXPERIMENT", "mlflow_experiment": {"experiment_id": "0"}}],
        "max_results": 100,
        "order_by": ["timestamp_ms DESC"],
    }
    response = httpx.post(
        f"{stack.mlflow_url}/api/3.0/mlflow/traces/search", json=search, timeout=15
    )
    response.raise_for_status()
    traces = response.json().get("traces", [])
    return [t for t in traces if marker in t.get("request_preview", "")]


INPUTS = "mlflow.traceInputs"


def test_mlflow_holds_a_trace_of_a_request_through_nginx(ci_stack: GateStack) -> None:
    marker = f"gate-trace-{uuid.uuid4().hex}"
    with client(ci_stack) as http:
        # fake-anthropic has no rpm: the smoke test cannot have used up its minute.
        answer = http.post(
            f"{ci_stack.https_url}/v1/chat/completions",
            headers=auth(ci_stack),
            json=chat(ci_stack, "fake-anthropic", f"Say hi. {marker}"),
        )
    assert answer.status_code == 200, answer.text
    deadline = time.monotonic() + MLFLOW_POLL_S
    found: list[dict] = []
    # LiteLLM logs to MLflow asynchronously after answering, and a trace is listed before
    # all its metadata is written (seen once on a busy machine: no mlflow.traceInputs yet)
    while not (found and all(INPUTS in t.get("trace_metadata", {}) for t in found)) and \
            time.monotonic() < deadline:
        time.sleep(1.0)
        found = traces_with(ci_stack, marker)
    assert len(found) == 1, f"no MLflow trace with {marker} within {MLFLOW_POLL_S:g} s"
    trace = found[0]
    assert trace["state"] == "OK"
    assert (
        json.loads(trace["trace_metadata"][INPUTS])["messages"][0]["content"]
        == f"Say hi. {marker}"
    )


def test_postgres_has_the_mlflow_database(ci_stack: GateStack) -> None:
    listing = ci_stack.compose("exec", "-T", "db", "psql", "-U", "llmproxy", "-lqt").stdout
    databases = {line.split("|")[0].strip() for line in listing.splitlines() if "|" in line}
    assert {"mlflow", "litellm"} <= databases, listing


# ---- metrics (stack.metrics: the ci environment runs its own Prometheus) ---------------------


def _prometheus_url(stack: GateStack) -> str:
    container = stack.compose("ps", "-q", "prometheus").stdout.strip()
    assert container, "no prometheus container in the ci stack (stack.metrics)"
    address = subprocess.run(
        ["docker", "inspect", "-f", "{{range .NetworkSettings.Networks}}{{.IPAddress}}{{end}}",
         container], capture_output=True, text=True, timeout=30, check=True).stdout.strip()
    return f"http://{address}:9090"


def _prom(url: str, path: str, **params: str) -> dict:
    answer = httpx.get(f"{url}/api/v1/{path}", params=params, timeout=10)
    answer.raise_for_status()
    data: dict = answer.json()["data"]
    return data


def test_prometheus_scrapes_every_replica_directly_and_loads_the_rules(ci_stack: GateStack) -> None:
    headers = {"Authorization": f"Bearer {ci_stack.master_key}"}
    with httpx.Client(verify=str(ci_stack.ca_path), timeout=60) as client:
        # never through nginx, with or without the key
        assert client.get(f"{ci_stack.https_url}/metrics/", headers=headers).status_code == 404
        for _ in range(3):  # fake-anthropic: a group without an rpm (the others' may be spent)
            sent = client.post(f"{ci_stack.https_url}/v1/chat/completions", headers=headers,
                               json=chat(ci_stack, "fake-anthropic", "counted"))
            assert sent.status_code == 200, sent.text
    prometheus = _prometheus_url(ci_stack)
    replicas = [s for s in ci_stack.compose("config", "--services").stdout.split()
                if s.startswith("litellm")]
    deadline, up, counted = time.monotonic() + 90, [], 0.0
    while time.monotonic() < deadline:  # scraped every 15 s
        up = _prom(prometheus, "query", query='up{job="litellm"}')["result"]
        found = _prom(prometheus, "query", query='sum(litellm_proxy_total_requests_metric_total'
                      '{requested_model="fake-anthropic", status_code="200"})')["result"]
        counted = float(found[0]["value"][1]) if found else 0.0
        if len(up) == len(replicas) and all(r["value"][1] == "1" for r in up) and counted >= 3:
            break
        time.sleep(2)
    assert sorted(r["metric"]["instance"] for r in up) == sorted(f"{n}:4000" for n in replicas)
    assert all(r["value"][1] == "1" for r in up), up
    assert counted >= 3
    loaded = {rule["name"] for group in _prom(prometheus, "rules")["groups"]
              for rule in group["rules"]}
    shipped = yaml.safe_load((REPO / "monitoring/prometheus/alerts.yml").read_text())
    assert loaded == {rule["alert"] for group in shipped["groups"] for rule in group["rules"]}


def test_each_replica_serves_under_the_memory_guard(ci_stack: GateStack) -> None:
    """stack.workers_max_rss reaches the replicas: their one worker runs supervised (the
    supervisor, its fork server and the worker; unsupervised it would be one process)."""
    services = yaml.safe_load(ci_stack.compose_file.read_text())["services"]
    replicas = {name: s for name, s in services.items() if name.startswith("litellm")}
    assert replicas
    for name, service in replicas.items():
        env = service["environment"]
        assert env["LLMPROXY_SUPERVISE"] == "1", env  # even with one worker
        shown = json.loads(ci_stack.compose("exec", "-T", name, "python3", "-c",
                                            _PROCESSES).stdout)
        guarded = [p for p in shown if f"LLMPROXY_MAX_RSS_MB={env['LLMPROXY_MAX_RSS_MB']}"
                   in p["environ"]]
        assert len(guarded) >= 3 and all(p["rss_mib"] for p in guarded), shown


# each python process of the container: its command line, RSS and whether it has the guard
_PROCESSES = """
import json, os
out = []
for pid in filter(str.isdigit, os.listdir("/proc")):
    try:
        cmd = open(f"/proc/{pid}/cmdline", "rb").read().split(b"\\0")
        env = open(f"/proc/{pid}/environ", "rb").read().split(b"\\0")
        rss = [int(x.split()[1]) // 1024 for x in open(f"/proc/{pid}/status") if x.startswith("VmRSS:")]
    except OSError:
        continue
    if b"python" in cmd[0]:
        out.append({"pid": int(pid), "cmd": cmd[0].decode()[-40:], "rss_mib": rss[0] if rss else 0,
                    "environ": [e.decode(errors="replace") for e in env if e.startswith(b"LLMPROXY_")]})
print(json.dumps(out))
"""


# ---- LAST: nginx's own rate limit -----------------------------------------------------------


def test_nginx_rate_limit_answers_429_json_with_security_headers(ci_stack: GateStack) -> None:
    with client(ci_stack, limits=httpx.Limits(max_connections=BURST_CONCURRENCY)) as http:

        def one(_: int) -> httpx.Response:
            return http.get(f"{ci_stack.https_url}/v1/models", headers=auth(ci_stack))

        with ThreadPoolExecutor(BURST_CONCURRENCY) as pool:
            responses = list(pool.map(one, range(BURST_REQUESTS)))
    statuses = {r.status_code for r in responses}
    limited = [r for r in responses if r.status_code == 429]
    assert statuses == {200, 429}, statuses
    for response in limited:
        assert response.json() == NGINX_429_BODY
        assert response.headers["content-type"] == "application/json"
    assert_security_headers(limited[0])
    assert_security_headers(limited[-1])

