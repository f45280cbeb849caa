"""Files rendered next to LiteLLM's config.yaml and loaded by LiteLLM itself (callbacks).

A callback `module.attribute` in `litellm_settings.callbacks` whose module is one of the
files here is rendered beside config.yaml: LiteLLM looks there first (get_instance_fn).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

_HERE = Path(__file__).resolve().parent
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
