"""The merged spec: LiteLLM's config plus our own `stack:` section, with provenance."""

from __future__ import annotations

import math
import os
import re
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Any

from llmproxy_ops.findings import Finding, JsonPath, Location
from llmproxy_ops.spec.located import LMap, locate, to_plain
from llmproxy_ops.targets.compose.settings import ComposeSettings, compose_settings
from llmproxy_ops.targets.kubernetes.settings import KubernetesSettings, kubernetes_settings
from llmproxy_ops.targets.swarm.settings import SwarmSettings, swarm_settings

STACK_KEY = "stack"

# Defaults for the `stack:` section; the schema in validate/stack_schema.py documents each.
STACK_DEFAULTS: dict[str, Any] = {
    "runtime": "local",
    "host": "127.0.0.1",
    "port": 4000,
    "env_file": ".env",
    "env_example": ".env.example",
    # A spec without configs/base.yaml gets one worker (rate limits stay exact without
    # Redis). uvicorn, not granian: see configs/base.yaml (granian worker segfaults).
    "workers": 1,
    # Memory guard (MiB): a uvicorn worker past it is replaced, then drained (launcher.py)
    "workers_max_rss": None,
    "server": "uvicorn",
    "startup_timeout": 90,
    # How long a retiring proxy may take to finish in-flight requests and streams (apply).
    "drain_timeout": 60,
    "run_dir": ".run",
    # LiteLLM's prometheus callback and what it needs (render/litellm_config.py, the runtimes)
    "metrics": False,
    "build_dir": "build",
    # None: production when the environment is named prod or production (Spec.production)
    "production": None,
    "environment": {},
    "compose": {},
    "kubernetes": {},
    "swarm": {},
    "backup": {},
    "local": {},
}



@dataclass(frozen=True)
class StackSettings:
    runtime: str
    host: str
    port: int
    env_file: Path
    env_example: Path
    workers: int
    server: str
    startup_timeout: float
    drain_timeout: float
    run_dir: Path
    build_dir: Path
    environment: dict[str, str]
    compose_raw: dict[str, Any]
    backup_raw: dict[str, Any]
    kubernetes_raw: dict[str, Any] = field(default_factory=dict)
    swarm_raw: dict[str, Any] = field(default_factory=dict)
    local_raw: dict[str, Any] = field(default_factory=dict)
    workers_auto: bool = False  # `workers: auto`: a pod sizes it from its CPU limit, not ours
    # The local runtime also starts the fake provider (runtime/local_fake.py); dev does.
    local_fake_provider: bool = False
    production: bool | None = None  # as written; Spec.production applies the default
    metrics: bool = False  # LiteLLM's prometheus callback, /metrics aggregated over workers
    workers_max_rss: int | None = None  # MiB; None: no memory guard

    def section(self, key: str) -> dict[str, Any]:
        """The raw `stack.<key>` mapping a target keeps its settings in ({}: none)."""
        return {"local": self.local_raw, "compose": self.compose_raw,
                "kubernetes": self.kubernetes_raw, "swarm": self.swarm_raw}.get(key, {})

    def compose(self, env_name: str) -> ComposeSettings:
        return compose_settings(self.compose_raw, env_name)

    def kubernetes(self, env_name: str) -> KubernetesSettings:
        return kubernetes_settings(self.kubernetes_raw, env_name)

    def swarm(self, env_name: str) -> SwarmSettings:
        return swarm_settings(self.swarm_raw, env_name)

    @classmethod
    def from_mapping(cls, raw: dict[str, Any]) -> StackSettings:
        values = {**STACK_DEFAULTS, **{k: v for k, v in raw.items() if k in STACK_DEFAULTS}}
        workers = values["workers"]
        if workers == "auto":
            workers = available_cpus()
        return cls(
            runtime=values["runtime"],
            host=values["host"],
            port=int(values["port"]),
            env_file=Path(values["env_file"]),
            env_example=Path(values["env_example"]),
            workers=int(workers),
            server=values["server"],
            startup_timeout=float(values["startup_timeout"]),
            drain_timeout=float(values["drain_timeout"]),
            run_dir=Path(values["run_dir"]),
            build_dir=Path(values["build_dir"]),
            environment={str(k): str(v) for k, v in (values["environment"] or {}).items()},
            compose_raw=dict(values["compose"] or {}),
            backup_raw=dict(values["backup"] or {}),
            kubernetes_raw=dict(values["kubernetes"] or {}),
            swarm_raw=dict(values["swarm"] or {}),
            local_raw=dict(values["local"] or {}),
            workers_auto=values["workers"] == "auto",
            local_fake_provider=bool((values["local"] or {}).get("fake_provider", False)),
            production=values["production"] if isinstance(values["production"], bool) else None,
            metrics=values["metrics"] is True,
            workers_max_rss=_mib(values["workers_max_rss"]),
        )


