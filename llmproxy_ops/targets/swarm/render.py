"""build/<env>/stack.yml for `docker stack deploy`: the compose services, made Swarm's.

The services come from the compose renderer (one source of images, commands, health checks
and limits); this module only changes what Swarm does differently:

- secrets are Docker secrets (files in /run/secrets), never environment or env files: an
  env_file is read by the docker client and its values stored in the service definition,
  where `docker service inspect` shows them. A small shell wrapper exports them inside
  the container (shell variables: not in argv, not in the container's config);
- their names come from `${LLMPROXY_SECRET_<VAR>}`, filled in by the runtime at deploy
  time with a versioned name, so a rotation is a new secret plus a rolling update;
- rendered files are Docker configs named by their digest: a changed config.yaml is a
  new config, hence a rolling update that Swarm carries out (start-first, rollback);
- no routing mesh: ports are published in host mode and services resolve by DNS round
  robin by default (endpoint_mode dnsrr; VIPs and the mesh need IPVS in the kernel);
- one `litellm` service with deploy.replicas instead of one service per replica; the
  stack's Prometheus (stack.metrics) finds its tasks by DNS (`tasks.litellm`), not by name;
- the overlay network is encrypted (stack.swarm.encrypted; needs IPsec ESP in the kernels).

Images must exist on every node that runs them: on a single node, locally built images
(llmproxy-ops/*) work with no registry (the runtime deploys with --resolve-image never).
"""

from __future__ import annotations

import copy
import hashlib
import re
from pathlib import Path
from typing import Any

import yaml

from llmproxy_ops.render import prometheus
from llmproxy_ops.render.compose import (
    LITELLM_PORT,
    NGINX_CERTS_PATH,
    NGINX_FILE,
    NGINX_UPSTREAM_FILE,
    compose_document,
    compose_paths,
    prometheus_key_file,
)
from llmproxy_ops.render.initdb import INITDB_FILE, render_initdb
from llmproxy_ops.render.launcher import launcher_argv, launcher_files
from llmproxy_ops.render.litellm_config import render_yaml
from llmproxy_ops.render.litellm_hooks import hook_files
from llmproxy_ops.render.nginx import RESOLVER_VALID_S, render_nginx
from llmproxy_ops.render.service_secrets import (
    EXPORT_SECRETS,
    REDIS_PASSWORD_VAR,
    SECRETS_DIR,
    runs_prometheus,
    secret_vars,
)
from llmproxy_ops.render.stack_redis import deployment_config, uses_service_redis
from llmproxy_ops.spec.model import Spec
from llmproxy_ops.targets.compose.settings import ComposeSettings
from llmproxy_ops.targets.swarm.settings import SwarmSettings

STACK_FILE = "stack.yml"
CONFIG_FILE = "config.yaml"
SECRET_NAME_VAR = "LLMPROXY_SECRET_{}"  # the runtime sets it to the versioned secret name
DOCKER_DNS = "127.0.0.11"  # Docker's embedded DNS server, in every container on a network
STATEFUL = ("db", "mlflow", "redis", "nginx", "prometheus")  # placed on the labelled node

# Swarm takes a task out of DNS, waits 2 s (moby's gossip delay) and only then sends SIGTERM,
# but nginx keeps a resolved address for RESOLVER_VALID_S: for up to that long after the
# signal it may still open connections to the stopping task. LiteLLM (uvicorn) stops
# accepting at once and its master keeps the listening socket open while the workers
# finish, so such a connection is accepted by the kernel and then reset after the request
# went out: a 502. The wrapper therefore keeps LiteLLM serving for STOP_DELAY_S after
# SIGTERM, then passes the signal on (uvicorn then finishes what is in flight).
STOP_DELAY_S = RESOLVER_VALID_S + 1
STOP_SLACK_S = 5  # between uvicorn's drain and Swarm's SIGKILL

HEADER = """\
# Rendered by llmproxy-ops from the spec's `stack.compose` and `stack.swarm`: do not edit.
# Deploy it with `llmproxy-ops up` (it creates the versioned secrets this file names through
# ${LLMPROXY_SECRET_<VAR>}). No secret values here: services read them from /run/secrets.
# Images are used as they are on each node (no registry needed on a single node).
"""


