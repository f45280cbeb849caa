"""Changes to a running compose gateway under load (issue 9 §3): what the clients see.

rollout_bench.py's measurement on the compose runtime: a LiteLLM environment change
(`stack.environment.LITELLM_LOG`, applied with `apply`) and a master-key rotation (`keys
rotate master`), each under a bounded load (two plain clients, one streaming client,
keep-alive) against 127.0.0.1. Three stacks: 1 replica behind nginx (surge), 2 replicas
behind nginx (one at a time), and 1 replica without nginx (its published port is the only
way in: the gap that remains). Clients switch to a new master key as soon as it is written,
so a 401 for a key the serving replica does not have yet is counted apart (rejected), not as
a failure. Needs the offline images (`make images-offline`); takes about 10 minutes.

    .venv/bin/python benchmarks/rollout_compose_bench.py --quick   # one run of each change
"""

from __future__ import annotations

import os
import re
import shutil
import tempfile
from pathlib import Path
from typing import Any

from _common import arg_parser, free_port, machine_info, markdown_doc, markdown_table, write_results
from rollout_bench import measure

from llmproxy_ops.ops.apply.deploy import ApplyRequest, apply
from llmproxy_ops.ops.certs import create_self_signed
from llmproxy_ops.ops.keys.rotate import RotateRequest, rotate_master
from llmproxy_ops.pipeline import Target, runtime_for, start_target

REPO = Path(__file__).resolve().parents[1]
SETUPS = [(1, True), (2, True), (1, False)]  # (replicas, nginx in front)
ENV = """\
layers: [ci.yaml]
model_list:
  - model_name: mock-gpt
    litellm_params: {{rpm: 1000000}}
  - model_name: fake-openai
    litellm_params: {{rpm: 1000000}}
litellm_settings: {{success_callback: [], failure_callback: []}}
stack:
  port: {port}
  environment: {{LITELLM_LOG: ERROR}}
  compose:
    project: llmproxy-rollout-bench
    litellm: {{replicas: {replicas}, cpus: 1.0, memory: 1g}}
    db: {{enabled: false}}
    mlflow: {{enabled: false}}
    nginx: {{enabled: {nginx}, https_port: {https}, http_port: {http}, rate: 100000r/m,
             burst: 1000}}
"""


def setup(base: Path, replicas: int, nginx: bool) -> tuple[str, bool | str]:
    """A project folder for one stack; the URL clients use and how to verify its TLS."""
    shutil.rmtree(base / "configs", ignore_errors=True)
    shutil.copytree(REPO / "configs", base / "configs")
    port, https, http = free_port(), free_port(), free_port()
    (base / "configs/environments/b.yaml").write_text(ENV.format(
        port=port, replicas=replicas, nginx=str(nginx).lower(), https=https, http=http))
    (base / ".env").write_text("LITELLM_MASTER_KEY=sk-bench-initial-master-key-9a1c\n"
                               "FAKE_PROVIDER_KEY=fake-key-0123\n")
    (base / ".env").chmod(0o600)
    shutil.copy(REPO / ".env.example", base / ".env.example")
    if not (base / "certs/cert.pem").is_file():
        create_self_signed(base / "certs", ["localhost", "127.0.0.1"])
    if nginx:
        return f"https://127.0.0.1:{https}", str(base / "certs/cert.pem")
    return f"http://127.0.0.1:{port}", True


def env_change() -> bool:
    path = Path("configs/environments/b.yaml")
    text = path.read_text()
    new = "INFO" if "LITELLM_LOG: ERROR" in text else "ERROR"
    path.write_text(re.sub(r"LITELLM_LOG: \w+", f"LITELLM_LOG: {new}", text))
    return apply(ApplyRequest(Target(env="b"))).ok


def key_rotation() -> bool:
    return rotate_master(RotateRequest(Target(env="b"))).ok


def run_setup(base: Path, replicas: int, nginx: bool, runs: int) -> list[dict[str, Any]]:
    url, verify = setup(base, replicas, nginx)
    name = f"{replicas} replica{'s' if replicas > 1 else ''}, " + (
        "nginx" if nginx else "no nginx")
    out: list[dict[str, Any]] = []
    try:
        start_target(Target(env="b"))
        for _ in range(runs):
            for label, change in (("LiteLLM environment change (apply)", env_change),
                                  ("master-key rotation", key_rotation)):
                row = measure(label, url, change, model="mock-gpt", verify=verify)
                out.append({"setup": name, **row})
                print(out[-1], flush=True)
    finally:
        runtime_for(Target(env="b"))[1].stop(volumes=True)
    return out


def main() -> None:
    args = arg_parser(__doc__ or "", "one run of each change").parse_args()
    runs = 1 if args.quick else 2
    cwd = Path.cwd()
    results: list[dict[str, Any]] = []
    with tempfile.TemporaryDirectory() as tmp:
        os.chdir(tmp)
        try:
            for replicas, nginx in SETUPS:
                results += run_setup(Path(tmp), replicas, nginx, runs)
        finally:
            os.chdir(cwd)
    data = {"machine": machine_info(), "runtime": "compose", "runs": runs, "results": results}
    table = markdown_table(
        ["setup", "change", "ok", "took (s)", "requests", "failed", "rejected (4xx)",
         "streams", "cut", "longest gap (s)", "gap began at (s)"],
        [[r["setup"], r["change"], r["ok"], r["took_s"], r["requests"], r["failed"],
          r["rejected"], r["streams"], r["streams_cut"], r["longest_gap_s"],
          r["gap_began_after_s"]] for r in results],
    )
    print(table)
    write_results("rollout_compose", data,
                  markdown_doc("Changes to a compose gateway under load", data["machine"], table),
                  args)


if __name__ == "__main__":
    main()
