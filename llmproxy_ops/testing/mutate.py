"""Seeded mutation fuzzing of the validator: real configs with lines dropped, swapped,
re-indented and junk inserted must give findings or a located error, never a crash.

Used by tests/unit/test_fuzz_validate.py (a bounded budget) and benchmarks/fuzz_validate.py
(a long run). The same seed gives the same mutants, so a crash is reproducible by its seed.
"""

from __future__ import annotations

import random
import time
import traceback
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from llmproxy_ops.errors import OpsError
from llmproxy_ops.spec import load_files
from llmproxy_ops.validate import validate_spec

# What people (and editors) put into YAML by mistake, and scalars the YAML resolver
# reads as something other than a string (dates, octals, infinities, anchors, tags).
JUNK_LINES = (
    "\t", "- ", "? ", ": :", "{", "}", "[", "]", "&a", "*a", "*undefined", "<<: *a", "---",
    "...", "%YAML 1.1", "!!binary x", "!include other.yaml", "key: @value", "'", '"',
    "a: b: c", "- - -", "layers: [missing.yaml]", "model_list: 1", "<<: [1, 2]",
)
JUNK_SCALARS = (
    "2026-13-45", "2026-01-01 25:61:00", "2026-02-30", "1e999", "-.inf", ".nan", "0o777",
    "0x", "0b102", "~", "null", "[]", "{}", "!!int abc", "!!float x", "!!timestamp 2026",
    "!!binary ###", "!!bool maybe", "9" * 400, "'unterminated", "&anchor value", "*nowhere",
    "|", ">-", "os.environ/", "os.environ/MISSING_VAR",
)


def mutate(text: str, rng: random.Random) -> str:
    """One mutant: 1 to 3 edits of the lines of `text`."""
    lines = text.splitlines()
    for _ in range(rng.randint(1, 3)):
        if not lines:
            lines = [rng.choice(JUNK_LINES)]
        rng.choice(_EDITS)(lines, rng)
    return "\n".join(lines) + "\n"


def _drop(lines: list[str], rng: random.Random) -> None:
    del lines[rng.randrange(len(lines))]


def _swap(lines: list[str], rng: random.Random) -> None:
    i, j = rng.randrange(len(lines)), rng.randrange(len(lines))
    lines[i], lines[j] = lines[j], lines[i]


def _duplicate(lines: list[str], rng: random.Random) -> None:
    i = rng.randrange(len(lines))
    lines.insert(rng.randrange(len(lines) + 1), lines[i])


def _reindent(lines: list[str], rng: random.Random) -> None:
    i = rng.randrange(len(lines))
    body = lines[i].lstrip(" ")
    lines[i] = rng.choice(("", " ", "  ", "    ", "\t", " " * rng.randint(1, 12))) + body


def _junk_line(lines: list[str], rng: random.Random) -> None:
    lines.insert(rng.randrange(len(lines) + 1), rng.choice(JUNK_LINES))


def _junk_scalar(lines: list[str], rng: random.Random) -> None:
    i = rng.randrange(len(lines))
    head, sep, _ = lines[i].partition(": ")
    lines[i] = (head + sep if sep else lines[i].rstrip() + ": ") + rng.choice(JUNK_SCALARS)


_EDITS: tuple[Callable[[list[str], random.Random], None], ...] = (
    _drop, _swap, _duplicate, _reindent, _junk_line, _junk_scalar,
)


@dataclass
class Crash:
    seed: int
    source: str
    traceback: str


@dataclass
class FuzzReport:
    cases: int = 0
    seconds: float = 0.0
    outcomes: Counter[str] = field(default_factory=Counter)
    crashes: list[Crash] = field(default_factory=list)


def validate_text(text: str, path: Path) -> str:
    """Validate one layer file's text the way `validate config FILE --no-env` does."""
    path.write_text(text, encoding="utf-8")
    try:
        result = validate_spec(load_files([path]))
    except OpsError:
        return "located error"
    return "findings" if result.findings else "valid"


def fuzz(
    corpus: Sequence[Path], workdir: Path, *, seed: int, cases: int, budget_s: float
) -> FuzzReport:
    """Up to `cases` mutants (case i uses seed+i) within `budget_s` seconds; crashes collected."""
    sources = [(p.name, p.read_text(encoding="utf-8")) for p in sorted(corpus)]
    report, start = FuzzReport(), time.monotonic()
    target = workdir / "mutant.yaml"
    for i in range(cases):
        if time.monotonic() - start > budget_s:
            break
        name, text = sources[i % len(sources)]
        mutant = mutate(text, random.Random(seed + i))
        try:
            report.outcomes[validate_text(mutant, target)] += 1
        except Exception:  # noqa: BLE001 - a crash is what the fuzzer looks for
            report.crashes.append(Crash(seed + i, name, traceback.format_exc()))
        report.cases += 1
    report.seconds = time.monotonic() - start
    return report
