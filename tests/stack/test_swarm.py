"""`stack.runtime: swarm` on a real single-node swarm (issue 10): one deploy for the module.

The swarm is created by the fixture when the engine is not in one, and left at the end (the
engine is shared with compose stacks that assume no swarm). The stack: 2 LiteLLM replicas ×
2 workers with LiteLLM's MLflow callback, Redis, Postgres, MLflow, the fake provider, nginx
and Prometheus.
What every target must do (smoke, exact rpm and its control without Redis, changes, a failing
change, key rotation, backups, `down`) the conformance suite proves on swarm too (target
swarm-2, tests/conformance/); this module keeps what only Swarm has: its secrets, the MLflow
callback across the overlay, a replica killed under load.
"""

from __future__ import annotations

import contextlib
import json
import secrets
import shutil
import subprocess
import sys
import threading
import time
import uuid
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import ClassVar, Self

import httpx
import pytest
import yaml

from llmproxy_ops.ops.apply.deploy import ApplyRequest, apply
from llmproxy_ops.ops.certs import CERT_FILE, create_self_signed
from llmproxy_ops.pipeline import Target, runtime_for, start_target
from llmproxy_ops.targets.swarm.runtime import SwarmRuntime
from tests import prometheus_in_container as prom
from tests.conftest import REPO, free_port
from tests.swarm_node import docker as _docker
from tests.swarm_node import one_node_swarm

pytestmark = pytest.mark.stack

ENV = "swarmtest"
STACK = "llmproxy-swarmtest"
RPM = 8
LOAD_CONCURRENCY = 4
PACE_S = 0.1
MAX_REQUESTS = 8000  # a bound on the load, above what an apply takes

LAYER = """\
layers: [{ci}]
model_list:
  - model_name: limited
    litellm_params: {{model: openai/limited, mock_response: "ok", api_key: dummy, rpm: {rpm}}}
  - model_name: load
    litellm_params: {{model: openai/load, mock_response: "ok", api_key: dummy}}
litellm_settings:
  num_retries: {retries}{callbacks}
router_settings:
  optional_pre_call_checks: ["enforce_model_rate_limits"]
stack:
  runtime: swarm
  workers: 2
  startup_timeout: 480
  # no IPsec ESP in these machines' kernels: an encrypted overlay would not carry traffic
  # between the two-node test's nodes (stack.swarm.encrypted, targets/swarm/settings.py)
  swarm: {{stack: {stack}, monitor_s: 5, encrypted: false}}
  compose:
    project: {stack}
    # start-first runs a third LiteLLM task during an update: its reservation must fit on
    # the one 2-CPU node beside the others (the default 0.5 CPU each did not: "no suitable node").
    litellm: {{replicas: 2, cpus_reserved: {cpus}, memory_reserved: 512m}}
    redis: {{image: llmproxy-ops/redis:7.0}}{mlflow}
    nginx: {{https_port: {https}, http_port: {http}, rate: 6000r/m, burst: 2000}}
"""

# The ci layer's MLflow service and LiteLLM callback (WITH_MLFLOW), or neither.
WITH_MLFLOW = {"callbacks": "", "mlflow": ""}
WITHOUT_MLFLOW = {"callbacks": "\n  success_callback: []\n  failure_callback: []",
                  "mlflow": "\n    mlflow: {enabled: false}"}


