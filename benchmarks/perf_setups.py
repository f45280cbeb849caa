"""The setups perf.py compares: how each one is configured, started and reached."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import _common as bench
import seeds_way
import yaml
from perf_load import Target
from perf_nginx import PLAIN_PATH, SSE_PATH, Nginx, front_conf, upstream_conf

from llmproxy_ops.render.env_manifest import RUNTIME_DEFAULTS, runtime_environment
from llmproxy_ops.render.litellm_config import litellm_config
from llmproxy_ops.spec import load_environment, load_files
from llmproxy_ops.spec.located import to_plain
from llmproxy_ops.targets.local.process import LaunchSpec, LocalRuntime

MASTER_KEY = "sk-benchmark-master-key-0123456789"
MODEL = "bench-model"


@dataclass(frozen=True)
class Candidate:
    """A variant of our rendered default: stack and litellm_settings overrides on top of it."""

    key: str
    label: str
    stack: dict[str, Any] = field(default_factory=dict)
    litellm_settings: dict[str, Any] = field(default_factory=dict)
    launch: dict[str, Any] = field(default_factory=dict)  # LaunchSpec fields, e.g. reuse_port
    python: str | None = None  # another CPython (e.g. "3.13"): a venv of its own, same lock


# What was tried for the default. Each is explicit about server/workers/logging/GC so it means
# the same thing whatever the default currently is (the default itself is the `default` setup).
_LOG_GC = {"LITELLM_LOG": "ERROR", "PYTHON_GC_THRESHOLD": "700,10,1000"}
CANDIDATES: tuple[Candidate, ...] = (
    Candidate(
        "uvicorn1",
        "uvicorn x1, base settings, no log/GC tuning",
        {"server": "uvicorn", "workers": 1, "environment": {}},
    ),
    Candidate(
        "uvicorn2",
        "uvicorn x2, a socket per worker, no log/GC tuning",
        {"server": "uvicorn", "workers": 2, "environment": {}},
    ),
    Candidate(
        "uvicorn2_shared",
        "uvicorn x2, one shared socket (litellm --num_workers 2), LITELLM_LOG=ERROR, GC "
        "(previous default)",
        {"server": "uvicorn", "workers": 2, "environment": _LOG_GC},
        launch={"reuse_port": False},
    ),
    Candidate(
        "uvicorn2_nofreeze",
        "our default without gc.freeze after start-up (LLMPROXY_GC_FREEZE=0)",
        {"server": "uvicorn", "workers": 2,
         "environment": {**_LOG_GC, "LLMPROXY_GC_FREEZE": "0"}},
    ),
    Candidate(
        "uvicorn2_unshared",
        "our default, each worker importing the proxy app itself (LLMPROXY_SHARE_APP=0: "
        "a spawned fork server preloading litellm, the previous default)",
        {"server": "uvicorn", "workers": 2,
         "environment": {**_LOG_GC, "LLMPROXY_SHARE_APP": "0"}},
    ),
    Candidate(
        "uvicorn2_py313",
        "our default on CPython 3.13 (uvicorn x2, a socket per worker, LITELLM_LOG=ERROR, GC)",
        {"server": "uvicorn", "workers": 2, "environment": _LOG_GC},
        python="3.13",
    ),
    Candidate(
        "metrics",
        "our default with stack.metrics: true (LiteLLM's prometheus callback, 2 workers "
        "sharing a multiprocess folder)",
        {"server": "uvicorn", "workers": 2, "environment": _LOG_GC, "metrics": True},
    ),
    Candidate(
        "gunicorn2_tuned",
        "gunicorn x2, LITELLM_LOG=ERROR, GC",
        {"server": "gunicorn", "workers": 2, "environment": _LOG_GC},
    ),
    Candidate(
        "granian1_tuned",
        "granian x1, LITELLM_LOG=ERROR, GC",
        {"server": "granian", "workers": 1, "environment": _LOG_GC},
    ),
    Candidate(
        "granian2",
        "granian x2, no log/GC tuning",
        {"server": "granian", "workers": 2, "environment": {}},
    ),
    Candidate(
        "granian2_err",
        "granian x2, LITELLM_LOG=ERROR, default GC",
        {"server": "granian", "workers": 2, "environment": {"LITELLM_LOG": "ERROR"}},
    ),
    Candidate(
        "granian2_nojson",
        "granian x2, LITELLM_LOG=ERROR, GC, json_logs off",
        {"server": "granian", "workers": 2, "environment": _LOG_GC},
        {"json_logs": False},
    ),
)


def bench_layer(upstream_url: str, candidate: Candidate | None) -> str:
    """A layer on top of configs/base.yaml: the benchmark model, plus a candidate's overrides."""
    doc: dict[str, Any] = {
        "layers": [str(bench.REPO / "configs" / "base.yaml")],
        "model_list": _models(upstream_url),
    }
    if candidate is None:
        # Our default is what the production environment renders: base.yaml's server and
        # environment, prod.yaml's `workers: auto` (base keeps 1 for exact dev rate limits).
        doc["stack"] = {"workers": prod_workers()}
    else:
        doc["stack"] = candidate.stack
        if candidate.litellm_settings:
            doc["litellm_settings"] = candidate.litellm_settings
    return yaml.safe_dump(doc, sort_keys=False)


