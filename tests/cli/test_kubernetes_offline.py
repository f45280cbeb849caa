"""Offline proof for every shipped Kubernetes environment (no cluster can run here).

`kubectl kustomize` builds the folder; every object validates against the OpenAPI schemas of
Kubernetes K8S_VERSION (kubernetes-validate, strict: unknown fields fail); checkov's
Kubernetes policies pass, minus CHECKOV_SKIPS. scripts/install-test-deps.sh installs checkov
into its own venv (.tools/checkov): its pins conflict with LiteLLM's.
"""

from __future__ import annotations

import copy
import json
import os
import shutil
import subprocess
from pathlib import Path
from typing import Any

import kubernetes_validate
import pytest
import yaml

from llmproxy_ops.render.build import render_build
from llmproxy_ops.spec import load_environment, load_files
from llmproxy_ops.spec.resolve import available_environments
from tests.conftest import DISTINCT_SECRETS, REPO
from tests.k8s_tools import kubectl_path, tool

K8S_VERSION = "1.32.0"  # the kubectl client installed on these machines is 1.32
CHECKOV = Path(os.environ.get("CHECKOV", REPO / ".tools/checkov/bin/checkov"))
CHECKOV_SKIPS = {
    # No registry is reachable here to resolve tags to digests. Tags are pinned (never
    # latest, test_images_are_the_compose_defaults_and_pinned) and pulled with Always.
    "CKV_K8S_43": "Image should use digest",
    # LiteLLM resolves os.environ/ references from its environment, and the postgres, redis
    # and mlflow images read their passwords from environment variables.
    "CKV_K8S_35": "Prefer using secrets as files over secrets as environment variables",
}
# Policies the issue names: probes, limits and requests, pinned tags, non-root, read-only
# root, capabilities, seccomp, no service-account token, no privilege escalation.
REQUIRED_CHECKS = {"CKV_K8S_8", "CKV_K8S_9", "CKV_K8S_10", "CKV_K8S_11", "CKV_K8S_12",
                   "CKV_K8S_13", "CKV_K8S_14", "CKV_K8S_20", "CKV_K8S_22", "CKV_K8S_23",
                   "CKV_K8S_28", "CKV_K8S_31", "CKV_K8S_37", "CKV_K8S_38", "CKV_K8S_40"}
CONFIG_DIRS = [REPO / "configs", REPO / "configs/examples/claude-gateway",
               REPO / "configs/examples/home-gateway"]
KUBERNETES_ENVS = [(d, e) for d in CONFIG_DIRS for e in available_environments(d)
                   if load_environment(d, e).stack.runtime == "kubernetes"]
IDS = [f"{d.name}:{e}" for d, e in KUBERNETES_ENVS]
# The shipped k8s environment with stack.metrics on: prometheus-operator's objects too.
METRICS_ID = "configs:k8s+metrics"
CRD_API = "monitoring.coreos.com/v1"
K8S_MODELS = REPO / ".cache" / "k8s-models"  # scripts/install-test-deps.sh (lock/k8s-models)


def kustomize(folder: Path) -> str:
    kubectl = kubectl_path()
    done = subprocess.run([kubectl, "kustomize", str(folder)], capture_output=True, text=True,
                          timeout=60, check=False)
    assert done.returncode == 0, done.stderr
    return done.stdout


