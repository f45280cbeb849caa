"""build/<env>/docker-compose.yml from `stack.compose`: the full stack, no secret values.

Each service gets only its own secrets (render/service_secrets.py): top-level `secrets:`
read from the environment of the `docker compose` process (the runtime fills it from the env
file), mounted as files in /run/secrets and exported by the container's shell (`$$VAR` here,
`$VAR` for the container's shell). No service reads the env file. `${VAR}` is never used:
`docker compose config` would interpolate it and print the value; it prints a secret's
variable name only.

Services run as an unprivileged user wherever the image allows (`run_as`, settings): all but
nginx, whose master binds 80/443 and starts its workers as the nginx user.
"""

from __future__ import annotations

import hashlib
import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from llmproxy_ops.render import prometheus as prometheus_files
from llmproxy_ops.render.env_manifest import master_key_var
from llmproxy_ops.render.initdb import INITDB_FILE
from llmproxy_ops.render.launcher import (
    CONTAINER_DIR,
    LAUNCHER_FILE,
    launcher_argv,
    launcher_environment,
)
from llmproxy_ops.render.litellm_hooks import SHIPPED as SHIPPED_HOOKS
from llmproxy_ops.render.service_secrets import (
    EXPORT_SECRETS,
    REDIS_PASSWORD_VAR,
    SECRETS_DIR,
    runs_prometheus,
    secret_vars,
)
from llmproxy_ops.render.stack_redis import brings_redis, deployment_config
from llmproxy_ops.spec import copilot
from llmproxy_ops.spec.model import Spec, StackSettings
from llmproxy_ops.targets.compose.settings import ComposeSettings, Service

COMPOSE_FILE = "docker-compose.yml"
NGINX_FILE = "nginx.conf"
RUNTIME_ENV_FILE = "runtime.env"
LITELLM_PORT = 4000
MLFLOW_PORT = 5000
FAKE_PROVIDER_PORT = 9000
NGINX_LIVENESS_PATH = "/health/liveliness"  # plain HTTP, not redirected (nginx.conf.j2)
NGINX_CERTS_PATH = "/etc/nginx/certs"
WORKER_HEALTHCHECK_S = 60
# The upstream's server lines: rendered into the build (all replicas up) and mounted read-only;
# nginx's container copies them at start to a writable path its nginx.conf includes, which a
# rollout rewrites (runtime/nginx_upstream.py). A restarted nginx starts from the rendered list.
NGINX_UPSTREAM_FILE = "nginx-upstream.conf"
NGINX_UPSTREAM_RENDERED = "/etc/nginx/llmproxy-upstream.conf"
NGINX_UPSTREAM_LIVE = "/run/llmproxy/upstream.conf"
SERVER_FLAGS = {"uvicorn": [], "gunicorn": ["--run_gunicorn"], "granian": ["--run_granian"]}

# Minimum capabilities on top of `cap_drop: [ALL]` for what runs as root: nginx's master
# binds 80/443 and its workers switch to the nginx user. A service with `run_as` root (a
# setting) gets what the official images' entrypoints need to drop to their own user.
CAPS: dict[str, tuple[str, ...]] = {
    "db": ("CHOWN", "DAC_OVERRIDE", "FOWNER", "SETGID", "SETUID"),
    "nginx": ("CHOWN", "NET_BIND_SERVICE", "SETGID", "SETUID"),
    "redis": ("CHOWN", "SETGID", "SETUID"),
}
ROOT_USERS = frozenset({"0", "root", "0:0", "root:root"})

HEADER = """\
# Rendered by llmproxy-ops from the spec's `stack.compose` section: do not edit, re-render.
# No secret values here: llmproxy-ops hands them from {env_file} to `docker compose` in its
# environment; each service gets only its own, as files in /run/secrets (`docker compose
# config` shows their names, never a value).
"""