def prod_workers() -> Any:
    """`stack.workers` as configs/environments/prod.yaml sets it (e.g. "auto")."""
    spec = load_environment(bench.REPO / "configs", "prod")
    stack = spec.root.get("stack")
    return to_plain(stack).get("workers", 1) if isinstance(stack, dict) else 1


def seeds_config(upstream_url: str) -> str:
    """Seed 000's settings (one uvicorn worker, `litellm --config config.yaml --port P`)."""
    doc = {
        "model_list": _models(upstream_url),
        "general_settings": {"master_key": "os.environ/LITELLM_MASTER_KEY"},
        "litellm_settings": {"request_timeout": 600, "set_verbose": False, "json_logs": True},
    }
    return yaml.safe_dump(doc, sort_keys=False)


def _models(upstream_url: str) -> list[dict[str, Any]]:
    """One model group per upstream path: the static upstream cannot read `stream` in a body."""
    # A model LiteLLM has a price for, like every model of the seeds: an unpriced one makes
    # LiteLLM run its zero-cost diagnostic twice per request (~20% of a request's CPU in
    # py-spy), a cost the deployments being compared never pay.
    params = {"model": "openai/gpt-4o-mini", "api_key": "dummy"}
    return [
        {"model_name": MODEL, "litellm_params": {**params, "api_base": f"{upstream_url}/plain/v1"}},
        {
            "model_name": f"{MODEL}-stream",
            "litellm_params": {**params, "api_base": f"{upstream_url}/sse/v1"},
        },
    ]


@dataclass
class Running:
    """A started setup: how to reach it, what it ran as, and how to stop it."""

    key: str
    label: str
    target: Target
    info: dict[str, Any]
    stop: Any  # zero-argument callable


def start_upstream(work: Path) -> Running:
    port = bench.free_port()
    nginx = Nginx(work / "upstream", upstream_conf(work / "upstream", port))
    url = f"http://127.0.0.1:{port}"
    nginx.wait_ready(url + PLAIN_PATH)
    target = Target(url=url, groups=(nginx.pgid,), key=None, path=PLAIN_PATH, stream_path=SSE_PATH)
    info = {"kind": "nginx static body", "workers": 1}
    return Running("upstream", "upstream alone (nginx, static body)", target, info, nginx.stop)


def start_seeds(work: Path, upstream_url: str) -> Running:
    """The seeds' way exactly: their venv's `litellm --config` (benchmarks/seeds_way.py)."""
    config = work / "seeds" / "config.yaml"
    config.parent.mkdir(parents=True, exist_ok=True)
    config.write_text(seeds_config(upstream_url))
    proxy = seeds_way.start(bench.seeds_litellm(), config, bench.free_port(), MASTER_KEY,
                            work / "seeds" / "litellm.log")
    info = {
        "server": "litellm --config (LiteLLM's CLI: uvicorn, 1 worker)",
        "workers": 1,
        "environment": {},
        "config": "seed 000",
        "venv": "litellm[proxy] only (benchmarks/.venv-seeds)",
        "time_to_healthy_s": proxy.time_to_healthy_s,
        "pid": proxy.pgid,
    }
    target = Target(url=proxy.url, groups=(proxy.pgid,), key=MASTER_KEY, model=MODEL,
                    stream_model=MODEL + "-stream")
    return Running("seeds", "seeds' way: litellm --config, uvicorn x1", target, info, proxy.stop)


