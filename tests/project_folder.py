"""A project folder as a user has one, for tests that run `up` on their own environment: the
repository's configs plus one environment layer, an env file (mode 0600) and .env.example."""

from __future__ import annotations

import shutil
from pathlib import Path

from tests.conftest import REPO


def write_project(root: Path, env_name: str, layer: str, env: dict[str, str]) -> None:
    shutil.copytree(REPO / "configs", root / "configs")
    (root / "configs" / "environments" / f"{env_name}.yaml").write_text(layer, encoding="utf-8")
    env_file = root / ".env"
    env_file.write_text("".join(f"{k}={v}\n" for k, v in env.items()), encoding="utf-8")
    env_file.chmod(0o600)
    shutil.copy(REPO / ".env.example", root / ".env.example")
