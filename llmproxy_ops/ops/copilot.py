"""GitHub Copilot's device login, run once per environment and kept where the runtime reads it.

LiteLLM keeps Copilot's credentials in a folder (GITHUB_COPILOT_TOKEN_DIR): `access-token`
(the GitHub OAuth token of the device login) and `api-key.json` (the short-lived Copilot key,
exchanged from it and refreshed by LiteLLM itself). Since 1.108 the proxy refuses to run the
device login inside its event loop, so a fresh container would just fail Copilot requests.
We run LiteLLM's own Authenticator once, outside the proxy, into the folder the runtime mounts:

- local:   {run_dir}/{env}/github_copilot, mode 0700 (never the repo's configs or build/);
- compose: the named volume `github-copilot-auth`, mounted into every litellm replica, so a
           recreate, rolling apply or key rotation never asks for a login again.

The login runs in the same place the proxy does (the venv's python, or a one-off container of
the litellm service with its env file), so it reaches GitHub — or the fake — by the same
GITHUB_COPILOT_*_URL variables and writes exactly the files LiteLLM will read.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Final

from llmproxy_ops.errors import CopilotLoginError, StackError, UsageError
from llmproxy_ops.runtime.copilot_token import (
    PROBE_SCRIPT,
    RESULT_MARK,
    CopilotLogin,
    current_login,
    private_dir,
    read_local,
)
from llmproxy_ops.spec.copilot import (
    ACCESS_TOKEN_FILE,
    API_KEY_FILE,
    TOKEN_DIR_VAR,
    copilot_token_dir,
    uses_copilot,
    volume_name,
)
from llmproxy_ops.spec.model import Spec

# the callers' one name for the login and its place (cli/copilot_cmd.py, ops/copilot_target.py)
__all__ = ["CopilotLogin", "DevicePrompt", "LoginPlace", "compose_place", "current_login",
           "local_place", "login", "logout", "require_copilot", "status"]

DEFAULT_TIMEOUT_S: Final = 300.0
_DETAIL_LINES: Final = 20
REACH_TIMEOUT_S: Final = 30.0
# LiteLLM's own prompt (authenticator.py `_login`): we show it our way, not as a log line.
_PROMPT: Final = re.compile(r"Please visit (\S+) and enter code (\S+) to authenticate\.")

# Runs in the proxy's python (venv or image): LiteLLM's Authenticator does the device flow and
# the first key exchange and writes both files; umask keeps them to the owner. Prints a
# summary (never a token) after the marker.
_LOGIN_SCRIPT: Final = f"""
import json, os, sys
os.umask(0o077)
import logging
from litellm._logging import verbose_logger
from litellm.llms.github_copilot.authenticator import Authenticator
verbose_logger.setLevel(logging.WARNING)  # why an attempt failed (LITELLM_LOG=ERROR hides it)
auth = Authenticator()
os.chmod(auth.token_dir, 0o700)
if "--force" in sys.argv[2:]:
    for path in (auth.access_token_file, auth.api_key_file):
        if os.path.exists(path):
            os.remove(path)
had = os.path.isfile(auth.access_token_file) and os.path.getsize(auth.access_token_file) > 0
if not had:
    # LiteLLM tries the device flow 3 times back to back and then only says it failed: wait
    # (bounded) until the device-code address accepts connections, else say which one it is.
    import socket, time, urllib.parse
    url = os.environ.get("GITHUB_COPILOT_DEVICE_CODE_URL", "https://github.com/login/device/code")
    parts = urllib.parse.urlsplit(url)
    deadline = time.monotonic() + float(sys.argv[1])
    while True:
        try:
            port = parts.port or (443 if parts.scheme == "https" else 80)
            socket.create_connection((parts.hostname, port), timeout=5).close()
            break
        except (OSError, ValueError) as exc:
            if time.monotonic() > deadline:
                print({RESULT_MARK!r} + json.dumps({{"unreachable": url, "error": str(exc),
                      "waited_s": float(sys.argv[1])}}), flush=True)
                sys.exit(3)
            time.sleep(1)
