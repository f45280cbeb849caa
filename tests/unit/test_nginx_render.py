"""render_nginx: the exact directives each profile must carry (nginx -t runs in integration)."""

from __future__ import annotations

import re

import pytest

from llmproxy_ops.errors import RenderError
from llmproxy_ops.render.nginx import render_nginx, render_upstream
from llmproxy_ops.targets.compose.settings import NginxSettings

MOZILLA_CIPHERS = (
    "ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-RSA-AES128-GCM-SHA256:ECDHE-ECDSA-AES256-GCM-SHA384:"
    "ECDHE-RSA-AES256-GCM-SHA384:ECDHE-ECDSA-CHACHA20-POLY1305:ECDHE-RSA-CHACHA20-POLY1305"
)
SECURITY_HEADERS = [
    'add_header X-Content-Type-Options "nosniff" always;',
    'add_header X-Frame-Options "DENY" always;',
    'add_header Referrer-Policy "no-referrer" always;',
]
LOCATION = re.compile(r"^ *location [^{\n]+\{[^}]*\}", re.MULTILINE)
HSTS = 'add_header Strict-Transport-Security "max-age=31536000; includeSubDomains" always;'


def render(settings: NginxSettings | None = None, **kwargs: object) -> str:
    kwargs.setdefault("upstreams", ["litellm"])
    return render_nginx(settings or NginxSettings(), **kwargs)  # type: ignore[arg-type]


def lines(conf: str) -> list[str]:
    return [
        line.strip()
        for line in conf.splitlines()
        if line.strip() and not line.strip().startswith("#")
    ]


def block(conf: str, opening: str) -> list[str]:
    """Directive lines of the block that starts with `opening` (up to its closing brace)."""
    out, depth, inside = [], 0, False
    for line in lines(conf):
        if not inside and line == opening:
            inside = True
        if inside:
            depth += line.count("{") - line.count("}")
            out.append(line)
            if depth == 0:
                return out
    raise AssertionError(f"no block {opening!r}")


def servers(conf: str) -> tuple[list[str], list[str]]:
    """(plain HTTP server block, HTTPS server block)."""
    text = conf.split("    server {")
    assert len(text) == 3, "expected exactly two server blocks"
    return lines(text[1]), lines(text[2])


def test_mozilla_intermediate_tls_lines() -> None:
    got = lines(render())
    for expected in [
        "ssl_protocols TLSv1.2 TLSv1.3;",
        f"ssl_ciphers {MOZILLA_CIPHERS};",
        "ssl_prefer_server_ciphers off;",
        "ssl_session_timeout 1d;",
        "ssl_session_cache shared:MozSSL:10m;",
        "ssl_ecdh_curve X25519:prime256v1:secp384r1;",
    ]:
        assert expected in got
    assert not any(line.startswith("ssl_dhparam") for line in got)


@pytest.mark.parametrize(
    ("version", "tickets_off"),
    [
        (None, True),
        ((1, 22, 1), True),
        ((1, 23, 1), True),
        ((1, 23, 2), False),
        ((1, 27, 0), False),
    ],
)
def test_session_tickets_off_only_before_1_23_2(
    version: tuple[int, int, int] | None, tickets_off: bool
) -> None:
    assert ("ssl_session_tickets off;" in lines(render(nginx_version=version))) is tickets_off


def test_security_headers_only_at_server_level_with_always() -> None:
    conf = render()
    http_server, https_server = servers(conf)
    for header in [HSTS, *SECURITY_HEADERS]:
        assert https_server.count(header) == 1
    for header in SECURITY_HEADERS:
        assert http_server.count(header) == 1
    assert HSTS not in http_server  # HSTS over plain HTTP is ignored by browsers (RFC 6797 7.2)
    # nginx drops inherited add_header in any location that has its own: none may have one.
    for location in LOCATION.findall(conf):
        assert "add_header" not in location, location


def test_custom_hsts_max_age() -> None:
    conf = render(NginxSettings(hsts_max_age=600))
    assert 'add_header Strict-Transport-Security "max-age=600; includeSubDomains" always;' in lines(
        conf
    )


def test_http_redirect_on_default_port_keeps_host_and_uri() -> None:
    http_server, _ = servers(render())
    assert "listen 80;" in http_server
    assert "return 301 https://$host$request_uri;" in http_server


def test_http_redirect_names_a_non_default_https_port() -> None:
    http_server, https_server = servers(render(NginxSettings(https_port=8443, http_port=8080)))
    assert "listen 8080;" in http_server
    assert "return 301 https://$host:8443$request_uri;" in http_server
    assert "listen 8443 ssl;" in https_server


