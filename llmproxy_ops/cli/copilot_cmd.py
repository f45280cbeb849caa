"""`llmproxy-ops copilot login|status|logout`: Copilot's device login, kept per environment."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Annotated

import typer

from llmproxy_ops.cli.boundary import GuardedTyper
from llmproxy_ops.cli.options import ConfigsOpt, EnvFileOpt, EnvName, Format, FormatOpt, target
from llmproxy_ops.cli.output import console
from llmproxy_ops.errors import StackError
from llmproxy_ops.ops import copilot
from llmproxy_ops.ops.copilot import CopilotLogin, DevicePrompt
from llmproxy_ops.ops.copilot_target import login_place
from llmproxy_ops.pipeline import DEFAULT_CONFIGS, load_target
from llmproxy_ops.spec import Spec
from llmproxy_ops.spec.copilot import uses_copilot
from llmproxy_ops.targets.registry import target_named

app = GuardedTyper(
    help="GitHub Copilot's device login, stored where the runtime reads it.", no_args_is_help=True
)



@app.command("login")
def login(
    env: EnvName = "dev",
    configs: ConfigsOpt = DEFAULT_CONFIGS,
    env_file: EnvFileOpt = None,
    timeout: Annotated[
        float, typer.Option("--timeout", help="seconds to wait for the code to be entered")
    ] = copilot.DEFAULT_TIMEOUT_S,
    force: Annotated[
        bool, typer.Option("--force", help="discard a stored login and run the device flow again")
    ] = False,
) -> None:
    """Log in to GitHub Copilot once (device flow); every restart and replica reuses it.

    Example: llmproxy-ops copilot login --env prod --timeout 600
    """
    tgt = target(env, configs, env_file)
    _, place = login_place(tgt, for_login=True)
    result = copilot.login(place, env, on_prompt=_show_prompt, timeout=timeout, force=force)
    verb = (
        "already logged in (no device flow; --force logs in again)"
        if result.reused
        else ("logged in")
    )
    console.print(f"[green]copilot[/green]: {env} {verb}")
    console.print(describe(result))
    if not result.reused:
        # LiteLLM resolves a Copilot deployment once, at start; one that failed is dropped.
        console.print(
            "  a proxy already running reads it after a restart: "
            f"llmproxy-ops down --env {env} && llmproxy-ops up --env {env}"
        )


def _show_prompt(prompt: DevicePrompt) -> None:
    console.print(f"open {prompt.url} and enter the code [bold]{prompt.code}[/bold]")
    console.print("waiting for GitHub (Ctrl-C to give up)...")


@app.command("status")
def status(
    env: EnvName = "dev",
    configs: ConfigsOpt = DEFAULT_CONFIGS,
    fmt: FormatOpt = Format.text,
    as_json: Annotated[bool, typer.Option("--json", hidden=True, help="--format json")] = False,
) -> None:
    """Show whether an environment is logged in and when its Copilot key expires; exit 1 if not.

    Example: llmproxy-ops copilot status --env prod --format json
    """
    tgt = target(env, configs)
    spec = load_target(tgt)
    copilot.require_copilot(spec)
    # compose: the volume itself, through Docker (no rendered file needed)
    result = copilot.current_login(spec) or copilot.status(
        login_place(tgt, for_login=False)[1], env)
    if as_json or fmt is Format.json:
        print(json.dumps(login_dict(result), indent=2, sort_keys=True))
    else:
        console.print(describe(result))
    raise typer.Exit(0 if result.logged_in else 1)


@app.command("logout")
def logout(env: EnvName = "dev", configs: ConfigsOpt = DEFAULT_CONFIGS) -> None:
    """Delete the stored Copilot login of an environment (revoke it on GitHub too: docs/copilot.md).

    Example: llmproxy-ops copilot logout --env prod
    """
    _, place = login_place(target(env, configs), for_login=False)
    result = copilot.logout(place, env)
    console.print(f"copilot: {env} logged out; removed the login from {result.location}")


def describe(result: CopilotLogin) -> str:
    store = target_named(result.runtime).copilot
    where = store.store if store is not None else "folder"
    state = "logged in" if result.logged_in else "not logged in"
    lines = [f"  {state}; token {where}: {result.location}"]
    if result.expires_at is not None:
        when = datetime.fromtimestamp(result.expires_at, UTC).strftime("%Y-%m-%d %H:%M:%S UTC")
        note = " (expired: LiteLLM refreshes it at the next request)" if result.key_expired else ""
        lines.append(f"  copilot key expires {when}{note}")
    if not result.logged_in:
        lines.append(f"  log in: llmproxy-ops copilot login --env {result.env}")
    return "\n".join(lines)


def login_dict(result: CopilotLogin) -> dict[str, object]:
    return {
        "env": result.env,
        "runtime": result.runtime,
        "location": result.location,
        "logged_in": result.logged_in,
        "expires_at": result.expires_at,
        "key_expired": result.key_expired,
    }


def status_login(spec: Spec) -> CopilotLogin | dict[str, object] | None:
    """The environment's Copilot login for `status`: its folder (local) or its volume (compose,
    read through Docker); when Docker cannot say, a dict naming why it is unknown."""
    if not uses_copilot(spec):
        return None
    try:
        return copilot.current_login(spec)
    except StackError as exc:
        return {"env": spec.name, "runtime": spec.stack.runtime, "logged_in": None,
                "unknown": exc.message}