def _mib(value: Any) -> int | None:
    """A positive whole number of MiB, else None (the schema reports a wrong one)."""
    return value if isinstance(value, int) and not isinstance(value, bool) and value > 0 else None


def is_production_name(name: str) -> bool:
    return re.fullmatch(r"(prod|production)([-_.].*)?", name.lower()) is not None


def available_cpus() -> int:
    """CPUs this process may use: its affinity mask, capped by a cgroup CPU quota (containers)."""
    try:
        cpus = max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # not on Linux
        cpus = max(1, os.cpu_count() or 1)
    quota = cgroup_cpu_limit()
    return cpus if quota is None else max(1, min(cpus, quota))


def cgroup_cpu_limit(root: Path = Path("/sys/fs/cgroup")) -> int | None:
    """`docker run --cpus 1.5` sets a quota, not an affinity: round it up (None = no quota).

    cgroup v2 (`cpu.max`: "QUOTA PERIOD" or "max PERIOD") first, then v1 (cfs_quota_us, -1 = none).
    """
    try:
        quota, period = (root / "cpu.max").read_text().split()[:2]
        return None if quota == "max" else math.ceil(int(quota) / int(period))
    except (OSError, ValueError):
        pass
    try:
        quota_us = int((root / "cpu" / "cpu.cfs_quota_us").read_text())
        period_us = int((root / "cpu" / "cpu.cfs_period_us").read_text())
    except (OSError, ValueError):
        return None
    return None if quota_us <= 0 or period_us <= 0 else math.ceil(quota_us / period_us)


@dataclass
class Spec:
    name: str
    root: LMap
    sources: list[str]
    findings: list[Finding] = field(default_factory=list)
    configs_dir: Path | None = None

    def locate(self, path: JsonPath) -> Location:
        return locate(self.root, path, Location(self.sources[-1] if self.sources else self.name))

    def litellm_config(self) -> dict[str, Any]:
        """The config LiteLLM reads: everything but our own section, as plain data."""
        return {k: to_plain(v) for k, v in self.root.items() if k != STACK_KEY}

    @cached_property
    def stack(self) -> StackSettings:
        """Parsed once per spec: every check, render and runtime asks it (dozens of times in
        one apply), and `root` does not change once loaded. A malformed section raises on
        each access (nothing is cached then)."""
        raw = self.root.get(STACK_KEY)
        return StackSettings.from_mapping(to_plain(raw) if isinstance(raw, dict) else {})

    @property
    def production(self) -> bool:
        """`stack.production`, else whether the environment is named prod or production
        (prod-eu, production_2...): stricter defaults (nginx API allow-list, env file mode)."""
        explicit = self.stack.production
        return explicit if explicit is not None else is_production_name(self.name)

    @property
    def model_list(self) -> list[Any]:
        models = self.root.get("model_list")
        return list(models) if isinstance(models, list) else []

    def model_groups(self) -> list[str]:
        """Model group names in first-seen order (what /v1/models lists)."""
        seen: dict[str, None] = {}
        for entry in self.model_list:
            if isinstance(entry, dict) and isinstance(entry.get("model_name"), str):
                seen.setdefault(entry["model_name"], None)
        return list(seen)
