"""The rendered kustomize folder: one test per property issue 11 asks of the manifests."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
import yaml

from llmproxy_ops.errors import UsageError
from llmproxy_ops.render.build import render_build, render_files
from llmproxy_ops.render.nginx import render_nginx
from llmproxy_ops.runtime.api import runtime_of
from llmproxy_ops.spec import load_environment, load_files
from llmproxy_ops.targets.compose.settings import DEFAULT_IMAGES
from llmproxy_ops.targets.kubernetes.render.common import cpu_quantity, memory_quantity
from llmproxy_ops.validate import validate_spec
from tests.conftest import DISTINCT_SECRETS, REPO

BASE = """
model_list:
  - model_name: m
    litellm_params: {model: openai/gpt-4o-mini, api_key: os.environ/OPENAI_API_KEY, rpm: 10}
general_settings: {master_key: os.environ/LITELLM_MASTER_KEY}
litellm_settings: {request_timeout: 600, success_callback: [mlflow]}
router_settings: {optional_pre_call_checks: [enforce_model_rate_limits]}
stack:
  runtime: kubernetes
  workers: 2
  kubernetes:
"""

Docs = dict[tuple[str, str], dict[str, Any]]


def _render(write, kubernetes: str = "{}") -> tuple[Docs, dict[str, str]]:
    spec = load_files([write("x.yaml", BASE + "    " + kubernetes + "\n")])
    files = render_files(spec, out_dir=Path("build/x"))
    return _objects(files), files


def _objects(files: dict[str, str]) -> Docs:
    docs: Docs = {}
    for name, text in files.items():
        if name.endswith(".yaml") and name not in ("config.yaml", "kustomization.yaml"):
            for doc in yaml.safe_load_all(text):
                docs[(doc["kind"], doc["metadata"]["name"])] = doc
    return docs


def _pod(doc: dict[str, Any]) -> dict[str, Any]:
    return doc["spec"]["template"]["spec"]


def _workloads(docs: Docs) -> list[dict[str, Any]]:
    return [d for (kind, _), d in docs.items() if kind in ("Deployment", "StatefulSet")]


def _litellm(docs: Docs) -> dict[str, Any]:
    return _pod(docs[("Deployment", "litellm")])["containers"][0]


def test_every_object_the_issue_lists_is_rendered(write, in_tmp):
    docs, files = _render(write)
    assert sorted(docs) == [
        ("Deployment", "litellm"), ("Deployment", "mlflow"), ("Deployment", "redis"),
        ("HorizontalPodAutoscaler", "litellm"), ("Ingress", "litellm"), ("Namespace", "llmproxy-x-yaml"),
        ("NetworkPolicy", "default-deny-ingress"), ("NetworkPolicy", "litellm"),
        ("NetworkPolicy", "mlflow"), ("NetworkPolicy", "postgres"), ("NetworkPolicy", "redis"),
        ("PersistentVolumeClaim", "mlflow-artifacts"), ("PodDisruptionBudget", "litellm"),
        ("Service", "litellm"), ("Service", "mlflow"), ("Service", "postgres"), ("Service", "redis"),
        ("StatefulSet", "postgres"),
    ]
    kustomization = yaml.safe_load(files["kustomization.yaml"])
    assert kustomization["namespace"] == "llmproxy-x-yaml"
    assert kustomization["resources"] == [
        "ingress.yaml", "litellm.yaml", "mlflow.yaml", "namespace.yaml", "network-policy.yaml",
        "postgres.yaml", "redis.yaml"]


def test_rolling_update_never_lowers_capacity(write, in_tmp):
    docs, _ = _render(write, "{replicas: 3}")
    spec = docs[("Deployment", "litellm")]["spec"]
    assert spec["replicas"] == 3
    assert spec["strategy"] == {"type": "RollingUpdate",
                                "rollingUpdate": {"maxUnavailable": 0, "maxSurge": 1}}


def test_probes_use_liveliness_and_readiness_never_health(write, in_tmp):
    container = _litellm(_render(write)[0])
    assert container["livenessProbe"]["httpGet"] == {"path": "/health/liveliness", "port": 4000}
    assert container["readinessProbe"]["httpGet"] == {"path": "/health/readiness", "port": 4000}
    assert container["startupProbe"]["httpGet"]["path"] == "/health/liveliness"
    probes = [c[p] for d in _workloads(_render(write)[0]) for c in _pod(d)["containers"]
              for p in ("livenessProbe", "readinessProbe")]
    assert len(probes) == 8  # litellm, mlflow, redis, postgres: both probes each
    assert "'/health'" not in str(container)


def test_drain_then_a_grace_period_beyond_the_longest_request(write, in_tmp):
    docs, _ = _render(write, "{drain_seconds: 20}")
    assert _litellm(docs)["lifecycle"] == {"preStop": {"sleep": {"seconds": 20}}}
    # drain 20 + request_timeout 600 + margin 30: streams finish before SIGKILL
    assert _pod(docs[("Deployment", "litellm")])["terminationGracePeriodSeconds"] == 650


def test_resources_are_converted_from_docker_units(write, in_tmp):
    docs, _ = _render(write, "{litellm: {cpus: 1.5, memory: 512m, cpus_reserved: 0.25, memory_reserved: 1g}}")
    assert _litellm(docs)["resources"] == {"requests": {"cpu": "250m", "memory": "1Gi"},
                                           "limits": {"cpu": "1500m", "memory": "512Mi"}}
    for doc in _workloads(docs):
        for container in _pod(doc)["containers"]:
            assert set(container["resources"]) == {"requests", "limits"}, doc["metadata"]["name"]


@pytest.mark.parametrize(("size", "quantity"), [("512m", "512Mi"), ("4g", "4Gi"), ("1.5g", "1536Mi"),
                                                ("64k", "64Ki"), ("2048", "2048")])
def test_memory_sizes_are_binary_like_docker(size, quantity):
    assert memory_quantity(size) == quantity


@pytest.mark.parametrize(("cpus", "quantity"), [("2.0", "2"), ("0.5", "500m"), ("0.1", "100m"), ("3", "3")])
def test_cpus_become_cores_or_millicores(cpus, quantity):
    assert cpu_quantity(cpus) == quantity


def test_every_pod_is_hardened(write, in_tmp):
    for doc in _workloads(_render(write)[0]):
        pod = _pod(doc)
        assert pod["securityContext"]["runAsNonRoot"] is True
        assert pod["securityContext"]["runAsUser"] >= 10000
        assert pod["securityContext"]["seccompProfile"] == {"type": "RuntimeDefault"}
        assert pod["automountServiceAccountToken"] is False
        for container in pod["containers"]:
            sc = container["securityContext"]
            assert sc["readOnlyRootFilesystem"] is True
            assert sc["allowPrivilegeEscalation"] is False
            assert sc["capabilities"] == {"drop": ["ALL"]}
            # a read-only root needs somewhere to write
            assert "/tmp" in [m["mountPath"] for m in container["volumeMounts"]] or \
                doc["metadata"]["name"] == "redis"


def test_images_are_the_compose_defaults_and_pinned(write, in_tmp):
    docs, _ = _render(write)
    images = {d["metadata"]["name"]: _pod(d)["containers"][0]["image"] for d in _workloads(docs)}
    assert images == {"litellm": DEFAULT_IMAGES["litellm"], "mlflow": DEFAULT_IMAGES["mlflow"],
                      "redis": DEFAULT_IMAGES["redis"], "postgres": DEFAULT_IMAGES["db"]}
    assert images["litellm"] == "ghcr.io/berriai/litellm:v1.108.7"
    for image in images.values():
        assert re.search(r":[A-Za-z0-9._-]+$", image) and not image.endswith(":latest")


def test_config_is_a_hash_named_configmap_keeping_env_references(write, in_tmp):
    docs, files = _render(write)
    generators = yaml.safe_load(files["kustomization.yaml"])["configMapGenerator"]
    # the shipped 401 callback lives beside config.yaml, as LiteLLM looks for it there
    assert {"name": "litellm-config", "files": ["config.yaml", "llmproxy_auth_status.py",
                                                "llmproxy_launcher.py"]} in generators
    assert {"name": "litellm-env", "envs": ["runtime.env"]} in generators
    assert "disableNameSuffixHash" not in str(generators)
    volumes = _pod(docs[("Deployment", "litellm")])["volumes"]
    assert {"name": "config", "configMap": {"name": "litellm-config"}} in volumes
    config = yaml.safe_load(files["config.yaml"])
    assert config["model_list"][0]["litellm_params"]["api_key"] == "os.environ/OPENAI_API_KEY"


def test_secrets_are_referenced_by_name_and_listed_without_values(write, in_tmp):
    docs, files = _render(write)
    env = {e["name"]: e for e in _litellm(docs)["env"]}
    for key in ("LITELLM_MASTER_KEY", "OPENAI_API_KEY", "REDIS_PASSWORD"):
        assert env[key] == {"name": key, "valueFrom": {"secretKeyRef": {"name": "llmproxy-secrets", "key": key}}}
    assert "POSTGRES_PASSWORD" not in env  # MLflow's and Postgres's, not LiteLLM's (no use_db)
    postgres_env = _pod(docs[("StatefulSet", "postgres")])["containers"][0]["env"]
    assert postgres_env[0]["valueFrom"]["secretKeyRef"]["key"] == "POSTGRES_PASSWORD"
    assert files["secrets.env.example"].splitlines()[3:] == [
        "LITELLM_MASTER_KEY=", "OPENAI_API_KEY=", "POSTGRES_PASSWORD=", "REDIS_PASSWORD="]
    assert not any(doc["kind"] == "Secret" for doc in docs.values())


def test_more_than_one_pod_shares_limits_through_redis(write, in_tmp):
    docs, files = _render(write, "{replicas: 1, max_replicas: 3}")
    router = yaml.safe_load(files["config.yaml"])["router_settings"]
    assert router == {"optional_pre_call_checks": ["enforce_model_rate_limits"], "redis_host": "redis",
                      "redis_port": 6379, "redis_password": "os.environ/REDIS_PASSWORD"}
    args = _pod(docs[("Deployment", "redis")])["containers"][0]["args"]
    assert args[:3] == ["redis-server", "--requirepass", "$(REDIS_PASSWORD)"]


def test_one_pod_needs_no_redis(write, in_tmp):
    docs, files = _render(write, "{replicas: 1, max_replicas: 1}")
    assert "redis.yaml" not in files
    assert ("NetworkPolicy", "redis") not in docs
    assert "redis" not in files["config.yaml"]
    assert "REDIS_PASSWORD" not in files["secrets.env.example"]


def test_a_redis_of_the_spec_wins_over_the_in_cluster_one(write, in_tmp):
    spec_text = BASE.replace("router_settings: {", "router_settings: {redis_url: os.environ/REDIS_URL, ")
    spec = load_files([write("x.yaml", spec_text + "    {}\n")])
    files = render_files(spec, out_dir=Path("build/x"))
    assert "redis.yaml" not in files
    assert yaml.safe_load(files["config.yaml"])["router_settings"]["redis_url"] == "os.environ/REDIS_URL"


def test_disruption_budget_and_autoscaler(write, in_tmp):
    docs, _ = _render(write, "{replicas: 2, max_replicas: 6, target_cpu_percent: 60}")
    assert docs[("PodDisruptionBudget", "litellm")]["spec"] == {
        "maxUnavailable": 1, "selector": {"matchLabels": {"app.kubernetes.io/name": "litellm"}}}
    hpa = docs[("HorizontalPodAutoscaler", "litellm")]["spec"]
    assert (hpa["minReplicas"], hpa["maxReplicas"]) == (2, 6)
    assert hpa["scaleTargetRef"] == {"apiVersion": "apps/v1", "kind": "Deployment", "name": "litellm"}
    assert hpa["metrics"][0]["resource"]["target"]["averageUtilization"] == 60


def test_network_policies_only_the_ingress_reaches_litellm(write, in_tmp):
    docs, _ = _render(write, "{ingress: {controller_namespace: edge}}")
    assert docs[("NetworkPolicy", "default-deny-ingress")]["spec"] == {
        "podSelector": {}, "policyTypes": ["Ingress"], "ingress": []}
    [rule] = docs[("NetworkPolicy", "litellm")]["spec"]["ingress"]
    assert rule == {"from": [{"namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "edge"}},
                              "podSelector": {"matchLabels": {"app.kubernetes.io/name": "ingress-nginx"}}}],
                    "ports": [{"protocol": "TCP", "port": 4000}]}


def test_network_policies_only_litellm_reaches_redis_and_postgres(write, in_tmp):
    docs, _ = _render(write, "{litellm: {use_db: true}}")
    litellm_pods = {"podSelector": {"matchLabels": {"app.kubernetes.io/name": "litellm"}}}
    redis = docs[("NetworkPolicy", "redis")]["spec"]
    assert redis["ingress"] == [{"from": [litellm_pods], "ports": [{"protocol": "TCP", "port": 6379}]}]
    assert redis["egress"] == []
    postgres = docs[("NetworkPolicy", "postgres")]["spec"]["ingress"][0]["from"]
    # MLflow's backend store lives there too
    assert postgres == [litellm_pods, {"podSelector": {"matchLabels": {"app.kubernetes.io/name": "mlflow"}}}]
    without_db = _render(write)[0][("NetworkPolicy", "postgres")]["spec"]["ingress"][0]["from"]
    assert litellm_pods not in without_db


def test_database_url_is_built_from_the_secret_in_the_pod(write, in_tmp):
    docs, files = _render(write, "{litellm: {use_db: true}}")
    env = _litellm(docs)["env"]
    names = [e["name"] for e in env]
    url = next(e["value"] for e in env if e["name"] == "DATABASE_URL")
    assert url == "postgresql://llmproxy:$(POSTGRES_PASSWORD)@postgres:5432/litellm"
    assert names.index("POSTGRES_PASSWORD") < names.index("DATABASE_URL")  # $(VAR) needs it first
    assert "LITELLM_SALT_KEY=" in files["secrets.env.example"]


def test_external_database_renders_no_statefulset(write, in_tmp):
    docs, files = _render(write, "{litellm: {use_db: true}, db: {external: true}}")
    assert "postgres.yaml" not in files and "initdb.sql" not in files
    assert ("NetworkPolicy", "postgres") not in docs
    keys = files["secrets.env.example"].splitlines()[3:]
    assert "DATABASE_URL=" in keys and "MLFLOW_BACKEND_STORE_URI=" in keys and "POSTGRES_PASSWORD=" not in keys
    mlflow_env = _pod(docs[("Deployment", "mlflow")])["containers"][0]["env"]
    assert mlflow_env[0]["valueFrom"]["secretKeyRef"]["key"] == "MLFLOW_BACKEND_STORE_URI"


def test_postgres_statefulset_keeps_its_data_on_a_claim(write, in_tmp):
    docs, files = _render(write, "{storage_class: fast, db: {storage: 50Gi}}")
    sts = docs[("StatefulSet", "postgres")]["spec"]
    assert sts["volumeClaimTemplates"][0]["spec"] == {
        "accessModes": ["ReadWriteOnce"], "resources": {"requests": {"storage": "50Gi"}},
        "storageClassName": "fast"}
    assert "CREATE DATABASE mlflow;" in files["initdb.sql"]


def test_ingress_matches_the_rendered_nginx_conf(write, in_tmp):
    docs, _ = _render(write, "{ingress: {server_name: llm.example.org, client_max_body_size: 8m, "
                             "allow: [10.0.0.0/8], basic_auth: true, rate: 30r/m, burst: 30}}")
    ingress = docs[("Ingress", "litellm")]
    notes = {k.removeprefix("nginx.ingress.kubernetes.io/"): v
             for k, v in ingress["metadata"]["annotations"].items()}
    spec = load_files([write("x.yaml", BASE + "    {ingress: {client_max_body_size: 8m}}\n")])
    nginx_conf = render_nginx(spec.stack.kubernetes("x").ingress.nginx, upstreams=["litellm"],
                              request_timeout=600)
    read_timeout = re.search(r"proxy_read_timeout (\d+)s;", nginx_conf)
    assert read_timeout and notes["proxy-read-timeout"] == read_timeout.group(1) == "660"
    assert "proxy_buffering off;" in nginx_conf and notes["proxy-buffering"] == "off"
    assert "client_max_body_size 8m;" in nginx_conf and notes["proxy-body-size"] == "8m"
    assert notes["proxy-send-timeout"] == "660"
    assert notes["force-ssl-redirect"] == "true"
    assert (notes["limit-rpm"], notes["limit-burst-multiplier"]) == ("30", "1")
    assert notes["whitelist-source-range"] == "10.0.0.0/8"
    assert (notes["auth-type"], notes["auth-secret"]) == ("basic", "litellm-basic-auth")
    assert ingress["spec"]["tls"] == [{"hosts": ["llm.example.org"], "secretName": "litellm-tls"}]
    assert ingress["spec"]["ingressClassName"] == "nginx"


def test_workers_auto_follows_the_pod_cpu_limit_not_this_machine(write, in_tmp):
    spec = load_files([write("x.yaml", BASE.replace("workers: 2", "workers: auto")
                             + "    {litellm: {cpus: 3}}\n")])
    docs = _objects(render_files(spec, out_dir=Path("build/x")))
    args = _litellm(docs)["args"]
    assert args[args.index("--num_workers") + 1] == "3"


def test_render_is_deterministic_and_idempotent(write, in_tmp):
    assert _render(write)[1] == _render(write)[1]
    spec = load_files([write("x.yaml", BASE + "    {}\n")])
    assert render_build(spec, in_tmp / "out").changed is True
    assert render_build(spec, in_tmp / "out").changed is False


def test_shipped_k8s_environment_renders_no_secret_value(tmp_path, monkeypatch):
    for name, value in DISTINCT_SECRETS.items():
        monkeypatch.setenv(name, value)
    monkeypatch.setenv("REDIS_PASSWORD", "REDISsecretZZ0000")
    spec = load_environment(REPO / "configs", "k8s")
    assert spec.stack.runtime == "kubernetes"
    files = render_files(spec, out_dir=tmp_path / "build" / "k8s")
    rendered = "".join(files.values())
    assert "kustomization.yaml" in files
    for value in [*DISTINCT_SECRETS.values(), "REDISsecretZZ0000"]:
        assert value not in rendered


def test_unknown_kubernetes_key_is_a_located_error(write, in_tmp):
    spec = load_files([write("x.yaml", BASE + "    {replica: 2}\n")])
    [finding] = [f for f in validate_spec(spec).errors if f.code == "unknown-key"]
    assert str(finding.location) == "x.yaml:11:6"
    assert finding.message == "unknown key 'replica' in stack.kubernetes"


def test_kubernetes_runtime_is_rendered_not_started(write, in_tmp):
    spec = load_files([write("x.yaml", BASE + "    {}\n")])
    with pytest.raises(UsageError) as raised:
        runtime_of(spec)
    assert raised.value.message == ("environment 'x.yaml' runs on Kubernetes: llmproxy-ops renders its "
                                    "manifests but does not start, stop or watch them")
    assert raised.value.hint == ("llmproxy-ops render --env x.yaml, then kubectl apply -k build/x.yaml/ "
                                 "(then kubectl for status and logs)")


@pytest.mark.parametrize(("image", "pinned"), [
    ("redis:7", True), ("ghcr.io/berriai/litellm:v1.108.7", True), ("registry:5000/litellm", False),
    ("redis", False), ("redis:latest", False), ("redis@sha256:" + "a" * 64, True)])
def test_unpinned_images_are_refused(write, in_tmp, image, pinned):
    spec = load_files([write("x.yaml", BASE + f"    {{redis: {{image: '{image}'}}}}\n")])
    findings = [f for f in validate_spec(spec).errors if f.code == "kubernetes-image-unpinned"]
    if pinned:
        assert findings == []
        return
    [finding] = findings
    assert finding.message == (f"image '{image}' of redis is not pinned: pods started later may run "
                               "another build")
    assert str(finding.location) == "x.yaml:11:14"


def test_mlflow_without_any_postgres_is_refused(write, in_tmp):
    spec = load_files([write("x.yaml", BASE + "    {db: {enabled: false}}\n")])
    [finding] = [f for f in validate_spec(spec).errors if f.code == "kubernetes-db-missing"]
    assert finding.message == ("mlflow needs Postgres, but stack.kubernetes.db is disabled and not "
                               "external")
    ok = load_files([write("y.yaml", BASE + "    {db: {enabled: false, external: true}}\n")])
    assert not [f for f in validate_spec(ok).errors if f.code == "kubernetes-db-missing"]


@pytest.mark.parametrize("odd", ["{db: 3, litellm: [1]}", "[1]", "x=y", "{ingress: 4, redis: {image: 7}}"])
def test_odd_kubernetes_shapes_are_schema_findings_not_crashes(write, in_tmp, odd):
    spec = load_files([write("x.yaml", BASE + f"    {odd}\n")])
    errors = validate_spec(spec).errors
    assert errors and {f.code for f in errors} == {"wrong-type"}


def _render_metrics(write, kubernetes: str = "{}") -> tuple[Docs, dict[str, str]]:
    body = BASE.replace("  workers: 2\n", "  workers: 2\n  metrics: true\n")
    spec = load_files([write("x.yaml", body + "    " + kubernetes + "\n")])
    files = render_files(spec, out_dir=Path("build/x"))
    return _objects(files), files


def test_metrics_on_give_prometheus_operator_a_monitor_the_rules_and_a_way_in(write, in_tmp):
    docs, files = _render_metrics(
        write, "{monitoring: {namespace: observability, labels: {release: kps}}}")
    monitor = docs[("ServiceMonitor", "litellm")]
    service = docs[("Service", "litellm")]
    assert monitor["metadata"]["labels"]["release"] == "kps"
    selected = monitor["spec"]["selector"]["matchLabels"]
    assert selected.items() <= service["metadata"]["labels"].items()
    [endpoint] = monitor["spec"]["endpoints"]
    assert endpoint["port"] == service["spec"]["ports"][0]["name"]
    assert endpoint["path"] == "/metrics/"
    credentials = endpoint["authorization"]["credentials"]
    assert credentials == {"name": "llmproxy-secrets", "key": "LITELLM_MASTER_KEY"}
    assert "LITELLM_MASTER_KEY=" in files["secrets.env.example"]  # the key it reads is listed
    shipped = yaml.safe_load((REPO / "monitoring/prometheus/alerts.yml").read_text())
    rule = docs[("PrometheusRule", "litellm")]
    assert rule["spec"]["groups"] == shipped["groups"] and rule["metadata"]["labels"]["release"]
    policy = docs[("NetworkPolicy", "litellm")]["spec"]["ingress"][0]
    sources = [s["namespaceSelector"]["matchLabels"]["kubernetes.io/metadata.name"]
               for s in policy["from"]]
    assert sources == ["ingress-nginx", "observability"]
    assert policy["from"][1]["podSelector"]["matchLabels"] == {"app.kubernetes.io/name": "prometheus"}
    assert "monitoring.yaml" in yaml.safe_load(files["kustomization.yaml"])["resources"]


def test_metrics_off_render_no_monitoring_and_admit_only_the_ingress(write, in_tmp):
    docs, files = _render(write)
    assert "monitoring.yaml" not in files
    assert not [k for k in docs if k[0] in ("ServiceMonitor", "PrometheusRule")]
    [rule] = docs[("NetworkPolicy", "litellm")]["spec"]["ingress"]
    assert len(rule["from"]) == 1
