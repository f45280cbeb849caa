"""What the semantic checks see: the merged spec and, unless --no-env, the target environment."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

from llmproxy_ops.spec.model import Spec

T = TypeVar("T")


@dataclass(frozen=True)
class CheckContext:
    spec: Spec
    # process environment + env file; None when environment checks are off (--no-env)
    env: dict[str, str] | None = None
    # variable names listed in .env.example; None when environment checks are off
    env_example: frozenset[str] | None = None
    # the env file the values came from (its permissions are checked); None with --no-env
    env_file: Path | None = None
    # what several checks derive from the spec, derived once per run (see memo)
    _memo: dict[Callable[[Spec], Any], Any] = field(
        default_factory=dict, compare=False, repr=False)

    def memo(self, derive: Callable[[Spec], T]) -> T:
        """`derive(spec)`, computed once per context however many checks ask for it."""
        if derive not in self._memo:
            self._memo[derive] = derive(self.spec)
        result: T = self._memo[derive]
        return result

    @property
    def env_checks(self) -> bool:
        return self.env is not None
