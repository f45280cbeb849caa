"""The env file: where secret values live (never in layers, never in build output)."""

from __future__ import annotations

import re
import secrets
from pathlib import Path

from dotenv import dotenv_values

from llmproxy_ops.errors import EnvFileError
from llmproxy_ops.fsutil import atomic_write_text, locked

_NAME = re.compile(r"^\s*(?:export\s+)?([A-Za-z_][A-Za-z0-9_]*)\s*=")
MASTER_KEY_VAR = "LITELLM_MASTER_KEY"
SALT_KEY_VAR = "LITELLM_SALT_KEY"  # never rotated: see ops/keys/plan.py SALT_KEY_REFUSAL


def read_env_file(path: Path) -> dict[str, str]:
    """Variables in `path` (dotenv syntax); an absent file is empty, not an error."""
    if not path.exists():
        return {}
    try:
        values = dotenv_values(path, interpolate=False)
    except (OSError, UnicodeDecodeError) as exc:
        raise EnvFileError(f"cannot read env file {path}: {exc}") from None
    return {k: v for k, v in values.items() if v is not None}


def example_names(path: Path) -> frozenset[str]:
    """Variable names documented in .env.example (values there are placeholders)."""
    if not path.exists():
        return frozenset()
    names = (_NAME.match(line) for line in path.read_text(encoding="utf-8").splitlines())
    return frozenset(m.group(1) for m in names if m)


def generate_master_key() -> str:
    """`sk-` (LiteLLM requires the prefix) + 32 random bytes, URL-safe."""
    return "sk-" + secrets.token_urlsafe(32)


def write_env_file(path: Path, values: dict[str, str], header: str = "") -> None:
    """Atomically write `values` with mode 0600: a crash leaves the old file or the new one."""
    write_env_text(path, header + "".join(format_assignment(k, v) for k, v in values.items()))


def format_assignment(name: str, value: str) -> str:
    """One `NAME=value` line as write_env_file writes it (quoted when needed)."""
    return f"{name}={_quote(value)}\n"


def write_env_text(path: Path, body: str) -> None:
    """Atomically replace `path` with `body`, mode 0600 from the first byte on."""
    atomic_write_text(path, body, mode=0o600)


def _quote(value: str) -> str:
    # single quotes: dotenv reads them literally (no $ expansion, no escapes)
    if re.fullmatch(r"[A-Za-z0-9_./:@+-]*", value):
        return value
    if "'" in value:
        raise EnvFileError("values containing a single quote cannot be stored safely")
    return f"'{value}'"


def ensure_env_file(path: Path) -> bool:
    """Create the env file with a fresh master key if it does not exist. True if created."""
    with locked(path):  # two inits at once make one key, not two
        return _create_env_file(path)


def _create_env_file(path: Path) -> bool:
    if path.exists():
        return False
    header = (
        "# Secrets for llmproxy-ops (mode 0600, never commit). Provider keys go here too,\n"
        "# e.g. ANTHROPIC_API_KEY=sk-ant-...; see .env.example for every name the configs use.\n"
    )
    write_env_file(path, {MASTER_KEY_VAR: generate_master_key()}, header)
    return True
