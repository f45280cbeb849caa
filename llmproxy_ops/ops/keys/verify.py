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


def key_status(url: str, key: str, verify_tls: bool | str = True) -> int | str:
    """HTTP status of an authenticated GET /v1/models, or the connection error's name."""
    last: int | str = "no attempt"
    for _ in range(_ATTEMPTS):
        try:
            headers = {"Authorization": f"Bearer {key}"}
            return httpx.get(f"{url}/v1/models", headers=headers, timeout=_TIMEOUT_S,
                             verify=verify_tls).status_code
        except httpx.HTTPError as exc:
            last = type(exc).__name__
    return last


def _statuses(replica: Replica, key: str) -> list[int | str]:
    return [key_status(replica.url, key, replica.verify_tls) for _ in range(replica.probes)]


def verify_keys(replicas: list[Replica], accepted: str, rejected: str | None) -> list[ReplicaCheck]:
    """`accepted` must get 200 and `rejected` (if any) anything but 2xx, on every replica."""
    return [_verify_one(r, accepted, rejected) for r in replicas]


def _verify_one(replica: Replica, accepted: str, rejected: str | None) -> ReplicaCheck:
    # every probe must agree; the detail names the first that did not (or the common answer)
    news = _statuses(replica, accepted)
    new = next((s for s in news if s != 200), 200)
    ok = new == 200
    detail = f"new key: {_describe(new)}"
    if rejected is not None:
        olds = _statuses(replica, rejected)
        old = next((s for s in olds if not _rejection(s)), olds[0])
        old_ok = _rejection(old)
        ok = ok and old_ok
        detail += f"; old key: {_describe(old, rejection=True)}"
    if replica.probes > 1:
        detail += f" ({replica.probes} requests each)"
    return ReplicaCheck(replica.name, ok, detail)


def _rejection(status: int | str) -> bool:
    return isinstance(status, int) and not 200 <= status < 300


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
        target = SmokeTarget(replica.url, key, expected, models_to_test=groups, timeout=30.0,
                             verify_tls=replica.verify_tls)
        report = run_smoke(target)
        failed = "; ".join(f"{c.name}: {c.detail}" for c in report.failed)
        passed = f"{len(report.checks)} checks passed ({', '.join(groups) or 'no model group'})"
        checks.append(ReplicaCheck(replica.name, report.ok, passed if report.ok else failed))
    return checks
