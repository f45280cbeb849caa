"""nginx for perf.py: the static upstream (never the bottleneck) and our rendered front end."""

from __future__ import annotations

import json
import signal
import subprocess
import time
from pathlib import Path

import httpx

from llmproxy_ops.ops.certs import create_self_signed
from llmproxy_ops.render.nginx import render_nginx
from llmproxy_ops.targets.compose.settings import NginxSettings

NGINX = "/usr/sbin/nginx"
# what OpenAI answers for gpt-4o-mini (the models of perf_setups.py): a priced model
UPSTREAM_MODEL = "gpt-4o-mini-2024-07-18"
PLAIN_PATH = "/plain/v1/chat/completions"
SSE_PATH = "/sse/v1/chat/completions"
# The front end's rate limit stays on (its cost is part of nginx's), but must not reject: nginx
# counts requests within one millisecond against the burst whatever the rate, so a burst of
# 21 within a millisecond was refused with the default burst of 20.
FRONT_RATE = "1000000r/s"
FRONT_BURST = 100000


def completion_body() -> str:
    return json.dumps(
        {
            "id": "chatcmpl-bench",
            "object": "chat.completion",
            "created": 1700000000,
            "model": UPSTREAM_MODEL,
            "choices": [
                {
                    "index": 0,
                    "message": {"role": "assistant", "content": "Hello! How can I help you today?"},
                    "finish_reason": "stop",
                }
            ],
            "usage": {"prompt_tokens": 10, "completion_tokens": 9, "total_tokens": 19},
        },
        separators=(",", ":"),
    )


def sse_body() -> str:
    """Six content chunks, a finish chunk and [DONE], as OpenAI streams them."""
    words = ["Hello", "!", " How", " can", " I", " help?"]
    deltas = [
        {"role": "assistant", "content": w} if i == 0 else {"content": w}
        for i, w in enumerate(words)
    ]
    chunks = [_chunk(d, None) for d in deltas] + [_chunk({}, "stop")]
    return "".join(f"data: {c}\n\n" for c in chunks) + "data: [DONE]\n\n"


def _chunk(delta: dict[str, str], finish: str | None) -> str:
    choice = {"index": 0, "delta": delta, "finish_reason": finish}
    chunk = {
        "id": "chatcmpl-bench",
        "object": "chat.completion.chunk",
        "created": 1700000000,
        "model": UPSTREAM_MODEL,
        "choices": [choice],
    }
    return json.dumps(chunk, separators=(",", ":"))


def _quoted(text: str) -> str:
    """An nginx single-quoted string (the bodies hold no `$`; nginx would expand it)."""
    assert "$" not in text
    return "'" + text.replace("\\", "\\\\").replace("'", "\\'").replace("\n", "\\n") + "'"


def upstream_conf(run_dir: Path, port: int) -> str:
    temp = "\n".join(
        f"    {k}_temp_path {run_dir}/{k};"
        for k in ("client_body", "proxy", "fastcgi", "uwsgi", "scgi")
    )
    return f"""worker_processes 1;
pid {run_dir}/nginx.pid;
error_log stderr warn;
daemon off;
events {{ worker_connections 4096; }}
http {{
    access_log off;
{temp}
    keepalive_requests 1000000;
    server {{
        listen 127.0.0.1:{port};
        location = {PLAIN_PATH} {{
            default_type application/json; return 200 {_quoted(completion_body())};
        }}
        location = {SSE_PATH} {{
            default_type text/event-stream; return 200 {_quoted(sse_body())};
        }}
    }}
}}
"""


def front_conf(
    run_dir: Path, proxy_port: int, https_port: int, http_port: int, plain_port: int
) -> str:
    """Our rendered nginx.conf, run outside a container, in front of a local-runtime proxy.

    The rendered config serves the API on TLS only (plain HTTP redirects). To measure TLS's
    own cost, one extra `listen` without `ssl` is added to the same TLS server block: same
    locations, headers, rate limit and upstream keep-alive, no TLS.
    """
    create_self_signed(run_dir / "certs", ["localhost"], force=True)
    settings = NginxSettings(
        https_port=https_port, http_port=http_port, rate=FRONT_RATE, burst=FRONT_BURST
    )
    text = render_nginx(
        settings,
        upstreams=["127.0.0.1"],
        upstream_port=proxy_port,
        certs_path=str(run_dir / "certs"),
        listen_address="127.0.0.1",
        runtime_dir=str(run_dir),
    )
    tls_listen = f"listen 127.0.0.1:{https_port} ssl;"
    assert text.count(tls_listen) == 1, "rendered nginx.conf changed shape: update perf_nginx"
    text = text.replace(tls_listen, f"{tls_listen}\n        listen 127.0.0.1:{plain_port};")
    # The access log stays on (it is part of the deployment) but goes to a file, not our tty.
    return "daemon off;\n" + text.replace(
        "access_log /dev/stdout", f"access_log {run_dir}/access.log"
    )


class Nginx:
    """One nginx master in its own process group (its CPU is counted by group)."""

    def __init__(self, run_dir: Path, conf: str):
        self.run_dir = run_dir
        run_dir.mkdir(parents=True, exist_ok=True)
        (run_dir / "nginx.conf").write_text(conf)
        self.log = (run_dir / "nginx.log").open("ab")
        argv = [NGINX, "-p", str(run_dir), "-e", "stderr", "-c", str(run_dir / "nginx.conf")]
        self.proc = subprocess.Popen(argv, stdout=self.log, stderr=self.log, start_new_session=True)

    @property
    def pgid(self) -> int:
        return self.proc.pid

    def wait_ready(self, url: str, timeout: float = 10.0) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"nginx exited: see {self.run_dir / 'nginx.log'}")
            try:
                httpx.get(url, timeout=1.0, verify=False)
                return
            except httpx.HTTPError:
                time.sleep(0.1)
        raise RuntimeError(f"nginx did not answer {url} within {timeout} s")

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGQUIT)  # graceful: master and workers
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)
        self.log.close()
