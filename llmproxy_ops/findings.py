"""Validation findings: one type for every stage, always located and sortable."""

from __future__ import annotations

import enum
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any, NamedTuple

JsonPath = tuple[str | int, ...]


class Severity(enum.StrEnum):
    ERROR = "error"
    WARNING = "warning"


class Location(NamedTuple):
    """Where a value was written: file, 1-based line and column (ordered as written).

    A tuple, not a dataclass: a config of 5,000 deployments has ~55,000 of them, and a tuple
    is made three times faster than a frozen dataclass instance."""

    file: str
    line: int = 1
    col: int = 1

    def __str__(self) -> str:
        return f"{self.file}:{self.line}:{self.col}"


def format_path(path: JsonPath) -> str:
    """Render a JSON path the way jq users read it: model_list[2].litellm_params.rpm."""
    out = ""
    for part in path:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += f".{part}" if out else str(part)
    return out or "$"


@dataclass(frozen=True)
class Finding:
    severity: Severity
    code: str  # stable identifier, e.g. "unknown-key", "missing-env"
    message: str
    location: Location
    path: JsonPath = ()
    hint: str | None = None

    def sort_key(self) -> tuple[Any, ...]:
        return (self.location.file, self.location.line, self.location.col, self.code, self.message)

    def as_dict(self) -> dict[str, Any]:
        return {
            "severity": self.severity.value,
            "code": self.code,
            "file": self.location.file,
            "line": self.location.line,
            "col": self.location.col,
            "path": format_path(self.path),
            "message": self.message,
            "hint": self.hint,
        }


@dataclass
class ValidationResult:
    findings: list[Finding] = field(default_factory=list)
    # how each optional stage ran, e.g. {"litellm": "cached"} (reported with --format json)
    stages: dict[str, str] = field(default_factory=dict)

    def extend(self, more: Iterable[Finding]) -> None:
        self.findings.extend(more)

    @property
    def sorted(self) -> list[Finding]:
        # one value can be reported twice through two routes (schema + check): once is enough
        unique = {(f.code, f.location, f.path, f.message): f for f in self.findings}
        return sorted(unique.values(), key=Finding.sort_key)

    @property
    def errors(self) -> list[Finding]:
        return [f for f in self.sorted if f.severity is Severity.ERROR]

    @property
    def warnings(self) -> list[Finding]:
        return [f for f in self.sorted if f.severity is Severity.WARNING]

    def ok(self, *, strict: bool = False) -> bool:
        return not self.errors and not (strict and self.warnings)