@dataclass(frozen=True)
class ComposePaths:
    """Host paths the compose file mounts, relative to the build folder (where it lives)."""

    env_file: str
    certs_dir: str
    # sha256 of mounted rendered files: compose recreates a container when its definition
    # changes, not when a file it mounts does, so the digest goes into a label.
    digests: tuple[tuple[str, str], ...] = ()

    def digest(self, name: str) -> str | None:
        return dict(self.digests).get(name)


def relative_to(path: Path, folder: Path) -> str:
    """`path` as seen from `folder` (both relative to the working directory or absolute)."""
    return Path(os.path.relpath(path.absolute(), folder.absolute())).as_posix()


def compose_paths(spec: Spec, out_dir: Path, env_file: Path | None = None,
                  mounted: dict[str, str] | None = None) -> ComposePaths:
    certs = Path(spec.stack.compose(spec.name).nginx_settings.certs_dir)
    digests = {n: hashlib.sha256(c.encode()).hexdigest()[:16] for n, c in (mounted or {}).items()}
    return ComposePaths(
        env_file=relative_to(env_file or spec.stack.env_file, out_dir),
        certs_dir=relative_to(certs, out_dir),
        digests=tuple(sorted(digests.items())),
    )


def project_name(cs: ComposeSettings) -> str:
    """Compose project names allow [a-z0-9_-] only (a layer file's name may hold a dot)."""
    return re.sub(r"[^a-z0-9_-]", "-", cs.project.lower())


def litellm_names(cs: ComposeSettings) -> list[str]:
    """One compose service per replica, not `deploy.replicas`: nginx lists every upstream by
    name (compose's round-robin DNS would hide a dead replica behind one name), and a key
    rotation can recreate them one at a time while the others keep serving."""
    return ["litellm"] if cs.replicas == 1 else [f"litellm-{i}" for i in range(1, cs.replicas + 1)]


def render_compose(spec: Spec, paths: ComposePaths) -> str:
    doc = compose_document(spec, paths)
    return HEADER.format(env_file=paths.env_file) + yaml.safe_dump(
        doc, sort_keys=False, default_flow_style=False, width=4096)


def compose_document(
    spec: Spec, paths: ComposePaths, *, one_litellm: bool = False
) -> dict[str, Any]:
    """The compose project; `one_litellm`: a single `litellm` service whatever the replicas
    (the swarm renderer scales it with deploy.replicas instead)."""
    cs = spec.stack.compose(spec.name)
    prometheus = runs_prometheus(spec)
    names = ["litellm"] if one_litellm else litellm_names(cs)
    owned = secret_vars(spec, deployment_config(spec))
    services: dict[str, Any] = {}
    if cs.db.enabled:
        services["db"] = _db(cs, paths)
    if cs.mlflow.enabled:
        services["mlflow"] = _mlflow(cs, paths)
    redis = brings_redis(spec)  # config.yaml's router_settings name it (stack_redis.py)
    if redis:
        services["redis"] = _redis(cs, paths)
    if cs.fake_provider.enabled:
        services["fake-provider"] = _fake_provider(cs)
    services.update({n: _litellm(cs, spec.stack, paths, i, redis=redis,
                                 secrets=bool(owned["litellm"])) for i, n in enumerate(names)})
    if cs.nginx.enabled:
        services["nginx"] = _nginx(cs, paths, names)
    if prometheus:
        services["prometheus"] = _prometheus(cs, paths)
    for name, service in services.items():
        wanted = owned.get("litellm" if name in names else name, [])
        if wanted:
            service["secrets"] = list(wanted)
    doc: dict[str, Any] = {"name": project_name(cs), "services": services}
    volumes = _volumes(cs)
    if prometheus:
        volumes["prometheus-data"] = {}
    if copilot.uses_copilot(spec):
        _mount_copilot_auth(services, names, volumes)
    if volumes:
        doc["volumes"] = volumes
    used = sorted({v for n, s in services.items() for v in s.get("secrets", [])})
    if used:  # read by `docker compose` from its environment: targets/compose/project.py fills it
        doc["secrets"] = {v: {"environment": v} for v in used}
    return doc