def swarm_files(spec: Spec, *, out_dir: Path, env_file: Path | None, request_timeout: float,
                config_yaml: str | None = None) -> dict[str, str]:
    """File name → content for the stack folder (config.yaml included: it may gain Redis).

    `config_yaml`: config.yaml as the caller already serialised it from the same config
    (render_files), so it is not serialised twice."""
    cs, ss = spec.stack.compose(spec.name), spec.stack.swarm(spec.name)
    config = swarm_litellm_config(spec)
    text = render_yaml(spec, config) if config_yaml is None else config_yaml
    files = {CONFIG_FILE: text, **hook_files(config), **launcher_files()}
    if cs.db.enabled:
        files[INITDB_FILE] = render_initdb()
    if cs.nginx.enabled:
        files[NGINX_FILE] = render_nginx(
            cs.nginx_settings, upstreams=["litellm"], request_timeout=request_timeout,
            certs_path=NGINX_CERTS_PATH, resolver=DOCKER_DNS,
            api_only=cs.nginx_settings.api_only_for(spec.production),
        )
    if runs_prometheus(spec):
        files[prometheus.PROMETHEUS_FILE] = prometheus_config(spec)
        files[prometheus.RULES_FILE] = prometheus.shipped_rules()
    paths = compose_paths(spec, out_dir, env_file, files)  # every rendered file is mounted
    doc = stack_document(spec, cs, ss, paths_doc=compose_document(spec, paths, one_litellm=True),
                         files=files, config=config)
    files[STACK_FILE] = HEADER + yaml.safe_dump(doc, sort_keys=False, width=4096)
    return files


def swarm_litellm_config(spec: Spec) -> dict[str, Any]:
    """Every runtime's config, plus the stack's Redis when it is needed (stack_redis.py)."""
    return deployment_config(spec)


def prometheus_config(spec: Spec) -> str:
    """prometheus.yml for the stack: every LiteLLM task, found by DNS on the overlay network
    (a rolling update replaces tasks and their addresses; DNS follows within a scrape)."""
    return prometheus.render_prometheus(prometheus.dns_targets("tasks.litellm", LITELLM_PORT),
                                        prometheus_key_file(spec))


def uses_stack_redis(config: dict[str, Any]) -> bool:
    return uses_service_redis(config)


def all_secret_vars(spec: Spec) -> list[str]:
    return sorted({v for vs in secret_vars(spec, swarm_litellm_config(spec)).values() for v in vs})


def config_name(stack: str, file: str, content: str) -> str:
    """Docker config names are immutable: a digest in the name makes a change a new config."""
    slug = re.sub(r"[^A-Za-z0-9_-]", "-", file)[:20]
    return f"{stack}_{slug}-{hashlib.sha256(content.encode()).hexdigest()[:12]}"


# ---- the document ------------------------------------------------------------------------


def stack_document(spec: Spec, cs: ComposeSettings, ss: SwarmSettings, *, paths_doc: dict,
                   files: dict[str, str], config: dict[str, Any]) -> dict[str, Any]:
    services: dict[str, Any] = paths_doc["services"]
    secrets = secret_vars(spec, config)
    if uses_stack_redis(config):
        # replaces the compose renderer's (its password comes from an env file)
        services = {"redis": _redis_service(cs),
                    **{k: v for k, v in services.items() if k != "redis"}}
    configs: dict[str, Any] = {}
    out: dict[str, Any] = {}
    for name, service in services.items():
        out[name] = _swarm_service(name, service, spec, cs, ss, secrets.get(name, []),
                                   files, configs)
    network: dict[str, Any] = {"driver": "overlay"}
    if ss.encrypted:  # passwords and prompts cross it between nodes (targets/swarm/settings.py)
        network["driver_opts"] = {"encrypted": ""}
    doc: dict[str, Any] = {"version": "3.8", "services": out, "networks": {"default": network}}
    if paths_doc.get("volumes"):
        doc["volumes"] = paths_doc["volumes"]
    if configs:
        doc["configs"] = dict(sorted(configs.items()))
    names = sorted({v for vs in secrets.values() for v in vs})
    if names:
        doc["secrets"] = {v: {"external": True, "name": f"${{{SECRET_NAME_VAR.format(v)}}}"}
                          for v in names}
    return doc


