"""Generate litellm_facts.json: what the semantic checks ask of the pinned LiteLLM, as data.

Importing LiteLLM costs seconds; the checks only need a few of its facts: its provider list,
the names of its bundled model map (and which providers that map covers), and which map names
its own get_llm_provider() cannot place. Like the schema, the file is generated from the
installed LiteLLM, committed, and guarded by a test (a regeneration must equal it), so an
upgrade shows up as a reviewed diff.

    python -m llmproxy_ops.validate.facts_gen [--check] [--output FILE]
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path
from typing import Any

from llmproxy_ops.validate.schema_gen import write_or_diff

FACTS_PATH = Path(__file__).with_name("litellm_facts.json")


def build_facts() -> dict[str, Any]:
    os.environ["LITELLM_LOCAL_MODEL_COST_MAP"] = "True"  # the bundled map, never a download
    import litellm

    litellm.suppress_debug_info = True  # get_llm_provider prints a banner on every failure
    providers = sorted({str(getattr(p, "value", p)) for p in litellm.provider_list})
    models = sorted(k for k in litellm.model_cost if k != "sample_spec")
    return {
        "litellm": _version(),
        "providers": providers,
        "mapped_providers": sorted(mapped_providers(set(providers), litellm.model_cost)),
        "models": models,
        "unplaced_models": sorted(m for m in models if not _placed(litellm, m, providers)),
    }


def _version() -> str:
    from importlib.metadata import version

    return version("litellm")


def mapped_providers(providers: set[str], model_cost: dict[str, Any]) -> set[str]:
    """Providers the map covers; `vertex_ai-language-models` counts for vertex_ai."""
    seen: set[str] = set()
    for key, info in model_cost.items():
        owner = str(info.get("litellm_provider", "")) if isinstance(info, dict) else ""
        seen.add(owner.split("-", 1)[0] if owner.split("-", 1)[0] in providers else owner)
        if "/" in key:
            seen.add(key.split("/", 1)[0])
    return seen & providers


def _placed(litellm: Any, model: str, providers: list[str]) -> bool:
    """Whether get_llm_provider() places `model` as written (prefix, map, known names)."""
    if "/" in model and model.split("/", 1)[0] in providers:
        return True
    try:
        litellm.get_llm_provider(model=model)
    except Exception:  # noqa: BLE001 - LiteLLM raises BadRequestError, ValueError, KeyError…
        return False
    return True


def render(facts: dict[str, Any]) -> str:
    return json.dumps(facts, indent=1, sort_keys=True, ensure_ascii=False) + "\n"


def main(argv: list[str] | None = None) -> int:
    output, diff = write_or_diff(argv, __doc__.splitlines()[0], FACTS_PATH, "facts file",
                                 lambda: render(build_facts()))
    if diff:
        sys.stderr.write(f"{output} differs from the installed LiteLLM "
                         "(regenerate with python -m llmproxy_ops.validate.facts_gen)\n")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
