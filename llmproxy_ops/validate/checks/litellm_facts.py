"""What the pinned LiteLLM knows: its provider list and its bundled model map (loaded once)."""

from __future__ import annotations

import functools
import gc
import os
from dataclasses import dataclass


@dataclass(frozen=True)
class LiteLLMFacts:
    providers: frozenset[str]
    models: frozenset[str]  # keys of litellm.model_cost (the bundled model map)
    mapped_providers: frozenset[str]  # providers with at least one model in that map

    def knows_model(self, name: str) -> bool:
        return name in self.models


@functools.cache
def litellm_facts() -> LiteLLMFacts:
    # the bundled map, never a download: there is no internet on the target machines and
    # validation must not depend on what GitHub serves today
    os.environ["LITELLM_LOCAL_MODEL_COST_MAP"] = "True"
    import litellm  # slow (~3 s): imported on first use only

    # litellm leaves ~300k tracked objects behind; each full collection would walk them all
    # again (~200 ms) in the middle of validation. They live until the process exits anyway.
    gc.freeze()

    providers = frozenset(str(getattr(p, "value", p)) for p in litellm.provider_list)
    models = frozenset(k for k in litellm.model_cost if k != "sample_spec")
    return LiteLLMFacts(providers, models, _mapped(providers, litellm.model_cost))


def _mapped(providers: frozenset[str], model_cost: dict[str, dict[str, object]]) -> frozenset[str]:
    """Providers the map covers; `vertex_ai-language-models` counts for vertex_ai."""
    seen: set[str] = set()
    for key, info in model_cost.items():
        owner = str(info.get("litellm_provider", "")) if isinstance(info, dict) else ""
        seen.add(owner.split("-", 1)[0] if owner.split("-", 1)[0] in providers else owner)
        if "/" in key:
            seen.add(key.split("/", 1)[0])
    return frozenset(seen & providers)