auth.get_access_token()
auth.get_api_key()
info = json.load(open(auth.api_key_file))
print({RESULT_MARK!r} + json.dumps({{"reused": had, "expires_at": info.get("expires_at"),
      "api": (info.get("endpoints") or {{}}).get("api")}}), flush=True)
"""
_LOGOUT_SCRIPT: Final = f"""
import json, os
d = os.environ[{TOKEN_DIR_VAR!r}]
for name in ({ACCESS_TOKEN_FILE!r}, {API_KEY_FILE!r}):
    if os.path.exists(os.path.join(d, name)):
        os.remove(os.path.join(d, name))
print({RESULT_MARK!r} + json.dumps({{"removed": True}}), flush=True)
"""


@dataclass(frozen=True)
class DevicePrompt:
    url: str
    code: str




# ---- where the login runs -------------------------------------------------------------------


@dataclass(frozen=True)
class LoginPlace:
    """A command prefix that runs `python -c SCRIPT` with the proxy's environment."""

    runtime: str
    location: str
    argv: tuple[str, ...]
    env: dict[str, str] | None  # None: inherit
    on_host: bool = False  # the token folder is on this machine: status reads it directly


def local_place(spec: Spec, environment: dict[str, str]) -> LoginPlace:
    token_dir = private_dir(copilot_token_dir(spec))
    env = {
        **os.environ,
        **environment,
        TOKEN_DIR_VAR: str(token_dir),
        "LITELLM_LOCAL_MODEL_COST_MAP": "True",
        "PYTHONUNBUFFERED": "1",
    }
    return LoginPlace("local", str(token_dir), (sys.executable,), env, on_host=True)


def compose_place(base_command: list[str], project: str, service: str,
                  env: dict[str, str] | None = None) -> LoginPlace:
    # A one-off container of the litellm service: its image, secrets and the volume mount;
    # `env`: the `docker compose` process's environment (its secrets' values, never argv).
    argv = (
        *base_command,
        "run",
        "--rm",
        "--no-deps",
        "-T",
        "--entrypoint",
        "python",
        "-e",
        "PYTHONUNBUFFERED=1",
        service,
    )
    return LoginPlace("compose", volume_name(project), argv, env)


# ---- verbs ----------------------------------------------------------------------------------


def login(
    place: LoginPlace,
    env_name: str,
    *,
    on_prompt: Callable[[DevicePrompt], None],
    timeout: float = DEFAULT_TIMEOUT_S,
    force: bool = False,
    reach_timeout: float = REACH_TIMEOUT_S,
) -> CopilotLogin:
    """Run LiteLLM's device login once; an existing token is kept unless `force`.

    A device flow first waits up to `reach_timeout` for the device-code address to accept
    connections (a compose network or a fake provider may still be coming up)."""
    argv = [*place.argv, "-c", _LOGIN_SCRIPT, f"{reach_timeout:g}", *(["--force"] if force else [])]
    result, output = _run(argv, place.env, timeout, on_prompt)
    return CopilotLogin(
        env_name,
        place.runtime,
        place.location,
        True,
        result.get("expires_at"),
        bool(result.get("reused")),
    )


def status(place: LoginPlace, env_name: str, timeout: float = 120.0) -> CopilotLogin:
    if place.on_host:
        return read_local(Path(place.location), env_name)
    argv = [*place.argv, "-c", PROBE_SCRIPT]
    result, _ = _run(argv, place.env, timeout, lambda _: None)
    return CopilotLogin(
        env_name,
        place.runtime,
        place.location,
        bool(result.get("access_token")),
        result.get("expires_at"),
    )


def logout(place: LoginPlace, env_name: str, timeout: float = 120.0) -> CopilotLogin:
    """Delete both files (the GitHub grant itself is revoked on github.com, see docs/copilot.md)."""
    argv = [*place.argv, "-c", _LOGOUT_SCRIPT]
    _run(argv, place.env, timeout, lambda _: None)
    return CopilotLogin(env_name, place.runtime, place.location, False)



