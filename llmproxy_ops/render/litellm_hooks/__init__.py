"""Files rendered next to LiteLLM's config.yaml and loaded by LiteLLM itself (callbacks).

A callback `module.attribute` in `litellm_settings.callbacks` whose module is one of the
files here is rendered beside config.yaml: LiteLLM looks there first (get_instance_fn).
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

_HERE = Path(__file__).resolve().parent
# A LiteLLM started from this venv imports them from here too (get_instance_fn falls back to
# a plain import): the local runtime and the validator's start-up stage put it on PYTHONPATH,
# so a config naming them works wherever its file was written.
HOOKS_DIR = _HERE
SHIPPED = ("llmproxy_auth_status",)


def hook_files(litellm_config: dict[str, Any]) -> dict[str, str]:
    """File name → content of the shipped hooks the config's callbacks name."""
    settings = litellm_config.get("litellm_settings")
    callbacks = settings.get("callbacks") if isinstance(settings, dict) else None
    if not isinstance(callbacks, list):
        return {}
    modules = {c.rsplit(".", 1)[0] for c in callbacks if isinstance(c, str) and "." in c}
    return {
        f"{name}.py": (_HERE / f"{name}.py").read_text(encoding="utf-8")
        for name in SHIPPED
        if name in modules
    }


def with_hooks_on_path(env: dict[str, str]) -> dict[str, str]:
    """`env` with HOOKS_DIR first on PYTHONPATH (kept: what was there already)."""
    paths = [str(HOOKS_DIR), *filter(None, env.get("PYTHONPATH", "").split(os.pathsep))]
    return {**env, "PYTHONPATH": os.pathsep.join(dict.fromkeys(paths))}
