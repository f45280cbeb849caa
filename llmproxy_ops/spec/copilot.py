"""Where GitHub Copilot's login lives for a deployment: facts of the spec, no I/O.

LiteLLM keeps Copilot's credentials in the folder GITHUB_COPILOT_TOKEN_DIR names:
`access-token` (the GitHub OAuth token of the device login) and `api-key.json` (the short-lived
Copilot key it exchanges and refreshes). The local runtime keeps that folder under its run
directory; the container runtimes keep it in a named volume mounted at CONTAINER_DIR.
Rendering (the volume and its mount), validation and the login itself (ops/copilot.py) read
these from here.
"""

from __future__ import annotations

from pathlib import Path
from typing import Final

from llmproxy_ops.spec.model import Spec

PROVIDER_PREFIX: Final = "github_copilot/"
TOKEN_DIR_VAR: Final = "GITHUB_COPILOT_TOKEN_DIR"
LOCAL_SUBDIR: Final = "github_copilot"
VOLUME: Final = "github-copilot-auth"
CONTAINER_DIR: Final = "/app/github_copilot"
ACCESS_TOKEN_FILE: Final = "access-token"
API_KEY_FILE: Final = "api-key.json"
# Which targets keep one Copilot login every replica reads, and where, is each target's fact
# (targets/<name>/facts.py: TargetInfo.copilot).


def uses_copilot(spec: Spec) -> bool:
    return first_copilot_model(spec) is not None


def first_copilot_model(spec: Spec) -> int | None:
    """The index in model_list of the first github_copilot/ deployment (None: there is none)."""
    return next((i for i, e in enumerate(spec.model_list)
                 if isinstance(e, dict) and isinstance(e.get("litellm_params"), dict)
                 and str(e["litellm_params"].get("model", "")).startswith(PROVIDER_PREFIX)),
                None)


def copilot_token_dir(spec: Spec, env: str | None = None) -> Path:
    """The local runtime's token folder: under the run directory, never the repo or build/."""
    return (spec.stack.run_dir / (env or spec.name) / LOCAL_SUBDIR).absolute()


def volume_name(project: str) -> str:
    return f"{project}_{VOLUME}"
