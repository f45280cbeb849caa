"""LiteLLM's own master-key boot check, loaded from its file without importing LiteLLM.

`litellm/proxy/auth/master_key_boot_check.py` is pure (hashlib, dataclasses, enums) but for
one logger import, and importing any `litellm.*` module runs the package's `__init__` first
(seconds). So its source is executed as is, into a module of our own, with that one import
answered by a stand-in logger (the verdict functions never log). The verdict is LiteLLM's
code at the pinned version; tests/unit/test_litellm_boot.py compares it with the module
imported normally. Once LiteLLM is imported anyway, its own module is used.
"""

from __future__ import annotations

import functools
import importlib.util
import logging
import sys
import types
from pathlib import Path

MODULE = "litellm.proxy.auth.master_key_boot_check"
_RELATIVE = Path("proxy", "auth", "master_key_boot_check.py")
_STAND_INS = ("litellm", "litellm._logging")
_OWN_NAME = "llmproxy_ops._litellm_master_key_boot_check"


@functools.cache
def boot_check() -> types.ModuleType:
    if "litellm" in sys.modules and not getattr(sys.modules["litellm"], "_llmproxy_stand_in", 0):
        return importlib.import_module(MODULE)
    return load_standalone()


def source_file() -> Path:
    spec = importlib.util.find_spec("litellm")  # finds the package, runs none of it
    if spec is None or not spec.submodule_search_locations:
        raise ModuleNotFoundError("litellm is not installed")
    return Path(list(spec.submodule_search_locations)[0]) / _RELATIVE


def load_standalone() -> types.ModuleType:
    path = source_file()
    module = types.ModuleType(_OWN_NAME)
    module.__file__ = str(path)
    sys.modules[_OWN_NAME] = module  # dataclasses look their module up by name
    package = types.ModuleType("litellm")
    package.__path__ = []  # type: ignore[attr-defined]  # a package: submodules resolve
    package._llmproxy_stand_in = 1  # type: ignore[attr-defined]
    logs = types.ModuleType("litellm._logging")
    logs.verbose_proxy_logger = logging.getLogger("LiteLLM Proxy")  # type: ignore[attr-defined]
    saved = {name: sys.modules.get(name) for name in _STAND_INS}
    sys.modules.update({"litellm": package, "litellm._logging": logs})
    try:
        exec(compile(path.read_bytes(), str(path), "exec"), module.__dict__)  # noqa: S102
    finally:
        for name, previous in saved.items():  # the real package imports normally later
            if previous is None:
                sys.modules.pop(name, None)
            else:
                sys.modules[name] = previous
    return module
