"""Restart an environment's litellm so it reads the env file again: the runtime's rollout.

Whatever the runtime, this is the rollout `apply` uses (ops/apply/deploy.py): each new
instance is checked on its own before the old one retires, so no request is dropped.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from llmproxy_ops.errors import RuntimeStateError
from llmproxy_ops.ops.apply.deploy import roll_out
from llmproxy_ops.pipeline import Target
from llmproxy_ops.runtime.api import Runtime, runtime_of
from llmproxy_ops.runtime.api import Step as StepResult
from llmproxy_ops.runtime.api import timed as timed
from llmproxy_ops.spec.model import Spec


@dataclass(frozen=True)
class Replica:
    name: str
    url: str  # reachable from this machine
    verify_tls: bool | str = True
    probes: int = 1  # requests per check: several when one address balances over replicas


@dataclass
class RestartOutcome:
    steps: list[StepResult] = field(default_factory=list)
    gap_s: float | None = None  # time with no healthy litellm at all (None: not reached)
    client_reloads: int = 0  # reloads of nginx in front of the clients (RolloutResult's)

    @property
    def ok(self) -> bool:
        return bool(self.steps) and all(s.ok for s in self.steps)


class Restarter:
    """The environment's runtime, rolled to a fresh render of its configs."""

    def __init__(self, target: Target, spec: Spec, runtime: Runtime):
        self.target, self.spec, self.runtime = target, spec, runtime

    def require_healthy(self) -> None:
        st = self.runtime.status()
        if not (st.running and st.healthy):
            raise RuntimeStateError(
                f"environment '{self.spec.name}' is not running and healthy "
                f"({st.note or 'unhealthy'})",
                hint=f"start it first (llmproxy-ops up --env {self.spec.name}): rotation "
                "verifies the new key against the running proxy",
            )

    def replicas(self) -> list[Replica]:
        """Each replica at its own address; where none has one reachable from here (Swarm's
        tasks live on an overlay network), the endpoint, asked twice per replica: nginx
        balances round robin, and the rollout returned only once replaced tasks exited."""
        units = self.runtime.status().units
        direct = [Replica(u.name, u.url) for u in units if u.url]
        if direct:
            return direct
        endpoint = self.runtime.endpoint()
        count = self.spec.stack.compose(self.spec.name).replicas
        return [Replica(f"litellm x{count} (through {endpoint.url})", endpoint.url,
                        endpoint.verify_tls, probes=2 * count)]

    def restart(self) -> RestartOutcome:
        # Each new instance has to serve; the rotation then verifies the keys (or the groups
        # using a provider key) on every replica itself.
        deployment = roll_out(self.target, smoke=False)
        return RestartOutcome(deployment.steps, deployment.rollout.gap_s if deployment.ok else None,
                              deployment.rollout.client_reloads)


def restarter_for(target: Target, spec: Spec, secrets: tuple[str, ...]) -> Restarter:
    return Restarter(target, spec, runtime_of(spec, secrets))
