"""Render nginx.conf (TLS front end for LiteLLM) from the spec's nginx settings."""

from __future__ import annotations

import math
import re
from pathlib import Path
from typing import Any, Final

import jinja2

from llmproxy_ops.errors import RenderError
from llmproxy_ops.targets.compose.settings import NginxSettings

# Inside the package (package-data), so an installed wheel renders like a checkout does.
TEMPLATE_DIR: Final = Path(__file__).resolve().parent / "templates"
TEMPLATE_NAME: Final = "nginx.conf.j2"

# Mozilla guideline 6.0, "intermediate", OpenSSL names, in Mozilla's order
# (https://ssl-config.mozilla.org/guidelines/6.0.json). 6.0 dropped the DHE suites, so no
# ssl_dhparam is needed.
MOZILLA_INTERMEDIATE_CIPHERS: Final = ":".join(
    (
        "ECDHE-ECDSA-AES128-GCM-SHA256",
        "ECDHE-RSA-AES128-GCM-SHA256",
        "ECDHE-ECDSA-AES256-GCM-SHA384",
        "ECDHE-RSA-AES256-GCM-SHA384",
        "ECDHE-ECDSA-CHACHA20-POLY1305",
        "ECDHE-RSA-CHACHA20-POLY1305",
    )
)
# nginx rotates session ticket keys itself from 1.23.2 on; before that tickets break
# forward secrecy, so Mozilla turns them off.
TICKETS_SAFE_SINCE: Final = (1, 23, 2)
# Beyond LiteLLM's request_timeout, so LiteLLM's own timeout error reaches the client.
PROXY_TIMEOUT_MARGIN_S: Final = 60
DEFAULT_PID_PATH: Final = "/run/nginx.pid"

# What may reach the config file: no whitespace, quotes, semicolons, braces or `$`.
# How long nginx keeps a resolved upstream address (`resolver ... valid=`). The swarm
# runtime's stop delay is derived from it: a task removed from DNS may still get new
# requests from nginx for this long.
RESOLVER_VALID_S = 5

# The paths API clients use (checked against LiteLLM 1.108.7's LiteLLMRoutes: openai_routes,
# anthropic_routes, google_routes): the inference routes with and without /v1, model listing
# and info, Azure OpenAI's deployment paths, Gemini's generateContent, the public health
# probes. Not: "/" and /docs (Swagger), /openapi.json, /ui/ (the admin UI), key, user, team
# and config management, pass-through routes. Every request still needs LiteLLM's key; this
# shrinks what answers without one and what a leaked virtual key can reach.
API_PATHS: Final = (
    r"^(/v1)?/(chat/completions|completions|embeddings|moderations|rerank"
    r"|models(/.+)?|model/info|model_group/info|responses(/.+)?"
    r"|messages|messages/count_tokens|images/(generations|edits)|audio/(speech|transcriptions)"
    r"|utils/token_counter)$"
    r"|^/v2/rerank$"
    r"|^/openai/deployments/[^/]+/(chat/completions|completions|embeddings)$"
    r"|^(/v1beta)?/models/[^/]+:(generateContent|streamGenerateContent|countTokens)$"
    r"|^/health/(liveliness|readiness)$"
)

_TOKEN = re.compile(r"[A-Za-z0-9._:/\[\]-]+")
_HOST = re.compile(r"[A-Za-z0-9]([A-Za-z0-9.-]*[A-Za-z0-9])?")


def render_nginx(
    settings: NginxSettings,
    *,
    upstreams: list[str],
    upstream_port: int = 4000,
    request_timeout: float = 600,
    nginx_version: tuple[int, int, int] | None = None,
    certs_path: str = "/etc/nginx/certs",
    listen_address: str | None = None,
    runtime_dir: str | None = None,
    resolver: str | None = None,
    upstream_include: str | None = None,
    api_only: bool = False,
) -> str:
    """nginx.conf text; deterministic (the same arguments always give the same bytes).

    `upstreams` are LiteLLM host names (one per replica). `nginx_version` None renders the
    settings that are safe on every version. `listen_address` (default: all addresses) and
    `runtime_dir` (pid file and temp folders; default: nginx's compiled-in paths) exist for
    running the config outside a container, as the tests do. `resolver` (a DNS server
    address): the one upstream name is resolved at run time (Swarm tasks come and go).
    `upstream_include` (a path in nginx's container) takes the upstream's `server` lines from
    that file (`render_upstream`) instead of listing `upstreams` inline. `settings.bind` is
    not used here: it is where compose publishes the ports, not where nginx listens in its
    container. `api_only`: only API_PATHS reach LiteLLM, everything else gets a 404 here.
    """
    context = _context(settings, upstreams, upstream_port, request_timeout, nginx_version)
    context |= {
        "certs_path": _path(certs_path, "certs_path"),
        "listen_address": _token(listen_address, "listen_address") if listen_address else None,
        "runtime_dir": _path(runtime_dir, "runtime_dir") if runtime_dir else None,
        "resolver": _token(resolver, "resolver") if resolver else None,
        "resolver_valid_s": RESOLVER_VALID_S,
        "server_failures": SERVER_FAILURES,
        "upstream_include": _path(upstream_include, "upstream_include")
        if upstream_include
        else None,
        "pid_path": _path(runtime_dir, "runtime_dir") + "/nginx.pid"
        if runtime_dir
        else DEFAULT_PID_PATH,
        "api_paths": API_PATHS if api_only else None,
    }
    return _template().render(context)


