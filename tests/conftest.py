"""Shared fixtures. LiteLLM must never try to reach GitHub for its cost map in tests."""

from __future__ import annotations

import os
import random
import socket
import subprocess
import textwrap
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from llmproxy_ops import netutil

os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")

REPO = Path(__file__).resolve().parents[1]

# Distinctive fake secret values: a test that renders with them asserts none leaks anywhere.
DISTINCT_SECRETS = {
    "LITELLM_MASTER_KEY": "sk-MASTERsecretZZ1111",
    "LITELLM_SALT_KEY": "SALTsecretZZ2222",
    "POSTGRES_PASSWORD": "PGsecretZZ3333",
    "ANTHROPIC_API_KEY": "sk-ant-ANTsecretZZ4444",
    "OPENAI_API_KEY": "sk-OAIsecretZZ5555",
    "FAKE_PROVIDER_KEY": "FAKEsecretZZ6666",
    "OPENROUTER_API_KEY": "sk-or-ORsecretZZ7777",
    "GEMINI_API_KEY": "GEMsecretZZ8888",
    "GITHUB_API_KEY": "ghp_GHsecretZZ9999",
}


@pytest.fixture
def write(tmp_path: Path) -> Callable[[str, str], Path]:
    """write("a/b.yaml", yaml_text) -> path, dedented, under tmp_path."""

    def _write(name: str, text: str) -> Path:
        path = tmp_path / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textwrap.dedent(text).lstrip("\n"), encoding="utf-8")
        return path

    return _write


@pytest.fixture
def in_tmp(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Run the test from tmp_path so relative paths in findings are short and stable."""
    monkeypatch.chdir(tmp_path)
    return tmp_path


_HANDED_OUT: set[int] = set()


def free_port() -> int:
    """A TCP port free right now (tests bind their servers, or publish a stack, on it).

    With TEST_PORT_RANGE=LOW-HIGH (scripts/test-tiers.sh gives each tier that runs beside
    another its own range, outside the kernel's ephemeral range): a free port of that range,
    so tiers running side by side never pick the same one, nor one the kernel hands out to
    bind(0) or to an outgoing connection meanwhile. Otherwise: the kernel's pick."""
    span = os.environ.get("TEST_PORT_RANGE", "")
    if not span:
        return netutil.free_port()
    low, high = (int(n) for n in span.split("-"))
    for port in random.sample(range(low, high + 1), min(200, high - low + 1)):
        if port in _HANDED_OUT:  # not bound yet by whoever got it
            continue
        with socket.socket() as sock:
            try:
                sock.bind(("0.0.0.0", port))  # what a published port binds
            except OSError:
                continue
            _HANDED_OUT.add(port)
            return port
    raise RuntimeError(f"no free port in TEST_PORT_RANGE={span}")


ENGINE_HINT = "run `make docker` (scripts/provision-docker.sh) — CI provides the engine"


@pytest.fixture(scope="session")
def docker_engine() -> None:
    """Fails (never skips) without a reachable engine: these tests must run in CI."""
    try:
        proc = subprocess.run(
            ["docker", "info"], capture_output=True, text=True, timeout=60, check=False
        )
    except (FileNotFoundError, subprocess.TimeoutExpired) as exc:
        pytest.fail(f"no Docker engine ({exc}): {ENGINE_HINT}", pytrace=False)
    if proc.returncode != 0:
        pytest.fail(
            f"`docker info` failed: {proc.stderr.strip()[-500:]}\n{ENGINE_HINT}", pytrace=False
        )


# ---- tiers: what a test needs, cheapest first -----------------------------------------------
# quick: nothing but the venv · process: starts litellm or a server (nginx, PostgreSQL, Redis)
# or a tool scripts/install-test-deps.sh installs · docker: a Docker engine · swarm: a swarm.
# Applied from the fixtures and markers a test uses (conformance: its target's engine);
# `make test` runs the tiers in this order and stops at the first that fails.
TIERS = ("quick", "process", "docker", "swarm")
_SWARM_FIXTURES = {"swarm", "two_nodes"}
_DOCKER_FIXTURES = {"docker_engine", "ci_stack", "pod"}
# modules of unit/cli that drive something the test deps install (redis-server, kubectl, checkov)
_PROCESS_MODULES = {"test_local_redis.py", "test_kubernetes_offline.py"}
# a rendered-only target's checks run kubectl, a tool the test deps install
_ENGINE_TIERS = {"process": "process", "docker": "docker", "swarm": "swarm", "render": "process"}


def tier_of(item: pytest.Item) -> str:
    callspec = getattr(item, "callspec", None)
    target = callspec.params.get("deployment") if callspec else None
    if target is not None:
        return _ENGINE_TIERS[target.engine]
    fixtures = set(getattr(item, "fixturenames", ()))
    if fixtures & _SWARM_FIXTURES:
        return "swarm"
    if fixtures & _DOCKER_FIXTURES or item.get_closest_marker("stack"):
        return "docker"
    if item.get_closest_marker("integration") or item.path.name in _PROCESS_MODULES:
        return "process"
    return "quick"


def pytest_configure(config: pytest.Config) -> None:
    from tests import machine_share

    machine_share.register(config)


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    for item in items:
        item.add_marker(getattr(pytest.mark, tier_of(item)))


# ---- in CI a skip is a failure, unless it is declared ---------------------------------------
# Each allowed skip, with where it is declared. Conformance targets declare theirs (what a
# target cannot run, tests/conformance/targets.py); anything else must be listed here.
ALLOWED_SKIPS: dict[str, str] = {}


def _allowed_skips() -> dict[str, str]:
    from tests.conformance.conftest import allowed_skip_reasons

    return {**ALLOWED_SKIPS, **allowed_skip_reasons()}


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Any:
    outcome = yield
    report = outcome.get_result()
    if not (report.skipped and os.environ.get("CI") and not hasattr(report, "wasxfail")):
        return
    reason = report.longrepr[2] if isinstance(report.longrepr, tuple) else str(report.longrepr)
    reason = reason.removeprefix("Skipped: ")
    if reason not in _allowed_skips():
        report.outcome = "failed"
        report.longrepr = (f"skipped in CI with a reason no target or ALLOWED_SKIPS declares "
                           f"(tests/conftest.py): {reason}")


def pytest_terminal_summary(terminalreporter: Any) -> None:
    skipped = terminalreporter.stats.get("skipped", [])
    if not skipped:
        return
    terminalreporter.section("declared skips (what cannot run where, and why)")
    for reason, where in sorted(_allowed_skips().items(), key=lambda kv: kv[1]):
        terminalreporter.write_line(f"{where}: {reason}")
