"""A target configuration brought up in a throwaway project, driven through the CLI as a user
drives it: `llmproxy-ops init`, `up`, `status`, `apply`, `smoke-test`, `keys`, `down`."""

from __future__ import annotations

import contextlib
import json
import os
import secrets
import shutil
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import yaml

from llmproxy_ops.envfile import read_env_file
from llmproxy_ops.ops.backup.settings import BackupContext, context_for
from llmproxy_ops.pipeline import Target
from tests.conformance.targets import TargetConfig
from tests.conftest import REPO

CLI = Path(sys.executable).parent / "llmproxy-ops"
CLI_TIMEOUT_S = 900.0
# Verbs that send no request to a model group. Every other one may: a smoke test (which
# `apply`, `keys rotate` and `backup restore` run too) asks every group once, and its rpm
# check bursts a limited group to its limit.
ASKS_NO_GROUP = frozenset({"init", "certs", "up", "status", "render", "validate", "down",
                           "logs"})


@dataclass
class Deployment:
    target: TargetConfig
    root: Path  # the project folder: configs/, .env, certs/, build/, .run/
    # when the last command that may have asked the model groups ended (time.time()): an rpm
    # counter of the UTC minute it ended in may hold its requests
    asked_groups_at: float | None = None

    @classmethod
    def create(cls, target: TargetConfig, root: Path) -> Deployment:
        """A fresh project: the shipped configs, `init --env`'s .env plus the target's
        secrets from elsewhere (a provider's key)."""
        shutil.copytree(REPO / "configs", root / "configs")
        shutil.copy(REPO / ".env.example", root / ".env.example")
        deployment = cls(target, root)
        if target.layer is not None:
            deployment.env_path.write_text(target.layer, encoding="utf-8")
        # the master key and whatever the stack's own services need (database and Redis
        # passwords, the salt key): `init --env`, as a user of the environment runs it
        deployment.cli("init", "--env", target.env)
        extra = "".join(f"{name}={secrets.token_urlsafe(18)}\n" for name in target.secrets)
        with (root / ".env").open("a", encoding="utf-8") as env:
            env.write(extra)
        if target.tls:
            deployment.cli("certs", "self-signed", "--out", "certs")
        return deployment

    # ---- the CLI ----------------------------------------------------------------------------

    def cli(self, *args: str, check: bool = True,
            timeout: float = CLI_TIMEOUT_S) -> subprocess.CompletedProcess[str]:
        """`llmproxy-ops ARGS` in the project folder; with `check`, exit 0 or the output says
        why not."""
        env = {k: v for k, v in os.environ.items() if not k.startswith("LLMPROXY_")}
        try:
            done = subprocess.run([str(CLI), *args], cwd=self.root, capture_output=True,
                                  text=True, timeout=timeout, env={**env, "COLUMNS": "200"})
        finally:
            if args and args[0] not in ASKS_NO_GROUP:
                self.asked_groups_at = time.time()
        if check and done.returncode != 0:
            raise AssertionError(f"llmproxy-ops {' '.join(args)}: exit {done.returncode}\n"
                                 f"{done.stdout[-6000:]}\n{done.stderr[-3000:]}")
        return done

    def env_cli(self, verb: str, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        return self.cli(*verb.split(), "--env", self.target.env, *args, check=check)

    def status(self) -> dict[str, Any]:
        done = self.env_cli("status", "--format", "json", check=False)
        return dict(json.loads(done.stdout))

    def smoke(self) -> dict[str, Any]:
        done = self.env_cli("smoke-test", *self.verify_args, "--format", "json", check=False)
        return dict(json.loads(done.stdout))

    # ---- what a client needs ----------------------------------------------------------------

    @property
    def url(self) -> str:
        return str(self.status()["url"])

    @property
    def verify(self) -> bool | str:
        return str(self.root / "certs" / "cert.pem") if self.target.tls else True

    @property
    def verify_args(self) -> list[str]:
        return ["--ca-bundle", str(self.root / "certs" / "cert.pem")] if self.target.tls else []

    def backup_context(self) -> BackupContext:
        """What `backup` resolves for this environment: its database server, for the test's
        own reads and writes (a canary table)."""
        with contextlib.chdir(self.root):
            return context_for(Target(env=self.target.env))

    def key(self) -> str:
        return read_env_file(self.root / ".env")["LITELLM_MASTER_KEY"]

    # ---- the environment file, as a user edits it -------------------------------------------

    @property
    def env_path(self) -> Path:
        return self.root / "configs" / "environments" / f"{self.target.env}.yaml"

    def edit(self, change: Any) -> None:
        """Load the environment file, let `change` edit the document, write it back."""
        doc = yaml.safe_load(self.env_path.read_text(encoding="utf-8")) or {}
        change(doc)
        self.env_path.write_text(yaml.safe_dump(doc, sort_keys=False), encoding="utf-8")

    def models(self) -> set[str]:
        """The model groups the gateway lists to a client holding the master key."""
        r = httpx.get(f"{self.url}/v1/models", headers={"Authorization": f"Bearer {self.key()}"},
                      verify=self.verify, timeout=30)
        assert r.status_code == 200, r.text
        return {m["id"] for m in r.json()["data"]}
