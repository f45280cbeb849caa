"""Inert stand-ins for the user's modules, written beside the probe's copy of the config.

The LiteLLM stage starts LiteLLM on a copy of the rendered config in a private folder, so
LiteLLM's "module file beside the config" lookup finds only what is written here: for each
module the config names whose file sits beside the real config (checked by reading it, see
checks/callback_modules.py), a module of the same name defining each named attribute as an
object of the kind LiteLLM expects there (a logger, a provider handler, a guardrail class,
an auth function). LiteLLM then starts as it would with working modules, and checks the rest.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

from llmproxy_ops.validate.pymodules import ModuleRef

_HEADER = '''"""Written by llmproxy-ops validate: the real module is read, never imported."""
from litellm.integrations.custom_guardrail import CustomGuardrail
from litellm.integrations.custom_logger import CustomLogger
from litellm.llms.custom_llm import CustomLLM
from litellm.proxy._types import LitellmUserRoles, UserAPIKeyAuth
'''
_BODIES = {
    "callback": "{name} = CustomLogger()\n",
    "handler": "{name} = CustomLLM()\n",
    "guardrail": "class {name}(CustomGuardrail):\n    pass\n",
    # asked on every request: the probe's own GET /v1/models must get through
    "auth": ("async def {name}(request, api_key):\n"
             "    return UserAPIKeyAuth(\n"
             "        api_key=api_key, user_role=LitellmUserRoles.PROXY_ADMIN)\n"),
    "function": "def {name}(*args, **kwargs):\n    return None\n",
}


def stub_sources(refs: Iterable[ModuleRef]) -> dict[str, str]:
    """Relative file path → source of the stand-in module, for well-formed references."""
    bodies: dict[str, dict[str, str]] = {}
    for ref in refs:
        if ref.well_formed:
            rel = ref.file_in(Path()).as_posix()
            bodies.setdefault(rel, {}).setdefault(
                ref.attribute, _BODIES[ref.kind].format(name=ref.attribute))
    return {rel: _HEADER + "".join(parts.values()) for rel, parts in bodies.items()}


def write_stubs(sources: dict[str, str], folder: Path) -> None:
    for rel, text in sources.items():
        path = folder / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
