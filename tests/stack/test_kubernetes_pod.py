"""The rendered LiteLLM pod, run under Docker with the restrictions a kubelet would apply.

No cluster can run here. This is the closest offline proof that the container starts and
serves as rendered: the uid of runAsUser (not root), a read-only root filesystem, every
capability dropped, no privilege escalation, each emptyDir a tmpfs, the hash-named ConfigMaps
as files and environment, secretKeyRef values from a test Secret, $(VAR) expanded as the
kubelet does, and the rendered command and args (the launcher). The memory guard runs at its
minimum here, so the pod's worker is recycled under load. It runs the offline image (make
images-offline).
"""

from __future__ import annotations

import json
import re
import secrets
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from llmproxy_ops.render.build import render_build
from llmproxy_ops.spec import load_files
from tests import guard_load
from tests.conftest import REPO
from tests.k8s_tools import kubectl_path

pytestmark = pytest.mark.stack

IMAGE = "llmproxy-ops/litellm:1.108.7"
MASTER_KEY = "sk-PODsecretZZ4242"
GUARD_MIB = 128
LAYER = f"""\
layers: [{REPO}/configs/base.yaml, {REPO}/configs/providers/mock.yaml]
model_list:  # the shipped mock-gpt has an rpm limit: this one has none
  - model_name: unlimited-mock
    litellm_params: {{model: openai/mock-gpt, mock_response: "hi", api_key: dummy}}
stack:
  runtime: kubernetes
  # the memory guard at its minimum: smaller than a fresh worker, so the pod's one worker is
  # replaced as soon as it is 10 s old, again and again (test_recycled_workers_drop_nothing)
  workers_max_rss: {GUARD_MIB}
  kubernetes:
    replicas: 1
    max_replicas: 1
    litellm: {{image: {IMAGE}}}
    mlflow: {{enabled: false}}
    db: {{enabled: false}}
"""


def _built(tmp_path: Path) -> list[dict[str, Any]]:
    layer = tmp_path / "pod.yaml"
    layer.write_text(LAYER, encoding="utf-8")
    render_build(load_files([layer]), tmp_path / "build")
    done = subprocess.run([kubectl_path(), "kustomize", str(tmp_path / "build")], capture_output=True,
                          text=True, timeout=60, check=True)
    return [d for d in yaml.safe_load_all(done.stdout) if d]


def _expand(value: str, env: dict[str, str]) -> str:
    """The kubelet's $(VAR): variables defined earlier in the list, else left as written."""
    return re.sub(r"\$\(([A-Za-z_][A-Za-z0-9_]*)\)", lambda m: env.get(m[1], m[0]), value)


def docker_argv(docs: list[dict[str, Any]], name: str, files: Path) -> list[str]:
    """`docker run` arguments equivalent to the litellm Deployment's pod spec."""
    config_maps = {d["metadata"]["name"]: d["data"] for d in docs if d["kind"] == "ConfigMap"}
    [deployment] = [d for d in docs if d["kind"] == "Deployment"
                    and d["metadata"]["name"] == "litellm"]
    pod = deployment["spec"]["template"]["spec"]
    [container] = pod["containers"]
    pod_sc, sc = pod["securityContext"], container["securityContext"]
    argv = ["docker", "run", "-d", "--name", name,
            "--user", f"{pod_sc['runAsUser']}:{pod_sc['runAsGroup']}"]
    if sc["readOnlyRootFilesystem"]:
        argv.append("--read-only")
    argv += [f"--cap-drop={cap}" for cap in sc["capabilities"]["drop"]]
    if sc["allowPrivilegeEscalation"] is False:
        argv += ["--security-opt", "no-new-privileges"]
    volumes = {v["name"]: v for v in pod["volumes"]}
    for mount in container["volumeMounts"]:
        volume = volumes[mount["name"]]
        if "emptyDir" in volume:
            argv += ["--tmpfs", f"{mount['mountPath']}:mode=1777"]
        else:
            folder = files / mount["name"]
            folder.mkdir()
            for key, text in config_maps[volume["configMap"]["name"]].items():
                (folder / key).write_text(text, encoding="utf-8")
            argv += ["-v", f"{folder}:{mount['mountPath']}:ro"]
    env: dict[str, str] = {}
    for source in container["envFrom"]:
        env.update(config_maps[source["configMapRef"]["name"]])
    test_secret = {"LITELLM_MASTER_KEY": MASTER_KEY}
    for var in container["env"]:
        value = (test_secret[var["valueFrom"]["secretKeyRef"]["key"]] if "valueFrom" in var
                 else _expand(var["value"], env))
        env[var["name"]] = value
    for key, value in sorted(env.items()):
        argv += ["-e", f"{key}={value}"]
    # a kubelet runs `command` in place of the image's entrypoint, with `args` after it
    command = container.get("command") or []
    if command:
        argv += ["--entrypoint", command[0]]
    return [*argv, container["image"], *command[1:], *container["args"]]