# ---- the child process ----------------------------------------------------------------------


def _run(
    argv: list[str],
    env: dict[str, str] | None,
    timeout: float,
    on_prompt: Callable[[DevicePrompt], None],
) -> tuple[dict, list[str]]:
    """Run the script, pass LiteLLM's prompt on as it appears, return the marker's JSON."""
    # Its own session: Ctrl-C reaches us only, and we stop the child (and its container).
    proc = subprocess.Popen(
        argv,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env=env,
        stdin=subprocess.DEVNULL,
        start_new_session=True,
    )
    lines: list[str] = []
    reader = threading.Thread(target=_read, args=(proc, lines, on_prompt), daemon=True)
    reader.start()
    try:
        _join(reader, timeout)
        if reader.is_alive():
            raise CopilotLoginError(
                f"Copilot login did not finish within {timeout:.0f}s",
                hint="enter the code at the address shown sooner, or raise --timeout",
            )
        proc.wait(timeout=30)
    finally:
        _stop(proc)  # on a timeout, an error or Ctrl-C (KeyboardInterrupt passes through)
        reader.join(5)  # the pipe is at EOF once the child is gone
        if proc.stdout is not None and not reader.is_alive():
            proc.stdout.close()  # never under a reader still blocked on it: close would wait
    return _result(proc.returncode, lines), lines


def _join(thread: threading.Thread, timeout: float) -> None:
    """Wait for `thread` in short steps. Ctrl-C must reach us while we wait, and the kernel may
    deliver SIGINT to the reader thread: Python then raises KeyboardInterrupt in the main
    thread only when it next runs, which a single long join would put off until the timeout
    (a CI run saw `copilot login` ignore Ctrl-C for over 60 s)."""
    deadline = time.monotonic() + timeout
    while thread.is_alive() and time.monotonic() < deadline:
        thread.join(min(0.25, max(0.0, deadline - time.monotonic())))


def _read(
    proc: subprocess.Popen[str], lines: list[str], on_prompt: Callable[[DevicePrompt], None]
) -> None:
    assert proc.stdout is not None
    for line in proc.stdout:
        lines.append(line.rstrip("\n"))
        match = _PROMPT.search(line)
        if match:
            on_prompt(DevicePrompt(url=match.group(1), code=match.group(2)))


def _stop(proc: subprocess.Popen[str]) -> None:
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def _result(code: int | None, lines: list[str]) -> dict:
    for line in reversed(lines):
        if line.startswith(RESULT_MARK):
            found = dict(json.loads(line[len(RESULT_MARK) :]))
            if "unreachable" in found:
                raise CopilotLoginError(
                    f"Copilot login: cannot reach the device-code address {found['unreachable']} "
                    f"from where the proxy runs ({found['error']}; waited {found['waited_s']:g} s)",
                    hint="check GITHUB_COPILOT_DEVICE_CODE_URL (default: github.com) and that "
                    "the proxy's network reaches it (compose: the litellm service's network)",
                )
            return found
    last = next((ln for ln in reversed(lines) if ln.strip()), "no output")
    if "No such service" in last or "no such service" in last:
        raise StackError(last, hint="render the environment first: llmproxy-ops render --env ENV")
    raise CopilotLoginError(
        f"Copilot login failed (exit {code}): {last[-300:]}",
        hint="check the GITHUB_COPILOT_*_URL variables and that GitHub is reachable; "
        "`--force` starts over with a new device login",
        details="\n".join(lines[-_DETAIL_LINES:]),  # LiteLLM's reason for each attempt
    )


def require_copilot(spec: Spec) -> None:
    if not uses_copilot(spec):
        raise UsageError(
            f"environment '{spec.name}' has no github_copilot/ models",
            hint="add a model with litellm_params.model: github_copilot/NAME",
        )
