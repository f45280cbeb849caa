"""unread-setting: a key LiteLLM's types declare but none of its code ever reads.

The schema generator marks such keys (schema_scan.scan_unread: no use outside the declaring
module, in LiteLLM or litellm-enterprise). LiteLLM accepts them and then does nothing.
"""

from __future__ import annotations

from collections.abc import Iterable

from llmproxy_ops.findings import Finding, Severity
from llmproxy_ops.validate.checks._common import litellm_sections, make
from llmproxy_ops.validate.context import CheckContext
from llmproxy_ops.validate.shape import load_schema

UNREAD = "x-litellm-unread"  # written by schema_gen (schema_scan.UNREAD)


def check_unread_setting(ctx: CheckContext) -> Iterable[Finding]:
    sections = load_schema().get("properties", {})
    for section, value in litellm_sections(ctx.spec):
        props = sections.get(section, {}).get("properties", {}) if isinstance(section, str) else {}
        if not isinstance(value, dict):
            continue
        for key in value:
            if isinstance(props.get(key), dict) and props[key].get(UNREAD):
                yield make(
                    ctx, Severity.WARNING, "unread-setting",
                    f"{section}.{key} is declared by LiteLLM but never read: it has no effect",
                    (section, key),
                    "remove it (checked against the pinned LiteLLM's source)",
                )
