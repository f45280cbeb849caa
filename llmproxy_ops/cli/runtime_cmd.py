"""`llmproxy-ops up|down|status|logs`: the proxy of an environment, on its runtime."""

from __future__ import annotations

import json
import sys
import time
from typing import Annotated

import typer

from llmproxy_ops.cli import copilot_cmd
from llmproxy_ops.cli.options import ConfigsOpt, EnvFileOpt, EnvName, Format, FormatOpt, target
from llmproxy_ops.cli.output import console, print_findings
from llmproxy_ops.errors import RuntimeStateError, UsageError
from llmproxy_ops.ops import traffic
from llmproxy_ops.ops.apply.deploy import with_build
from llmproxy_ops.pipeline import DEFAULT_CONFIGS, Target, env_file_of, runtime_for, start_target
from llmproxy_ops.render.env_manifest import master_key_var
from llmproxy_ops.runtime.api import Runtime, Status
from llmproxy_ops.spec.model import Spec
from llmproxy_ops.targets.registry import target_named

WATCH_SPAN_S = 60.0  # --watch: rates over the last minute


def up(
    env: EnvName = "dev", configs: ConfigsOpt = DEFAULT_CONFIGS, env_file: EnvFileOpt = None
) -> None:
    """Validate, render and start an environment's proxy in the background.

    A running environment is changed with `apply`, not `up`.
    Example: llmproxy-ops up --env dev
    """
    tgt = target(env, configs, env_file)
    validated, rendered, status = start_target(tgt)
    print_findings(validated.result.warnings, console)
    healthy_in = f"{status.time_to_healthy_s or 0:.1f}s"
    console.print(f"[green]up[/green]: {env} on {status.kind}, healthy in {healthy_in}")
    console.out(status.as_text(), highlight=False)
    spec = validated.spec
    key_var = master_key_var(spec)
    key_file = env_file_of(spec, tgt)
    model = (spec.model_groups() or ["MODEL"])[0]
    console.print(f"  key:    {key_var} in {key_file} (never printed)")
    console.print(f"  config: {rendered.out_dir}/config.yaml   logs: llmproxy-ops logs --env {env}")
    console.print("  try it:")
    console.out(_curl(status.url or "", key_var, str(key_file), model), highlight=False)
    console.print(
        "  add a real provider: add its fragment (e.g. ../providers/anthropic.yaml) to the "
        f"layers in {configs}/environments/{env}.yaml, put its key (ANTHROPIC_API_KEY=...) "
        f"in {key_file}, then `llmproxy-ops apply --env {env}` (see README)."
    )


