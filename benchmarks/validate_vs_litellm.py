"""What `llmproxy-ops validate` catches that `litellm --config F --validate_config` does not.

Over the corpus (../shared/corpus/litellm-configs): each file is started by a separately
started LiteLLM of the pinned version (its own `litellm --config F` on a real port, one fork
per file: llmproxy_ops.validate.differential), checked by LiteLLM's own `--validate_config`
(same fork server), and validated by us, all in the environment a deployment gives it. Prints
the Markdown table docs/validation.md shows (the differential test asserts it)
and writes results/validate_vs_litellm.json.

    .venv/bin/python benchmarks/validate_vs_litellm.py
"""

from __future__ import annotations

import json
import sys
import time

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
    sys.stdout.write(differential.fidelity_table(verdicts) + f"\n({seconds:.0f} s for all runs)\n")
    return 0


def _row(v: differential.Verdict) -> dict[str, object]:
    return {
        "file": v.name, "litellm_serves": v.litellm_serves,
        "litellm_said": v.litellm.said,
        "validate_config_accepts": v.validate_config,
        "static_errors": sorted({f.code for f in v.static.errors}),
        "errors": sorted(code for code, _ in v.errors),
    }


if __name__ == "__main__":
    sys.exit(main())
