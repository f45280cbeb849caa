"""shell-env-reference: `${VAR}` in LiteLLM's config is not a variable, it is literal text.

LiteLLM resolves only whole values of the form `os.environ/NAME`; `${VLLM_MODEL:-llama}` stays
as written (the model becomes `openai/${VLLM_MODEL:-llama}`), so the deployment silently
talks to the wrong thing or fails at the first request. Docker Compose and shells expand
`${…}`; LiteLLM does not.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator
from typing import Any

from llmproxy_ops.findings import Finding, JsonPath, Severity
from llmproxy_ops.validate.checks._common import litellm_sections, make
from llmproxy_ops.validate.context import CheckContext

SHELL_REF = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)(?:[:?+-][^}]*)?\}")


_Trail = tuple[Any, ...]  # (parent trail, key): the path is spelled out only for a hit


def _strings(value: Any, trail: _Trail) -> Iterator[tuple[str, _Trail]]:
    """Strings that hold `${`, with the trail to them (a big config has ~10^5 strings)."""
    if isinstance(value, dict):
        for key, child in value.items():
            yield from _strings(child, (trail, key))
    elif isinstance(value, list):
        for i, item in enumerate(value):
            yield from _strings(item, (trail, i))
    elif isinstance(value, str) and "${" in value:
        yield value, trail


def _path(trail: _Trail) -> JsonPath:
    parts = []
    while trail:
        trail, key = trail
        parts.append(key)
    return tuple(reversed(parts))


def check_shell_env_reference(ctx: CheckContext) -> Iterable[Finding]:
    for key, section in litellm_sections(ctx.spec):
        for text, trail in _strings(section, ((), key)):
            match = SHELL_REF.search(text)
            if match is None:
                continue
            path = _path(trail)
            name = match.group(1)
            whole = match.group(0) == text
            hint = (
                f"write os.environ/{name} (LiteLLM's only variable syntax)"
                if whole
                else f"LiteLLM substitutes whole values only: put the full value in {name} "
                f"and write os.environ/{name}"
            )
            yield make(
                ctx, Severity.ERROR, "shell-env-reference",
                f"'{match.group(0)}' is taken literally by LiteLLM (it does not expand ${{…}})",
                path, hint,
            )
