"""The long mutation fuzz of the validator (tests/unit/test_fuzz_validate.py runs ~20 s of it).

Mutates the real-world corpus (../shared/corpus/litellm-configs): lines dropped, swapped,
duplicated, re-indented, junk lines and junk scalars inserted; every mutant must end in
findings or a located error. Prints the outcome counts and each distinct crash with its seed.

    .venv/bin/python benchmarks/fuzz_validate.py [--cases 30000] [--seed 1] [--budget 3600]
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

import _common as bench

from llmproxy_ops.testing.mutate import fuzz

CORPUS = bench.REPO.parent / "shared" / "corpus" / "litellm-configs"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cases", type=int, default=30000)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--budget", type=float, default=3600.0, help="seconds at most")
    parser.add_argument("--corpus", type=Path, default=CORPUS)
    args = parser.parse_args()
    import litellm  # noqa: F401 - the one-off import (some checks ask LiteLLM) is not fuzzing time
    with tempfile.TemporaryDirectory() as tmp:
        report = fuzz(sorted(args.corpus.glob("*.y*ml")), Path(tmp), seed=args.seed,
                      cases=args.cases, budget_s=args.budget)
    rate = report.cases / report.seconds if report.seconds else 0.0
    print("| cases | seconds | per s | crashes | outcomes |\n|---|---|---|---|---|")
    outcomes = ", ".join(f"{k}: {v}" for k, v in sorted(report.outcomes.items()))
    print(f"| {report.cases} | {report.seconds:.0f} | {rate:.0f} | {len(report.crashes)} "
          f"| {outcomes} |")
    seen: set[str] = set()
    for crash in report.crashes:
        last = crash.traceback.strip().splitlines()[-1]
        if last not in seen:
            seen.add(last)
            print(f"\nseed {crash.seed} ({crash.source}):\n{crash.traceback}")
    return 1 if report.crashes else 0


if __name__ == "__main__":
    sys.exit(main())
