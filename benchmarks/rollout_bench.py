"""Changes to a running gateway under load (issue 9 §3): what the clients see.

Two changes on the local runtime, each under a bounded load against 127.0.0.1 (two clients
sending plain requests and one streaming client, keep-alive connections, the fake provider
upstream): a master-key rotation (`keys rotate master`) and a LiteLLM environment change
(`stack.environment.LITELLM_LOG`, applied with `apply`). Reported per change: requests and
streams served, failed requests (5xx, resets, refused connections), streams cut, and the
longest time without any answer. Clients switch to the new master key as soon as it is
written (as an operator's clients would be told), so a 401/400 for the old key right at the
switch is not counted as a failure of the rollout; every other failure is.

    .venv/bin/python benchmarks/rollout_bench.py            # 3 runs of each change
    .venv/bin/python benchmarks/rollout_bench.py --quick    # 1 run of each
"""

from __future__ import annotations

import os
import tempfile
import time
from pathlib import Path
from typing import Any

from _common import arg_parser, free_port, machine_info, markdown_doc, markdown_table, write_results

from llmproxy_ops.envfile import read_env_file
from llmproxy_ops.ops.apply.deploy import ApplyRequest, apply
from llmproxy_ops.ops.keys.rotate import RotateRequest, rotate_master
from llmproxy_ops.pipeline import Target, runtime_for, start_target
from llmproxy_ops.testing.fake_provider import FakeProvider
from llmproxy_ops.testing.load import Load

BASE = """\
general_settings: {master_key: os.environ/LITELLM_MASTER_KEY}
litellm_settings: {num_retries: 0, request_timeout: 60}
model_list:
  - model_name: fast
    litellm_params:
      model: openai/gpt-4o-mini
      api_base: os.environ/FAKE_OPENAI_BASE
      api_key: os.environ/FAKE_PROVIDER_KEY
"""
ENV = "layers: [../base.yaml]\nstack: {{runtime: local, port: {port}, startup_timeout: 180, \
environment: {{LITELLM_LOG: {log}}}}}\n"


def setup(base: Path, fake: FakeProvider) -> str:
    port = free_port()
    (base / "configs/environments").mkdir(parents=True)
    (base / "configs/base.yaml").write_text(BASE)
    (base / "configs/environments/b.yaml").write_text(ENV.format(port=port, log="ERROR"))
    names = {"LITELLM_MASTER_KEY": "sk-bench-initial-master-key-4b2d",
             "FAKE_PROVIDER_KEY": "fake-key", "FAKE_OPENAI_BASE": fake.openai_base}
    (base / ".env").write_text("".join(f"{k}={v}\n" for k, v in names.items()))
    (base / ".env").chmod(0o600)
    (base / ".env.example").write_text("".join(f"{k}=\n" for k in names))
    return f"http://127.0.0.1:{port}"


def measure(label: str, url: str, change: Any, *, model: str = "fast",
            verify: bool | str = True) -> dict[str, Any]:
    """The load around one change (also used by rollout_compose_bench.py)."""
    def key() -> str:
        return read_env_file(Path(".env"))["LITELLM_MASTER_KEY"]

    with Load(url, key(), model, key_source=key, verify=verify) as load:
        time.sleep(2.0)
        t0 = time.monotonic()
        ok = change()
        took = time.monotonic() - t0
        time.sleep(2.0)
    r = load.report
    began, _ = r.longest_gap()
    return {"change": label, "gap_began_after_s": round(began - t0, 1), "ok": ok,
            "took_s": round(took, 1), "requests": r.ok,
            "failed": r.failed, "rejected": r.rejected, "streams": r.streams_ok,
            "streams_cut": r.streams_cut,
            "longest_gap_s": round(r.longest_gap_s, 2), "errors": r.errors[:5]}


def env_change(flip: list[str]) -> bool:
    flip.append("INFO" if flip[-1] == "ERROR" else "ERROR")
    text = Path("configs/environments/b.yaml").read_text()
    Path("configs/environments/b.yaml").write_text(
        text.replace(f"LITELLM_LOG: {flip[-2]}", f"LITELLM_LOG: {flip[-1]}"))
    return apply(ApplyRequest(Target(env="b"))).ok


def key_rotation() -> bool:
    return rotate_master(RotateRequest(Target(env="b"))).ok


def main() -> None:
    args = arg_parser(__doc__ or "", "one run of each change").parse_args()
    runs = 1 if args.quick else 3
    fake = FakeProvider(fast=True).start()
    cwd = Path.cwd()
    results: list[dict[str, Any]] = []
    with tempfile.TemporaryDirectory() as tmp:
        os.chdir(tmp)
        url = setup(Path(tmp), fake)
        try:
            start_target(Target(env="b"))
            flip = ["ERROR"]
            # The same load with no change: what this machine's contention alone gives.
            results.append(measure("no change (baseline, 60 s)", url,
                                   lambda: time.sleep(60) is None))
            for _ in range(runs):
                results.append(measure("LiteLLM environment change (apply)", url,
                                       lambda: env_change(flip)))
                results.append(measure("master-key rotation", url, key_rotation))
        finally:
            runtime_for(Target(env="b"))[1].stop(grace=10.0)
            os.chdir(cwd)
            fake.stop()
    data = {"machine": machine_info(), "runtime": "local", "runs": runs, "results": results}
    table = markdown_table(
        ["runtime", "change", "ok", "took (s)", "requests", "failed", "rejected (4xx)",
         "streams", "cut", "longest gap (s)", "gap began at (s)"],
        [["local", r["change"], r["ok"], r["took_s"], r["requests"], r["failed"], r["rejected"],
          r["streams"], r["streams_cut"], r["longest_gap_s"], r["gap_began_after_s"]]
         for r in results],
    )
    print(table)
    write_results("rollout", data, markdown_doc("Changes under load", data["machine"], table),
                  args)


if __name__ == "__main__":
    main()