@dataclass
class Swarm:
    root: Path
    url: str
    key: str
    ca: Path
    secrets: dict[str, str]
    https: int
    http: int
    startup_s: float
    stack: ClassVar[str] = STACK
    observability: ClassVar[dict[str, str]] = WITH_MLFLOW

    @classmethod
    def prepare(cls, root: Path) -> Self:
        """The project folder: an .env of fresh secrets, certificates, two free ports."""
        values = {"LITELLM_MASTER_KEY": f"sk-swarm-{secrets.token_hex(16)}",
                  "POSTGRES_PASSWORD": secrets.token_urlsafe(24),
                  "FAKE_PROVIDER_KEY": f"fake-{secrets.token_hex(12)}",
                  "REDIS_PASSWORD": secrets.token_urlsafe(24)}
        env_file = root / ".env"
        env_file.write_text("".join(f"{k}={v}\n" for k, v in values.items()), encoding="utf-8")
        env_file.chmod(0o600)
        shutil.copy(REPO / ".env.example", root / ".env.example")
        create_self_signed(root / "certs", ["localhost", "127.0.0.1"])
        https, http = free_port(), free_port()
        return cls(root, f"https://127.0.0.1:{https}", values["LITELLM_MASTER_KEY"],
                   root / "certs" / CERT_FILE, values, https, http, 0.0)

    def layer(self, retries: int, cpus_reserved: float = 0.2) -> None:
        # the repo's configs, copied: layers stay inside the configs folder
        shutil.copytree(REPO / "configs", self.root / "configs", dirs_exist_ok=True)
        text = LAYER.format(ci="ci.yaml", rpm=RPM, cpus=cpus_reserved,
                            retries=retries, stack=self.stack, https=self.https,
                            http=self.http, **self.observability)
        path = self.root / "configs" / "environments" / f"{ENV}.yaml"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")

    def runtime(self) -> SwarmRuntime:
        with contextlib.chdir(self.root):
            _, rt = runtime_for(Target(env=ENV))
        assert isinstance(rt, SwarmRuntime)
        return rt

    def stop(self) -> None:
        with contextlib.chdir(self.root):
            self.runtime().stop(volumes=True)

    @contextlib.contextmanager
    def deployed(self, tag: str) -> Iterator[None]:
        """`up` of the layer (its time to healthy kept and printed); stopped, volumes and
        all, however the module ends."""
        try:
            started = time.monotonic()
            with contextlib.chdir(self.root):
                start_target(Target(env=ENV))
            self.startup_s = round(time.monotonic() - started, 1)
            print(f"\n[{tag}] stack healthy {self.startup_s} s after up", file=sys.stderr)
            yield
        finally:
            self.stop()


@pytest.fixture(scope="module")
def swarm(docker_engine: None, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Swarm]:
    sw = Swarm.prepare(tmp_path_factory.mktemp("swarm"))
    sw.layer(retries=0)
    with one_node_swarm(remove_leftovers=sw.stop), sw.deployed("swarm"):
        yield sw


def _client(sw: Swarm) -> httpx.Client:
    return httpx.Client(base_url=sw.url, verify=str(sw.ca), timeout=30,
                        headers={"Authorization": f"Bearer {sw.key}"})


def test_secrets_absent_from_inspect_outputs_and_process_args(swarm: Swarm) -> None:
    ids = _docker("ps", "-aq", "--filter", f"label=com.docker.stack.namespace={STACK}").split()
    services = _docker("service", "ls", "-q", "--filter",
                       f"label=com.docker.stack.namespace={STACK}").split()
    names = _docker("secret", "ls", "--format", "{{.Name}}", "--filter",
                    f"label=llmproxy-ops.stack={STACK}").split()
    # litellm, db, mlflow, redis, fake-provider, nginx, prometheus (the ci layer's metrics)
    assert len(ids) >= 7 and len(services) == 7 and len(names) == 4
    texts = {
        "docker inspect": _docker("inspect", *ids),
        "docker service inspect": _docker("service", "inspect", *services),
        "docker secret inspect": _docker("secret", "inspect", *names),
        "ps": subprocess.run(["ps", "-eo", "args"], capture_output=True, text=True,
                             check=True).stdout,
        "stack.yml": "\n".join(p.read_text() for p in swarm.root.rglob("stack.yml")),
    }
    for where, text in texts.items():
        leaked = [k for k, v in swarm.secrets.items() if v in text]
        assert leaked == [], where
    # ...while the services do get them (the master key works: the smoke test)
    assert "LITELLM_MASTER_KEY" in texts["docker service inspect"]