def _redis_service(cs: ComposeSettings) -> dict[str, Any]:
    # The password goes into a config file written by the shell (printf is a builtin): on
    # redis-server's command line it would show in the host's process list.
    script = (
        f'printf "requirepass %s\\nprotected-mode no\\nsave \\"\\"\\nappendonly no\\n" '
        f'"$$(cat {SECRETS_DIR}/{REDIS_PASSWORD_VAR})" > /tmp/redis.conf; '
        "exec redis-server /tmp/redis.conf"
    )
    check = (f'REDISCLI_AUTH="$$(cat {SECRETS_DIR}/{REDIS_PASSWORD_VAR})" '
             "redis-cli ping | grep -q PONG")
    return {
        "image": cs.redis.image,
        "entrypoint": ["/bin/sh", "-c", script],
        "healthcheck": {"test": ["CMD", "sh", "-c", check], "interval": "5s", "timeout": "5s",
                        "retries": 6, "start_period": "10s"},
        **({"user": cs.redis.run_as} if cs.redis.run_as else {}),
        "cap_drop": ["ALL"],
        "deploy": {"resources": {
            "limits": {"cpus": cs.redis.cpus, "memory": cs.redis.memory},
            "reservations": {"cpus": cs.redis.cpus_reserved,
                             "memory": cs.redis.memory_reserved}}},
    }


def _swarm_service(name: str, service: dict[str, Any], spec: Spec, cs: ComposeSettings,
                   ss: SwarmSettings, secrets: list[str], files: dict[str, str],
                   configs: dict[str, Any]) -> dict[str, Any]:
    s = copy.deepcopy(service)
    # Swarm ignores these (restart → restart_policy, depends_on → health-gated updates and
    # retries) or would leak through them (env_file values land in the service definition).
    for key in ("restart", "depends_on", "security_opt", "container_name"):
        s.pop(key, None)
    env_files = [f for f in s.pop("env_file", []) if f == "runtime.env"]
    if env_files:
        s["env_file"] = env_files  # non-secret runtime variables only
    if name == "nginx":
        # The compose rollout's upstream file (rewritten to drain a replica) has no place
        # here: nginx resolves the tasks by DNS and Swarm rolls them. nginx starts as its
        # image does.
        s.pop("command", None)
        s["volumes"] = [v for v in s.get("volumes", [])
                        if not v.startswith(f"./{NGINX_UPSTREAM_FILE}:")]
        s.get("labels", {}).pop(f"llmproxy-ops.sha256.{NGINX_UPSTREAM_FILE}", None)
    s["volumes"] = _volumes(name, s.get("volumes", []), ss, files, configs, s)
    if not s["volumes"]:
        del s["volumes"]
    _ports(name, s, cs, spec)
    if name == "litellm":
        # Replicas start together (and again after a node loss) on shared cores: a failing
        # check counts only after this, a passing one makes the task healthy at once.
        s["healthcheck"]["start_period"] = "180s"
    if name == "nginx":
        # nginx itself, not through LiteLLM: with dnsrr a LiteLLM that is not healthy yet has
        # no address, and Swarm would restart nginx for it (no depends_on in a stack). The
        # plain-HTTP port answers / with a redirect (curl -f takes a 3xx as success).
        port = cs.nginx_settings.http_port
        s["healthcheck"]["test"] = ["CMD", "curl", "-fsS", "-o", "/dev/null",
                                    f"http://127.0.0.1:{port}/"]
    if secrets:
        # Docker secrets (external, versioned names); db, mlflow and redis export them with
        # the compose renderer's entrypoints, litellm with litellm_entrypoint below.
        s["secrets"] = list(secrets)
    if name == "litellm":
        s["entrypoint"] = litellm_entrypoint(cs, with_secrets=bool(secrets))
        s["stop_grace_period"] = f"{STOP_DELAY_S + spec.stack.drain_timeout + STOP_SLACK_S:g}s"
    s["deploy"] = _deploy(name, s.get("deploy", {}), cs, ss)
    return s


def _volumes(name: str, volumes: list[str], ss: SwarmSettings, files: dict[str, str],
             configs: dict[str, Any], s: dict[str, Any]) -> list[str]:
    """Rendered files become Docker configs (every node gets them); the rest stays."""
    keep: list[str] = []
    for volume in volumes:
        source, target = volume.split(":")[:2]
        file = source[2:] if source.startswith("./") else None
        if file is None or file not in files:
            keep.append(volume)
            continue
        key = re.sub(r"[^A-Za-z0-9_-]", "-", file)
        configs[key] = {"name": config_name(ss.stack, file, files[file]), "file": f"./{file}"}
        s.setdefault("configs", []).append({"source": key, "target": target, "mode": 0o444})
    return keep


