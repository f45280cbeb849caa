"""stack.workers_max_rss: typed, checked where it is written, and carried to the launcher of
every target (local child environment, compose services, Kubernetes pods)."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from llmproxy_ops.launcher import rss_mib
from llmproxy_ops.render.build import render_files
from llmproxy_ops.render.launcher import launcher_environment
from llmproxy_ops.spec import load_files
from llmproxy_ops.spec.model import StackSettings
from llmproxy_ops.targets.local.process import LaunchSpec, LocalRuntime
from llmproxy_ops.validate import validate_spec
from llmproxy_ops.validate.checks.memory_guard import check_workers_max_rss, size_mib
from llmproxy_ops.validate.context import CheckContext

MODEL = """\
model_list:
  - model_name: m
    litellm_params: {model: openai/gpt-4o-mini, api_key: os.environ/OPENAI_API_KEY}
general_settings: {master_key: os.environ/LITELLM_MASTER_KEY}
"""


def _findings(write, stack: str) -> list[tuple[str, str, str, int | None]]:  # noqa: ANN001
    spec = load_files([write("x.yaml", MODEL + stack)])
    return [(f.severity.value, f.code, ".".join(map(str, f.path)), f.location.line)
            for f in check_workers_max_rss(CheckContext(spec))]


@pytest.mark.parametrize(("raw", "typed"), [({}, None), ({"workers_max_rss": None}, None),
                                            ({"workers_max_rss": 768}, 768)])
def test_the_setting_is_off_unless_a_number_of_mib(raw: dict, typed: int | None) -> None:
    assert StackSettings.from_mapping(raw).workers_max_rss == typed


def test_a_limit_below_a_fresh_worker_is_a_located_error(write) -> None:  # noqa: ANN001
    assert _findings(write, "stack:\n  workers: 2\n  workers_max_rss: 100\n") == [
        ("error", "workers-max-rss-too-low", "stack.workers_max_rss", 7)]
    assert _findings(write, "stack: {workers_max_rss: 128}\n") == []


def test_a_limit_at_or_over_the_container_memory_is_a_located_error(write) -> None:  # noqa: ANN001
    compose = ("stack:\n  runtime: compose\n  workers_max_rss: 512\n"
               "  compose: {litellm: {memory: 512m}}\n")
    assert _findings(write, compose) == [
        ("error", "workers-max-rss-over-limit", "stack.workers_max_rss", 7)]
    spec = load_files([write("y.yaml", MODEL + compose)])
    [finding] = check_workers_max_rss(CheckContext(spec))
    assert finding.message == (
        "stack.workers_max_rss is 512 MiB, not below the container's memory limit "
        "stack.compose.litellm.memory: 512m (512 MiB): the OOM killer ends the container, "
        "and every connection it holds, first")
    assert _findings(write, compose.replace("512m", "1g")) == []
    # compose's default limit (4g), swarm's (stack.compose's services) and Kubernetes' own
    assert [c for _, c, _, _ in _findings(write, "stack: {runtime: swarm, workers_max_rss: 4096}\n")
            ] == ["workers-max-rss-over-limit"]
    kube = "stack:\n  runtime: kubernetes\n  workers_max_rss: 2000\n  kubernetes: {litellm: {memory: 1.5g}}\n"
    assert [c for _, c, _, _ in _findings(write, kube)] == ["workers-max-rss-over-limit"]
    # the local runtime runs processes of this machine: no container limit of ours
    assert _findings(write, "stack: {runtime: local, workers_max_rss: 100000}\n") == []


def test_a_server_with_its_own_workers_is_warned(write) -> None:  # noqa: ANN001
    assert _findings(write, "stack: {server: gunicorn, workers_max_rss: 512}\n") == [
        ("warning", "workers-max-rss-unused", "stack.workers_max_rss", 5)]


def test_the_schema_refuses_what_is_not_a_whole_number(write) -> None:  # noqa: ANN001
    spec = load_files([write("x.yaml", MODEL + "stack: {workers_max_rss: 512m}\n")])
    found = [f for f in validate_spec(spec).findings if "workers_max_rss" in f.path]
    assert found and found[0].location.line == 5, found


@pytest.mark.parametrize(("size", "mib"), [("512m", 512), ("4g", 4096), ("1.5g", 1536),
                                           ("1048576", 1), ("2048k", 2), ("lots", None)])
def test_docker_sizes_in_mib(size: str, mib: float | None) -> None:
    assert size_mib(size) == mib


def test_the_launcher_environment_supervises_a_guarded_single_worker() -> None:
    assert launcher_environment(1, "uvicorn") == {"LLMPROXY_SUPERVISE": "0"}
    assert launcher_environment(1, "uvicorn", 768) == {
        "LLMPROXY_SUPERVISE": "1", "LLMPROXY_MAX_RSS_MB": "768"}
    assert launcher_environment(2, "uvicorn", 768)["LLMPROXY_SUPERVISE"] == "1"
    assert launcher_environment(2, "gunicorn", 768) == {"LLMPROXY_SUPERVISE": "0"}


def test_compose_and_kubernetes_replicas_get_the_guard(write, in_tmp) -> None:  # noqa: ANN001
    compose = "stack: {runtime: compose, workers: 1, workers_max_rss: 900}\n"
    files = render_files(load_files([write("c.yaml", MODEL + compose)]), out_dir=Path("build/c"))
    env = yaml.safe_load(files["docker-compose.yml"])["services"]["litellm"]["environment"]
    assert (env["LLMPROXY_SUPERVISE"], env["LLMPROXY_MAX_RSS_MB"]) == ("1", "900")
    kube = "stack: {runtime: kubernetes, workers: 1, workers_max_rss: 900}\n"
    files = render_files(load_files([write("k.yaml", MODEL + kube)]), out_dir=Path("build/k"))
    pod_env = [e for name, text in files.items() if name.endswith(".yaml")
               for doc in yaml.safe_load_all(text) if doc and doc.get("kind") == "Deployment"
               and doc["metadata"]["name"] == "litellm"
               for e in doc["spec"]["template"]["spec"]["containers"][0]["env"]]
    assert {"name": "LLMPROXY_MAX_RSS_MB", "value": "900"} in pod_env
    assert {"name": "LLMPROXY_SUPERVISE", "value": "1"} in pod_env


def test_the_local_launch_passes_the_limit(tmp_path: Path) -> None:
    runtime = LocalRuntime(tmp_path)
    env = runtime._child_env(LaunchSpec(config_path=tmp_path / "c", max_rss_mib=700),  # noqa: SLF001
                             tmp_path / "workers-x.json")
    assert env["LLMPROXY_MAX_RSS_MB"] == "700"
    off = runtime._child_env(LaunchSpec(config_path=tmp_path / "c"), tmp_path / "w.json")  # noqa: SLF001
    assert off["LLMPROXY_MAX_RSS_MB"] == ""  # the launcher reads "" as off


def test_rss_is_read_from_proc(tmp_path: Path) -> None:
    import os
    import subprocess

    mine = rss_mib(os.getpid())
    assert mine is not None and mine > 10
    gone = subprocess.Popen(["true"])
    gone.wait()
    assert rss_mib(gone.pid) is None


def test_status_shows_each_workers_memory_and_recycles() -> None:
    from llmproxy_ops.runtime.api import Status, Unit, WorkerView

    workers = (WorkerView(0, 41, 390, recycles=2), WorkerView(1, 43, None, restarts=1,
                                                              last_exit="killed by SIGSEGV"))
    unit = Unit("litellm", "running", "healthy", None, "pid 40, workers 41, 43", restarts=1,
                workers=workers)
    st = Status("dev", "local", True, True, units=(unit,))
    assert st.as_text().splitlines()[2:] == [
        "       worker 0 pid 41, 390 MiB, recycled 2 times",
        "       worker 1 pid 43, RSS unknown, restarted 1 time (last: killed by SIGSEGV)"]
    assert st.as_dict()["units"][0]["workers"] == [
        {"slot": 0, "pid": 41, "rss_mib": 390, "recycles": 2, "restarts": 0, "last_exit": None},
        {"slot": 1, "pid": 43, "rss_mib": None, "recycles": 0, "restarts": 1,
         "last_exit": "killed by SIGSEGV"}]