def _curl(url: str, key_var: str, key_file: str, model: str) -> str:
    # The header goes in on stdin (`-H @-`): in `-H "...$(sed ...)"` the shell would put the
    # key into curl's argv, which every user of the machine can read (ps, /proc).
    body = json.dumps({"model": model, "messages": [{"role": "user", "content": "Hello!"}]})
    return (
        f"    sed -n 's/^{key_var}=/Authorization: Bearer /p' {key_file} | \\\n"
        f"      curl {url}/v1/chat/completions -H @- \\\n"
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
    if volumes and target_named(runtime.kind).has_volumes:  # the others have no volumes
        _confirm_volumes(env, yes)
    result = runtime.stop(grace=grace, volumes=volumes)
    console.print(result.message)


def _confirm_volumes(env: str, yes: bool) -> None:
    """Deleting volumes deletes the database: needs --yes, or a yes at an interactive prompt."""
    if yes:
        return
    if not sys.stdin.isatty():
        raise UsageError(
            "--volumes deletes the database and MLflow data; refusing without --yes",
            hint="add --yes to confirm, or run it in a terminal to be asked",
        )
    if not typer.confirm(f"delete the volumes (database, MLflow artifacts) of {env}?"):
        raise UsageError("not confirmed; nothing was stopped or deleted")


def status(
    env: EnvName = "dev",
    configs: ConfigsOpt = DEFAULT_CONFIGS,
    fmt: FormatOpt = Format.text,
    as_json: Annotated[bool, typer.Option("--json", hidden=True, help="--format json")] = False,
    window: Annotated[float, typer.Option(
        "--window", min=0, help="with stack.metrics: traffic rates over this many seconds "
        "(two scrapes); 0: counts since the proxy started")] = 0.0,
    watch: Annotated[bool, typer.Option(
        "--watch", help="refresh every --interval seconds like top, traffic over the last "
        "minute (Ctrl-C ends it)")] = False,
    interval: Annotated[float, typer.Option("--interval", min=0.5, help="--watch refresh")] = 2.0,
) -> None:
    """Show health, url, build, uptime and restarts; exit 1 when not running or not healthy.

    With stack.metrics on it also shows traffic per model group (requests, error %, p50/p99
    latency, tokens) from the proxies' own /metrics. It says when the configs render something
    else than the running build. The JSON document has the same shape on every runtime.
    Example: llmproxy-ops status --env dev --format json
    """
    tgt = target(env, configs)
    spec, runtime = runtime_for(tgt)
    if watch:
        _watch(spec, tgt, runtime, interval, fmt is Format.json or as_json)
        return
    st = with_build(spec, tgt, runtime.status())
    figures = (_traffic(spec, tgt, st, window, runtime) if spec.stack.metrics and st.running
               else None)
    login = copilot_cmd.status_login(spec)
    if as_json or fmt is Format.json:
        doc = st.as_dict()
        # always there, so the document keeps one shape: null without stack.metrics
        doc["traffic"] = figures[0] if figures is not None else None
        if login is not None:
            doc["copilot"] = login if isinstance(login, dict) else copilot_cmd.login_dict(login)
        print(json.dumps(doc, indent=2, sort_keys=True))
    else:
        console.out(st.as_text(), highlight=False)
        if figures is not None:
            console.out(figures[1], highlight=False)
        if isinstance(login, dict):
            console.print(f"  copilot: login state unknown ({login['unknown']})", highlight=False)
        elif login is not None:
            console.print("  copilot: " + copilot_cmd.describe(login).strip(), highlight=False)
    raise typer.Exit(0 if st.running and st.healthy else 1)


def _traffic(spec: Spec, tgt: Target, st: Status, window: float,
             runtime: Runtime) -> tuple[dict, str]:
    """(JSON, text) of the traffic figures; a proxy that cannot be scraped is said, not fatal:
    status still reports its health."""
    try:
        first = traffic.environment_sample(spec, tgt, st, runtime=runtime)
        earlier, later = (None, first)
        if window:
            time.sleep(window)
            earlier, later = first, traffic.environment_sample(spec, tgt, st, runtime=runtime)
    except (RuntimeStateError, UsageError) as exc:
        return {"error": str(exc)}, f"  traffic: unavailable ({exc})"
    if earlier is not None and later.at <= earlier.at:
        earlier = None  # the stack's Prometheus took no new scrape in the window: since start
    got = traffic.traffic(later, earlier)
    span = later.at - earlier.at if earlier else None
    return (traffic.as_dict(got, later.replicas, span),
            traffic.as_text(got, later.replicas, span))


def _watch(spec: Spec, tgt: Target, runtime: Runtime, interval: float, as_json: bool) -> None:
    """Like top: status and the traffic over the last minute, redrawn every `interval`."""
    traffic.require_metrics(spec)
    key = traffic.master_key(spec, tgt)  # read once, not at every refresh
    drifts: dict[str | None, str | None] = {}  # per running build: the spec stays the same
    samples: list[traffic.Sample] = []
    try:
        while True:
            st = with_build(spec, tgt, runtime.status(), known_drift=drifts)
            try:
                sample = traffic.environment_sample(spec, tgt, st, key, runtime)
                if not samples or sample.at != samples[-1].at:  # Prometheus: a new scrape
                    samples.append(sample)
                error = None
            except RuntimeStateError as exc:
                error = str(exc)
            samples = [s for s in samples if samples[-1].at - s.at <= WATCH_SPAN_S]
            earlier = samples[0] if len(samples) > 1 else None
            got = traffic.traffic(samples[-1], earlier) if samples and not error else []
            span = samples[-1].at - earlier.at if earlier else None
            replicas = samples[-1].replicas if samples else 0
            if as_json:  # one document per line: a stream another tool can read
                print(json.dumps({**st.as_dict(), "traffic": {"error": error} if error else
                                  traffic.as_dict(got, replicas, span)}, sort_keys=True),
                      flush=True)
            else:
                console.clear()
                console.out(st.as_text(), highlight=False)
                console.out(f"  traffic: unavailable ({error})" if error else
                            traffic.as_text(got, replicas, span), highlight=False)
                console.print(f"  refreshed every {interval:g} s; Ctrl-C ends it",
                              style="dim", highlight=False)
            time.sleep(interval)
    except KeyboardInterrupt:
        return


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
    found = runtime.logs(lines, service)
    for line in found:
        console.out(line, highlight=False)
