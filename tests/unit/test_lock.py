"""The hash locks in lock/ agree with pyproject.toml and with the LiteLLM pin.

CI installs from these files with --require-hashes; this guard fails, naming the package,
when pyproject.toml changed without `make lock`, so a dependency can never be added unlocked.
"""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

import pytest
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

from llmproxy_ops import LITELLM_PIN
from tests.conftest import REPO

LOCK = REPO / "lock"
PIN_LINE = re.compile(r"^([A-Za-z0-9._-]+)==([^\s\\;]+)")


def _pins(path: Path) -> dict[str, str]:
    pins = {}
    for line in path.read_text(encoding="utf-8").splitlines():
        if match := PIN_LINE.match(line):
            pins[canonicalize_name(match[1])] = match[2]
    return pins


def _blocks(path: Path) -> list[str]:
    """One text block per pinned requirement (its line and the continuation lines)."""
    text = path.read_text(encoding="utf-8")
    return [b for b in re.split(r"\n(?=[A-Za-z0-9])", text) if PIN_LINE.match(b)]


def _pyproject() -> dict[str, list[str]]:
    project = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]
    return {"runtime": project["dependencies"], "test": project["optional-dependencies"]["test"]}


def _unsatisfied(requirements: list[str], pins: dict[str, str]) -> list[str]:
    missing = []
    for text in requirements:
        req = Requirement(text)
        pinned = pins.get(canonicalize_name(req.name))
        if pinned is None or not req.specifier.contains(pinned, prereleases=True):
            missing.append(f"{text} (lock has {pinned or 'nothing'})")
    return missing


@pytest.mark.parametrize("name", ["runtime.txt", "test.txt", "litellm-image.txt"])
def test_every_pinned_package_carries_sha256_hashes(name: str) -> None:
    blocks = _blocks(LOCK / name)
    assert len(blocks) > 50, name
    unhashed = [b.split()[0] for b in blocks if "--hash=sha256:" not in b]
    assert unhashed == []


def test_runtime_lock_satisfies_pyproject_dependencies() -> None:
    missing = _unsatisfied(_pyproject()["runtime"], _pins(LOCK / "runtime.txt"))
    assert missing == [], "pyproject.toml and lock/runtime.txt disagree: run `make lock`"


def test_test_lock_satisfies_runtime_and_test_dependencies() -> None:
    deps = _pyproject()
    missing = _unsatisfied(deps["runtime"] + deps["test"], _pins(LOCK / "test.txt"))
    assert missing == [], "pyproject.toml and lock/test.txt disagree: run `make lock`"


def test_test_lock_runs_the_runtime_versions() -> None:
    runtime, test = _pins(LOCK / "runtime.txt"), _pins(LOCK / "test.txt")
    differ = {n: (v, test.get(n)) for n, v in runtime.items() if test.get(n) != v}
    assert differ == {}


def test_every_lock_runs_the_pinned_litellm() -> None:
    for name in ("runtime.txt", "test.txt", "litellm-image.txt"):
        assert _pins(LOCK / name)["litellm"] == LITELLM_PIN, name
    assert f"litellm[proxy,mlflow]=={LITELLM_PIN}\n" in (LOCK / "litellm-image.in").read_text()
    assert f'"litellm[proxy]=={LITELLM_PIN}"' in (REPO / "pyproject.toml").read_text()


def test_image_and_local_venv_share_the_litellm_dependency_versions() -> None:
    # the image adds mlflow and psycopg2; what both run must be the same build of everything
    runtime, image = _pins(LOCK / "runtime.txt"), _pins(LOCK / "litellm-image.txt")
    differ = {n: (v, image[n]) for n, v in runtime.items() if n in image and image[n] != v}
    assert differ == {}