# ---- services ----------------------------------------------------------------------------


def _litellm(cs: ComposeSettings, stack: StackSettings, paths: ComposePaths, index: int, *,
             redis: bool = False, secrets: bool = True) -> dict:
    service: dict[str, Any] = {"image": cs.litellm.image}
    # LiteLLM's CLI through the launcher the build carries (render/launcher.py), after a
    # prefix that exports the service's secret files (and builds DATABASE_URL)
    service["entrypoint"] = litellm_entrypoint(cs, secrets=secrets)
    service["command"] = _litellm_args(stack)
    # Non-secret runtime settings only; the secrets are files (compose_document).
    service["env_file"] = [RUNTIME_ENV_FILE]
    service["environment"] = {**launcher_environment(stack.workers, stack.server,
                                                   stack.workers_max_rss),
                              **_litellm_environment(cs)}
    service["volumes"] = ["./config.yaml:/app/config.yaml:ro"]
    _label_digest(service, paths, "config.yaml")
    # Callbacks LiteLLM loads from config.yaml's folder (llmproxy_ops/render/litellm_hooks).
    shipped = [LAUNCHER_FILE, *(f"{module}.py" for module in SHIPPED_HOOKS)]
    for name in shipped:
        if paths.digest(name):  # rendered (a hook: the config's callbacks name it)
            service["volumes"].append(f"./{name}:{CONTAINER_DIR}/{name}:ro")
            _label_digest(service, paths, name)
    if not cs.nginx.enabled:
        service["ports"] = [f"127.0.0.1:{stack.port + index}:{LITELLM_PORT}"]
    service["healthcheck"] = _http_check(
        f"http://127.0.0.1:{LITELLM_PORT}/health/liveliness",
        start_period="180s" if cs.use_db else "60s",  # Prisma migrations on first start
    )
    depends = [n for n, on in (("db", cs.use_db and cs.db.enabled), ("mlflow", cs.mlflow.enabled),
                               ("redis", redis),
                               ("fake-provider", cs.fake_provider.enabled)) if on]
    return _finish(service, cs.litellm, depends)


def _litellm_args(stack: StackSettings) -> list[str]:
    args = ["--config", "/app/config.yaml", "--host", "0.0.0.0", "--port", str(LITELLM_PORT)]
    args += ["--num_workers", str(stack.workers), *SERVER_FLAGS.get(stack.server, [])]
    if stack.workers > 1 and stack.server == "uvicorn":
        # uvicorn kills a worker that does not answer its ping within 5 s; a worker still
        # importing LiteLLM on a busy CPU misses it and is respawned forever (seen here with
        # 2 workers under a 1.5-CPU limit: no line of output in minutes).
        args += ["--timeout_worker_healthcheck", str(WORKER_HEALTHCHECK_S)]
    return args


def litellm_entrypoint(cs: ComposeSettings, *, secrets: bool) -> list[str]:
    """The launcher; behind a shell prefix (the secret files exported, DATABASE_URL built)
    that then execs it with the service's command as arguments, when there is one."""
    prefix = litellm_prefix(cs, secrets=secrets)
    if not prefix:
        return launcher_argv()
    return ["/bin/sh", "-c", prefix + f'exec {" ".join(launcher_argv())} "$$@"', "litellm"]


def litellm_prefix(cs: ComposeSettings, *, secrets: bool) -> str:
    # DATABASE_URL is built in the container from POSTGRES_PASSWORD (a secret file): one
    # secret, one place, and a DATABASE_URL in .env meant for the local runtime (127.0.0.1)
    # cannot point the container at the wrong host. The password must be URL-safe (validation).
    prefix = EXPORT_SECRETS if secrets else ""
    if cs.use_db:
        url = f"postgresql://{cs.db_user}:$$POSTGRES_PASSWORD@db:5432/litellm"
        prefix += f'export DATABASE_URL="{url}"; '
    return prefix