def _context(
    settings: NginxSettings,
    upstreams: list[str],
    upstream_port: int,
    request_timeout: float,
    nginx_version: tuple[int, int, int] | None,
) -> dict[str, Any]:
    return {
        "server_name": _token(settings.server_name, "server_name"),
        "http_port": _port(settings.http_port, "http_port"),
        "https_port": _port(settings.https_port, "https_port"),
        "redirect_target": redirect_target(settings.https_port),
        "rate": _token(settings.rate, "rate"),
        "burst": int(settings.burst),
        "client_max_body_size": _token(settings.client_max_body_size, "client_max_body_size"),
        "allow": [_token(c, "allow") for c in settings.allow],
        "basic_auth": bool(settings.basic_auth),
        "hsts_max_age": int(settings.hsts_max_age),
        "upstreams": _upstreams(upstreams),
        "upstream_port": _port(upstream_port, "upstream_port"),
        "request_timeout_s": _seconds(request_timeout),
        "proxy_timeout_s": _seconds(request_timeout) + PROXY_TIMEOUT_MARGIN_S,
        "session_tickets_off": nginx_version is None or tuple(nginx_version) < TICKETS_SAFE_SINCE,
        "ciphers": MOZILLA_INTERMEDIATE_CIPHERS,
    }


# One failed connection takes a replica out for 2 s, then it is tried again: a replica that
# crashed and came back (15-30 s of LiteLLM start-up) serves again at once, where 3 fails in
# 10 s left "no live upstreams" for 10 s at a time. (A single server is never taken out.)
SERVER_FAILURES = "max_fails=1 fail_timeout=2s"


def render_upstream(servers: list[tuple[str, bool]], upstream_port: int = 4000) -> str:
    """The `server` lines of the upstream block: (host, down) per replica, in order.

    A replica marked down keeps its line (nginx resolves it at reload) but gets no new
    request; the ones in flight on it finish on the old workers.
    """
    if not any(not down for _, down in servers):
        raise RenderError("nginx needs at least one LiteLLM upstream that is not down")
    port = _port(upstream_port, "upstream_port")
    hosts = _upstreams([host for host, _ in servers])
    lines = [f"server {h}:{port} down;" if down else f"server {h}:{port} {SERVER_FAILURES};"
             for h, (_, down) in zip(hosts, servers, strict=True)]
    return "# Written by llmproxy-ops (render, then each rollout step); do not edit.\n" + "".join(
        f"{line}\n" for line in lines)


def redirect_target(https_port: int) -> str:
    """Where plain HTTP is sent: same host and URI; the port only when it is not 443."""
    port = "" if https_port == 443 else f":{https_port}"
    return f"https://$host{port}$request_uri"


def _template() -> jinja2.Template:
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(TEMPLATE_DIR),
        undefined=jinja2.StrictUndefined,
        keep_trailing_newline=True,
        autoescape=False,  # noqa: S701 - nginx syntax, not HTML; values are validated tokens
    )
    try:
        return env.get_template(TEMPLATE_NAME)
    except jinja2.TemplateNotFound as exc:
        raise RenderError(
            f"nginx template not found: {TEMPLATE_DIR / TEMPLATE_NAME}",
            hint="run llmproxy-ops from a checkout of the project (make install)",
        ) from exc


def _upstreams(hosts: list[str]) -> list[str]:
    if not hosts:
        raise RenderError("nginx needs at least one LiteLLM upstream host")
    for host in hosts:
        if not _HOST.fullmatch(host):
            raise RenderError(f"invalid upstream host name for nginx: {host!r}")
    return list(hosts)


def _token(value: str, name: str) -> str:
    if not _TOKEN.fullmatch(str(value)):
        raise RenderError(
            f"nginx setting {name} has characters nginx.conf cannot take: {value!r}",
            hint="use letters, digits and . : / - only",
        )
    return str(value)


def _path(value: str, name: str) -> str:
    return _token(value.rstrip("/") or "/", name)


def _port(value: int, name: str) -> int:
    if not 1 <= int(value) <= 65535:
        raise RenderError(f"nginx setting {name} is not a TCP port: {value!r}")
    return int(value)


def _seconds(value: float) -> int:
    if value <= 0:
        raise RenderError(f"request_timeout must be positive, got {value!r}")
    return math.ceil(value)
