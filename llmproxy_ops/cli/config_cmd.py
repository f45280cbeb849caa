"""`llmproxy-ops config show|diff`: the merged result and what differs between environments."""

from __future__ import annotations

from typing import Annotated

import typer

from llmproxy_ops.cli.boundary import GuardedTyper
from llmproxy_ops.cli.options import ConfigsOpt, EnvName, target
from llmproxy_ops.cli.output import console
from llmproxy_ops.pipeline import DEFAULT_CONFIGS, load_target
from llmproxy_ops.spec.show import annotated_yaml, diff_specs, plain_yaml

app = GuardedTyper(help="Inspect the merged configuration.", no_args_is_help=True)


@app.command("show")
def show(
    env: EnvName,
    configs: ConfigsOpt = DEFAULT_CONFIGS,
    annotate: Annotated[
        bool, typer.Option("--annotate", "-a", help="mark each key with file:line")
    ] = False,
) -> None:
    """Print the merged configuration of an environment.

    Example: llmproxy-ops config show --env dev --annotate
    """
    spec = load_target(target(env, configs))
    text = annotated_yaml(spec) if annotate else plain_yaml(spec)
    console.out(text, end="", highlight=False)


@app.command("diff")
def diff(
    env_a: Annotated[str, typer.Argument(help="first environment")],
    env_b: Annotated[str, typer.Argument(help="second environment")],
    configs: ConfigsOpt = DEFAULT_CONFIGS,
) -> None:
    """Show what differs between two environments' merged configurations.

    Exit codes: 0 no differences, 1 they differ or one cannot be loaded, 2 usage.

    Example: llmproxy-ops config diff dev prod
    """
    spec_a = load_target(target(env_a, configs))
    spec_b = load_target(target(env_b, configs))
    text = diff_specs(spec_a, spec_b)
    console.out(text or f"no differences between {env_a} and {env_b}\n", end="", highlight=False)
    raise typer.Exit(1 if text else 0)
