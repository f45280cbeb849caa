"""`stack.runtime: kubernetes`: rendered and checked offline; the cluster runs it, not we.

Every runtime operation (up, down, status, logs, apply) is the cluster's: the factory refuses
with the commands to use instead, so the CLI never has to ask which runtime it holds.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from llmproxy_ops.errors import UsageError
from llmproxy_ops.runtime.api import Runtime

if TYPE_CHECKING:
    from llmproxy_ops.spec.model import Spec


def kubernetes_runtime(spec: Spec, secrets: tuple[str, ...] = ()) -> Runtime:
    raise UsageError(
        f"environment '{spec.name}' runs on Kubernetes: llmproxy-ops renders its manifests "
        "but does not start, stop or watch them",
        hint=f"llmproxy-ops render --env {spec.name}, then kubectl apply -k "
        f"{spec.stack.build_dir / spec.name}/ (then kubectl for status and logs)",
    )
