"""The rendered docker-compose.yml: services, wiring, hardening, and never a secret value."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from llmproxy_ops.render.build import render_files
from llmproxy_ops.render.service_secrets import EXPORT_SECRETS
from llmproxy_ops.spec import load_environment, load_files
from llmproxy_ops.validate.checks.compose import check_compose_env
from llmproxy_ops.validate.context import CheckContext
from tests.conftest import DISTINCT_SECRETS, REPO

SECRETS = DISTINCT_SECRETS

BASE = """
model_list:
  - model_name: m
    litellm_params: {model: openai/gpt-4o-mini, api_key: os.environ/OPENAI_API_KEY}
general_settings: {master_key: os.environ/LITELLM_MASTER_KEY}
litellm_settings: {request_timeout: 600}
stack:
  runtime: compose
  port: 4555
  workers: 2
  server: granian
  compose:
"""


def _render(write, compose: str = "{}", out: str = "build/x") -> tuple[dict, dict[str, str]]:
    spec = load_files([write("x.yaml", BASE + "    " + compose + "\n")])
    files = render_files(spec, out_dir=Path(out))
    return yaml.safe_load(files["docker-compose.yml"]), files


def test_default_stack_services_and_order(write, in_tmp):
    doc, files = _render(write)
    assert list(doc["services"]) == ["db", "mlflow", "litellm", "nginx"]
    # llmproxy_auth_status.py: the callback every rendering names (a wrong key gets 401)
    assert sorted(files) == ["config.yaml", "docker-compose.yml", "env-manifest.json",
                             "initdb.sql", "llmproxy_auth_status.py", "llmproxy_launcher.py",
                             "nginx-upstream.conf", "nginx.conf", "runtime.env"]
    assert files["docker-compose.yml"].startswith("# Rendered by llmproxy-ops")
    assert doc["volumes"] == {"db-data": {}, "mlflow-artifacts": {}}


def test_litellm_service(write, in_tmp):
    doc, _ = _render(write)
    lit = doc["services"]["litellm"]
    assert lit["image"] == "ghcr.io/berriai/litellm:v1.108.7"
    assert lit["command"] == ["--config", "/app/config.yaml", "--host", "0.0.0.0", "--port", "4000",
                              "--num_workers", "2", "--run_granian"]
    # non-secret settings only; its own secrets are files, exported by its entrypoint
    assert lit["env_file"] == ["runtime.env"]
    assert lit["secrets"] == ["LITELLM_MASTER_KEY", "OPENAI_API_KEY"]
    assert doc["secrets"] == {v: {"environment": v} for v in
                              ["LITELLM_MASTER_KEY", "OPENAI_API_KEY", "POSTGRES_PASSWORD"]}
    assert lit["user"] == "10001:10001"
    # granian keeps its own workers: no supervisor in the launcher (render/launcher.py)
    assert lit["environment"] == {"LLMPROXY_SUPERVISE": "0",
                                  "MLFLOW_TRACKING_URI": "http://mlflow:5000"}
    assert lit["volumes"] == [
        "./config.yaml:/app/config.yaml:ro",
        # LiteLLM's CLI runs through the launcher the build carries, in any image
        "./llmproxy_launcher.py:/app/llmproxy_launcher.py:ro",
        "./llmproxy_auth_status.py:/app/llmproxy_auth_status.py:ro",  # beside the config
    ]
    assert "ports" not in lit  # behind nginx
    assert lit["entrypoint"] == ["/bin/sh", "-c",
                                 EXPORT_SECRETS + 'exec python3 /app/llmproxy_launcher.py "$$@"',
                                 "litellm"]
    test = lit["healthcheck"]["test"]
    assert test[:3] == ["CMD", "python3", "-c"] and "'http://127.0.0.1:4000/health/liveliness'" in test[3]
    assert lit["depends_on"] == {"mlflow": {"condition": "service_healthy"}}
    assert len(lit["labels"]["llmproxy-ops.sha256.config.yaml"]) == 16


def test_hardening_and_resources_on_every_service(write, in_tmp):
    doc, _ = _render(write, "{redis: {enabled: true}, fake_provider: {enabled: true}}")
    for name, svc in doc["services"].items():
        assert svc["restart"] == "unless-stopped", name
        assert svc["security_opt"] == ["no-new-privileges:true"], name
        assert svc["cap_drop"] == ["ALL"], name
        assert set(svc["deploy"]["resources"]) == {"limits", "reservations"}, name
    caps = {n: s.get("cap_add", []) for n, s in doc["services"].items()}
    # only nginx runs as root (its master binds 80/443); the others need no capability
    assert caps == {"db": [], "mlflow": [], "redis": [], "fake-provider": [], "litellm": [],
                    "nginx": ["CHOWN", "NET_BIND_SERVICE", "SETGID", "SETUID"]}
    users = {n: s.get("user") for n, s in doc["services"].items()}
    assert users == {"db": "postgres", "mlflow": "10001:10001", "redis": "redis",
                     "fake-provider": "10001:10001", "litellm": "10001:10001", "nginx": None}
    for name, svc in doc["services"].items():
        assert "env_file" not in svc or svc["env_file"] == ["runtime.env"], name
    assert doc["services"]["litellm"]["deploy"]["resources"]["limits"] == {"cpus": "2.0", "memory": "4g"}


def test_dependency_chain_db_mlflow_litellm_nginx(write, in_tmp):
    doc, _ = _render(write, "{litellm: {use_db: true}}")
    deps = {n: list(s.get("depends_on", {})) for n, s in doc["services"].items()}
    assert deps == {"db": [], "mlflow": ["db"], "litellm": ["db", "mlflow"], "nginx": ["litellm"]}


def test_only_nginx_faces_a_public_interface(write, in_tmp):
    doc, _ = _render(write, "{nginx: {bind: 0.0.0.0, https_port: 8443, http_port: 8080}}")
    ports = {n: s.get("ports", []) for n, s in doc["services"].items()}
    # MLflow has no authentication: not published unless mlflow.port asks for it
    assert ports == {"db": [], "mlflow": [], "litellm": [],
                     "nginx": ["0.0.0.0:8443:8443", "0.0.0.0:8080:8080"]}
    nginx = doc["services"]["nginx"]
    assert nginx["volumes"] == ["./nginx.conf:/etc/nginx/nginx.conf:ro",
                                "./nginx-upstream.conf:/etc/nginx/llmproxy-upstream.conf:ro",
                                "../../certs:/etc/nginx/certs:ro"]
    # The rendered upstream list is copied where a rollout can rewrite it (runtime/nginx_upstream)
    assert nginx["command"] == [
        "/bin/sh", "-c", "mkdir -p /run/llmproxy && cp /etc/nginx/llmproxy-upstream.conf "
        "/run/llmproxy/upstream.conf && exec nginx -g 'daemon off;'"]
    assert set(nginx["labels"]) == {"llmproxy-ops.sha256.nginx.conf",
                                    "llmproxy-ops.sha256.nginx-upstream.conf"}
    assert nginx["healthcheck"]["test"][-1] == "http://127.0.0.1:8080/health/liveliness"


def test_without_nginx_litellm_is_published_on_loopback(write, in_tmp):
    doc, files = _render(write, "{nginx: {enabled: false}, db: {publish: '127.0.0.1:5433'}}")
    assert doc["services"]["litellm"]["ports"] == ["127.0.0.1:4555:4000"]
    assert doc["services"]["db"]["ports"] == ["127.0.0.1:5433:5432"]
    assert "nginx.conf" not in files


def test_replicas_are_distinct_services_listed_in_nginx(write, in_tmp):
    doc, files = _render(write, "{litellm: {replicas: 3}}")
    names = [n for n in doc["services"] if n.startswith("litellm")]
    assert names == ["litellm-1", "litellm-2", "litellm-3"]
    assert list(doc["services"]["nginx"]["depends_on"]) == names
    assert "include /run/llmproxy/upstream.conf;" in files["nginx.conf"]
    assert files["nginx-upstream.conf"].splitlines()[1:] == [
        f"server {name}:4000 max_fails=1 fail_timeout=2s;" for name in names]


def test_use_db_builds_database_url_inside_the_container(write, in_tmp):
    doc, files = _render(write, "{litellm: {use_db: true}, db: {user: gw}}")
    lit = doc["services"]["litellm"]
    assert lit["entrypoint"] == [
        "/bin/sh", "-c",
        EXPORT_SECRETS
        + 'export DATABASE_URL="postgresql://gw:$$POSTGRES_PASSWORD@db:5432/litellm"; exec python3 /app/llmproxy_launcher.py "$$@"',
        "litellm",
    ]
    assert lit["secrets"] == ["LITELLM_MASTER_KEY", "LITELLM_SALT_KEY", "OPENAI_API_KEY",
                              "POSTGRES_PASSWORD"]
    assert "DATABASE_URL" not in lit.get("environment", {})
    assert doc["services"]["db"]["environment"] == {"POSTGRES_USER": "gw"}
    assert "POSTGRES_PASSWORD" not in str(doc["services"]["db"].get("environment"))
    assert files["initdb.sql"].splitlines()[-2:] == ["CREATE DATABASE litellm;", "CREATE DATABASE mlflow;"]


def test_no_database_url_without_use_db(write, in_tmp):
    _, files = _render(write)
    assert "DATABASE_URL" not in "".join(files.values())


def test_mlflow_backend_password_expanded_in_container(write, in_tmp):
    doc, _ = _render(write)
    mlflow = doc["services"]["mlflow"]
    script = mlflow["entrypoint"][2]
    assert script.startswith(EXPORT_SECRETS) and mlflow["secrets"] == ["POSTGRES_PASSWORD"]
    script = script[len(EXPORT_SECRETS):]  # (its `$${f##*/}` is an escaped `$`)
    # through MLflow's own variable, never argv (visible in `ps`)
    assert 'export MLFLOW_BACKEND_STORE_URI="postgresql+psycopg2://llmproxy:$$POSTGRES_PASSWORD@db:5432/mlflow"' in script
    assert "--backend-store-uri" not in script
    # its job runner's extra workers got it OOM-killed at 2g
    assert mlflow["environment"] == {"MLFLOW_SERVER_ENABLE_JOB_EXECUTION": "false"}
    assert "--artifacts-destination /mlflow/artifacts" in script
    assert "${" not in script
    assert mlflow["volumes"] == ["mlflow-artifacts:/mlflow/artifacts"]


def test_local_runtime_renders_no_compose_file(write, in_tmp):
    spec = load_files([write("x.yaml", BASE.replace("runtime: compose", "runtime: local"))])
    assert "docker-compose.yml" not in render_files(spec)


def test_render_is_deterministic(write, in_tmp):
    assert _render(write)[1] == _render(write)[1]


SHIPPED = [("configs", "ci"), ("configs", "prod"), ("configs/examples/home-gateway", "prod")]


@pytest.mark.parametrize(("configs", "env"), SHIPPED)
def test_shipped_compose_envs_render_no_secret_value(configs, env, tmp_path, monkeypatch):
    for name, value in SECRETS.items():
        monkeypatch.setenv(name, value)
    spec = load_environment(REPO / configs, env)
    assert spec.stack.runtime == "compose"
    files = render_files(spec, out_dir=tmp_path / "build" / env, env_file=tmp_path / ".env")
    rendered = "".join(files.values())
    assert "docker-compose.yml" in files
    for value in SECRETS.values():
        assert value not in rendered


def _ctx(write, compose: str, env: dict[str, str] | None, runtime: str = "compose") -> CheckContext:
    text = BASE.replace("runtime: compose", f"runtime: {runtime}") + "    " + compose + "\n"
    return CheckContext(load_files([write("x.yaml", text)]), env=env, env_example=frozenset())


@pytest.mark.parametrize("runtime", ["compose", "swarm"])  # the same db service on both
@pytest.mark.parametrize(("env", "message"), [
    ({}, "the db service needs POSTGRES_PASSWORD, which is not set"),
    ({"POSTGRES_PASSWORD": "p@ss:word"},
     "POSTGRES_PASSWORD has characters that break the postgresql:// URLs built from it"),
])
def test_check_compose_env_requires_a_url_safe_password(write, in_tmp, env, message, runtime):
    findings = list(check_compose_env(_ctx(write, "{}", env, runtime)))
    assert [(f.code, f.message) for f in findings] == [("compose-db-password", message)]


def test_check_compose_env_quiet_when_fine_or_not_applicable(write, in_tmp):
    assert list(check_compose_env(_ctx(write, "{}", {"POSTGRES_PASSWORD": "Ab-1_x.y~z"}))) == []
    assert list(check_compose_env(_ctx(write, "{db: {enabled: false}, mlflow: {enabled: false}}", {}))) == []
    assert list(check_compose_env(_ctx(write, "{}", None))) == []
    assert list(check_compose_env(_ctx(write, "{}", {}, "local"))) == []  # no db service


def test_smoke_target_goes_through_nginx_for_compose(write, in_tmp, monkeypatch):
    from llmproxy_ops.ops.smoke.target import SmokeRequest, endpoint_of, smoke_target
    from llmproxy_ops.pipeline import Target

    write("configs/environments/x.yaml", "stack:\n  runtime: compose\n  compose: {nginx: {https_port: 8443, bind: 127.0.0.1}}\n")
    write(".env", "LITELLM_MASTER_KEY=sk-from-the-env-file\n")
    monkeypatch.setenv("LITELLM_MASTER_KEY", "sk-stale-exported-one")
    spec = load_environment(in_tmp / "configs", "x")
    assert endpoint_of(spec) == ("https://127.0.0.1:8443", True)
    write("certs/cert.pem", "not checked here")
    target = smoke_target(SmokeRequest(target=Target(env="x", configs_dir=in_tmp / "configs")))
    assert (target.url, target.verify_tls) == ("https://127.0.0.1:8443", "certs/cert.pem")
    assert target.key == "sk-from-the-env-file"  # the store wins over a stale export


# ---- shared rate-limit counters (render/stack_redis.py) ---------------------------------------

ENFORCED = BASE.replace("litellm_settings:", "router_settings: {optional_pre_call_checks: "
                        "[enforce_model_rate_limits]}\nlitellm_settings:")


def _enforced(write, compose: str = "{}", *, workers: int = 2, router: str = "") -> tuple[dict, dict]:
    text = ENFORCED.replace("workers: 2", f"workers: {workers}") + "    " + compose + "\n"
    text = text.replace("optional_pre_call_checks: [enforce_model_rate_limits]",
                        "optional_pre_call_checks: [enforce_model_rate_limits]" + router)
    files = render_files(load_files([write("x.yaml", text)]), out_dir=Path("build/x"))
    return yaml.safe_load(files["docker-compose.yml"]), yaml.safe_load(files["config.yaml"])


def test_redis_whenever_several_processes_enforce_limits(write, in_tmp):
    for workers, compose, wanted in ((2, "{}", True), (1, "{litellm: {replicas: 2}}", True),
                                     (1, "{}", False), (2, "{redis: {enabled: false}}", False)):
        doc, config = _enforced(write, compose, workers=workers)
        assert ("redis" in doc["services"]) is wanted, (workers, compose)
        names = [n for n in doc["services"] if n.startswith("litellm")]
        for name in names:
            assert ("redis" in doc["services"][name].get("depends_on", {})) is wanted
        router = config["router_settings"]
        wired = {k: router[k] for k in ("redis_host", "redis_port", "redis_password") if k in router}
        assert wired == ({"redis_host": "redis", "redis_port": 6379,
                          "redis_password": "os.environ/REDIS_PASSWORD"} if wanted else {})
    _, config = _enforced(write, "{}", workers=2)
    assert config["router_settings"]["optional_pre_call_checks"] == ["enforce_model_rate_limits"]


def test_no_redis_without_enforced_limits(write, in_tmp):
    doc, _ = _render(write)  # workers 2, limits not enforced: counts do not matter
    assert "redis" not in doc["services"]


def test_a_redis_the_router_settings_name_wins(write, in_tmp):
    doc, config = _enforced(write, router=", redis_host: cache.internal, redis_port: 6380")
    assert "redis" not in doc["services"]
    assert (config["router_settings"]["redis_host"], config["router_settings"]["redis_port"]) == (
        "cache.internal", 6380)
    assert "redis_password" not in config["router_settings"]


def test_redis_password_comes_from_the_env_file_never_argv(write, in_tmp):
    doc, _ = _enforced(write)
    redis = doc["services"]["redis"]
    assert redis["secrets"] == ["REDIS_PASSWORD"] and "env_file" not in redis
    shell, flag, script = redis["entrypoint"]
    assert (shell, flag) == ("/bin/sh", "-c")
    assert script.startswith(EXPORT_SECRETS)  # its secret file, as $REDIS_PASSWORD
    script = script[len(EXPORT_SECRETS):]
    # written into a config file by printf (a shell builtin): no process ever has it in argv
    assert script.startswith("umask 077; printf ") and '"$$REDIS_PASSWORD" > /tmp/redis.conf' in script
    assert script.endswith("; exec redis-server /tmp/redis.conf")
    assert "requirepass" not in script.split("exec", 1)[1] and "--requirepass" not in script
    assert 'save \\"\\"' in script and "appendonly no" in script  # counters only: no persistence
    test = redis["healthcheck"]["test"]
    assert test == ["CMD", "sh", "-c",
                    EXPORT_SECRETS + 'REDISCLI_AUTH="$$REDIS_PASSWORD" redis-cli ping | grep -q PONG']
    assert "command" not in redis and "environment" not in redis


def _redis_ctx(write, compose: str, env: dict[str, str] | None) -> CheckContext:
    spec = load_files([write("x.yaml", ENFORCED + "    " + compose + "\n")])
    return CheckContext(spec, env=env, env_example=frozenset())


@pytest.mark.parametrize(("env", "message", "hint"), [
    ({}, "the redis service needs REDIS_PASSWORD, which is not set (2 LiteLLM processes share "
     "their rate-limit counters through it)",
     "add REDIS_PASSWORD=<random> to .env (e.g. python3 -c 'import secrets; "
     "print(secrets.token_urlsafe(24))')"),
    ({"REDIS_PASSWORD": "two words"},
     "REDIS_PASSWORD has characters the redis service's config file would split",
     "use letters, digits and . _ ~ - only (token_urlsafe output is fine)"),
])
def test_missing_redis_password_is_a_located_error(write, in_tmp, env, message, hint):
    from llmproxy_ops.validate.checks.compose import check_stack_redis_env

    [f] = check_stack_redis_env(_redis_ctx(write, "{}", env))
    assert (f.severity.value, f.code, f.message, f.hint) == ("error", "compose-redis-password",
                                                             message, hint)
    assert f.path == ("stack", "workers")
    assert (f.location.file, f.location.line) == ("x.yaml", 10)  # stack.workers: 2


def test_redis_password_check_quiet_when_fine_or_not_needed(write, in_tmp):
    from llmproxy_ops.validate.checks.compose import check_stack_redis_env

    assert list(check_stack_redis_env(_redis_ctx(write, "{}", {"REDIS_PASSWORD": "Ab-1_x.y~z"}))) == []
    assert list(check_stack_redis_env(_redis_ctx(write, "{redis: {enabled: false}}", {}))) == []
    assert list(check_stack_redis_env(_ctx(write, "{}", {}))) == []  # limits not enforced


def test_apply_starts_the_redis_a_new_build_adds(write, in_tmp):
    """Replicas are recreated with --no-deps: a rollout must start a new backing service first."""
    from llmproxy_ops.targets.compose.runtime import added_services

    path = in_tmp / "docker-compose.yml"
    path.write_text(yaml.safe_dump(_enforced(write)[0]), encoding="utf-8")
    running = {"db", "mlflow", "litellm", "nginx"}  # rendered with one worker: no redis
    assert added_services(path, running, skip=["litellm"]) == ["redis"]
    assert added_services(path, running | {"redis"}, skip=["litellm"]) == []
    assert added_services(in_tmp / "missing.yml", running, skip=["litellm"]) == []


def test_apply_removes_the_backing_services_a_new_build_drops(write, in_tmp):
    """Redis switched off (or metrics: Prometheus) leaves the stack at the end of the
    rollout; replicas and nginx are the rollout's own, and an unreadable file drops nothing."""
    from llmproxy_ops.targets.compose.runtime import dropped_services

    path = in_tmp / "docker-compose.yml"
    path.write_text(yaml.safe_dump(_enforced(write)[0]), encoding="utf-8")
    defined = set(yaml.safe_load(path.read_text(encoding="utf-8"))["services"])
    assert "redis" in defined
    running = defined | {"prometheus", "litellm-1", "litellm-2"}
    assert dropped_services(path, running) == ["prometheus"]
    assert dropped_services(path, defined) == []
    assert dropped_services(in_tmp / "missing.yml", running) == []


