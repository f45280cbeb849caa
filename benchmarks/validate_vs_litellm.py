"""What `llmproxy-ops validate` catches that `litellm --config F --validate_config` does not.

Over the corpus (../shared/corpus/litellm-configs): each file is started by the pinned
LiteLLM (its real start path, served in memory: llmproxy_ops.validate.differential), checked
by LiteLLM's own `--validate_config` (same CLI, same fork server), and validated by us, all in
the environment a deployment gives it. Prints a Markdown table (README "Validation") and
writes results/validate_vs_litellm.json.

    .venv/bin/python benchmarks/validate_vs_litellm.py
"""

from __future__ import annotations

import json
import sys
import time
from collections import Counter
from collections.abc import Callable

from _common import REPO, RESULTS

from llmproxy_ops.validate import differential

CORPUS = REPO.parent / "shared" / "corpus" / "litellm-configs"


def main() -> int:
    files = sorted(CORPUS.glob("*.yaml"))
    started = time.monotonic()
    verdicts = differential.run(files, with_validate_config=True)
    seconds = time.monotonic() - started
    rows = [_row(v) for v in verdicts]
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "validate_vs_litellm.json").write_text(json.dumps(
        {"files": len(rows), "seconds": round(seconds, 1), "rows": rows}, indent=1) + "\n")
    sys.stdout.write(_table(rows, seconds))
    return 0


def _row(v: differential.Verdict) -> dict[str, object]:
    return {
        "file": v.name, "litellm_serves": v.litellm_serves,
        "litellm_error": v.litellm.error_type,
        "validate_config_accepts": v.validate_config,
        "static_errors": sorted({f.code for f in v.static.errors}),
        "errors": sorted(code for code, _ in v.errors),
    }


def _table(rows: list[dict[str, object]], seconds: float) -> str:
    fails = [r for r in rows if not r["litellm_serves"]]
    serves = [r for r in rows if r["litellm_serves"]]
    lines = [
        f"{len(rows)} corpus files; LiteLLM 1.108.7 serves {len(serves)}, cannot start or "
        f"serve {len(fails)} ({seconds:.0f} s for all runs)\n",
        "| | `litellm --validate_config` | `llmproxy-ops validate` |",
        "|---|---|---|",
        _count_row("files LiteLLM cannot start or serve, reported", fails,
                   lambda r: r["validate_config_accepts"] is False, lambda r: bool(r["errors"])),
        _count_row("files LiteLLM serves, with an error reported", serves,
                   lambda r: r["validate_config_accepts"] is False, lambda r: bool(r["errors"])),
    ]
    missed_by_litellm: Counter[str] = Counter()
    for r in rows:
        if r["validate_config_accepts"]:
            missed_by_litellm.update(set(r["errors"]))  # type: ignore[arg-type]
    lines += ["", "| finding (files where `--validate_config` says OK) | files |", "|---|---|"]
    lines += [f"| `{code}` | {n} |" for code, n in missed_by_litellm.most_common()]
    return "\n".join(lines) + "\n"


Row = dict[str, object]


def _count_row(
    label: str, rows: list[Row], theirs: Callable[[Row], bool], ours: Callable[[Row], bool]
) -> str:
    total = len(rows)
    return f"| {label} | {sum(map(theirs, rows))} of {total} | {sum(map(ours, rows))} of {total} |"


if __name__ == "__main__":
    sys.exit(main())
