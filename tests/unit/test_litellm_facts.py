"""What the checks take from LiteLLM without importing it equals what LiteLLM itself says."""

from __future__ import annotations

import itertools
import os
import subprocess
import sys

import pytest

from llmproxy_ops.validate.litellm_boot import load_standalone
from tests.conftest import REPO


def test_committed_facts_equal_the_installed_litellm() -> None:
    # a fresh interpreter: LiteLLM's module attributes must be read right after import
    done = subprocess.run(
        [sys.executable, "-m", "llmproxy_ops.validate.facts_gen", "--check"], cwd=REPO,
        env={**os.environ, "LITELLM_LOCAL_MODEL_COST_MAP": "True"}, capture_output=True,
        text=True, timeout=240, check=False,
    )
    assert (done.returncode, done.stderr) == (0, ""), (
        "litellm_facts.json is stale: run `python -m llmproxy_ops.validate.facts_gen`")


KEYS = [None, "", "   ", "sk-1234", " sk-1234 ", "sk-Zq8vN2xK7pLm4RtY9wBc3HjD6f", "deo"]


@pytest.mark.parametrize(
    ("key", "env_key", "override", "in_config"),
    list(itertools.product(KEYS, [None, "sk-1234", "sk-Zq8vN2xK7pLm4RtY9w"], [False, True],
                           [False, True])),
)
def test_standalone_boot_check_is_litellms_own(key, env_key, override, in_config) -> None:
    from litellm.proxy.auth import master_key_boot_check as real

    own = load_standalone()
    general = {"master_key": key} if in_config else {}
    args = {"master_key": key, "environment_master_key": env_key, "general_settings": general,
            "config_file_path": "c.yaml", "override_env_is_on": override,
            "salt_key_is_set": True, "database_is_configured": False}
    mine, theirs = own.master_key_boot_verdict(**args), real.master_key_boot_verdict(**args)
    assert type(mine).__name__ == type(theirs).__name__
    assert repr(mine).split("(", 1)[1] == repr(theirs).split("(", 1)[1]
    assert own._unsafe_reason(key) is None or own._unsafe_reason(key).value == (
        real._unsafe_reason(key).value)