def _render(configs: Path, env: str, out: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    for name, value in DISTINCT_SECRETS.items():
        monkeypatch.setenv(name, value)
    render_build(load_environment(configs, env), out)
    return out


@pytest.fixture(scope="module")
def built(tmp_path_factory) -> dict[str, tuple[Path, str]]:
    """ENV id → (rendered folder, `kubectl kustomize` output), rendered once per module."""
    out: dict[str, tuple[Path, str]] = {}
    with pytest.MonkeyPatch.context() as mp:
        for (configs, env), ident in zip(KUBERNETES_ENVS, IDS, strict=True):
            folder = _render(configs, env, tmp_path_factory.mktemp("k8s") / env, mp)
            out[ident] = (folder, kustomize(folder))
        overlay = tmp_path_factory.mktemp("k8s-metrics") / "k8s-metrics.yaml"
        overlay.write_text(f"layers: [{REPO}/configs/environments/k8s.yaml]\n"
                           "stack: {metrics: true}\n", encoding="utf-8")
        folder = tmp_path_factory.mktemp("k8s") / "k8s-metrics"
        render_build(load_files([overlay]), folder)
        out[METRICS_ID] = (folder, kustomize(folder))
    return out


def _docs(text: str) -> list[dict[str, Any]]:
    return [d for d in yaml.safe_load_all(text) if d]


def test_a_kubernetes_environment_is_shipped():
    assert ("configs:k8s") in IDS


@pytest.mark.parametrize("ident", IDS)
def test_kustomize_builds_it_with_hash_named_configmaps_and_no_secret(built, ident):
    _, text = built[ident]
    docs = _docs(text)
    config_maps = sorted(d["metadata"]["name"] for d in docs if d["kind"] == "ConfigMap")
    assert [n.rsplit("-", 1)[0] for n in config_maps][:2] == ["litellm-config", "litellm-env"]
    [deployment] = [d for d in docs if d["kind"] == "Deployment" and d["metadata"]["name"] == "litellm"]
    volume = deployment["spec"]["template"]["spec"]["volumes"][0]["configMap"]["name"]
    assert volume in config_maps and volume != "litellm-config"  # kustomize rewrote the reference
    assert {d["metadata"].get("namespace") for d in docs if d["kind"] != "Namespace"} == {"llmproxy"}
    for value in DISTINCT_SECRETS.values():
        assert value not in text


@pytest.mark.parametrize("ident", IDS)
def test_the_secrets_example_is_what_kubectl_create_secret_reads(built, ident):
    folder, _ = built[ident]
    kubectl = kubectl_path()
    done = subprocess.run(
        [kubectl, "create", "secret", "generic", "llmproxy-secrets", "--dry-run=client", "-o", "yaml",
         f"--from-env-file={folder / 'secrets.env.example'}"],
        capture_output=True, text=True, timeout=60, check=False)
    assert done.returncode == 0, done.stderr
    data = yaml.safe_load(done.stdout)["data"]
    assert set(data.values()) == {""}  # names only
    docs = _docs(built[ident][1])
    referenced = {e["valueFrom"]["secretKeyRef"]["key"]
                  for d in docs if d["kind"] in ("Deployment", "StatefulSet")
                  for c in d["spec"]["template"]["spec"]["containers"] for e in c.get("env", [])
                  if "valueFrom" in e}
    assert referenced == set(data)  # every key a pod reads is listed, and nothing else


def test_a_config_change_renames_the_configmap_so_pods_roll(tmp_path, monkeypatch):
    overlay = tmp_path / "overlay.yaml"
    overlay.write_text(f"layers: [{REPO}/configs/environments/k8s.yaml]\n"
                       "litellm_settings: {request_timeout: 300}\n", encoding="utf-8")
    names = []
    for spec, out in ((load_environment(REPO / "configs", "k8s"), tmp_path / "a"),
                      (load_files([overlay]), tmp_path / "b")):
        render_build(spec, out)
        docs = _docs(kustomize(out))
        names.append(sorted(d["metadata"]["name"] for d in docs if d["kind"] == "ConfigMap"))
    assert names[0][0] != names[1][0] and names[0][0].startswith("litellm-config-")
    assert names[0][1] == names[1][1]  # runtime.env did not change: same name


@pytest.mark.parametrize("ident", [*IDS, METRICS_ID])
def test_every_object_validates_against_the_kubernetes_schemas(built, ident):
    docs = _docs(built[ident][1])
    assert len(docs) >= 15
    for doc in docs:
        if doc["apiVersion"] != CRD_API:  # prometheus-operator's: against its CRDs, below
            kubernetes_validate.validate(doc, K8S_VERSION, strict=True)


def _crd_errors(docs: list[dict[str, Any]]) -> list[str | None]:
    node = tool(shutil.which("node") or "node", "node")
    if not (K8S_MODELS / "node_modules").is_dir():
        pytest.fail(f"{K8S_MODELS} is missing: run scripts/install-test-deps.sh")
    done = subprocess.run([node, str(REPO / "tests" / "k8s_crds.mjs"), str(K8S_MODELS)],
                          input=json.dumps(docs), capture_output=True, text=True, timeout=60,
                          check=False)
    assert done.returncode == 0, done.stderr
    errors: list[str | None] = json.loads(done.stdout)
    return errors


def test_metrics_add_a_service_monitor_and_the_rules_valid_for_prometheus_operator(built):
    docs = _docs(built[METRICS_ID][1])
    crds = [d for d in docs if d["apiVersion"] == CRD_API]
    assert sorted(d["kind"] for d in crds) == ["PrometheusRule", "ServiceMonitor"]
    assert {d["metadata"]["namespace"] for d in crds} == {"llmproxy"}
    assert _crd_errors(crds) == [None, None]
    assert not [d for d in _docs(built[IDS[0]][1]) if d["apiVersion"] == CRD_API]  # metrics off
    broken = copy.deepcopy(crds)  # the check can fail: a bad interval, a rule without expr
    broken[0]["spec"]["endpoints" if broken[0]["kind"] == "ServiceMonitor" else "groups"] = [
        {"interval": "every 30 s"} if broken[0]["kind"] == "ServiceMonitor" else
        {"name": "g", "rules": [{"alert": "x"}]}]
    assert _crd_errors(broken)[0] is not None


def test_the_schema_check_rejects_a_misspelt_field(built):
    [deployment] = [d for d in _docs(built[IDS[0]][1]) if d["kind"] == "Deployment"
                    and d["metadata"]["name"] == "litellm"]
    broken = copy.deepcopy(deployment)
    broken["spec"]["template"]["spec"]["containers"][0]["readinesProbe"] = {}
    with pytest.raises(kubernetes_validate.ValidationError, match="readinesProbe"):
        kubernetes_validate.validate(broken, K8S_VERSION, strict=True)


def _checkov(folder: Path) -> dict[str, Any]:
    checkov = tool(CHECKOV, "checkov")
    command = [checkov, "--directory", str(folder), "--framework", "kubernetes",
               "--compact", "--skip-download", "--output", "json",
               "--skip-check", ",".join(sorted(CHECKOV_SKIPS))]
    done = subprocess.run(command, capture_output=True, text=True, timeout=300, check=False,
                          env={**os.environ, "BC_SKIP_MAPPING": "TRUE"})
    assert done.returncode in (0, 1), done.stderr  # 1: some check failed
    report = json.loads(done.stdout)
    return report[0] if isinstance(report, list) else report


def test_checkov_policies_pass_and_catch_a_weakened_copy(built, tmp_path):
    """One checkov run (it is slow): every built environment, plus a copy stripped of hardening."""
    for ident, (_, text) in built.items():
        (tmp_path / f"{ident.replace(':', '-')}.yaml").write_text(text, encoding="utf-8")
    docs = _docs(built[IDS[0]][1])
    [deployment] = [d for d in docs if d["kind"] == "Deployment" and d["metadata"]["name"] == "litellm"]
    weak = copy.deepcopy(deployment)
    weak["metadata"]["name"] = "weak"
    container = weak["spec"]["template"]["spec"]["containers"][0]
    del container["livenessProbe"], container["securityContext"]
    container["image"] = "ghcr.io/berriai/litellm:latest"
    (tmp_path / "weakened").mkdir()
    (tmp_path / "weakened/weak.yaml").write_text(yaml.safe_dump(weak), encoding="utf-8")

    results = _checkov(tmp_path)["results"]
    failed = [(c["check_id"], c["file_path"]) for c in results["failed_checks"]]
    assert [f for f in failed if "weakened" not in f[1]] == []
    weak_failures = {c for c, path in failed if "weakened" in path}
    assert {"CKV_K8S_8", "CKV_K8S_14", "CKV_K8S_22", "CKV_K8S_28"} <= weak_failures
    for ident in IDS:
        passed = {c["check_id"] for c in results["passed_checks"]
                  if ident.replace(":", "-") in c["file_path"]}
        assert passed >= REQUIRED_CHECKS, REQUIRED_CHECKS - passed


def test_up_renders_then_says_to_apply_it_with_kubectl(cli, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    shutil.copy(REPO / ".env.example", tmp_path / ".env.example")
    env_file = tmp_path / "test.env"
    env_file.write_text("".join(f"{k}={v}\n" for k, v in DISTINCT_SECRETS.items()), encoding="utf-8")
    result = cli("up", "--configs", str(REPO / "configs"), "--env", "k8s", "--env-file", str(env_file))
    assert result.exit_code == 2, result.output
    assert ("error: environment 'k8s' runs on Kubernetes: llmproxy-ops renders its manifests but "
            "does not start, stop or watch them") in result.output.replace("\n", " ")
    assert "kubectl apply -k build/k8s/" in result.output.replace("\n", " ")
    assert (tmp_path / "build/k8s/kustomization.yaml").is_file()
