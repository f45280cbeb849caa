"""Trace a LiteLLM start-up failure back to the key that caused it, where that can be done.

LiteLLM's errors name what they choke on (a key, a model, a guardrail, a file) but never where
it was written. The message is matched against the spec's keys and string values; failing
that, the stack frames say which section was being loaded. Else: the top of the config.
"""

from __future__ import annotations

import re
from typing import Any

from llmproxy_ops.findings import JsonPath
from llmproxy_ops.spec.located import walk_locations
from llmproxy_ops.spec.model import STACK_KEY, Spec

# which section a frame of LiteLLM's start-up belongs to
_FRAME_SECTIONS: tuple[tuple[str, JsonPath], ...] = (
    ("master_key_boot_check", ("general_settings", "master_key")),
    ("guardrail", ("guardrails",)),
    ("callback", ("litellm_settings", "callbacks")),
    ("router", ("model_list",)),
    ("mcp", ("mcp_servers",)),
)
_HINTS = {
    "UnsafeMasterKeyError": (
        "write general_settings.master_key: os.environ/LITELLM_MASTER_KEY and put a strong "
        "key (sk- + `openssl rand -hex 32`) in the env file"
    ),
    "FileNotFoundError": "paths in LiteLLM's config are relative to the config file",
}
_IMPORT_FAILURE = re.compile(r"Could not import (\w+) from ([\w.]+)")
_DEFAULT_HINT = "run `litellm --config FILE` on the rendered config for LiteLLM's traceback"


def locate_failure(
    spec: Spec, error_type: str, message: str, frames: tuple[str, ...]
) -> tuple[JsonPath, str]:
    """The path most likely behind the failure, and a hint."""
    hint = _HINTS.get(error_type, _DEFAULT_HINT)
    path = _from_message(spec, _with_import_target(message))
    if path is None:
        path = _from_frames(spec, frames)
    return path, hint


def _with_import_target(message: str) -> str:
    """get_instance_fn says "Could not import ATTR from MODULE": name the config's value too,
    so the reference is found whole, not by an attribute name several of them share."""
    found = _IMPORT_FAILURE.search(message)
    return f"{message} ({found[2]}.{found[1]})" if found else message


def _from_message(spec: Spec, message: str) -> JsonPath | None:
    """The deepest path whose key or string value the message names (longest name first)."""
    best: tuple[int, int, JsonPath] | None = None
    for path, _ in walk_locations(spec.root):
        if not path or path[0] == STACK_KEY:
            continue
        for token in _tokens(path, _value_at(spec.root, path)):
            if _names(message, token):
                score = (len(token), len(path), path)
                if best is None or score[:2] > best[:2]:
                    best = score
    return best[2] if best else None


def _tokens(path: JsonPath, value: Any) -> list[str]:
    out = []
    key = path[-1]
    if isinstance(key, str) and len(key) >= 4:
        out.append(key)
    if isinstance(value, str) and len(value) >= 4 and not value.startswith("os.environ/"):
        out.append(value)
        # module.attribute values (callbacks, custom handlers): LiteLLM names the parts
        out.extend(part for part in value.split(".")[1:] if "." in value and len(part) >= 4)
    return out


def _names(message: str, token: str) -> bool:
    return re.search(r"(?<![\w/.-])" + re.escape(token) + r"(?![\w/-])", message) is not None


def _value_at(root: Any, path: JsonPath) -> Any:
    node = root
    for part in path:
        node = node[part]
    return node


def _from_frames(spec: Spec, frames: tuple[str, ...]) -> JsonPath:
    for frame in reversed(frames):
        for marker, path in _FRAME_SECTIONS:
            if marker in frame.lower() and path[0] in spec.root:
                return path if _exists(spec.root, path) else path[:1]
    return ()


def _exists(root: Any, path: JsonPath) -> bool:
    node = root
    for part in path:
        if not isinstance(node, dict) or part not in node:
            return False
        node = node[part]
    return True
