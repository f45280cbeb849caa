"""The rendered stack.yml (issue 10): what Swarm needs, and no secret anywhere in it."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import time
from pathlib import Path
from typing import Any

import yaml

from llmproxy_ops.render.build import render_files
from llmproxy_ops.render.launcher import launcher_argv
from llmproxy_ops.render.nginx import RESOLVER_VALID_S
from llmproxy_ops.runtime.api import runtime_of
from llmproxy_ops.spec import load_files
from llmproxy_ops.targets.swarm.render import STACK_FILE, STOP_DELAY_S
from llmproxy_ops.validate import validate_spec
from tests.conftest import DISTINCT_SECRETS

BASE = """
model_list:
  - model_name: m
    litellm_params: {model: openai/gpt-4o-mini, api_key: os.environ/OPENAI_API_KEY, rpm: 10}
general_settings: {master_key: os.environ/LITELLM_MASTER_KEY}
router_settings: {optional_pre_call_checks: [enforce_model_rate_limits]}
stack:
  runtime: swarm
  workers: WORKERS
  compose:
    mlflow: {enabled: false}
    litellm: {replicas: REPLICAS}
"""


def _spec(write, *, replicas: int = 2, workers: int = 1, extra: str = "") -> Any:
    text = BASE.replace("REPLICAS", str(replicas)).replace("WORKERS", str(workers)) + extra
    return load_files([write("x.yaml", text)])


def _render(write, **kw: Any) -> tuple[dict[str, Any], dict[str, str]]:
    files = render_files(_spec(write, **kw), out_dir=Path("build/x"))
    return yaml.safe_load(files[STACK_FILE]), files


def test_litellm_rolls_start_first_and_rolls_back(write) -> None:
    doc, _ = _render(write)
    deploy = doc["services"]["litellm"]["deploy"]
    assert deploy["replicas"] == 2
    assert deploy["endpoint_mode"] == "dnsrr"
    update = deploy["update_config"]
    assert (update["order"], update["parallelism"], update["failure_action"]) == (
        "start-first", 1, "rollback")
    assert update["monitor"] == "15s"
    assert deploy["rollback_config"]["order"] == "start-first"
    assert deploy["placement"] == {"preferences": [{"spread": "node.id"}]}
    assert deploy["restart_policy"]["condition"] == "any"
    assert deploy["resources"]["limits"] == {"cpus": "2.0", "memory": "4g"}
    assert "healthcheck" in doc["services"]["litellm"]


def test_workers_get_time_to_import_litellm(write) -> None:
    """uvicorn's 5 s worker ping killed and respawned importing workers forever here."""
    for workers, wanted in ((2, ["--timeout_worker_healthcheck", "60"]), (1, [])):
        doc, _ = _render(write, workers=workers)
        command = doc["services"]["litellm"]["command"]
        assert command[command.index("--num_workers") + 2:] == wanted


def test_litellm_outlives_nginx_dns_cache_after_sigterm(write) -> None:
    """Swarm sends SIGTERM 2 s after taking a task out of DNS; nginx may use the address
    for RESOLVER_VALID_S more. The rendered entrypoint keeps LiteLLM serving that long."""
    doc, files = _render(write)
    litellm = doc["services"]["litellm"]
    assert STOP_DELAY_S > RESOLVER_VALID_S
    assert f"valid={RESOLVER_VALID_S}s" in files["nginx.conf"]
    assert litellm["stop_grace_period"] == f"{STOP_DELAY_S + 60 + 5}s"  # + drain_timeout
    script = litellm["entrypoint"][2]
    assert f"sleep {STOP_DELAY_S};" in script


