"""The Copilot login each runtime keeps: the local runtime's folder, the compose volume.

Reading it (is there a login, when does its key expire) and preparing the local folder; the
device login itself is ops/copilot.py. Where it lives is a fact of the spec (spec/copilot.py).
"""

from __future__ import annotations

import json
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Final

from llmproxy_ops.errors import StackError
from llmproxy_ops.findings import Finding, Severity
from llmproxy_ops.render.compose import project_name
from llmproxy_ops.spec.copilot import (
    ACCESS_TOKEN_FILE,
    API_KEY_FILE,
    CONTAINER_DIR,
    TOKEN_DIR_VAR,
    copilot_token_dir,
    first_copilot_model,
    uses_copilot,
    volume_name,
)
from llmproxy_ops.spec.model import Spec
from llmproxy_ops.targets.registry import target_named, target_of

RESULT_MARK: Final = "LLMPROXY_OPS_COPILOT "
PROBE_SCRIPT: Final = f"""
import json, os
d = os.environ[{TOKEN_DIR_VAR!r}]
tok = os.path.join(d, {ACCESS_TOKEN_FILE!r})
out = {{"access_token": os.path.isfile(tok) and os.path.getsize(tok) > 0, "expires_at": None}}
try:
    out["expires_at"] = json.load(open(os.path.join(d, {API_KEY_FILE!r}))).get("expires_at")
except (OSError, ValueError):
    pass
print({RESULT_MARK!r} + json.dumps(out), flush=True)
"""


@dataclass(frozen=True)
class CopilotLogin:
    """Where an environment's Copilot login lives and what is there (never the token)."""

    env: str
    runtime: str
    location: str  # a folder (local) or a docker volume name (compose)
    logged_in: bool
    expires_at: float | None = None
    reused: bool = False  # login found a token already there and ran no device flow

    @property
    def key_expired(self) -> bool:
        return self.expires_at is not None and self.expires_at <= time.time()


def local_environment(spec: Spec) -> dict[str, str]:
    """What the local runtime adds to litellm's environment ({} without Copilot models)."""
    if not uses_copilot(spec):
        return {}
    return {TOKEN_DIR_VAR: str(private_dir(copilot_token_dir(spec)))}


def private_dir(path: Path) -> Path:
    path.mkdir(parents=True, exist_ok=True)
    path.chmod(0o700)  # mkdir's mode is masked by the umask; this is not
    return path



def read_local(token_dir: Path, env_name: str) -> CopilotLogin:
    token = token_dir / ACCESS_TOKEN_FILE
    logged_in = token.is_file() and token.stat().st_size > 0
    try:
        expires = json.loads((token_dir / API_KEY_FILE).read_text()).get("expires_at")
    except (OSError, ValueError, AttributeError):
        expires = None
    return CopilotLogin(env_name, "local", str(token_dir), logged_in, expires)


def read_volume(docker: str, image: str, volume: str, env_name: str) -> CopilotLogin:
    """The compose runtime's login: the named volume, read by a throw-away container of the
    litellm image (the volume is the image user's, mode 0700). StackError: Docker could not
    say (no client, no engine, no image) - the state is unknown, not absent."""
    inspect = _docker([docker, "volume", "inspect", volume], timeout=30)
    if inspect.returncode != 0:
        if "no such volume" in (inspect.stderr + inspect.stdout).lower():
            return CopilotLogin(env_name, "compose", volume, False)
        raise StackError(f"`docker volume inspect` failed: {_last_line(inspect)}")
    probe = _docker(
        [docker, "run", "--rm", "--network", "none", "-v", f"{volume}:{CONTAINER_DIR}:ro",
         "-e", f"{TOKEN_DIR_VAR}={CONTAINER_DIR}", "--entrypoint", "python", image,
         "-c", PROBE_SCRIPT],
        timeout=120,
    )
    marked = [ln for ln in probe.stdout.splitlines() if ln.startswith(RESULT_MARK)]
    if probe.returncode != 0 or not marked:
        raise StackError(f"could not read volume {volume} with {image}: {_last_line(probe)}")
    found = json.loads(marked[-1][len(RESULT_MARK):])
    return CopilotLogin(env_name, "compose", volume, bool(found.get("access_token")),
                        found.get("expires_at"))


def _docker(argv: list[str], timeout: float) -> subprocess.CompletedProcess[str]:
    try:
        return subprocess.run(argv, capture_output=True, text=True, timeout=timeout,
                              check=False, stdin=subprocess.DEVNULL)
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise StackError(f"`{argv[0]} {argv[1]}` could not run: {exc}") from None


def _last_line(proc: subprocess.CompletedProcess[str]) -> str:
    text = (proc.stderr or proc.stdout).strip()
    return text.splitlines()[-1][-300:] if text else f"exit {proc.returncode}"


def current_login(spec: Spec, docker: str = "docker") -> CopilotLogin | None:
    """Where the environment's runtime keeps the login (None: a runtime without one here).

    Raises StackError when the compose volume cannot be read (Docker not running...)."""
    store = target_of(spec).copilot
    if store is None:
        return None
    if store.on_host:
        return read_local(copilot_token_dir(spec), spec.name)
    cs = spec.stack.compose(spec.name)  # the one target keeping it in a volume: compose
    return read_volume(docker, cs.litellm.image, volume_name(project_name(cs)), spec.name)


def missing_login_finding(spec: Spec, docker: str = "docker") -> Finding | None:
    """A warning when an environment has Copilot models and no login yet, or when its login
    cannot be checked (compose with no Docker engine): validation never fails on it."""
    if not uses_copilot(spec):
        return None
    try:
        login = current_login(spec, docker)
    except StackError as exc:
        where = volume_name(project_name(spec.stack.compose(spec.name)))
        return _login_finding(
            spec, "copilot-login-unknown",
            f"github_copilot/ models; the Copilot login in volume {where} is unknown "
            f"({exc.message})",
            f"once Docker runs: llmproxy-ops copilot status --env {spec.name}",
        )
    if login is None or login.logged_in:
        return None
    store = target_named(login.runtime).copilot
    where = "" if store is None or store.on_host else store.store
    return _login_finding(
        spec, "copilot-not-logged-in",
        f"github_copilot/ models but no Copilot login in {where + ' ' if where else ''}"
        f"{login.location}: LiteLLM drops those deployments when it starts",
        f"run: llmproxy-ops copilot login --env {spec.name}",
    )


def _login_finding(spec: Spec, code: str, message: str, hint: str) -> Finding:
    path = ("model_list", first_copilot_model(spec) or 0, "litellm_params", "model")
    return Finding(Severity.WARNING, code, message, spec.locate(path), path, hint=hint)

