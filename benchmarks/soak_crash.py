"""Soak (issue 21): does LiteLLM die under plain + SSE load, and what does the fix cost?

Side by side in one run, every setup gets the same bounded load from 127.0.0.1 (wrk: 8 plain
and 8 SSE keep-alive connections) in turn, slice after slice, against the fake provider:

  stock-cli        LiteLLM's CLI as shipped, `litellm --config` (uvloop), 1 worker: the seeds' way
  no-safe-points   our launcher, 2 workers, with CPython's own automatic collection
                   (LLMPROXY_GC_SAFE_POINTS=0): the control for the fix
  launcher         our default: the launcher, 2 workers (collection at safe points only)
  launcher-1       the same, 1 worker (the dev environment as shipped)
  launcher-asyncio the default on asyncio's event loop instead of uvloop (LLMPROXY_EVENT_LOOP)
  image-stock      the LiteLLM image (Debian's CPython 3.11.2), `litellm --config` in a
                   container: compose's command before the fix
  image-launcher   the same image and container through the launcher (compose's command now)

Deaths are counted from what each runs on: a `litellm` process or container that exited
(started again to go on: its exit code is kept), and the launcher's own record of workers
that died and were restarted (LLMPROXY_WORKERS_FILE). The kernel's `segfault` lines (dmesg)
are reported beside them: the kernel rate-limits them, so they are a lower bound.
CPU per request: utime + stime of the serving processes over the answers, per slice without
a death (local setups only), and as a ratio to the default (launcher).

    .venv/bin/python benchmarks/soak_crash.py                 # 4 rounds of 60 s slices
    .venv/bin/python benchmarks/soak_crash.py --quick         # 1 round of 45 s slices
    .venv/bin/python benchmarks/soak_crash.py --setups launcher,launcher-1 --rounds 10
    .venv/bin/python benchmarks/soak_crash.py --gc-threshold 50,5,5   # collections 14x as often

Exits 1 when one of our setups (launcher, launcher-1, image-launcher) lost a process.
"""

from __future__ import annotations

import functools
import json
import os
import re
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import _common as bench
from perf_load import Target, group_cpu, run_point

from llmproxy_ops.targets.local.process import LaunchSpec, LocalRuntime
from llmproxy_ops.testing.fake_provider import FakeProvider

KEY = "sk-soak-master-key-3f9a0c7e51"
OURS = ("launcher", "launcher-1", "image-launcher")
IMAGE = "llmproxy-ops/litellm:1.108.7"
FAKE_IMAGE = "llmproxy-ops/fake-provider:latest"
CONFIG = """\
model_list:
  - model_name: m
    litellm_params: {{model: openai/gpt-4o-mini, api_base: "{base}", api_key: dummy}}
  - model_name: m-stream
    litellm_params: {{model: openai/gpt-4o-mini, api_base: "{base}", api_key: dummy}}
litellm_settings: {{num_retries: 0, request_timeout: 60}}
general_settings: {{master_key: os.environ/LITELLM_MASTER_KEY}}
"""
# CPython's own collector thresholds, as `litellm --config` runs with them: the crash needs a
# collection at the wrong moment, and base.yaml's PYTHON_GC_THRESHOLD=700,10,1000 makes the
# full ones 100x rarer (3 min per setup with it saw no death at all, benchmarks/results).
_ENV = {"LITELLM_MASTER_KEY": KEY, "LITELLM_LOG": "ERROR", "LITELLM_LOCAL_MODEL_COST_MAP": "True"}


@dataclass
class Setup:
    key: str
    url: str = ""
    deaths: list[str] = field(default_factory=list)  # how each death ended
    requests: int = 0
    errors: int = 0
    cpu_ms: list[float] = field(default_factory=list)  # per clean slice
    groups: Callable[[], tuple[int, ...]] = lambda: ()
    check: Callable[[], list[str]] = lambda: []  # new deaths since the last call
    stop: Callable[[], None] = lambda: None


# key -> (workers, LiteLLM's CLI as shipped, environment on top of _ENV)
LOCAL: dict[str, tuple[int, bool, dict[str, str]]] = {
    "stock-cli": (1, True, {}),
    "no-safe-points": (2, False, {"LLMPROXY_GC_SAFE_POINTS": "0"}),
    "launcher": (2, False, {}),
    "launcher-1": (1, False, {}),
    "launcher-asyncio": (2, False, {"LLMPROXY_EVENT_LOOP": "asyncio"}),
}