# Search MLflow's traces from inside its container (Swarm publishes only nginx's ports).
TRACE_SEARCH = """
import json, sys, urllib.request
body = {"locations": [{"type": "MLFLOW_EXPERIMENT", "mlflow_experiment": {"experiment_id": "0"}}],
        "max_results": 100, "order_by": ["timestamp_ms DESC"]}
req = urllib.request.Request("http://127.0.0.1:5000/api/3.0/mlflow/traces/search",
                             data=json.dumps(body).encode(), headers={"Content-Type": "application/json"})
traces = json.load(urllib.request.urlopen(req, timeout=15)).get("traces", [])
print(json.dumps([t for t in traces if sys.argv[1] in t.get("request_preview", "")]))
"""


def test_mlflow_holds_a_trace_of_a_request_through_nginx(swarm: Swarm) -> None:
    """LiteLLM's MLflow callback in a replica reaches the MLflow service over the overlay."""
    marker = f"swarm-trace-{uuid.uuid4().hex}"
    with _client(swarm) as client:
        r = client.post("/v1/chat/completions", json={
            "model": "load", "messages": [{"role": "user", "content": f"Say hi. {marker}"}]})
    assert r.status_code == 200, r.text
    mlflow = _docker("ps", "-q", "--filter",
                     f"label=com.docker.swarm.service.name={STACK}_mlflow").split()
    assert len(mlflow) == 1
    found: list[dict] = []
    deadline = time.monotonic() + 60
    while not found and time.monotonic() < deadline:
        time.sleep(1.0)  # LiteLLM logs to MLflow after answering
        found = json.loads(_docker("exec", mlflow[0], "python", "-c", TRACE_SEARCH, marker))
    assert len(found) == 1, f"no MLflow trace with {marker} within 60 s"
    assert found[0]["state"] == "OK"


def test_prometheus_scrapes_every_task_directly_and_loads_the_rules(swarm: Swarm) -> None:
    """stack.metrics (the ci layer): the stack's Prometheus finds each LiteLLM task by DNS on
    the overlay and scrapes it with the master key; /metrics is not served through nginx."""
    with _client(swarm) as client:
        assert client.get("/metrics/").status_code == 404  # with the key, too
        for _ in range(3):
            sent = client.post("/v1/chat/completions", json={
                "model": "load", "messages": [{"role": "user", "content": "counted"}]})
            assert sent.status_code == 200, sent.text
    container = prom.container_of(f"com.docker.swarm.service.name={STACK}_prometheus")
    assert container, "no prometheus task in the swarm stack (stack.metrics)"
    tasks = {_overlay_address(t) for t in _litellm_tasks()}
    assert len(tasks) == 2
    deadline, up, counted = time.monotonic() + 90, [], 0.0
    while time.monotonic() < deadline:  # scraped every 15 s, DNS refreshed as often
        up = prom.api(container, "query", query='up{job="litellm"}')["result"]
        found = prom.api(container, "query", query='sum(litellm_proxy_total_requests_metric_'
                         'total{requested_model="load", status_code="200"})')["result"]
        counted = float(found[0]["value"][1]) if found else 0.0
        if len(up) == len(tasks) and all(r["value"][1] == "1" for r in up) and counted >= 3:
            break
        time.sleep(2)
    assert {r["metric"]["instance"] for r in up} == {f"{a}:4000" for a in tasks}, up
    assert all(r["value"][1] == "1" for r in up), up
    assert counted >= 3
    loaded = {rule["name"] for group in prom.api(container, "rules")["groups"]
              for rule in group["rules"]}
    shipped = yaml.safe_load((REPO / "monitoring/prometheus/alerts.yml").read_text())
    assert loaded == {rule["alert"] for group in shipped["groups"] for rule in group["rules"]}
    # `status` has no address for the tasks here: it reads their figures from that Prometheus
    shown = subprocess.run([sys.executable, "-m", "llmproxy_ops", "status", "--env", ENV,
                            "--format", "json"], cwd=swarm.root, capture_output=True, text=True,
                           timeout=120)
    figures = json.loads(shown.stdout)["traffic"]
    assert figures["replicas"] == 2, figures
    assert figures["groups"]["load"]["requests"] >= 3, figures
    assert figures["groups"]["load"]["error_pct"] == 0.0, figures
    assert swarm.key not in shown.stdout + shown.stderr


