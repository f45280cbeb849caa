"""`llmproxy-ops up|down|status|logs`: the proxy of an environment, on its runtime."""

from __future__ import annotations

import json
import sys
from typing import Annotated

import typer

from llmproxy_ops.cli import copilot_cmd
from llmproxy_ops.cli.options import ConfigsOpt, EnvFileOpt, target
from llmproxy_ops.cli.output import console, print_findings
from llmproxy_ops.errors import UsageError
from llmproxy_ops.ops.smoke_plan import master_key_variable
from llmproxy_ops.pipeline import DEFAULT_CONFIGS, env_file_of, runtime_for, start_target
from llmproxy_ops.runtime.compose import ComposeRuntime, ComposeStatus
from llmproxy_ops.runtime.local import RuntimeStatus

EnvName = Annotated[
    str, typer.Option("--env", "-e", help="environment (configs/environments/NAME.yaml)")
]


def up(
    env: EnvName = "dev", configs: ConfigsOpt = DEFAULT_CONFIGS, env_file: EnvFileOpt = None
) -> None:
    """Validate, render and start an environment's proxy in the background.

    Example: llmproxy-ops up --env dev
    """
    tgt = target(env, configs, env_file)
    validated, rendered, status = start_target(tgt)
    print_findings(validated.result.warnings, console)
    if isinstance(status, ComposeStatus):
        console.print(f"[green]up[/green]: {env} stack healthy in {status.time_to_healthy_s:.1f}s")
        console.print(_compose_text(env, status))
        console.print(f"  compose file: {status.compose_file}")
        console.print(f"  logs: llmproxy-ops logs --env {env} [--service NAME]")
        return
    spec = validated.spec
    key_var = master_key_variable(spec) or "LITELLM_MASTER_KEY"
    key_file = env_file_of(spec, tgt)
    model = (spec.model_groups() or ["MODEL"])[0]
    healthy_in = f"{status.time_to_healthy_s:.1f}s"
    console.print(f"[green]up[/green]: {env} proxy (pid {status.pid}) healthy in {healthy_in}")
    console.print(f"  url:    {status.url}")
    console.print(f"  key:    {key_var} in {key_file} (never printed)")
    console.print(f"  config: {rendered.out_dir}/config.yaml   logs: llmproxy-ops logs --env {env}")
    console.print("  try it:")
    console.out(_curl(status.url or "", key_var, str(key_file), model), highlight=False)
    console.print(
        "  add a real provider: add its fragment (e.g. ../providers/anthropic.yaml) to the "
        f"layers in {configs}/environments/{env}.yaml, put its key (ANTHROPIC_API_KEY=...) "
        f"in {key_file}, then `make up` again (see README)."
    )


def _curl(url: str, key_var: str, key_file: str, model: str) -> str:
    body = json.dumps({"model": model, "messages": [{"role": "user", "content": "Hello!"}]})
    return (
        f"    curl {url}/v1/chat/completions \\\n"
        f"      -H \"Authorization: Bearer $(sed -n 's/^{key_var}=//p' {key_file})\" \\\n"
        f"      -H 'Content-Type: application/json' \\\n"
        f"      -d '{body}'\n"
    )


def down(
    env: EnvName = "dev",
    configs: ConfigsOpt = DEFAULT_CONFIGS,
    grace: Annotated[float, typer.Option(help="seconds between SIGTERM and SIGKILL")] = 10.0,
    volumes: Annotated[
        bool,
        typer.Option(
            "--volumes", help="compose: also delete the named volumes (database, MLflow artifacts)"
        ),
    ] = False,
    yes: Annotated[bool, typer.Option("--yes", "-y", help="confirm --volumes, no prompt")] = False,
) -> None:
    """Stop an environment's proxy or compose stack; compose volumes are kept unless --volumes.

    Example: llmproxy-ops down --env prod --volumes --yes
    """
    _, runtime = runtime_for(target(env, configs))
    if isinstance(runtime, ComposeRuntime):
        if volumes:
            _confirm_volumes(runtime.project, yes)
        console.print(runtime.down(volumes=volumes).message)
        return
    if volumes:
        _no_volumes(env)
    console.print(runtime.down(grace=grace).message)


