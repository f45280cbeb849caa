"""Where a compose environment's Copilot login runs: a one-off litellm container that mounts
the project's named volume, as the service's user (ops/copilot_target.py asks for it)."""

from __future__ import annotations

import os
import subprocess

from llmproxy_ops.errors import StackError
from llmproxy_ops.ops import copilot
from llmproxy_ops.ops.copilot import LoginPlace
from llmproxy_ops.pipeline import Target, render_target, target_environment
from llmproxy_ops.render.compose import litellm_names
from llmproxy_ops.runtime.api import runtime_of
from llmproxy_ops.spec import Spec
from llmproxy_ops.spec.copilot import CONTAINER_DIR
from llmproxy_ops.targets.compose.project import ComposeRuntime, secret_environment

_ROOT_USERS = frozenset({"", "0", "root", "0:0", "root:root"})


def login_place(spec: Spec, target: Target, *, for_login: bool) -> LoginPlace:
    """A one-off litellm container with the project's volume mounted (the target's Copilot
    `place` hook); for a login, the build is rendered first so the volume is mounted."""
    # The runtime protocol's compose runtime wraps a ComposeRuntime (`.compose`): asking for
    # ComposeRuntime itself ran every compose login on the host, where the compose network's
    # names (fake-provider) do not resolve and the token missed the volume.
    runtime = runtime_of(spec)
    stack = getattr(runtime, "compose", None)
    if not isinstance(stack, ComposeRuntime):
        return copilot.local_place(spec, target_environment(spec, target))
    if for_login:
        render_target(target)
    elif not stack.compose_file.is_file():
        raise StackError(
            f"{stack.compose_file} is missing",
            hint=f"render it first: llmproxy-ops render --env {spec.name}",
        )
    cs = spec.stack.compose(spec.name)
    service = litellm_names(cs)[0]
    base = stack.base_command()
    # `docker compose run` mounts the service's secrets: it reads them from its environment
    secrets = secret_environment(stack.compose_file, target_environment(spec, target))
    env = {**os.environ, **secrets} if secrets else None
    if for_login:
        user = cs.litellm.run_as or _image_user(stack.docker, cs.litellm.image)
        _own_volume(base, service, user, env)
    return copilot.compose_place(base, stack.project, service, env)


def _image_user(docker: str, image: str) -> str:
    out = _docker([docker, "image", "inspect", "-f", "{{.Config.User}}", image])
    return out.strip()


def _own_volume(base: list[str], service: str, user: str,
                env: dict[str, str] | None = None) -> None:
    """A fresh named volume is root's; the service's user (compose's `user:`, else the
    image's) must be able to write the token there (the login) and refresh the key (every
    replica)."""
    if user in _ROOT_USERS:
        return
    script = 'chmod 700 "$2" && chown "$1" "$2"'  # chmod first: after chown root needs FOWNER
    # the service drops every capability; this one-off container gets back just CHOWN
    _docker(
        [
            *base,
            "run",
            "--rm",
            "--no-deps",
            "-T",
            "--user",
            "0",
            "--cap-add",
            "CHOWN",
            "--entrypoint",
            "sh",
            service,
            "-c",
            script,
            "sh",
            user.split(":")[0],
            CONTAINER_DIR,
        ],
        env,
    )


def _docker(argv: list[str], env: dict[str, str] | None = None) -> str:
    try:
        proc = subprocess.run(
            argv, capture_output=True, text=True, timeout=180, check=False,
            stdin=subprocess.DEVNULL, env=env,
        )
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise StackError(f"{argv[0]} failed: {exc}") from None
    if proc.returncode != 0:
        raise StackError(
            f"`{' '.join(argv[:4])} ...` exited {proc.returncode}",
            details=(proc.stderr or proc.stdout)[-2000:],
        )
    return proc.stdout
