"""The deployment target configurations every conformance scenario runs against.

A target is declared once here: the environment it starts (the shipped file, or a layer on
the shipped ones), what it needs from the machine, how many LiteLLM processes serve, and,
in one place, each scenario it cannot run and why (printed in the run; the CI skip guard
accepts exactly these reasons).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import yaml

# Engines, cheapest first: the pytest tier a target's tests belong to (tests/conftest.py).
PROCESS, DOCKER, SWARM, RENDER = "process", "docker", "swarm", "render"

# A target that is only rendered declares every live scenario at once with this key; the
# render scenario runs everywhere.
LIVE, RENDER_SCENARIOS = "*", ("render",)
NOT_STARTED = ("rendered and checked offline, never started: no Kubernetes cluster runs here "
               "(ENVIRONMENT.md); `up`, `status` and `down` say so and name the folder")
ONE_PROCESS = "one LiteLLM process: it has no counter to share, nothing to compare"
# The Redis control costs an apply and a clock minute: run where no other test shows it
LOCAL_CONTROL = ("the workers' control without Redis: tests/integration/test_local_redis_limits"
                 ".py::test_without_redis_each_worker_admits_its_own_rpm")
SWARM_CONTROL = ("the rendered redis service is compose's and swarm's alike (render/"
                 "stack_redis.py): its control without Redis runs on compose-2, whose "
                 "rollout is the shorter")
NO_DATABASE = ("the local runtime runs LiteLLM without a database (Prisma's engines cannot be "
               "downloaded here, ENVIRONMENT.md); nothing to back up")

# Groups the scenarios use, besides what the environment ships: `load` has no rpm (the
# shipped mock groups allow 60 requests a minute, the load sends several a second), `long`
# streams 20 chunks a second apart (the fake provider's drip trigger): a stream that is in
# flight when a change begins and must arrive whole.
LONG_CHUNKS, LONG_CHUNK_MS = 20, 1000
# `limited`: the exact-rpm scenario's group; a burst of LIMITED_RPM + 4 meets exactly this
# many 200s
LIMITED_RPM = 8


@dataclass(frozen=True)
class TargetConfig:
    name: str  # the test id: local-1, compose-2...
    env: str  # configs/environments/<env>.yaml of the throwaway project
    engine: str
    processes: int  # LiteLLM processes serving: workers x replicas
    upstream: dict[str, str]  # litellm_params reaching the fake provider from the proxy
    # the environment file's text; None: the shipped file of that name, exactly as it is
    layer: str | None = None
    secrets: tuple[str, ...] = ()  # .env needs these beyond what `init --env` writes
    tls: bool = False  # clients reach it through nginx, with the project's self-signed cert
    cannot: dict[str, str] = field(default_factory=dict)  # scenario -> why not here
    render_args: tuple[str, ...] = ()  # `render --env E` as a user of the target types it

    def why_not(self, scenario: str) -> str | None:
        """The declared reason this target cannot run `scenario` (a test name's prefix)."""
        for name, reason in self.cannot.items():
            if scenario.startswith(name) or (name == LIVE and
                                             not scenario.startswith(RENDER_SCENARIOS)):
                return reason
        return None

    def group(self, name: str, model: str = "gpt-4o-mini") -> dict[str, Any]:
        """A model_list entry served by the fake provider (model name triggers its faults)."""
        return {"model_name": name, "litellm_params": {**self.upstream, "model": f"openai/{model}"}}

    def load_groups(self) -> list[dict[str, Any]]:
        limited = self.group("limited")
        limited["litellm_params"]["rpm"] = LIMITED_RPM
        return [self.group("load"), self.group("long", f"drip-{LONG_CHUNKS}x{LONG_CHUNK_MS}"),
                limited]


LOCAL_UPSTREAM = {"api_base": "os.environ/FAKE_PROVIDER_OPENAI_BASE", "api_key": "dummy"}
COMPOSE_UPSTREAM = {"api_base": "http://fake-provider:9000/v1",
                    "api_key": "os.environ/FAKE_PROVIDER_KEY"}
COMPOSE_SECRETS = ("FAKE_PROVIDER_KEY",)  # the fake provider's; `init --env` makes the rest


def _with_load_groups(text: str, target: TargetConfig) -> str:
    return text + yaml.safe_dump({"model_list": target.load_groups()}, sort_keys=False)


def compose_layer(replicas: int, ports: dict[str, int]) -> str:
    """The ci environment (every image built here, MLflow and Postgres included) under its
    own project name and ports."""
    return f"""\
layers: [ci.yaml]
# MLflow runs (its database is what a backup holds) but records no trace of the load: on two
# cores its server's work on thousands of traces starved everything else (MLflow tracing is
# proven by the CI gate, tests/stack/test_ci_gate.py)
litellm_settings: {{success_callback: [], failure_callback: []}}
stack:
  drain_timeout: 60
  compose:
    project: llmproxy-conformance-{replicas}
    litellm: {{replicas: {replicas}, cpus: 1.0, memory: 1g}}
    mlflow: {{port: {ports["mlflow"]}}}
    nginx: {{https_port: {ports["https"]}, http_port: {ports["http"]}, rate: 100000r/m, burst: 1000}}
"""


SWARM_STACK = "llmproxy-conformance-swarm"


def swarm_layer(replicas: int, ports: dict[str, int]) -> str:
    """The ci environment on Swarm: its images, Redis for the replicas' shared counters,
    MLflow and Postgres (on the labelled node, tests/swarm_node.py), nginx publishing TLS."""
    return f"""\
layers: [ci.yaml]
litellm_settings: {{success_callback: [], failure_callback: []}}  # as compose_layer says
stack:
  runtime: swarm
  drain_timeout: 60
  startup_timeout: 480
  # no IPsec ESP in these machines' kernels: an encrypted overlay carries nothing between
  # nodes (stack.swarm.encrypted, targets/swarm/settings.py)
  swarm: {{stack: {SWARM_STACK}, monitor_s: 5, encrypted: false}}
  compose:
    project: {SWARM_STACK}
    # start-first runs one more LiteLLM task during an update: its reservation must fit on a
    # 2-CPU node beside the others (the default 0.5 CPU each did not: "no suitable node")
    litellm: {{replicas: {replicas}, cpus_reserved: 0.2, memory_reserved: 512m}}
    nginx: {{https_port: {ports["https"]}, http_port: {ports["http"]}, rate: 100000r/m, burst: 1000}}
"""


def targets(ports: dict[str, dict[str, int]]) -> list[TargetConfig]:
    """Every target configuration; `ports`: free host ports per target that publishes any."""
    control = "rpm_without_shared_counters"
    local1 = TargetConfig("local-1", "dev", PROCESS, 1, LOCAL_UPSTREAM,
                          cannot={"backup": NO_DATABASE, control: ONE_PROCESS})
    local2 = TargetConfig("local-2", "dev2", PROCESS, 2, LOCAL_UPSTREAM,
                          cannot={"backup": NO_DATABASE, control: LOCAL_CONTROL})
    compose = [TargetConfig(f"compose-{n}", f"conf{n}", DOCKER, n, COMPOSE_UPSTREAM,
                            secrets=COMPOSE_SECRETS, tls=True,
                            cannot={control: ONE_PROCESS} if n == 1 else {})
               for n in (1, 2)]
    swarm = TargetConfig("swarm-2", "confswarm", SWARM, 2, COMPOSE_UPSTREAM,
                         secrets=COMPOSE_SECRETS, tls=True, cannot={control: SWARM_CONTROL})
    layered = [
        # dev with a second worker: the deployment brings a Redis for exact rate limits
        (local2, f"layers: [dev.yaml]\nstack: {{workers: 2, port: {ports['local-2']['port']}}}\n"),
        *((c, compose_layer(c.processes, ports[c.name])) for c in compose),
        (swarm, swarm_layer(swarm.processes, ports[swarm.name])),
    ]
    # the shipped k8s environment, as a user renders it (values live in the cluster)
    kubernetes = TargetConfig("kubernetes", "k8s", RENDER, 2, {}, render_args=("--no-env",),
                              cannot={LIVE: NOT_STARTED})
    return [local1, *(_replace_layer(t, _with_load_groups(text, t)) for t, text in layered),
            kubernetes]


def _replace_layer(target: TargetConfig, layer: str) -> TargetConfig:
    from dataclasses import replace

    return replace(target, layer=layer)
