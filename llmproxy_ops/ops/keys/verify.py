"""After a rotation: does every replica accept the new key and reject the old one?"""

from __future__ import annotations

from dataclasses import dataclass

import httpx

from llmproxy_ops.ops.keys.restart import Replica
from llmproxy_ops.ops.smoke.run import SmokeTarget, run_smoke

_TIMEOUT_S = 10.0
_ATTEMPTS = 3  # a replica that just turned healthy may still reset its first connection


@dataclass(frozen=True)
class ReplicaCheck:
    replica: str
    ok: bool
    detail: str


def key_status(url: str, key: str) -> int | str:
    """HTTP status of an authenticated GET /v1/models, or the connection error's name."""
    last: int | str = "no attempt"
    for _ in range(_ATTEMPTS):
        try:
            headers = {"Authorization": f"Bearer {key}"}
            return httpx.get(f"{url}/v1/models", headers=headers, timeout=_TIMEOUT_S).status_code
        except httpx.HTTPError as exc:
            last = type(exc).__name__
    return last


def verify_keys(replicas: list[Replica], accepted: str, rejected: str | None) -> list[ReplicaCheck]:
    """`accepted` must get 200 and `rejected` (if any) anything but 2xx, on every replica."""
    return [_verify_one(r, accepted, rejected) for r in replicas]


def _verify_one(replica: Replica, accepted: str, rejected: str | None) -> ReplicaCheck:
    new = key_status(replica.url, accepted)
    ok = new == 200
    detail = f"new key: {_describe(new)}"
    if rejected is not None:
        old = key_status(replica.url, rejected)
        old_ok = isinstance(old, int) and not 200 <= old < 300
        ok = ok and old_ok
        detail += f"; old key: {_describe(old, rejection=True)}"
    return ReplicaCheck(replica.name, ok, detail)


def _describe(status: int | str, *, rejection: bool = False) -> str:
    if isinstance(status, str):
        return f"no answer ({status})"
    if rejection:
        return (
            f"rejected (HTTP {status})" if not 200 <= status < 300 else f"ACCEPTED (HTTP {status})"
        )
    return "accepted (HTTP 200)" if status == 200 else f"rejected (HTTP {status})"


def smoke_replicas(
    replicas: list[Replica], key: str, expected: list[str], groups: list[str]
) -> list[ReplicaCheck]:
    """The smoke test of `groups` only (no rate-limit checks) against each replica."""
    checks = []
    for replica in replicas:
        target = SmokeTarget(replica.url, key, expected, models_to_test=groups, timeout=30.0)
        report = run_smoke(target)
        failed = "; ".join(f"{c.name}: {c.detail}" for c in report.failed)
        passed = f"{len(report.checks)} checks passed ({', '.join(groups) or 'no model group'})"
        checks.append(ReplicaCheck(replica.name, report.ok, passed if report.ok else failed))
    return checks