def test_the_stop_delay_runs_in_a_real_shell(write, tmp_path: Path) -> None:
    """The entrypoint as the container's sh runs it (`$$` is the stack file's escape): a
    SIGTERM reaches LiteLLM only after the delay, and sh exits with LiteLLM's status."""
    doc, _ = _render(write)
    entry = doc["services"]["litellm"]["entrypoint"]
    delay = 2  # the rendered STOP_DELAY_S, shortened to keep the test quick
    log = tmp_path / "log"
    fake = tmp_path / "litellm"  # stands in for LiteLLM: notes its start and its SIGTERM
    assert " ".join(launcher_argv()) in entry[2]  # LiteLLM's CLI through the launcher
    script = (entry[2].replace("$$", "$").replace(f"sleep {STOP_DELAY_S};", f"sleep {delay};")
              .replace(" ".join(launcher_argv()), str(fake)))
    fake.write_text('#!/bin/sh\ntrap \'echo "term $*" >> "$OUT"; exit 3\' TERM\n'
                    'echo started >> "$OUT"\nwhile :; do sleep 0.05; done\n')
    fake.chmod(0o755)
    env = {**os.environ, "PATH": f"{tmp_path}:{os.environ['PATH']}", "OUT": str(log)}
    proc = subprocess.Popen([entry[0], entry[1], script, entry[3], "--port", "4000"], env=env,
                            start_new_session=True)  # its own group: nothing outlives the test
    try:
        deadline = time.monotonic() + 10
        while not (log.exists() and "started" in log.read_text()):
            assert time.monotonic() < deadline and proc.poll() is None
            time.sleep(0.05)
        sent = time.monotonic()
        proc.send_signal(signal.SIGTERM)
        time.sleep(delay / 2)
        assert "term" not in log.read_text()  # still serving
        assert proc.wait(timeout=10) == 3  # LiteLLM's own exit status
        assert time.monotonic() - sent >= delay
        assert log.read_text().splitlines() == ["started", "term --port 4000"]
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(timeout=10)


def test_stateful_services_sit_on_the_labelled_node(write) -> None:
    doc, _ = _render(write, extra="  swarm: {data_label: big-disk}\n")
    for name in ("db", "nginx", "redis"):
        assert doc["services"][name]["deploy"]["placement"] == {
            "constraints": ["node.labels.big-disk == true"]}, name


def test_vip_when_the_spec_says_so(write) -> None:
    doc, _ = _render(write, extra="  swarm: {endpoint_mode: vip}\n")
    assert {s["deploy"]["endpoint_mode"] for s in doc["services"].values()} == {"vip"}


def test_secrets_are_external_and_versioned_by_the_runtime(write) -> None:
    doc, files = _render(write)
    assert doc["secrets"]["LITELLM_MASTER_KEY"] == {
        "external": True, "name": "${LLMPROXY_SECRET_LITELLM_MASTER_KEY}"}
    assert sorted(doc["secrets"]) == ["LITELLM_MASTER_KEY", "OPENAI_API_KEY", "POSTGRES_PASSWORD",
                                      "REDIS_PASSWORD"]
    assert doc["services"]["litellm"]["secrets"] == [
        "LITELLM_MASTER_KEY", "OPENAI_API_KEY", "REDIS_PASSWORD"]
    assert doc["services"]["db"]["secrets"] == ["POSTGRES_PASSWORD"]
    # No env file with secrets: its values would land in `docker service inspect`.
    assert [s.get("env_file") for s in doc["services"].values()
            if "env_file" in s] == [["runtime.env"]]
    assert "entrypoint" in doc["services"]["litellm"]
    for text in files.values():
        assert not any(v in text for v in DISTINCT_SECRETS.values())


def test_redis_when_two_processes_enforce_limits(write) -> None:
    for replicas, workers, wanted in ((2, 1, True), (1, 2, True), (1, 1, False)):
        doc, files = _render(write, replicas=replicas, workers=workers)
        config = yaml.safe_load(files["config.yaml"])
        router = config["router_settings"]
        assert ("redis" in doc["services"]) is wanted, (replicas, workers)
        assert (router.get("redis_host"), router.get("redis_password")) == (
            ("redis", "os.environ/REDIS_PASSWORD") if wanted else (None, None))


def test_redis_password_never_on_a_command_line(write) -> None:
    doc, _ = _render(write)
    redis = doc["services"]["redis"]
    assert "--requirepass" not in " ".join(redis["entrypoint"])
    assert "exec redis-server /tmp/redis.conf" in redis["entrypoint"][2]


def test_nginx_resolves_tasks_at_run_time_on_host_ports(write) -> None:
    doc, files = _render(write)
    assert "resolver 127.0.0.11 valid=5s ipv6=off;" in files["nginx.conf"]
    assert "proxy_pass $litellm_upstream;" in files["nginx.conf"]
    assert "upstream litellm" not in files["nginx.conf"]
    ports = doc["services"]["nginx"]["ports"]
    assert {p["mode"] for p in ports} == {"host"}
    assert [p["published"] for p in ports] == [443, 80]
    assert "ports" not in doc["services"]["litellm"]


def test_a_changed_config_is_a_new_docker_config(write) -> None:
    doc1, _ = _render(write)
    doc2, _ = _render(write, extra="  environment: {LITELLM_LOG: ERROR}\n")
    doc3, _ = _render(write, replicas=3)
    name1 = doc1["configs"]["config-yaml"]["name"]
    assert name1.startswith("llmproxy-") and "_config-yaml-" in name1 and len(name1) <= 64
    assert doc3["configs"]["config-yaml"]["name"] == name1  # replicas: not in config.yaml
    doc4, _ = _render(write, extra="litellm_settings: {request_timeout: 30}\n")
    assert doc4["configs"]["config-yaml"]["name"] != name1
    assert doc2["services"]["litellm"]["env_file"] == ["runtime.env"]