def local_setup(key: str, work: Path, base: str) -> Setup:
    workers, stock, extra = LOCAL[key]
    folder = work / key
    folder.mkdir()
    config = folder / "config.yaml"
    config.write_text(CONFIG.format(base=base))
    env = {**_ENV, **extra}
    launch = LaunchSpec(config_path=config, env=env, port=bench.free_port(), workers=workers,
                        reuse_port=not stock, startup_timeout=180)
    runtime = LocalRuntime(folder / "run")
    st = runtime.up(launch)
    setup = Setup(key, url=st.url or "", stop=lambda: runtime.down(grace=10))
    seen = {"restarts": 0}

    def check() -> list[str]:
        now = runtime.status()
        if not now.running:  # the stock CLI has no supervisor: it is gone, start it again
            code = _exit_note(runtime.log_path)
            runtime.down(grace=5)
            runtime.up(launch)
            return [code]
        new = now.restarts - seen["restarts"]
        seen["restarts"] = now.restarts
        return [now.last_exit] * new

    setup.groups = lambda: tuple(p for p in [runtime.status().pid] if p)
    setup.check = check
    return setup


def _exit_note(log: Path) -> str:
    tail = log.read_text(errors="replace")[-4000:]
    return "SIGSEGV (Fatal Python error)" if "Segmentation fault" in tail else "exited"


class Containers:
    """One network, the fake provider's container, and one LiteLLM container per setup."""

    def __init__(self, work: Path):
        self.work, self.net = work, f"soak-{os.getpid()}"
        subprocess.run(["docker", "network", "create", self.net], check=True,
                       capture_output=True)
        self.fake = self._run(["--name", f"{self.net}-fake", FAKE_IMAGE, "python", "-m",
                               "llmproxy_ops.testing.fake_provider", "--host", "0.0.0.0",
                               "--port", "9000", "--fast"])
        self.names: list[str] = [self.fake]

    def _run(self, args: list[str]) -> str:
        out = subprocess.run(["docker", "run", "-d", "--network", self.net, *args], check=True,
                             capture_output=True, text=True)
        return out.stdout.strip()

    def litellm(self, key: str, *, launcher: bool) -> Setup:
        config = self.work / f"{key}.yaml"
        config.write_text(CONFIG.format(base=f"http://{self.net}-fake:9000/v1"))
        config.chmod(0o644)
        port = bench.free_port()
        env = [a for k, v in _ENV.items() for a in ("-e", f"{k}={v}")]
        mounts = ["-v", f"{config}:/app/config.yaml:ro"]
        head: list[str] = []
        if launcher:
            source = bench.REPO / "llmproxy_ops" / "launcher.py"
            mounts += ["-v", f"{source}:/app/llmproxy_launcher.py:ro"]
            env += ["-e", "LLMPROXY_SUPERVISE=0"]
            head = ["--entrypoint", "python3"]
        args = [*head, "--name", f"{self.net}-{key}", "-p", f"127.0.0.1:{port}:4000",
                "--memory", "1g", *env, *mounts, IMAGE]
        args += ["/app/llmproxy_launcher.py"] if launcher else []
        name = self._run(args + ["--config", "/app/config.yaml", "--port", "4000"])
        self.names.append(name)
        setup = Setup(key, url=f"http://127.0.0.1:{port}")
        _wait_healthy(setup.url, 180)

        def check() -> list[str]:
            state = json.loads(subprocess.run(["docker", "inspect", name], check=True,
                                              capture_output=True, text=True).stdout)[0]["State"]
            if state["Running"]:
                return []
            code = state["ExitCode"]
            subprocess.run(["docker", "start", name], check=True, capture_output=True)
            _wait_healthy(setup.url, 180)
            return [f"container exit code {code}"]

        setup.check = check
        return setup

    def stop(self) -> None:
        subprocess.run(["docker", "rm", "-f", *self.names], capture_output=True)
        subprocess.run(["docker", "network", "rm", self.net], capture_output=True)


def _wait_healthy(url: str, timeout: float) -> None:
    import httpx

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"{url}/health/liveliness", timeout=2).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(1)
    raise RuntimeError(f"{url} did not become healthy within {timeout:g} s")


def segfault_lines() -> int:
    done = subprocess.run(["dmesg"], capture_output=True, text=True)
    return len(re.findall(r"segfault at", done.stdout)) if done.returncode == 0 else -1