@pytest.fixture(scope="module")
def pod(tmp_path_factory, docker_engine) -> Iterator[tuple[str, list[dict[str, Any]]]]:
    tmp_path = tmp_path_factory.mktemp("pod")
    docs = _built(tmp_path)
    name = f"llmproxy-k8s-pod-{secrets.token_hex(4)}"
    started = subprocess.run(docker_argv(docs, name, tmp_path), capture_output=True, text=True,
                             timeout=120, check=False)
    assert started.returncode == 0, started.stderr
    try:
        _wait_ready(name)
        yield name, docs
    finally:
        subprocess.run(["docker", "rm", "-f", name], capture_output=True, timeout=60, check=False)


def _in_pod(name: str, code: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["docker", "exec", name, "python3", "-c", code], capture_output=True,
                          text=True, timeout=60, check=False)


def _get(name: str, path: str, headers: dict[str, str] | None = None,
         body: dict | None = None) -> tuple[int, str]:
    code = (
        "import json, sys, urllib.request, urllib.error\n"
        f"req = urllib.request.Request('http://127.0.0.1:4000{path}', headers={headers or {}!r},"
        f" data={json.dumps(body).encode() if body else None!r})\n"
        "try:\n    r = urllib.request.urlopen(req, timeout=20); print(r.status); print(r.read().decode())\n"
        "except urllib.error.HTTPError as e:\n    print(e.code); print(e.read().decode())\n"
    )
    done = _in_pod(name, code)
    assert done.returncode == 0, done.stderr
    status, _, text = done.stdout.partition("\n")
    return int(status), text


def _wait_ready(name: str, timeout: float = 120) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        state = subprocess.run(["docker", "inspect", "-f", "{{.State.Running}}", name],
                               capture_output=True, text=True, timeout=30, check=False)
        if state.stdout.strip() != "true":
            logs = subprocess.run(["docker", "logs", "--tail", "30", name], capture_output=True,
                                  text=True, timeout=30, check=False)
            pytest.fail(f"the pod's container exited:\n{logs.stdout}{logs.stderr}")
        done = _in_pod(name, "import urllib.request; "
                             "urllib.request.urlopen('http://127.0.0.1:4000/health/readiness', timeout=3)")
        if done.returncode == 0:
            return
        time.sleep(1)
    pytest.fail(f"the pod's container was not ready within {timeout:.0f}s")


def test_the_pod_runs_as_its_uid_on_a_read_only_root(pod):
    name, docs = pod
    uid = str(next(d for d in docs if d["kind"] == "Deployment")["spec"]["template"]["spec"]
              ["securityContext"]["runAsUser"])
    assert _in_pod(name, "import os; print(os.getuid())").stdout.strip() == uid
    denied = _in_pod(name, "open('/app-write-test', 'w')")
    assert "Read-only file system" in denied.stderr
    caps = _in_pod(name, "print([l for l in open('/proc/self/status') if l.startswith('CapEff')][0])")
    assert caps.stdout.split() == ["CapEff:", "0000000000000000"]


def test_the_probe_paths_answer(pod):
    name, _ = pod
    assert _get(name, "/health/liveliness")[0] == 200
    assert _get(name, "/health/readiness")[0] == 200


def test_it_serves_the_rendered_config_with_the_secret_key(pod):
    name, _ = pod
    body = {"model": "mock-gpt", "messages": [{"role": "user", "content": "hi"}]}
    status, text = _get(name, "/v1/chat/completions", {"Authorization": f"Bearer {MASTER_KEY}",
                                                       "Content-Type": "application/json"}, body)
    assert status == 200, text
    assert json.loads(text)["choices"][0]["message"]["content"].startswith("Hello from llmproxy-ops!")
    assert _get(name, "/v1/models", {"Authorization": "Bearer sk-wrong"})[0] in (400, 401)


def test_recycled_workers_drop_nothing(pod):
    """stack.workers_max_rss reaches the pod (supervised with its one worker) and its
    recycles, in a read-only container as a kubelet runs it, fail no request and cut no
    stream."""
    name, docs = pod
    [deployment] = [d for d in docs if d["kind"] == "Deployment"
                    and d["metadata"]["name"] == "litellm"]
    env = {v["name"]: v.get("value") for v in
           deployment["spec"]["template"]["spec"]["containers"][0]["env"]}
    assert (env["LLMPROXY_SUPERVISE"], env["LLMPROXY_MAX_RSS_MB"]) == ("1", str(GUARD_MIB))
    load = guard_load.script(MASTER_KEY, 2)
    done = subprocess.run(["docker", "exec", name, "python3", "-c", load],
                          capture_output=True, text=True, timeout=180, check=False)
    assert done.returncode == 0, done.stderr
    result = json.loads(done.stdout)
    replacements = set(result["seen"]) - set(result["first"])
    assert len(replacements) >= 2, result
    assert result["failed"] == [] and result["ok"] > 0 and result["streams"] > 0, result