def _litellm_environment(cs: ComposeSettings) -> dict[str, str]:
    env: dict[str, str] = {}
    if cs.mlflow.enabled:
        # Overrides a local-runtime value (http://127.0.0.1:5001) from the env file.
        env["MLFLOW_TRACKING_URI"] = f"http://mlflow:{MLFLOW_PORT}"
    return env


def _db(cs: ComposeSettings, paths: ComposePaths) -> dict:
    # POSTGRES_PASSWORD is its secret file, exported before the image's own entrypoint
    # (the official image and ours both start with docker-entrypoint.sh postgres).
    service: dict[str, Any] = {
        "image": cs.db.image,
        "entrypoint": ["/bin/sh", "-c", EXPORT_SECRETS + 'exec docker-entrypoint.sh "$$@"',
                       "db"],
        "command": ["postgres"],
        "environment": {"POSTGRES_USER": cs.db_user},
        "volumes": [
            "db-data:/var/lib/postgresql/data",
            f"./{INITDB_FILE}:/docker-entrypoint-initdb.d/10-databases.sql:ro",
        ],
    }
    if isinstance(cs.db_publish, str):
        service["ports"] = [f"{cs.db_publish}:5432"]
    # Over TCP: during initialisation postgres listens on its socket only, so a socket
    # check would pass before the init script has created the databases.
    test = ["CMD", "pg_isready", "-h", "127.0.0.1", "-p", "5432", "-U", cs.db_user]
    service["healthcheck"] = _check(test, start_period="60s")
    return _finish(service, cs.db, [], caps=CAPS["db"])  # caps only when run as root


def _mlflow(cs: ComposeSettings, paths: ComposePaths) -> dict:
    # psycopg2 explicitly: the images install it (SQLAlchemy may otherwise pick psycopg 3).
    backend = f"postgresql+psycopg2://{cs.db_user}:$$POSTGRES_PASSWORD@db:5432/mlflow"
    # The URL goes in through MLflow's own variable, not argv: argv is visible in `ps`.
    script = (
        f'export MLFLOW_BACKEND_STORE_URI="{backend}"; '
        f"exec mlflow server --host 0.0.0.0 --port {MLFLOW_PORT} "
        "--serve-artifacts --artifacts-destination /mlflow/artifacts "
        # MLflow 3 rejects unknown Host headers; LiteLLM calls it as mlflow:5000.
        f'--allowed-hosts "mlflow:{MLFLOW_PORT},mlflow,localhost:*,127.0.0.1:*"'
    )
    service: dict[str, Any] = {
        "image": cs.mlflow.image,
        "entrypoint": ["/bin/sh", "-c", EXPORT_SECRETS + script],
        # MLflow 3's job runner starts ~7 extra workers (~180 MB each): it got the server
        # OOM-killed at 2g. We use no MLflow jobs.
        "environment": {"MLFLOW_SERVER_ENABLE_JOB_EXECUTION": "false"},
        "volumes": ["mlflow-artifacts:/mlflow/artifacts"],
        "healthcheck": _http_check(f"http://127.0.0.1:{MLFLOW_PORT}/health", start_period="120s"),
    }
    if cs.mlflow_port is not None:
        # MLflow has no authentication: published on the host only when asked for
        # (mlflow.port), and validation warns that every local user can read the traces.
        service["ports"] = [f"127.0.0.1:{cs.mlflow_port}:{MLFLOW_PORT}"]
    return _finish(service, cs.mlflow, ["db"] if cs.db.enabled else [])


