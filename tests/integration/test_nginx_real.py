"""The rendered nginx.conf with a real nginx: `nginx -t` on every profile, then real traffic.

Real nginx (Debian's `nginx-light`) in front of the fake provider standing in for LiteLLM,
on free loopback ports, with a certificate from our own certs module.
"""

from __future__ import annotations

import contextlib
import json
import shutil
import socket
import ssl
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from aiohttp import web

from llmproxy_ops.ops.certs import CertPaths, create_self_signed
from llmproxy_ops.render.nginx import render_nginx
from llmproxy_ops.targets.compose.settings import NginxSettings
from llmproxy_ops.testing.fake_provider import FakeProvider
from tests.conftest import free_port

LIVENESS = "/health/liveliness"
RATE_LIMIT_BODY = {
    "error": {"message": "rate limit exceeded (nginx)", "type": "rate_limit_error", "code": 429}
}
SECURITY_HEADERS = {
    "strict-transport-security": "max-age=31536000; includeSubDomains",
    "x-content-type-options": "nosniff",
    "x-frame-options": "DENY",
    "referrer-policy": "no-referrer",
}
KEY = {"Authorization": "Bearer sk-test"}


def nginx_bin() -> str:
    found = shutil.which("nginx") or next(
        (p for p in ("/usr/sbin/nginx", "/usr/local/sbin/nginx") if Path(p).exists()), None
    )
    if found is None:
        pytest.fail(
            "nginx is not installed; these tests need a real one: apt-get install -y nginx-light"
        )
    return found




@pytest.fixture(scope="module")
def certs(tmp_path_factory: pytest.TempPathFactory) -> CertPaths:
    folder = tmp_path_factory.mktemp("certs")
    paths = create_self_signed(folder, [])
    # Only read by a worker at request time; a hash, never a password.
    (folder / ".htpasswd").write_text("user:$apr1$abcdefgh$0000000000000000000000\n")
    return paths


def write_conf(prefix: Path, settings: NginxSettings, certs: CertPaths, **kwargs: object) -> Path:
    (prefix / "run").mkdir(parents=True, exist_ok=True)
    kwargs.setdefault("upstreams", ["127.0.0.1"])
    text = render_nginx(
        settings,
        certs_path=str(certs.cert.parent),
        listen_address="127.0.0.1",
        runtime_dir=str(prefix / "run"),
        **kwargs,  # type: ignore[arg-type]
    )
    conf = prefix / "nginx.conf"
    conf.write_text(text, encoding="utf-8")
    return conf


# --- nginx -t on every profile -----------------------------------------------------------

PROFILES: dict[str, tuple[NginxSettings, dict[str, Any]]] = {
    "defaults": (NginxSettings(), {}),
    "allowlist": (NginxSettings(allow=("192.168.1.0/24", "203.0.113.45", "::1")), {}),
    "basic_auth": (NginxSettings(basic_auth=True), {}),
    "custom_ports": (NginxSettings(https_port=8443, http_port=8080, rate="10r/s", burst=0), {}),
    "two_replicas": (
        NginxSettings(),
        {"upstreams": ["127.0.0.1", "localhost"], "upstream_port": 4001},
    ),
    "nginx_old": (NginxSettings(), {"nginx_version": (1, 22, 1)}),
    "api_only": (NginxSettings(basic_auth=True, burst=0), {"api_only": True}),
    "nginx_new": (NginxSettings(), {"nginx_version": (1, 27, 0)}),
    "everything": (
        NginxSettings(
            allow=("10.0.0.0/8",), basic_auth=True, client_max_body_size="100m", hsts_max_age=0
        ),
        {"upstreams": ["localhost", "127.0.0.1"], "request_timeout": 30},
    ),
}


@pytest.mark.parametrize("profile", sorted(PROFILES))
def test_nginx_t_accepts_profile(profile: str, certs: CertPaths, tmp_path: Path) -> None:
    settings, kwargs = PROFILES[profile]
    conf = write_conf(tmp_path, settings, certs, **kwargs)
    done = subprocess.run(
        [nginx_bin(), "-t", "-p", str(tmp_path), "-c", str(conf)],
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )
    assert done.returncode == 0, (
        f"nginx -t failed for {profile}:\n{done.stderr}\n--- conf ---\n{conf.read_text()}"
    )
    assert "test is successful" in done.stderr
    assert "[warn]" not in done.stderr, done.stderr


# --- real traffic ------------------------------------------------------------------------


@dataclass
class Gateway:
    https: str
    http: str
    https_port: int
    http_port: int
    cafile: str
    log_path: Path

    def client(self) -> httpx.Client:
        return httpx.Client(base_url=self.https, verify=self.cafile, timeout=30)