def _render_metrics(write, compose: str = "{}") -> tuple[dict, dict[str, str]]:
    body = BASE.replace("  workers: 2\n", "  workers: 2\n  metrics: true\n")
    spec = load_files([write("x.yaml", body + "    " + compose + "\n")])
    files = render_files(spec, out_dir=Path("build/x"))
    return yaml.safe_load(files["docker-compose.yml"]), files


def test_metrics_run_a_prometheus_that_scrapes_every_replica_directly(write, in_tmp):
    doc, files = _render_metrics(write, "{litellm: {replicas: 2}, prometheus: {retention: 30d}}")
    service = doc["services"]["prometheus"]
    assert "ports" not in service  # on the compose network only
    assert service["secrets"] == ["LITELLM_MASTER_KEY"]  # its own secret, nothing else
    assert "--storage.tsdb.retention.time=30d" in service["command"]
    assert "prometheus-data:/prometheus" in service["volumes"]
    assert service["cap_drop"] == ["ALL"] and service["security_opt"] == ["no-new-privileges:true"]
    config = yaml.safe_load(files["prometheus.yml"])
    [job] = config["scrape_configs"]
    assert job["static_configs"] == [{"targets": ["litellm-1:4000", "litellm-2:4000"]}]
    assert job["job_name"] == "litellm" and job["metrics_path"] == "/metrics/"
    assert job["authorization"] == {"credentials_file": "/run/secrets/LITELLM_MASTER_KEY"}
    shipped = (REPO / "monitoring/prometheus/alerts.yml").read_text()
    assert files["prometheus-alerts.yml"] == shipped
    assert config["rule_files"] == ["/etc/llmproxy-ops/prometheus-alerts.yml"]
    mounted = {v.split(":")[1] for v in service["volumes"] if v.startswith("./")}
    assert mounted == {"/etc/llmproxy-ops/prometheus.yml", "/etc/llmproxy-ops/prometheus-alerts.yml"}
    assert set(service["labels"]) == {"llmproxy-ops.sha256.prometheus.yml",
                                      "llmproxy-ops.sha256.prometheus-alerts.yml"}
    assert doc["volumes"]["prometheus-data"] == {}


def test_no_prometheus_without_metrics_or_when_turned_off(write, in_tmp):
    doc, files = _render(write)
    assert "prometheus" not in doc["services"] and "prometheus.yml" not in files
    doc, files = _render_metrics(write, "{prometheus: {enabled: false}}")
    assert "prometheus" not in doc["services"] and "prometheus.yml" not in files