def _overlay_address(container: str) -> str:
    networks = json.loads(_docker("inspect", "-f", "{{json .NetworkSettings.Networks}}",
                                  container))
    return str(networks[f"{STACK}_default"]["IPAddress"])


class Load:
    """Bounded chat requests through nginx from a few threads; counts statuses."""

    def __init__(self, sw: Swarm):
        self.sw, self.stop, self.counts = sw, threading.Event(), Counter[str]()
        self.lock = threading.Lock()
        self.threads = [threading.Thread(target=self._run) for _ in range(LOAD_CONCURRENCY)]

    def __enter__(self) -> Load:
        for t in self.threads:
            t.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop.set()
        for t in self.threads:
            t.join(60)

    def _run(self) -> None:
        body = {"model": "load", "messages": [{"role": "user", "content": "hi"}]}
        with _client(self.sw) as client:
            while not self.stop.is_set() and sum(self.counts.values()) < MAX_REQUESTS:
                try:
                    r = client.post("/v1/chat/completions", json=body)
                    kind = "ok" if r.status_code == 200 else str(r.status_code)
                except httpx.HTTPError as exc:
                    kind = type(exc).__name__
                with self.lock:
                    self.counts[kind] += 1
                time.sleep(PACE_S)

    @property
    def failed(self) -> int:
        return sum(n for k, n in self.counts.items() if k != "ok")


def _litellm_tasks() -> list[str]:
    return _docker("ps", "-q", "--filter", f"label=com.docker.swarm.service.name={STACK}_litellm",
                   "--filter", "health=healthy").split()


@pytest.mark.measured
def test_killed_replica_is_replaced_under_load(swarm: Swarm) -> None:
    before = _litellm_tasks()
    assert len(before) == 2
    with Load(swarm) as load:
        time.sleep(3)
        killed_at = time.monotonic()
        _docker("kill", before[0])
        deadline = killed_at + 240
        while time.monotonic() < deadline:
            now = _litellm_tasks()
            if len(now) == 2 and before[0] not in now:
                break
            time.sleep(1)
        replaced_s = round(time.monotonic() - killed_at, 1)
        time.sleep(3)
    print(f"\n[swarm] replica killed: replaced in {replaced_s} s; requests {dict(load.counts)}",
          file=sys.stderr)
    assert len(_litellm_tasks()) == 2 and before[0] not in _litellm_tasks()
    # Only requests in flight on the killed container at that moment can fail.
    assert load.counts["ok"] > 50 and load.failed <= LOAD_CONCURRENCY, load.counts


def test_apply_refuses_at_once_what_no_node_can_place(swarm: Swarm) -> None:
    """A start-first update runs one LiteLLM task more than replicas; when no node has the CPU
    it reserves, Swarm would keep it pending for ever: `apply` says so at once, rolls back,
    and the running build serves throughout."""
    cpus = int(_docker("info", "--format", "{{.NCPU}}"))  # the one node's
    swarm.layer(retries=0, cpus_reserved=cpus + 1)
    try:
        with Load(swarm) as load, contextlib.chdir(swarm.root):
            started = time.monotonic()
            result = apply(ApplyRequest(Target(env=ENV)))
            took = round(time.monotonic() - started, 1)
    finally:
        swarm.layer(retries=0)
    assert result.deployment is not None and not result.deployment.ok
    failed = result.deployment.failed_check or ""
    print(f"\n[swarm] unplaceable update refused in {took} s: {failed[:200]}; requests "
          f"{dict(load.counts)}", file=sys.stderr)
    assert "no node has the CPU or memory it reserves" in failed, failed
    assert result.rollback is not None and result.rollback.ok, result.rollback
    assert load.counts["ok"] > 20 and load.failed == 0, load.counts
    assert len(_litellm_tasks()) == 2