def _ports(name: str, s: dict[str, Any], cs: ComposeSettings, spec: Spec) -> None:
    # Only nginx (or LiteLLM without nginx) faces clients; host mode: no routing mesh.
    s.pop("ports", None)
    if name == "nginx":
        ns = cs.nginx_settings
        s["ports"] = [_host_port(ns.https_port, ns.https_port),
                      _host_port(ns.http_port, ns.http_port)]
    elif name == "litellm" and not cs.nginx.enabled:
        s["ports"] = [_host_port(spec.stack.port, LITELLM_PORT)]


def _host_port(published: int, target: int) -> dict[str, Any]:
    # Swarm cannot bind one host address (compose's 127.0.0.1:...): a host-mode port listens
    # on every interface of the node; firewall it or keep nginx's allowlist.
    return {"target": target, "published": published, "protocol": "tcp", "mode": "host"}


def litellm_entrypoint(cs: ComposeSettings, *, with_secrets: bool) -> list[str]:
    """sh as PID 1: exports the secrets, starts LiteLLM, and on SIGTERM waits STOP_DELAY_S
    before passing it on (see STOP_DELAY_S); exits with LiteLLM's status."""
    script = EXPORT_SECRETS if with_secrets else ""
    if cs.use_db:
        script += (f'export DATABASE_URL="postgresql://{cs.db_user}:$$POSTGRES_PASSWORD'
                   '@db:5432/litellm"; ')
    script += (
        f'{" ".join(launcher_argv())} "$$@" & pid=$$!; '
        f"trap 'sleep {STOP_DELAY_S}; kill -TERM $$pid' TERM INT; "
        # A trap interrupts `wait`; wait again until LiteLLM itself has exited.
        "wait $$pid; status=$$?; "
        "while kill -0 $$pid 2>/dev/null; do wait $$pid; status=$$?; done; exit $$status"
    )
    return ["/bin/sh", "-c", script, "litellm"]


def _deploy(name: str, deploy: dict[str, Any], cs: ComposeSettings,
            ss: SwarmSettings) -> dict[str, Any]:
    out: dict[str, Any] = {"mode": "replicated", "endpoint_mode": ss.endpoint_mode}
    constraint = f"node.labels.{ss.data_label} == true"
    if name == "litellm":
        out["replicas"] = cs.replicas
        # start-first: the new task is healthy before an old one stops, so every step keeps
        # N tasks serving; a task that fails within the monitor window rolls the service back.
        # No delay between steps: the next new task starts while the replaced one drains
        # (nothing waits on it: the stop delay covers nginx's DNS cache); a pause there only
        # lengthened every rollout by 5 s a replica.
        update = {"parallelism": 1, "delay": "0s", "order": "start-first",
                  "failure_action": "rollback", "monitor": f"{ss.monitor_s}s",
                  "max_failure_ratio": 0}
        out["update_config"] = update
        out["rollback_config"] = {**{k: v for k, v in update.items() if k != "failure_action"},
                                  "failure_action": "pause"}
        out["placement"] = {"preferences": [{"spread": "node.id"}]}
    else:
        out["replicas"] = 1
        # One task at a time: a data volume or a host port cannot be shared by old and new.
        out["update_config"] = {"parallelism": 1, "order": "stop-first",
                                "failure_action": "rollback", "monitor": "10s"}
        out["placement"] = {"constraints": [constraint]} if name in STATEFUL else {}
        if not out["placement"]:
            del out["placement"]
    out["restart_policy"] = {"condition": "any", "delay": "5s", "window": "30s"}
    out["resources"] = deploy.get("resources", {})
    return out


def build_files(spec: Spec, out_dir: Path, env_file: Path | None,
                request_timeout: float, config_yaml: str) -> dict[str, str]:
    """The target's `render` hook (render/build.py): config.yaml may gain the stack's Redis;
    rendered files become Docker configs."""
    return swarm_files(spec, out_dir=out_dir, env_file=env_file, request_timeout=request_timeout,
                       config_yaml=config_yaml)