@contextlib.contextmanager
def run_nginx(
    prefix: Path, settings: NginxSettings, certs: CertPaths, upstream_port: int
) -> Iterator[Gateway]:
    """Start nginx in the foreground on settings' ports, wait until it listens, always stop it."""
    conf = write_conf(prefix, settings, certs, upstream_port=upstream_port)
    log_path = prefix / "nginx.log"
    with log_path.open("wb") as log:
        proc = subprocess.Popen(
            [nginx_bin(), "-p", str(prefix), "-c", str(conf), "-g", "daemon off;"],
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        try:
            _wait_listening(proc, settings.https_port, log_path)
            yield Gateway(
                f"https://127.0.0.1:{settings.https_port}",
                f"http://127.0.0.1:{settings.http_port}",
                settings.https_port,
                settings.http_port,
                str(certs.cert),
                log_path,
            )
        finally:
            proc.terminate()
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(timeout=10)


def _wait_listening(proc: subprocess.Popen[bytes], port: int, log_path: Path) -> None:
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise AssertionError(f"nginx exited with {proc.returncode}:\n{log_path.read_text()}")
        with (
            contextlib.suppress(OSError),
            socket.create_connection(("127.0.0.1", port), timeout=0.5),
        ):
            return
        time.sleep(0.05)
    raise AssertionError(f"nginx not listening on {port} after 15s:\n{log_path.read_text()}")


@pytest.fixture(scope="module")
def fake() -> Iterator[FakeProvider]:
    provider = FakeProvider()
    # The fake has no LiteLLM liveness route; add one so the probe path answers like LiteLLM.
    provider._app.router.add_get(LIVENESS, _alive)  # noqa: SLF001 - test-only route
    # ...and a /metrics that answers, so the gateway's refusal below is nginx's own
    provider._app.router.add_get("/metrics/", _alive)  # noqa: SLF001 - test-only route
    with provider:
        yield provider


async def _alive(request: web.Request) -> web.Response:
    return web.Response(text="I'm alive!")


def _settings(**overrides: object) -> NginxSettings:
    return NginxSettings(https_port=free_port(), http_port=free_port(), **overrides)  # type: ignore[arg-type]


@pytest.fixture(scope="module")
def gateway(
    fake: FakeProvider, certs: CertPaths, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Gateway]:
    settings = _settings(rate="100r/s", burst=100, client_max_body_size="1k")
    port = int(fake.url.rsplit(":", 1)[1])
    with run_nginx(tmp_path_factory.mktemp("nginx"), settings, certs, port) as gw:
        yield gw


def assert_security_headers(response: httpx.Response) -> None:
    for name, value in SECURITY_HEADERS.items():
        assert response.headers.get(name) == value, (
            response.status_code,
            name,
            dict(response.headers),
        )


def chat(stream: bool = False) -> dict[str, object]:
    return {
        "model": "gpt-4o-mini",
        "messages": [{"role": "user", "content": "hi"}],
        "stream": stream,
    }


@pytest.mark.integration
def test_https_with_self_signed_cert_and_headers_on_200_and_401(gateway: Gateway) -> None:
    with gateway.client() as client:
        ok = client.post("/v1/chat/completions", json=chat(), headers=KEY)
        denied = client.post("/v1/chat/completions", json=chat())
    assert ok.status_code == 200, ok.text
    assert ok.json()["object"] == "chat.completion"
    assert_security_headers(ok)
    assert denied.status_code == 401  # the upstream's rejection passes through, headers added
    assert_security_headers(denied)
    assert "server" not in ok.headers or ok.headers["server"] == "nginx"  # no version number


@pytest.mark.integration
def test_metrics_are_never_served_through_the_gateway(gateway: Gateway, fake: FakeProvider) -> None:
    assert httpx.get(fake.url + "/metrics/").status_code == 200  # the upstream would answer
    with gateway.client() as client:
        answers = [client.get(path, headers=KEY) for path in ("/metrics", "/metrics/", "/metrics/x")]
    assert [r.status_code for r in answers] == [404, 404, 404]
    assert "not served through the gateway" in answers[0].json()["error"]["message"]
    assert_security_headers(answers[0])


@pytest.mark.integration
def test_untrusted_cert_is_rejected_by_a_verifying_client(gateway: Gateway) -> None:
    with pytest.raises(httpx.ConnectError), httpx.Client(verify=True) as client:
        client.get(gateway.https + LIVENESS)


@pytest.mark.integration
def test_http_redirects_to_https_keeping_port_and_uri(gateway: Gateway) -> None:
    response = httpx.get(gateway.http + "/v1/models?limit=2", follow_redirects=False)
    assert response.status_code == 301
    assert (
        response.headers["location"] == f"https://127.0.0.1:{gateway.https_port}/v1/models?limit=2"
    )


@pytest.mark.integration
def test_liveness_answers_on_plain_http(gateway: Gateway) -> None:
    response = httpx.get(gateway.http + LIVENESS, follow_redirects=False)
    assert response.status_code == 200
    assert response.text == "I'm alive!"


@pytest.mark.integration
def test_oversized_body_gets_json_413_with_headers(gateway: Gateway) -> None:
    with gateway.client() as client:
        response = client.post("/v1/chat/completions", content=b"x" * 4096, headers=KEY)
    assert response.status_code == 413
    assert response.headers["content-type"] == "application/json"
    assert response.json()["error"]["code"] == 413
    assert_security_headers(response)


@pytest.mark.integration
def test_nginx_rate_limit_gets_json_429_with_headers(
    fake: FakeProvider, certs: CertPaths, tmp_path: Path
) -> None:
    settings = _settings(rate="1r/m", burst=0)
    port = int(fake.url.rsplit(":", 1)[1])
    with run_nginx(tmp_path, settings, certs, port) as gw, gw.client() as client:
        first = client.get("/v1/models", headers=KEY)
        second = client.get("/v1/models", headers=KEY)
        alive = client.get(LIVENESS)  # probes are never rate limited
    assert first.status_code == 200
    assert second.status_code == 429
    assert second.headers["content-type"] == "application/json"
    assert second.json() == RATE_LIMIT_BODY
    assert_security_headers(second)
    assert alive.status_code == 200


@pytest.mark.integration
@pytest.mark.parametrize("version", [ssl.TLSVersion.TLSv1, ssl.TLSVersion.TLSv1_1])
def test_old_tls_handshakes_are_refused_by_the_server(
    gateway: Gateway, version: ssl.TLSVersion
) -> None:
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    ctx.set_ciphers("ALL:@SECLEVEL=0")  # so OpenSSL 3 on the client side offers old TLS at all
    ctx.minimum_version = version
    ctx.maximum_version = version
    address = ("127.0.0.1", gateway.https_port)
    with socket.create_connection(address, timeout=5) as sock, pytest.raises(ssl.SSLError) as info:
        ctx.wrap_socket(sock, server_hostname="localhost")
    # The server's protocol_version alert, not a client-side "no protocols available".
    assert "TLSV1_ALERT_PROTOCOL_VERSION" in str(info.value), str(info.value)


@pytest.mark.integration
def test_tls12_and_tls13_are_accepted(gateway: Gateway) -> None:
    for version in (ssl.TLSVersion.TLSv1_2, ssl.TLSVersion.TLSv1_3):
        ctx = ssl.create_default_context(cafile=gateway.cafile)
        ctx.minimum_version = ctx.maximum_version = version
        address = ("127.0.0.1", gateway.https_port)
        with (
            socket.create_connection(address, timeout=5) as sock,
            ctx.wrap_socket(sock, server_hostname="localhost") as tls,
        ):
            assert tls.version() == {"TLSv1_2": "TLSv1.2", "TLSv1_3": "TLSv1.3"}[version.name]


@pytest.mark.integration
def test_sse_chunks_arrive_incrementally_through_nginx(
    gateway: Gateway, fake: FakeProvider
) -> None:
    delay_s = 0.3
    fake.configure(chunk_delay_ms=int(delay_s * 1000), chunks=5)
    try:
        arrivals: list[float] = []
        with gateway.client() as client:
            started = time.monotonic()
            with client.stream(
                "POST", "/v1/chat/completions", json=chat(stream=True), headers=KEY
            ) as response:
                assert response.status_code == 200
                assert_security_headers(response)
                for line in response.iter_lines():
                    if line.startswith("data: "):
                        arrivals.append(time.monotonic())
    finally:
        fake.reset()
    assert len(arrivals) >= 7  # role, 5 pieces, finish, [DONE]
    # The fake sleeps delay_s after every event, so the last one left it no earlier than this:
    last_sent_no_earlier_than = started + (len(arrivals) - 1) * delay_s
    assert arrivals[0] < last_sent_no_earlier_than, (arrivals, started)
    # ...and the events reached the client spread out, not in one burst at the end.
    assert arrivals[-1] - arrivals[0] >= (len(arrivals) - 2) * delay_s, arrivals


@pytest.mark.integration
def test_access_log_is_json_with_timings(gateway: Gateway) -> None:
    with gateway.client() as client:
        assert client.get(LIVENESS).status_code == 200
    # nginx writes access_log to /dev/stdout: the file run_nginx captured.
    lines = gateway.log_path.read_text().splitlines()
    entries = [json.loads(line) for line in lines if line.startswith("{")]
    entry = next(e for e in reversed(entries) if e["uri"] == LIVENESS)
    assert set(entry) >= {"request_time", "upstream_response_time", "status", "remote_addr"}
    assert entry["status"] == 200
