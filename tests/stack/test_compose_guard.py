"""The memory guard in a compose replica (issue 26): `stack.workers_max_rss` at its minimum,
below a fresh worker's size, so the replica's one worker is replaced as soon as it is 10 s
old, again and again, under plain and SSE load sent from inside the container, with no
failed request and no cut stream. A lean project (no database, MLflow, nginx or
Prometheus): what is under test is the rendered service, its launcher and the guard.
"""

from __future__ import annotations

import contextlib
import json
import subprocess
from collections.abc import Iterator

import pytest

from llmproxy_ops.pipeline import Target, runtime_for, start_target
from tests import guard_load
from tests.conftest import free_port
from tests.project_folder import write_project

pytestmark = pytest.mark.stack

ENV = "guard"
PROJECT = "llmproxy-guard"
MASTER = "sk-guard-stack-7e21c9d04b"
GUARD_MIB = 128
LAYER = f"""\
layers: [ci.yaml]
model_list:  # the shipped mock-gpt has an rpm limit: this one has none
  - model_name: unlimited-mock
    litellm_params: {{model: openai/mock-gpt, mock_response: "hi", api_key: dummy}}
litellm_settings: {{success_callback: [], failure_callback: []}}
stack:
  port: @PORT@
  metrics: false
  workers_max_rss: {GUARD_MIB}
  compose:
    project: {PROJECT}
    litellm: {{replicas: 1, cpus: 1.0, memory: 1g}}
    db: {{enabled: false}}
    mlflow: {{enabled: false}}
    nginx: {{enabled: false}}
    fake_provider: {{enabled: false}}
"""


@pytest.fixture(scope="module")
def replica(docker_engine: None, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """The running litellm container of the project, `up` as a user does it."""
    root = tmp_path_factory.mktemp("guard")
    write_project(root, ENV, LAYER.replace("@PORT@", str(free_port())),
                  {"LITELLM_MASTER_KEY": MASTER, "FAKE_PROVIDER_KEY": "fake-guard-0123"})
    with contextlib.chdir(root):
        runtime = runtime_for(Target(env=ENV))[1]
        runtime.stop(volumes=True)  # a crashed earlier run
        try:
            start_target(Target(env=ENV))
            found = subprocess.run(
                ["docker", "ps", "-q", "--filter", f"label=com.docker.compose.project={PROJECT}",
                 "--filter", "label=com.docker.compose.service=litellm"],
                capture_output=True, text=True, timeout=30, check=True).stdout.split()
            assert len(found) == 1, found
            yield found[0]
        finally:
            runtime.stop(volumes=True)


def _environment(container: str) -> dict[str, str]:
    listed = subprocess.run(["docker", "inspect", "-f", "{{json .Config.Env}}", container],
                            capture_output=True, text=True, timeout=30, check=True).stdout
    return dict(item.split("=", 1) for item in json.loads(listed))


def test_a_guarded_replica_recycles_its_worker_and_drops_nothing(replica: str) -> None:
    env = _environment(replica)
    # one worker, supervised because the guard is set (unguarded it would run unsupervised)
    assert (env["LLMPROXY_SUPERVISE"], env["LLMPROXY_MAX_RSS_MB"]) == ("1", str(GUARD_MIB))
    assert MASTER not in json.dumps(env)  # the key is a secret file, not the environment
    done = subprocess.run(["docker", "exec", replica, "python3", "-c",
                           guard_load.script(MASTER, 2)],
                          capture_output=True, text=True, timeout=180, check=False)
    assert done.returncode == 0, done.stderr
    result = json.loads(done.stdout)
    replacements = set(result["seen"]) - set(result["first"])
    assert len(result["first"]) == 1, result
    assert len(replacements) >= 2, result
    assert result["failed"] == [] and result["ok"] > 0 and result["streams"] > 0, result
    # the engine restarted nothing: the replacements happened inside the container
    restarts = subprocess.run(["docker", "inspect", "-f", "{{.RestartCount}}", replica],
                              capture_output=True, text=True, timeout=30, check=True).stdout
    assert restarts.strip() == "0"
