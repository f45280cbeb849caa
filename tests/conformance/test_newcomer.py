"""A new user's path, as README "Set up" and "Adding a real provider" tell it, with make:
`make up` on a clean clone, the Anthropic fragment added to dev's layers and its key to .env,
`make apply`, `make smoke`, the README's curl, `make down`. The shipped defaults throughout
(dev: one worker, port 4000). Anthropic is unreachable here, so ANTHROPIC_API_BASE points
LiteLLM's Anthropic provider at the fake provider `make up` started: the one stand-in.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
from pathlib import Path

import pytest

from tests.conftest import REPO

pytestmark = pytest.mark.integration  # the process tier: real litellm, on port 4000


def make(clone: Path, target: str, timeout: float = 600) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("LLMPROXY_", "PYTEST"))}
    env["COLUMNS"] = "200"  # the smoke table on one line per check
    return subprocess.run(["make", target], cwd=clone, capture_output=True, text=True,
                          timeout=timeout, env=env)


def test_make_up_add_a_provider_apply_smoke_down(tmp_path: Path) -> None:
    clone = tmp_path / "llmproxy-ops"
    subprocess.run(["git", "clone", "-q", str(REPO), str(clone)], check=True, timeout=120)
    # The project's venv stands in for the one `make up` would install (installs are what CI
    # proves); its stamp must read as newer than the clone's pyproject.toml and lock.
    (clone / ".venv").symlink_to(REPO / ".venv")
    for name in ("pyproject.toml", "lock/runtime.txt"):
        os.utime(clone / name, (0, 0))
    try:
        up = make(clone, "up")
        assert up.returncode == 0, up.stdout + up.stderr
        assert "up: dev on local, healthy in" in up.stdout
        assert "http://127.0.0.1:4000" in up.stdout
        # the README's first request, as typed there, right after `make up`
        curl = ("sed -n 's/^LITELLM_MASTER_KEY=/Authorization: Bearer /p' .env | "
                "curl -sS http://127.0.0.1:4000/v1/chat/completions -H @- "
                "-H 'Content-Type: application/json' "
                """-d '{"model": "mock-gpt", "messages": [{"role": "user", "content": "Hello!"}]}'""")
        answer = subprocess.run(["bash", "-c", curl], cwd=clone, capture_output=True, text=True,
                                timeout=60)
        assert json.loads(answer.stdout)["choices"][0]["message"]["content"], answer.stdout

        fake = json.loads((clone / ".run/dev/fake_provider.json").read_text())["url"]
        dev = clone / "configs/environments/dev.yaml"
        dev.write_text(dev.read_text().replace(
            "  - ../providers/local-fake.yaml\n",
            "  - ../providers/local-fake.yaml\n  - ../providers/anthropic.yaml\n"))
        with (clone / ".env").open("a") as env:
            env.write(f"ANTHROPIC_API_KEY=sk-ant-newcomer-0123456789\nANTHROPIC_API_BASE={fake}\n")

        applied = make(clone, "apply")
        assert applied.returncode == 0, applied.stdout + applied.stderr
        assert "+- model_name: claude-sonnet-4-5" in applied.stdout
        assert "applied: dev now runs build 0002" in applied.stdout

        smoke = make(clone, "smoke")
        assert smoke.returncode == 0, smoke.stdout + smoke.stderr
        assert re.search(r"chat: claude-sonnet-4-5\s.*PASS", smoke.stdout), smoke.stdout
        assert "passed: all" in smoke.stdout
        # its rpm proof spent mock-gpt's budget for this minute, and it says so
        assert re.search(r"mock-gpt answers 429 until \d\d:\d\d UTC", smoke.stdout), smoke.stdout
    finally:
        down = make(clone, "down")
    assert down.returncode == 0, down.stdout + down.stderr
    assert "stopped" in down.stdout
