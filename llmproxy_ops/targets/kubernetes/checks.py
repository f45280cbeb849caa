"""kubernetes-image-unpinned / kubernetes-db-missing: manifests that would render but not hold.

A tag-less or `latest` image changes under a running Deployment (every new pod may pull
another build); MLflow or LiteLLM's database with neither the Postgres StatefulSet nor an
external server would point at a Service that does not exist.
"""

from __future__ import annotations

from collections.abc import Iterable

from llmproxy_ops.findings import Finding, Severity
from llmproxy_ops.targets.kubernetes.settings import KubernetesSettings
from llmproxy_ops.validate.checks._common import make, stack_settings
from llmproxy_ops.validate.context import CheckContext

PATH = ("stack", "kubernetes")


def _settings(ctx: CheckContext) -> KubernetesSettings | None:
    stack = stack_settings(ctx.spec)  # the target's own check: runs on kubernetes only
    if stack is None:
        return None
    try:
        return stack.kubernetes(ctx.spec.name)
    except (TypeError, ValueError, AttributeError):
        return None  # malformed stack.kubernetes: the schema stage reports it


def unpinned(image: str) -> bool:
    if "@sha256:" in image:
        return False
    tag = image.rpartition("/")[2].partition(":")[2]
    return not tag or tag == "latest"


def check_kubernetes(ctx: CheckContext) -> Iterable[Finding]:
    ks = _settings(ctx)
    if ks is None:
        return
    services = [ks.litellm, ks.redis if ks.needs_redis else None,
                ks.db if ks.runs_postgres else None, ks.mlflow if ks.mlflow.enabled else None]
    for service in (s for s in services if s is not None):
        if unpinned(service.image):
            yield make(
                ctx, Severity.ERROR, "kubernetes-image-unpinned",
                f"image '{service.image}' of {service.name} is not pinned: pods started later "
                "may run another build",
                (*PATH, service.name, "image"),
                "give it an explicit version tag (or a @sha256: digest), never latest",
            )
    users = [n for n, on in (("mlflow", ks.mlflow.enabled), ("litellm.use_db", ks.use_db)) if on]
    if users and not ks.db.enabled and not ks.db_external:
        verb = "needs" if len(users) == 1 else "need"
        yield make(
            ctx, Severity.ERROR, "kubernetes-db-missing",
            f"{' and '.join(users)} {verb} Postgres, but stack.kubernetes.db is disabled and "
            "not external",
            (*PATH, "db"),
            "enable db (a StatefulSet), set db.external: true (URLs from the Secret), or "
            "disable mlflow",
        )


CHECKS = (check_kubernetes,)  # the target's `checks` hook (validate/checks/target.py)
