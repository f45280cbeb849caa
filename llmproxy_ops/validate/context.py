"""What the semantic checks see: the merged spec and, unless --no-env, the target environment."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from llmproxy_ops.spec.model import Spec


@dataclass(frozen=True)
class CheckContext:
    spec: Spec
    # process environment + env file; None when environment checks are off (--no-env)
    env: dict[str, str] | None = None
    # variable names listed in .env.example; None when environment checks are off
    env_example: frozenset[str] | None = None
    # the env file the values came from (its permissions are checked); None with --no-env
    env_file: Path | None = None

    @property
    def env_checks(self) -> bool:
        return self.env is not None