def _confirm_volumes(project: str, yes: bool) -> None:
    """Deleting volumes deletes the database: needs --yes, or a yes at an interactive prompt."""
    if yes:
        return
    if not sys.stdin.isatty():
        raise UsageError(
            "--volumes deletes the database and MLflow data; refusing without --yes",
            hint="add --yes to confirm, or run it in a terminal to be asked",
        )
    if not typer.confirm(f"delete the volumes (database, MLflow artifacts) of {project}?"):
        raise UsageError("not confirmed; nothing was stopped or deleted")


def _no_volumes(env: str) -> None:
    raise UsageError(f"--volumes is for the compose runtime; {env} runs locally (no volumes)")


def status(
    env: EnvName = "dev",
    configs: ConfigsOpt = DEFAULT_CONFIGS,
    as_json: Annotated[bool, typer.Option("--json", help="machine-readable output")] = False,
) -> None:
    """Show pid, url, health and uptime; exit 1 when not running or not healthy.

    Example: llmproxy-ops status --env dev
    """
    spec, runtime = runtime_for(target(env, configs))
    st = runtime.status()
    if isinstance(st, ComposeStatus):
        _print_compose_status(env, st, as_json)
        raise typer.Exit(0 if st.healthy else 1)
    login = copilot_cmd.local_login(spec)
    if as_json:
        doc = _status_dict(st)
        if login is not None:
            doc["copilot"] = copilot_cmd.login_dict(login)
        print(json.dumps(doc, indent=2, sort_keys=True))
    else:
        console.print(_status_text(env, st))
        if login is not None:
            console.print("  copilot: " + copilot_cmd.describe(login).strip())
    raise typer.Exit(0 if st.running and st.healthy else 1)


def _print_compose_status(env: str, st: ComposeStatus, as_json: bool) -> None:
    if as_json:
        services = [
            {
                "service": s.name,
                "state": s.state,
                "health": s.health,
                "exit_code": s.exit_code,
                "ports": list(s.ports),
            }
            for s in st.services
        ]
        doc = {
            "project": st.project,
            "healthy": st.healthy,
            "running": st.running,
            "compose_file": str(st.compose_file),
            "services": services,
        }
        print(json.dumps(doc, indent=2, sort_keys=True))
    else:
        console.print(_compose_text(env, st))


def _compose_text(env: str, st: ComposeStatus) -> str:
    if not st.services:
        return f"{env}: not running (compose project {st.project})"
    lines = [f"{env}: compose project {st.project}"]
    for s in st.services:
        mark = "[green]ok[/green]" if s.ok else "[red]!![/red]"
        health = s.health or "no healthcheck"
        ports = ("  " + ", ".join(s.ports)) if s.ports else ""
        lines.append(f"  {mark} {s.name:<14} {s.state:<10} {health}{ports}")
    return "\n".join(lines)


def _status_dict(st: RuntimeStatus) -> dict[str, object]:
    return {
        "running": st.running,
        "healthy": st.healthy,
        "pid": st.pid,
        "url": st.url,
        "uptime_s": st.uptime_s,
        "started_at": st.started_at,
        "log": str(st.log_path),
        "server": st.server,
        "workers": st.workers,
        "note": st.note,
    }


def _status_text(env: str, st: RuntimeStatus) -> str:
    if not st.running:
        note = f" ({st.note})" if st.note and st.note != "not running" else ""
        return f"{env}: not running{note}"
    health = (
        "[green]healthy[/green]" if st.healthy else "[red]not answering /health/liveliness[/red]"
    )
    uptime = f"{st.uptime_s:.0f}s" if st.uptime_s is not None else "?"
    if st.note:
        health += f" ({st.note})"
    return (
        f"{env}: running, {health}\n  pid {st.pid}  url {st.url}  up {uptime}  "
        f"{st.server} x{st.workers}\n  log {st.log_path}"
    )


def logs(
    env: EnvName = "dev",
    configs: ConfigsOpt = DEFAULT_CONFIGS,
    lines: Annotated[int, typer.Option("--lines", "-n", help="how many lines from the end")] = 50,
    service: Annotated[
        str | None,
        typer.Option(
            "--service", "-s", help="compose: one service (litellm, db, mlflow, nginx...)"
        ),
    ] = None,
) -> None:
    """Print the last lines of an environment's proxy log (compose: of each service).

    Example: llmproxy-ops logs --env dev -n 100
    """
    _, runtime = runtime_for(target(env, configs))
    if isinstance(runtime, ComposeRuntime):
        found = runtime.logs(lines, service)
    else:
        found = runtime.logs(lines)
    for line in found:
        console.out(line, highlight=False)
