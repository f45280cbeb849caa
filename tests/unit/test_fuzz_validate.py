"""Seeded mutation fuzz of the validator over the real-world corpus, on a bounded budget.

A crash here is a bug: every mutant must end in findings or a located error. The longer
run is benchmarks/fuzz_validate.py; a failure names the seed that reproduces it.
"""

from __future__ import annotations

import random
from pathlib import Path

from llmproxy_ops.testing.mutate import fuzz, mutate

CORPUS = Path(__file__).resolve().parents[3] / "shared" / "corpus" / "litellm-configs"
SEED = 20261128
BUDGET_S = 20.0


def test_mutated_real_configs_never_crash_the_validator(tmp_path):
    corpus = sorted(CORPUS.glob("*.y*ml"))
    assert len(corpus) >= 80
    import litellm  # noqa: F401 - the one-off import (seconds; some checks ask LiteLLM) is no budget
    report = fuzz(corpus, tmp_path, seed=SEED, cases=1500, budget_s=BUDGET_S)
    details = "\n".join(f"seed {c.seed} ({c.source}):\n{c.traceback}" for c in report.crashes[:3])
    assert report.crashes == [], details
    # the budget must buy a real run, and the mutants must reach both outcomes
    assert report.cases >= 300, report
    assert report.outcomes["located error"] > 0 and report.outcomes["findings"] > 0


def test_mutants_are_reproducible_from_their_seed():
    text = (CORPUS / sorted(p.name for p in CORPUS.glob("*.y*ml"))[0]).read_text()
    assert mutate(text, random.Random(7)) == mutate(text, random.Random(7))
    assert any(mutate(text, random.Random(s)) != text for s in range(5))