def test_liveness_proxied_on_plain_http() -> None:
    conf = render()
    http_part = conf.split("    server {")[1]
    liveness = block(http_part, "location = /health/liveliness {")
    assert "proxy_pass http://litellm;" in liveness


def test_rate_limit_and_json_error_bodies() -> None:
    conf = render(NginxSettings(rate="30r/s", burst=7))
    got = lines(conf)
    assert "limit_req_zone $binary_remote_addr zone=api:10m rate=30r/s;" in got
    https_part = conf.split("    server {")[2]
    assert "limit_req zone=api burst=7 nodelay;" in block(https_part, "location / {")
    assert "limit_req_status 429;" in got
    assert "error_page 429 @rate_limited;" in got
    assert "error_page 413 @too_large;" in got
    assert block(conf, "location @rate_limited {")[1:] == [
        "default_type application/json;",
        'return 429 \'{"error":{"message":"rate limit exceeded (nginx)",'
        '"type":"rate_limit_error","code":429}}\';',
        "}",
    ]
    assert block(conf, "location @too_large {")[1:] == [
        "default_type application/json;",
        'return 413 \'{"error":{"message":"request body larger than 20m (nginx)",'
        '"type":"invalid_request_error","code":413}}\';',
        "}",
    ]


def test_burst_zero_renders_without_burst() -> None:
    # real nginx: 'invalid burst value "burst=0"'
    https_part = render(NginxSettings(burst=0)).split("    server {")[2]
    assert block(https_part, "location / {")[1] == "limit_req zone=api;"
    assert not any("burst=" in line for line in lines(https_part))


def test_streaming_safe_proxy_settings() -> None:
    got = lines(render(request_timeout=600))
    for expected in [
        "proxy_http_version 1.1;",
        "proxy_buffering off;",
        "proxy_request_buffering on;",
        "proxy_cache off;",
        "proxy_ignore_headers X-Accel-Buffering;",
        "proxy_hide_header X-Accel-Buffering;",
        "gzip off;",
        "proxy_read_timeout 660s;",
        "proxy_send_timeout 660s;",
    ]:
        assert expected in got


def test_timeouts_follow_request_timeout() -> None:
    got = lines(render(request_timeout=120.5))
    assert "proxy_read_timeout 181s;" in got
    assert "proxy_send_timeout 181s;" in got


def test_every_proxied_location_sets_all_forwarding_headers() -> None:
    conf = render()
    proxied = [loc for loc in LOCATION.findall(conf) if "proxy_pass" in loc]
    assert len(proxied) == 3  # liveness on HTTP, liveness on HTTPS, the API
    for location in proxied:
        got = lines(location)
        for expected in [
            "proxy_pass http://litellm;",
            "proxy_set_header Host $host;",
            "proxy_set_header X-Real-IP $remote_addr;",
            "proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;",
            "proxy_set_header X-Forwarded-Proto $scheme;",
            'proxy_set_header Connection "";',
        ]:
            assert expected in got, (expected, location)


def test_upstream_lists_every_replica_with_keepalive() -> None:
    conf = render(upstreams=["litellm-1", "litellm-2"], upstream_port=4001)
    assert block(conf, "upstream litellm {") == [
        "upstream litellm {",
        "server litellm-1:4001 max_fails=1 fail_timeout=2s;",
        "server litellm-2:4001 max_fails=1 fail_timeout=2s;",
        "keepalive 32;",
        "}",
    ]
    assert not any(line.startswith("resolver") for line in lines(conf))  # static upstream block


def test_body_size_certs_and_server_basics() -> None:
    conf = render(
        NginxSettings(client_max_body_size="50m", server_name="gw.example.com"), certs_path="/certs"
    )
    got = lines(conf)
    for expected in [
        "client_max_body_size 50m;",
        "ssl_certificate /certs/cert.pem;",
        "ssl_certificate_key /certs/key.pem;",
        "server_name gw.example.com;",
        "worker_processes auto;",
        "pid /run/nginx.pid;",
        "error_log stderr warn;",
        "access_log /dev/stdout gateway;",
        "server_tokens off;",
    ]:
        assert expected in got
    log_format = conf[conf.index("log_format") : conf.index("access_log")]
    assert "$request_time" in log_format and "$upstream_response_time" in log_format
    assert "$request " not in log_format and "$request_uri" not in log_format  # no query strings