def _redis(cs: ComposeSettings, paths: ComposePaths) -> dict:
    # Shared rate-limit counters, nothing to keep: no persistence. The password comes from
    # the env file and goes into a config file written by the shell (printf is a builtin):
    # on redis-server's command line it would show in the host's process list. The check
    # authenticates through redis-cli's REDISCLI_AUTH, not its -a argument, for the same
    # reason. Validation requires the password, in characters the config file keeps as one word.
    var = f"$${REDIS_PASSWORD_VAR}"
    script = (
        'umask 077; printf "requirepass %s\\nprotected-mode no\\nsave \\"\\"\\nappendonly no\\n" '
        f'"{var}" > /tmp/redis.conf; exec redis-server /tmp/redis.conf'
    )
    check = (f'{EXPORT_SECRETS}REDISCLI_AUTH="{var}" redis-cli ping | grep -q PONG')
    service = {
        "image": cs.redis.image,
        "entrypoint": ["/bin/sh", "-c", EXPORT_SECRETS + script],
        "healthcheck": _check(["CMD", "sh", "-c", check], start_period="10s"),
    }
    return _finish(service, cs.redis, [], caps=CAPS["redis"])


def _fake_provider(cs: ComposeSettings) -> dict:
    service: dict[str, Any] = {
        "image": cs.fake_provider.image,
        "command": ["python", "-m", "llmproxy_ops.testing.fake_provider",
                    "--host", "0.0.0.0", "--port", str(FAKE_PROVIDER_PORT)],
        # An ephemeral loopback port: tests reach its /_fake/ admin API via `docker compose port`.
        "ports": [f"127.0.0.1::{FAKE_PROVIDER_PORT}"],
        "healthcheck": _http_check(f"http://127.0.0.1:{FAKE_PROVIDER_PORT}/_fake/health",
                                   start_period="10s"),
    }
    return _finish(service, cs.fake_provider, [])


def _nginx(cs: ComposeSettings, paths: ComposePaths, upstreams: list[str]) -> dict:
    ns = cs.nginx_settings
    # nginx listens on the configured ports inside its container too (its redirect names
    # the HTTPS port), so host and container ports are the same numbers.
    liveness = f"http://127.0.0.1:{ns.http_port}{NGINX_LIVENESS_PATH}"
    live_dir = NGINX_UPSTREAM_LIVE.rsplit("/", 1)[0]
    start = (f"mkdir -p {live_dir} && cp {NGINX_UPSTREAM_RENDERED} {NGINX_UPSTREAM_LIVE} "
             "&& exec nginx -g 'daemon off;'")
    service: dict[str, Any] = {
        "image": cs.nginx.image,
        "command": ["/bin/sh", "-c", start],
        "volumes": [f"./{NGINX_FILE}:/etc/nginx/nginx.conf:ro",
                    f"./{NGINX_UPSTREAM_FILE}:{NGINX_UPSTREAM_RENDERED}:ro",
                    f"{paths.certs_dir}:{NGINX_CERTS_PATH}:ro"],
        # The only service that may face a public interface (bind 0.0.0.0 unless set).
        "ports": [f"{ns.bind}:{ns.https_port}:{ns.https_port}",
                  f"{ns.bind}:{ns.http_port}:{ns.http_port}"],
        # curl is in the official nginx image and in ours.
        "healthcheck": _check(["CMD", "curl", "-fsS", "-o", "/dev/null", liveness],
                              start_period="20s"),
    }
    _label_digest(service, paths, NGINX_FILE)
    _label_digest(service, paths, NGINX_UPSTREAM_FILE)
    return _finish(service, cs.nginx, upstreams, caps=CAPS["nginx"])


