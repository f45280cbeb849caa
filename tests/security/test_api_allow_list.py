"""Finding 13: in production nginx (and the Ingress) pass only the API paths clients use;
LiteLLM's admin UI, /openapi.json and management routes are refused before LiteLLM."""

from __future__ import annotations

import contextlib
import re
import shutil
import socket
import subprocess
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import httpx
import kubernetes_validate
import pytest
import yaml

from llmproxy_ops.ops.certs import create_self_signed
from llmproxy_ops.render.build import render_files
from llmproxy_ops.render.nginx import render_nginx
from llmproxy_ops.spec import load_files
from llmproxy_ops.targets.compose.settings import NginxSettings
from tests.conftest import free_port

K8S_VERSION = "1.32.0"  # the kubectl client on these machines (tests/cli/test_kubernetes_offline)
REFUSED = ["/", "/ui/", "/ui/login", "/openapi.json", "/docs", "/redoc", "/key/generate",
           "/config/yaml", "/user/new", "/model/new", "/v1/../ui/", "/openai/v1/files",
           "/anthropic/v1/messages", "/v1/chat/completions/../../openapi.json"]
ALLOWED = ["/v1/chat/completions", "/chat/completions", "/v1/completions", "/v1/embeddings",
           "/v1/messages", "/v1/messages/count_tokens", "/v1/models",
           "/v1/models/google/gemini-2.5-pro", "/v1/responses", "/v1/responses/resp_1",
           "/health/readiness", "/openai/deployments/gpt/chat/completions",
           "/v1beta/models/gemini-2.5-pro:generateContent"]


class Upstream(BaseHTTPRequestHandler):
    seen: list[str] = []

    def _answer(self) -> None:
        Upstream.seen.append(self.path)
        body = b'{"ok": true}'
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    do_GET = do_POST = _answer  # noqa: N815 - http.server's names

    def log_message(self, *args: object) -> None:
        pass


@contextlib.contextmanager
def gateway(tmp_path: Path, api_only: bool) -> Iterator[str]:
    upstream = ThreadingHTTPServer(("127.0.0.1", 0), Upstream)
    threading.Thread(target=upstream.serve_forever, daemon=True).start()
    certs = create_self_signed(tmp_path / "certs", [])
    settings = NginxSettings(https_port=free_port(), http_port=free_port(), rate="100r/s",
                             burst=100)
    (tmp_path / "run").mkdir()
    conf = tmp_path / "nginx.conf"
    conf.write_text(render_nginx(
        settings, upstreams=["127.0.0.1"], upstream_port=upstream.server_address[1],
        certs_path=str(certs.cert.parent), listen_address="127.0.0.1",
        runtime_dir=str(tmp_path / "run"), api_only=api_only))
    nginx = shutil.which("nginx") or "/usr/sbin/nginx"
    proc = subprocess.Popen([nginx, "-p", str(tmp_path), "-c", str(conf), "-g", "daemon off;"],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 15
        while time.monotonic() < deadline:
            with contextlib.suppress(OSError), socket.create_connection(
                    ("127.0.0.1", settings.https_port), timeout=0.5):
                break
            assert proc.poll() is None, "nginx exited"
            time.sleep(0.05)
        yield f"https://127.0.0.1:{settings.https_port}"
    finally:
        proc.terminate()
        proc.wait(timeout=10)
        upstream.shutdown()
        upstream.server_close()


def _prod_spec(tmp_path: Path, name: str, extra: str = ""):  # noqa: ANN202
    path = tmp_path / f"{name}.yaml"
    path.write_text("model_list: []\nstack: {runtime: compose" + extra + "}\n")
    spec = load_files([path])
    spec.name = name
    return spec


def _api_paths() -> str:
    from llmproxy_ops.render.nginx import API_PATHS

    return API_PATHS


def test_finding_13_production_nginx_passes_only_the_api_paths(tmp_path: Path) -> None:
    API_PATHS = _api_paths()  # noqa: N806
    prod = _prod_spec(tmp_path, "prod")
    assert prod.production and API_PATHS in render_files(prod)["nginx.conf"]
    api_only = prod.stack.compose("prod").nginx_settings.api_only_for(prod.production)
    Upstream.seen = []
    with gateway(tmp_path, api_only) as url, httpx.Client(
            base_url=url, verify=str(tmp_path / "certs/cert.pem")) as client:
        for path in REFUSED:
            response = client.get(path)
            assert response.status_code == 404, path
            assert response.json()["error"]["message"] == (
                "not found: this gateway serves the API paths only (nginx)")
        for path in ALLOWED:
            assert client.post(path, json={}).status_code == 200, path
    assert Upstream.seen == ALLOWED  # nothing refused reached the upstream


def test_finding_13_the_allow_list_is_a_setting(tmp_path: Path) -> None:
    API_PATHS = _api_paths()  # noqa: N806
    dev = _prod_spec(tmp_path, "dev")
    assert not dev.production and API_PATHS not in render_files(dev)["nginx.conf"]
    off = _prod_spec(tmp_path, "prod", ", compose: {nginx: {api_only: false}}")
    assert API_PATHS not in render_files(off)["nginx.conf"]
    on = _prod_spec(tmp_path, "staging", ", production: true")
    assert API_PATHS in render_files(on)["nginx.conf"]


def test_finding_13_the_production_ingress_routes_only_the_api_paths(tmp_path: Path) -> None:
    path = tmp_path / "prod.yaml"
    path.write_text("model_list: []\nstack: {runtime: kubernetes}\n")
    spec = load_files([path])
    spec.name = "prod"
    [ingress] = [d for d in yaml.safe_load_all(render_files(spec)["ingress.yaml"]) if d]
    kubernetes_validate.validate(ingress, K8S_VERSION, strict=True)
    assert ingress["metadata"]["annotations"][
        "nginx.ingress.kubernetes.io/use-regex"] == "true"
    [rule] = ingress["spec"]["rules"]
    [route] = rule["http"]["paths"]
    assert route["pathType"] == "ImplementationSpecific"
    # ingress-nginx: location ~* "^PATH"
    allows = re.compile("^" + route["path"], re.IGNORECASE)
    assert [p for p in ALLOWED if not allows.search(p)] == []
    assert [p for p in REFUSED if allows.search(p) and ".." not in p] == []


@pytest.mark.parametrize("path", ["/ui/", "/openapi.json"])
def test_finding_13_refused_paths_are_refused_by_the_expression(path: str) -> None:
    assert not re.search(_api_paths(), path)
