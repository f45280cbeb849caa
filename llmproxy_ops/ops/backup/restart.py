"""The database's clients around a restore: the gateway keeps serving, then rolls.

The proxy is never stopped: after the swap it is replaced the way `apply` replaces it (the
runtime's rollout: compose surges or goes replica by replica behind nginx, draining each;
local starts a new process beside the old one), so no request is dropped and every new
instance opens fresh connections to the restored databases. The swap itself ends the
sessions still open on the old databases (restore.py); with `litellm.use_db` a write
LiteLLM makes in that sub-second window lands in the pre-restore copy, which is what a
restore to an earlier state discards anyway. Compose's mlflow, a client the gateway does not
wait on, is stopped around the swap and started again by the rollout (a rollout first starts
the stack's stopped services). A proxy that was not running before is not started afterwards.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from llmproxy_ops.errors import OpsError
from llmproxy_ops.ops.backup.settings import BackupContext
from llmproxy_ops.targets.registry import target_of


class ProxyControl(Protocol):
    def stop_plan(self) -> list[str]: ...
    def start_plan(self) -> list[str]: ...
    def stop(self) -> bool: ...
    def start(self, was_running: bool) -> tuple[bool | None, list[str]]: ...


@dataclass
class NoProxy:
    """Databases only (tests, or a server without a proxy of ours)."""

    def stop_plan(self) -> list[str]:
        return ["no proxy to stop"]

    def start_plan(self) -> list[str]:
        return []

    def stop(self) -> bool:
        return False

    def start(self, was_running: bool) -> tuple[bool | None, list[str]]:
        return None, []


@dataclass
class EnvProxy:
    """The environment's runtime: kept serving through the swap, then rolled out."""

    ctx: BackupContext

    def _services(self) -> list[str]:
        """Clients of the databases that stop around the swap (the gateway keeps serving)."""
        assert self.ctx.spec is not None
        if not target_of(self.ctx.spec).runs_compose_services:
            return []
        return ["mlflow"] if self.ctx.spec.stack.compose(self.ctx.env).mlflow.enabled else []

    def stop_plan(self) -> list[str]:
        stopped = self._services()
        keep = "the proxy keeps serving"
        return [f"stop {', '.join(stopped)} ({keep}; db keeps running)" if stopped else keep]

    def start_plan(self) -> list[str]:
        return [
            "roll the proxy out again (if it ran) as `apply` does: each new instance checked on "
            "its own, the old ones drained, then the smoke test",
            "drop the pre-restore databases once the smoke test passed",
        ]

    def stop(self) -> bool:
        from llmproxy_ops.pipeline import runtime_for

        assert self.ctx.target is not None
        _, runtime = runtime_for(self.ctx.target)
        was_running = runtime.status().running
        if was_running and self._services():
            runtime.stop(only=tuple(self._services()))
        return was_running

    def start(self, was_running: bool) -> tuple[bool | None, list[str]]:
        from llmproxy_ops.ops.apply.deploy import roll_out

        if not was_running:
            return None, ["the proxy was not running before the restore; not started"]
        assert self.ctx.target is not None
        try:
            deployment = roll_out(self.ctx.target)
        except OpsError as exc:
            return False, [f"rollout failed: {exc.message}"]
        if not deployment.ok:
            return False, [f"rollout failed: {deployment.failed_check}"]
        smoke = deployment.smoke.detail if deployment.smoke else "rolled out"
        return True, [f"rolled out build {deployment.release}: {smoke}"]


def proxy_control(ctx: BackupContext) -> ProxyControl:
    return EnvProxy(ctx) if ctx.target is not None else NoProxy()