def soak_slice(setup: Setup, seconds: float) -> None:
    """Plain and SSE load at once for `seconds`; then count what died."""
    target = Target(url=setup.url, groups=setup.groups(), key=KEY, model="m",
                    stream_model="m-stream")
    results: dict[bool, dict[str, Any]] = {}

    def load(stream: bool) -> None:
        results[stream] = run_point(target, stream, 8, seconds)

    before = group_cpu(target.groups)
    threads = [threading.Thread(target=load, args=(s,)) for s in (False, True)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    after = group_cpu(target.groups)
    died = setup.check()
    setup.deaths += died
    answered = sum(r["requests"] for r in results.values())
    setup.requests += answered
    setup.errors += sum(r["http_errors"] + r["socket_errors"] for r in results.values())
    if target.groups and not died and answered:
        cpu = sum(max(0.0, after[p] - before.get(p, 0.0)) for p in after)
        setup.cpu_ms.append(1e3 * cpu / answered)


def main(argv: list[str] | None = None) -> int:
    parser = bench.arg_parser(__doc__, "1 round of 45 s slices")
    parser.add_argument("--rounds", type=int, default=4)
    parser.add_argument("--seconds", type=float, default=60.0, help="one slice of load")
    parser.add_argument("--gc-threshold", metavar="T0,T1,T2",
                        help="PYTHON_GC_THRESHOLD for every setup (LiteLLM applies it): low "
                        "values collect more often, so a crash that needs a collection at the "
                        "wrong moment comes sooner (a stress test of the fix)")
    parser.add_argument("--setups", default="stock-cli,no-safe-points,launcher,launcher-1,"
                        "launcher-asyncio,image-stock,image-launcher")
    args = parser.parse_args(argv)
    rounds, seconds = (1, 45.0) if args.quick else (args.rounds, args.seconds)
    if args.gc_threshold:
        _ENV["PYTHON_GC_THRESHOLD"] = args.gc_threshold
    wanted = args.setups.split(",")
    info = bench.machine_info()
    fake = FakeProvider(fast=True).start()
    setups: list[Setup] = []
    containers: Containers | None = None
    with tempfile.TemporaryDirectory(prefix="soak-") as tmp:
        work = Path(tmp)
        try:
            makers: dict[str, Callable[[], Setup]] = {
                key: functools.partial(local_setup, key, work, fake.openai_base)
                for key in LOCAL}
            if any(w.startswith("image-") for w in wanted):
                containers = Containers(work)
                box = containers
                makers["image-stock"] = lambda: box.litellm("image-stock", launcher=False)
                makers["image-launcher"] = lambda: box.litellm("image-launcher", launcher=True)
            setups = [makers[w]() for w in wanted]
            kernel_before = segfault_lines()
            for r in range(rounds):
                for setup in setups:
                    soak_slice(setup, seconds)
                    print(f"round {r + 1}/{rounds} {setup.key}: deaths {len(setup.deaths)}, "
                          f"requests {setup.requests}", flush=True)
            kernel = segfault_lines() - kernel_before
        finally:
            for setup in setups:
                setup.stop()
            if containers:
                containers.stop()
            fake.stop()
    return report(setups, rounds, seconds, kernel, info, args)


def report(setups: list[Setup], rounds: int, seconds: float, kernel: int,
           info: dict[str, Any], args: Any) -> int:
    baseline = next((s for s in setups if s.key == "launcher"), None)
    rows = []
    for s in setups:
        cpu = sum(s.cpu_ms) / len(s.cpu_ms) if s.cpu_ms else None
        ratio = (cpu / (sum(baseline.cpu_ms) / len(baseline.cpu_ms))
                 if cpu and baseline and baseline.cpu_ms else None)
        rows.append([s.key, f"{rounds * seconds:g} s", s.requests, s.errors, len(s.deaths),
                     "; ".join(sorted(set(s.deaths))) or "-",
                     f"{cpu:.1f}" if cpu else "-", f"{ratio:.2f}" if ratio else "-"])
    table = bench.markdown_table(
        ["setup", "load", "answers", "errors", "deaths", "how", "CPU ms/answer",
         "CPU vs launcher"], rows)
    threshold = _ENV.get("PYTHON_GC_THRESHOLD", "CPython's default (700,10,10)")
    note = (f"Kernel `segfault` lines during the run: {kernel} (rate-limited by the kernel: "
            "a lower bound). Load: wrk, 8 plain + 8 SSE connections from 127.0.0.1, "
            f"{seconds:g} s slices, setups in turn, {rounds} round(s); collector thresholds "
            f"{threshold}.")
    print(table + "\n\n" + note)
    data = {"machine": info, "rounds": rounds, "slice_s": seconds, "kernel_segfaults": kernel,
            "setups": [{**vars(s), "groups": None, "check": None, "stop": None}
                       for s in setups]}
    name = "soak_crash" + ("_stress" if "PYTHON_GC_THRESHOLD" in _ENV else "")
    bench.write_results(name, data, bench.markdown_doc(
        "Soak: LiteLLM deaths under plain + SSE load", info, table, note), args)
    lost = [s.key for s in setups if s.key in OURS and s.deaths]
    if lost:
        print(f"FAILED: {', '.join(lost)} lost a process", file=sys.stderr)
    return 1 if lost else 0


if __name__ == "__main__":
    sys.exit(main())
