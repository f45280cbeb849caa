"""Stack fixtures: a reachable Docker engine (never skipped) and the CI gate's compose stack.

The gate stack is the repo's `ci` environment, layered with its own compose project name and
ports so it never meets a developer's `make up ENV=ci` or another test's stack, rendered into
a throwaway project folder and run with testcontainers' DockerCompose.
"""

from __future__ import annotations

import contextlib
import dataclasses
import os
import secrets
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from llmproxy_ops.ops.certs import CERT_FILE, create_self_signed
from llmproxy_ops.pipeline import Target, render_target
from llmproxy_ops.render.compose import COMPOSE_FILE
from llmproxy_ops.targets.compose.project import parse_ps
from tests.project_folder import write_project

# Ryuk's image cannot be pulled here; the fixture tears the stack down itself.
os.environ["TESTCONTAINERS_RYUK_DISABLED"] = "true"

from testcontainers.compose import DockerCompose  # noqa: E402  (after the Ryuk switch)

GATE_ENV = "gate"
GATE_PROJECT = "llmproxy-gate"
GATE_HTTPS, GATE_HTTP, GATE_MLFLOW = 18443, 18080, 15101
# Requests through nginx before the 429 test: the smoke test's ~75 (60+1 for mock-gpt's rpm,
# 5+1 for fake-openai's, a dozen more) within seconds, a repeated rpm burst if one straddled
# a minute, and the other tests' few. 120 r/m with burst 120 lets ~120 + 2/s through, so all
# of that passes while a burst of a few hundred requests meets nginx's own 429 within seconds.
GATE_RATE, GATE_BURST = "120r/m", 120
GATE_MAX_RSS = 1536  # MiB, below ci's 2g container limit
LOG_LINES = 30

GATE_LAYER = f"""\
# The CI gate: the repo's ci environment (copied: layers stay in the configs folder) under its
# own project name and ports.
layers: [ci.yaml]
stack:
  # the memory guard in a replica: its one worker runs supervised (far below what it reaches
  # in the gate's few minutes: the gate proves the container path, the local integration
  # test proves recycling under load)
  workers_max_rss: {GATE_MAX_RSS}
  compose:
    project: {GATE_PROJECT}
    mlflow: {{port: {GATE_MLFLOW}}}
    nginx:
      bind: 127.0.0.1
      https_port: {GATE_HTTPS}
      http_port: {GATE_HTTP}
      rate: {GATE_RATE}
      burst: {GATE_BURST}
"""


@dataclass(frozen=True)
class GateStack:
    """What the gate tests need of the running stack."""

    env: str  # the gate environment's name, in root/configs/environments
    root: Path  # the throwaway project folder (.env, certs/, configs/, build/)
    https_url: str
    http_url: str
    master_key: str
    ca_path: Path
    compose_file: Path
    project: str
    mlflow_url: str
    startup_s: float

    def compose(self, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        cmd = ["docker", "compose", "-p", self.project, "-f", str(self.compose_file), *args]
        return subprocess.run(cmd, capture_output=True, text=True, timeout=120, check=check)


def _write_project(root: Path) -> str:
    """Env file, .env.example, certificates and the gate environment; returns the master key."""
    key = f"sk-gate-{secrets.token_hex(16)}"
    env = {
        "LITELLM_MASTER_KEY": key,
        "POSTGRES_PASSWORD": secrets.token_urlsafe(24),
        "FAKE_PROVIDER_KEY": f"fake-{secrets.token_hex(8)}",
    }
    write_project(root, GATE_ENV, GATE_LAYER, env)
    create_self_signed(root / "certs", ["localhost", "127.0.0.1"])
    return key


def _diagnose(stack: GateStack) -> str:
    """Each service's state and its last log lines, for a start that failed."""
    ps = stack.compose("ps", "--all", "--format", "json", check=False)
    lines = [f"`docker compose ps` exit {ps.returncode}: {ps.stderr.strip()}"]
    for row in parse_ps(ps.stdout) if ps.returncode == 0 else []:
        name = str(row.get("Service"))
        lines.append(
            f"--- {name}: state={row.get('State')} health={row.get('Health')} "
            f"exit={row.get('ExitCode')}; last {LOG_LINES} log lines:"
        )
        logs = stack.compose("logs", "--no-color", "--tail", str(LOG_LINES), name, check=False)
        lines.append((logs.stdout + logs.stderr).rstrip())
    return "\n".join(lines)


def _start(compose: DockerCompose, stack: GateStack) -> None:
    try:
        compose.start()
        return
    except subprocess.CalledProcessError as exc:
        stderr = (exc.stderr or b"").decode(errors="replace").strip()[-2000:]
        report = f"`docker compose up --wait` failed (exit {exc.returncode}):\n{stderr}\n"
    report += _diagnose(stack)
    print(report, file=sys.stderr)
    pytest.fail(f"the gate stack did not become healthy\n{report}", pytrace=False)


@pytest.fixture(scope="session")
def ci_stack(docker_engine: None, tmp_path_factory: pytest.TempPathFactory) -> Iterator[GateStack]:
    """The rendered ci environment (litellm, db, mlflow, nginx, fake provider), torn down after."""
    root = tmp_path_factory.mktemp("gate")
    key = _write_project(root)
    with contextlib.chdir(root):  # certs/, .env, .env.example and build/ are project-relative
        _, rendered = render_target(Target(env=GATE_ENV))
    build = (root / rendered.out_dir).resolve()
    # The services' secrets are compose `secrets:` read from docker compose's environment
    # (llmproxy-ops's runtime passes the values; here compose reads the env file itself).
    compose = DockerCompose(context=build, compose_file_name=COMPOSE_FILE, wait=True, pull=False,
                            env_file=str(root / ".env"))
    stack = GateStack(
        env=GATE_ENV,
        root=root,
        https_url=f"https://127.0.0.1:{GATE_HTTPS}",
        http_url=f"http://127.0.0.1:{GATE_HTTP}",
        master_key=key,
        ca_path=root / "certs" / CERT_FILE,
        compose_file=build / COMPOSE_FILE,
        project=GATE_PROJECT,
        mlflow_url=f"http://127.0.0.1:{GATE_MLFLOW}",
        startup_s=0.0,
    )
    stack.compose("down", "--volumes", "--remove-orphans", check=False)  # a crashed earlier run
    started = time.monotonic()
    try:
        _start(compose, stack)
        stack = dataclasses.replace(stack, startup_s=round(time.monotonic() - started, 1))
        print(
            f"\n[gate] stack {GATE_PROJECT} healthy {stack.startup_s} s after `up`", file=sys.stderr
        )
        yield stack
    finally:
        compose.stop(down=True)  # `down --volumes`: the database and artifacts go too