def _prometheus(cs: ComposeSettings, paths: ComposePaths) -> dict:
    """Scrapes every LiteLLM replica on the compose network (prometheus.yml); no port on the
    host: reach it from another container, or at its container address from this machine."""
    ready = f"http://127.0.0.1:{prometheus_files.PORT}/-/ready"
    service: dict[str, Any] = {
        "image": cs.prometheus.image,
        "entrypoint": ["prometheus"],
        "command": [
            f"--config.file={prometheus_files.CONFIG_DIR}/{prometheus_files.PROMETHEUS_FILE}",
            f"--storage.tsdb.path={prometheus_files.DATA_DIR}",
            f"--storage.tsdb.retention.time={cs.prometheus_retention}",
            f"--web.listen-address=0.0.0.0:{prometheus_files.PORT}",
        ],
        "volumes": [
            f"./{name}:{prometheus_files.CONFIG_DIR}/{name}:ro"
            for name in (prometheus_files.PROMETHEUS_FILE, prometheus_files.RULES_FILE)
        ] + [f"prometheus-data:{prometheus_files.DATA_DIR}"],
        # busybox's wget in prom/prometheus, Debian's in ours
        "healthcheck": _check(["CMD", "wget", "-q", "-O", "/dev/null", ready],
                              start_period="20s"),
    }
    _label_digest(service, paths, prometheus_files.PROMETHEUS_FILE)
    _label_digest(service, paths, prometheus_files.RULES_FILE)
    return _finish(service, cs.prometheus, [])


def prometheus_config(spec: Spec) -> str:
    """prometheus.yml for the compose stack: each replica by its service name."""
    cs = spec.stack.compose(spec.name)
    return prometheus_files.render_prometheus(
        prometheus_files.static_targets([f"{name}:{LITELLM_PORT}" for name in litellm_names(cs)]),
        prometheus_key_file(spec))


def prometheus_key_file(spec: Spec) -> str:
    """Where its container reads the master key: its own secret (service_secrets.secret_vars),
    a compose secret or a Docker secret, both under /run/secrets."""
    return f"{SECRETS_DIR}/{master_key_var(spec)}"


# ---- shared pieces -----------------------------------------------------------------------


def _label_digest(service: dict, paths: ComposePaths, name: str) -> None:
    digest = paths.digest(name)
    if digest:
        service.setdefault("labels", {})[f"llmproxy-ops.sha256.{name}"] = digest


def _finish(service: dict, settings: Service, depends: list[str],
            caps: tuple[str, ...] = ()) -> dict:
    """Dependencies, restart policy, hardening and resources: the same for every service."""
    if depends:
        service["depends_on"] = {d: {"condition": "service_healthy"} for d in depends}
    service["restart"] = "unless-stopped"
    if settings.run_as:
        service["user"] = settings.run_as
    service["security_opt"] = ["no-new-privileges:true"]
    service["cap_drop"] = ["ALL"]
    if caps and (settings.run_as is None or settings.run_as in ROOT_USERS):
        service["cap_add"] = list(caps)
    service["deploy"] = {"resources": {
        "limits": {"cpus": settings.cpus, "memory": settings.memory},
        "reservations": {"cpus": settings.cpus_reserved, "memory": settings.memory_reserved},
    }}
    return service


def _http_check(url: str, *, start_period: str) -> dict:
    # python3 is in the official LiteLLM/MLflow images and in ours; urlopen raises (exit 1)
    # on a refused connection or an HTTP error status.
    code = f"import urllib.request; urllib.request.urlopen('{url}', timeout=4)"
    return _check(["CMD", "python3", "-c", code], start_period=start_period)


def _check(test: list[str], *, start_period: str) -> dict:
    return {"test": test, "interval": "5s", "timeout": "5s", "retries": 6,
            "start_period": start_period}


def _mount_copilot_auth(services: dict, names: list[str], volumes: dict[str, dict]) -> None:
    """Copilot's login lives in a volume every replica mounts: a recreate never asks again."""
    for name in names:
        services[name].setdefault("environment", {})[copilot.TOKEN_DIR_VAR] = copilot.CONTAINER_DIR
        services[name]["volumes"].append(f"{copilot.VOLUME}:{copilot.CONTAINER_DIR}")
    volumes[copilot.VOLUME] = {}


def _volumes(cs: ComposeSettings) -> dict[str, dict]:
    volumes: dict[str, dict] = {}
    if cs.db.enabled:
        volumes["db-data"] = {}
    if cs.mlflow.enabled:
        volumes["mlflow-artifacts"] = {}
    return volumes
