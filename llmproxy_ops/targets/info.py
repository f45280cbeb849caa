"""What a deployment target is, as data: `TargetInfo`, the one shape every target fills in.

A target package (`targets/<name>/`) describes itself with one `TargetInfo` in its `facts.py`:
plain facts the lower layers (render, validate) ask instead of comparing the target's name,
and `Hooks` naming the modules that hold its behaviour (runtime, renderer, rotation plan),
imported on first use so asking a fact never loads the runtime code.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from dataclasses import dataclass
from enum import Enum
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from llmproxy_ops.spec.model import Spec


class RedisWiring(Enum):
    """How the target's own Redis (shared rate-limit counters) reaches LiteLLM."""

    LOOPBACK = "a redis-server beside LiteLLM on 127.0.0.1, its port in an environment variable"
    SERVICE = "the stack's `redis` service, by its service name"
    CLUSTER = "an in-cluster Redis the manifests add themselves"


@dataclass(frozen=True)
class CopilotStore:
    """Where the target keeps the one GitHub Copilot login every replica reads."""

    kept_in: str  # for people: "a folder under the run directory"
    store: str  # what `copilot status` calls it: "folder" or "volume"
    # `(spec, target, *, for_login) -> LoginPlace`: where the login runs, when not in this
    # venv on a folder of this machine (None: it does, and status reads the folder directly)
    place: str | None = None

    @property
    def on_host(self) -> bool:
        return self.place is None


@dataclass(frozen=True)
class Hooks:
    """`module:attribute` paths of the target's behaviour, imported when first used.

    runtime:  `(spec, secrets) -> Runtime` (runtime/api.py's protocol)
    rotation: a module with `plan(spec) -> RotationShape` and `done_text(plan) -> str`
              (what a key rotation restarts, in what order, and the gap to expect)
    render:   `(spec, out_dir, env_file, request_timeout, config_yaml) -> {file: text}`,
              the files the target adds to a build beside config.yaml (None: it adds none);
              `config_yaml` is config.yaml as already serialised (reuse it, never re-dump)
    checks:   a tuple of `(CheckContext) -> Iterable[Finding]`, validation run only on this
              target (None: none of its own)
    settings: `(raw stack.<section>, env_name) -> its settings model` (None: it has none);
              StackSettings builds it (`spec.stack.compose(env)`...) and the schema documents it
    """

    runtime: str
    rotation: str
    render: str | None = None
    checks: str | None = None
    settings: str | None = None


def load(path: str) -> Any:
    """The object a hook path names (`package.module:attribute`)."""
    module, _, attribute = path.partition(":")
    return getattr(importlib.import_module(module), attribute)


@dataclass(frozen=True)
class TargetInfo:
    """Everything the rest of the tool may ask about a target (docs/targets.md)."""

    name: str
    summary: str
    # start/stop/status/apply run it from here; False: render-only (its runtime refuses
    # every operation with the commands to run instead)
    live: bool
    # runs the services stack.compose describes (litellm, db, mlflow, redis, nginx) from one
    # rendered compose file: the database, Redis and nginx are services here
    runs_compose_services: bool
    # LiteLLM runs from this venv (not an image): a module this venv lacks will be missing
    runs_in_this_venv: bool
    # `down --volumes` removes named volumes (the database): asked for confirmation
    has_volumes: bool
    # MLflow may be published on a host port (Swarm publishes nginx's ports only)
    publishes_mlflow: bool
    # stack.local.fake_provider: the runtime also starts the fake provider
    starts_fake_provider: bool
    redis: RedisWiring | None  # None: the target brings no Redis of its own
    # stack.<section>.redis.enabled switches the target's Redis (None: no such switch)
    redis_section: str | None
    copilot: CopilotStore | None  # None: a Copilot login is refused (read by no replica)
    # LiteLLM processes serving at once, each counting rate limits on its own
    serving_processes: Callable[[Spec], int]
    # the target decides whether its Redis runs by its own settings (None: the shared rule)
    decides_redis: Callable[[Spec], bool] | None
    # operations facts, for people (docs/targets.md, `llmproxy-ops` messages)
    secrets_store: str  # where the proxy's secrets come from at run time
    backup_access: str  # how a backup reaches the database
    key_rotation: str  # how a key rotation restarts it
    apply_guarantee: str  # what `apply` guarantees, and why
    hooks: Hooks
    # the memory limit of one LiteLLM container and where it is set, e.g. ("4g", ("stack",
    # "compose", "litellm", "memory")) (None: processes of this machine, no limit of ours);
    # stack.workers_max_rss must stay below it
    litellm_memory: Callable[[Spec], tuple[str, tuple[str, ...]] | None] = lambda spec: None


@dataclass(frozen=True)
class RestartPlan:
    """How a target restarts for a key rotation (its `rotation` hook's `plan(spec)`)."""

    replicas: tuple[str, ...]  # litellm processes/services restarted, in order
    nginx: bool
    steps: tuple[str, ...]  # the restart steps, for the plan people confirm
    gap_expected: bool
    gap_note: str