def start_rendered(work: Path, upstream_url: str, candidate: Candidate | None) -> Running:
    """Our default (candidate None) or a candidate, rendered by our own code, local runtime."""
    key = candidate.key if candidate else "default"
    folder = work / key
    folder.mkdir(parents=True, exist_ok=True)
    layer = folder / "bench.yaml"
    layer.write_text(bench_layer(upstream_url, candidate))
    spec = load_files([layer])
    config = folder / "config.yaml"
    config.write_text(yaml.safe_dump(litellm_config(spec), sort_keys=False))
    stack = spec.stack
    environment = runtime_environment(spec)
    if candidate is not None:
        # A candidate's environment replaces base.yaml's (a layer can only add keys), so
        # "no log/GC tuning" really runs without LITELLM_LOG and PYTHON_GC_THRESHOLD.
        environment = {**RUNTIME_DEFAULTS, **candidate.stack.get("environment", {})}
    env = {**environment, "LITELLM_MASTER_KEY": MASTER_KEY}
    launch = LaunchSpec(
        config_path=config,
        env=env,
        port=bench.free_port(),
        workers=stack.workers,
        server=stack.server,
        startup_timeout=300,
        metrics=stack.metrics,  # the callback is in config.yaml; the workers' shared folder
        **(candidate.launch if candidate else {}),
    )
    info = {
        "server": stack.server,
        "workers": stack.workers,
        "socket_per_worker": launch.per_worker_sockets,
        "environment": environment,
        "litellm_settings": litellm_config(spec).get("litellm_settings", {}),
    }
    label = candidate.label if candidate else f"our default ({launch.serving})"
    python = candidate.python if candidate else None
    litellm_bin = bench.python_litellm(python) if python else None
    if python:
        info["python"] = python
    return _start_local(folder, launch, key, label, info, litellm_bin)


def _start_local(
    folder: Path,
    launch: LaunchSpec,
    key: str,
    label: str,
    info: dict[str, Any],
    litellm_bin: Path | None = None,
) -> Running:
    runtime = LocalRuntime(folder / "run", litellm_bin=litellm_bin)
    status = runtime.up(launch)
    assert status.pid is not None and status.url is not None
    info = {**info, "time_to_healthy_s": status.time_to_healthy_s, "pid": status.pid}
    target = Target(
        url=status.url,
        groups=(status.pid,),
        key=MASTER_KEY,
        model=MODEL,
        stream_model=MODEL + "-stream",
    )
    return Running(key, label, target, info, runtime.down)


def start_fronts(work: Path, default: Running) -> list[Running]:
    """Our rendered nginx.conf in front of the default proxy: TLS, and the same block on HTTP."""
    folder = work / "front"
    ports = [bench.free_port() for _ in range(3)]
    https_port, http_port, plain_port = ports
    proxy_port = int(default.target.url.rsplit(":", 1)[1])
    nginx = Nginx(folder, front_conf(folder, proxy_port, https_port, http_port, plain_port))
    nginx.wait_ready(f"http://127.0.0.1:{plain_port}/health/liveliness")
    groups = (*default.target.groups, nginx.pgid)
    base = {**default.info, "front": "rendered nginx.conf (nginx 1.22)"}
    plain, tls = (
        Target(url=url, groups=groups, key=MASTER_KEY, stream_model=MODEL + "-stream")
        for url in (f"http://127.0.0.1:{plain_port}", f"https://127.0.0.1:{https_port}")
    )
    return [
        Running("nginx_http", "our default behind nginx, HTTP", plain, base, lambda: None),
        Running("nginx_tls", "our default behind nginx, TLS", tls, base, nginx.stop),
    ]