def test_no_allowlist_and_no_auth_by_default() -> None:
    got = lines(render())
    assert not any(line.startswith(("allow ", "deny ", "auth_basic")) for line in got)


def test_allowlist_applies_to_https_server_but_not_liveness() -> None:
    conf = render(NginxSettings(allow=("192.168.1.0/24", "203.0.113.45")))
    _, https_server = servers(conf)
    start = https_server.index("allow 192.168.1.0/24;")
    assert https_server[start : start + 3] == [
        "allow 192.168.1.0/24;",
        "allow 203.0.113.45;",
        "deny all;",
    ]
    https_part = conf.split("    server {")[2]
    assert "allow all;" in block(https_part, "location = /health/liveliness {")


def test_basic_auth_lines_and_open_liveness() -> None:
    conf = render(NginxSettings(basic_auth=True), certs_path="/etc/nginx/certs")
    _, https_server = servers(conf)
    assert 'auth_basic "LLM gateway";' in https_server
    assert "auth_basic_user_file /etc/nginx/certs/.htpasswd;" in https_server
    https_part = conf.split("    server {")[2]
    assert "auth_basic off;" in block(https_part, "location = /health/liveliness {")
    assert 'proxy_set_header Authorization "";' in block(https_part, "location / {")


def test_test_options_listen_address_and_runtime_dir() -> None:
    conf = render(
        NginxSettings(https_port=8443, http_port=8080),
        listen_address="127.0.0.1",
        runtime_dir="/tmp/x/",
    )
    got = lines(conf)
    assert "listen 127.0.0.1:8080;" in got
    assert "listen 127.0.0.1:8443 ssl;" in got
    assert "pid /tmp/x/nginx.pid;" in got
    assert "client_body_temp_path /tmp/x/client_body;" in got


def test_output_is_deterministic() -> None:
    settings = NginxSettings(allow=("10.0.0.0/8",), basic_auth=True)
    assert render(settings, upstreams=["a", "b"]) == render(settings, upstreams=["a", "b"])


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        (
            {"settings": NginxSettings(server_name="x; include /etc/passwd")},
            "nginx setting server_name has characters nginx.conf cannot take: "
            "'x; include /etc/passwd'",
        ),
        (
            {"settings": NginxSettings(allow=("10.0.0.0/8;",))},
            "nginx setting allow has characters nginx.conf cannot take: '10.0.0.0/8;'",
        ),
        ({"upstreams": []}, "nginx needs at least one LiteLLM upstream host"),
        ({"upstreams": ["lite llm"]}, "invalid upstream host name for nginx: 'lite llm'"),
        ({"request_timeout": 0}, "request_timeout must be positive, got 0"),
        (
            {"settings": NginxSettings(https_port=70000)},
            "nginx setting https_port is not a TCP port: 70000",
        ),
    ],
)
def test_unsafe_values_are_refused(kwargs: dict[str, object], message: str) -> None:
    settings = kwargs.pop("settings", NginxSettings())
    with pytest.raises(RenderError) as info:
        render(settings, **kwargs)  # type: ignore[arg-type]
    assert info.value.message == message


def test_upstream_security_headers_are_replaced_not_duplicated() -> None:
    conf = lines(render())
    for name in ["X-Frame-Options", "X-Content-Type-Options", "Referrer-Policy", "Strict-Transport-Security"]:
        assert f"proxy_hide_header {name};" in conf


def test_upstream_include_replaces_the_inline_servers() -> None:
    conf = render(upstreams=["litellm-1", "litellm-2"], upstream_include="/run/llmproxy/upstream.conf")
    assert block(conf, "upstream litellm {") == [
        "upstream litellm {",
        "include /run/llmproxy/upstream.conf;",
        "keepalive 32;",
        "}",
    ]


def test_render_upstream_marks_a_replica_down() -> None:
    text = render_upstream([("litellm-1", True), ("litellm-2", False)], 4000)
    assert text.splitlines()[1:] == [
        "server litellm-1:4000 down;",
        "server litellm-2:4000 max_fails=1 fail_timeout=2s;",
    ]


@pytest.mark.parametrize(
    ("servers", "message"),
    [
        ([("litellm-1", True)], "nginx needs at least one LiteLLM upstream that is not down"),
        ([("a;b", False)], "invalid upstream host name for nginx: 'a;b'"),
    ],
)
def test_render_upstream_refuses(servers: list[tuple[str, bool]], message: str) -> None:
    with pytest.raises(RenderError) as exc:
        render_upstream(servers, 4000)
    assert exc.value.message == message