def test_docker_reads_the_stack_file(write, tmp_path: Path) -> None:
    """The docker client itself parses and interpolates it (no engine or swarm needed)."""
    _, files = _render(write)
    for name, text in files.items():
        (tmp_path / name).write_text(text, encoding="utf-8")
    env = {**os.environ,
           "LLMPROXY_SECRET_LITELLM_MASTER_KEY": "llmproxy-x_LITELLM_MASTER_KEY_0a1b2c"}
    proc = subprocess.run(["docker", "stack", "config", "-c", STACK_FILE], cwd=tmp_path,
                          env=env, capture_output=True, text=True, timeout=60, check=False)
    assert proc.returncode == 0, proc.stderr
    parsed = yaml.safe_load(proc.stdout)
    assert parsed["secrets"]["LITELLM_MASTER_KEY"]["name"] == (
        "llmproxy-x_LITELLM_MASTER_KEY_0a1b2c")
    assert parsed["services"]["litellm"]["deploy"]["update_config"]["order"] == "start-first"


def test_swarm_is_a_registered_runtime(write) -> None:
    assert runtime_of(_spec(write)).kind == "swarm"


def test_endpoint_mode_is_validated(write) -> None:
    spec = _spec(write, extra="  swarm: {endpoint_mode: mesh}\n")
    errors = [f for f in validate_spec(spec).errors if f.code == "schema"]
    assert [(f.path, f.message) for f in errors] == [
        (("stack", "swarm", "endpoint_mode"),
         "endpoint_mode must be one of 'dnsrr', 'vip', got 'mesh'")]


def test_no_per_worker_warning_when_the_stack_brings_redis(write) -> None:
    spec = _spec(write, replicas=1, workers=2)
    codes = [f.code for f in validate_spec(spec).warnings]
    assert "rate-limit-per-worker" not in codes
    # every runtime that starts LiteLLM brings one (local: a redis-server beside the proxy)
    local = BASE.replace("runtime: swarm", "runtime: local").replace("REPLICAS", "1")
    local = local.replace("WORKERS", "2").replace("  compose:\n", "  local: {redis: ON}\n  compose:\n")
    for switch, warned in (("{}", False), ("{enabled: false}", True)):
        spec = load_files([write("y.yaml", local.replace("ON", switch))])
        assert ("rate-limit-per-worker" in [f.code for f in validate_spec(spec).warnings]) is warned


def test_metrics_run_a_prometheus_that_finds_every_task_by_dns(write) -> None:
    doc, files = _render(write, extra="  metrics: true\n  swarm: {data_label: big-disk}\n")
    service = doc["services"]["prometheus"]
    config = yaml.safe_load(files["prometheus.yml"])
    job = config["scrape_configs"][0]
    # tasks come and go with each rolling update: DNS lists the current ones, on the
    # replicas' own port (never nginx's, which answers /metrics with 404)
    assert job["dns_sd_configs"] == [{"names": ["tasks.litellm"], "type": "A", "port": 4000,
                                      "refresh_interval": "15s"}]
    assert "static_configs" not in job
    # the master key from its own Docker secret (rotated with the others: a new name)
    assert job["authorization"] == {"credentials_file": "/run/secrets/LITELLM_MASTER_KEY"}
    assert service["secrets"] == ["LITELLM_MASTER_KEY"]
    assert "LITELLM_MASTER_KEY" not in str(service.get("environment", ""))
    # the rendered files are Docker configs (every node gets them), the rules the shipped ones
    targets = {c["target"] for c in service["configs"]}
    assert targets == {"/etc/llmproxy-ops/prometheus.yml", "/etc/llmproxy-ops/prometheus-alerts.yml"}
    assert files["prometheus-alerts.yml"] == (
        Path(__file__).resolve().parents[2] / "monitoring/prometheus/alerts.yml").read_text()
    # its data volume stays with the labelled node; no port on any node
    assert service["deploy"]["placement"] == {"constraints": ["node.labels.big-disk == true"]}
    assert "ports" not in service
    assert "prometheus-data" in doc["volumes"]


def test_no_prometheus_without_metrics(write) -> None:
    doc, files = _render(write)
    assert "prometheus" not in doc["services"]
    assert "prometheus.yml" not in files
