"""Stopping and starting the database's clients around a restore; the db itself keeps running.

Compose: the litellm replicas and mlflow (both write to the databases being swapped) are
stopped, then `up --wait` brings the whole stack back. Local: the litellm process, if it ran.
A proxy that was not running before is not started afterwards.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Protocol

from llmproxy_ops.errors import OpsError
from llmproxy_ops.ops.backup.settings import BackupContext
from llmproxy_ops.render.compose import litellm_names

if TYPE_CHECKING:
    from llmproxy_ops.ops.smoke.target import SmokeRequest


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
    """The environment's runtime (compose or local), restarted and smoke-tested."""

    ctx: BackupContext

    def _services(self) -> list[str]:
        assert self.ctx.spec is not None
        cs = self.ctx.spec.stack.compose(self.ctx.env)
        return litellm_names(cs) + (["mlflow"] if cs.mlflow.enabled else [])

    def stop_plan(self) -> list[str]:
        if self.ctx.runtime == "compose":
            return [f"stop services {', '.join(self._services())} (db keeps running)"]
        return ["stop the local litellm process if it runs"]

    def start_plan(self) -> list[str]:
        return [
            "start the stack again (if it ran) and run the smoke test",
            "drop the pre-restore databases once the smoke test passed",
        ]

    def stop(self) -> bool:
        from llmproxy_ops.pipeline import runtime_for

        assert self.ctx.target is not None
        _, runtime = runtime_for(self.ctx.target)
        only = tuple(self._services()) if self.ctx.runtime == "compose" else ()
        return runtime.stop(only=only).was_running

    def _smoke_request(self) -> SmokeRequest:
        from llmproxy_ops.ops.smoke.target import SmokeRequest

        # smoke_target finds the endpoint (nginx's HTTPS port behind compose); this is our own
        # nginx on loopback, whose certificate need not name 127.0.0.1: do not verify it
        behind_nginx = self.ctx.runtime == "compose"
        return SmokeRequest(target=self.ctx.target, rate_limits=False, verify_tls=not behind_nginx)

    def start(self, was_running: bool) -> tuple[bool | None, list[str]]:
        from llmproxy_ops.ops.smoke.run import run_smoke
        from llmproxy_ops.ops.smoke.target import smoke_target
        from llmproxy_ops.pipeline import start_target

        if not was_running:
            return None, ["the proxy was not running before the restore; not started"]
        assert self.ctx.target is not None
        try:
            start_target(self.ctx.target, restart=True)
            report = run_smoke(smoke_target(self._smoke_request()))
        except OpsError as exc:
            return False, [f"restart failed: {exc.message}"]
        failed = [c.name for c in report.checks if not c.ok]
        return report.ok, (
            [f"smoke test failed: {', '.join(failed)}"]
            if failed
            else [f"smoke test passed ({len(report.checks)} checks)"]
        )


def proxy_control(ctx: BackupContext) -> ProxyControl:
    return EnvProxy(ctx) if ctx.target is not None else NoProxy()
