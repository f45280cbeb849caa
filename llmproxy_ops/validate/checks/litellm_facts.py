"""What the pinned LiteLLM knows: its provider list and its bundled model map.

Read from litellm_facts.json (generated from the pinned LiteLLM by validate/facts_gen.py and
guarded by a test), so a check that needs them does not import LiteLLM (seconds).
"""

from __future__ import annotations

import functools
import json
from dataclasses import dataclass
from pathlib import Path

FACTS_PATH = Path(__file__).resolve().parents[1] / "litellm_facts.json"


@dataclass(frozen=True)
class LiteLLMFacts:
    providers: frozenset[str]
    models: frozenset[str]  # keys of litellm.model_cost (the bundled model map)
    mapped_providers: frozenset[str]  # providers with at least one model in that map
    # map names without a known provider prefix that get_llm_provider() still cannot place
    unplaced_models: frozenset[str] = frozenset()

    def knows_model(self, name: str) -> bool:
        return name in self.models

    def places(self, name: str) -> bool:
        """Whether LiteLLM's get_llm_provider() places this bare map name by itself."""
        return name in self.models and name not in self.unplaced_models


@functools.cache
def litellm_facts() -> LiteLLMFacts:
    raw = json.loads(FACTS_PATH.read_text(encoding="utf-8"))
    return LiteLLMFacts(
        frozenset(raw["providers"]), frozenset(raw["models"]),
        frozenset(raw["mapped_providers"]), frozenset(raw["unplaced_models"]),
    )
