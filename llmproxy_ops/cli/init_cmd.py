"""`llmproxy-ops init`: create the env file (mode 0600) with a fresh master key, and with
`--env` every other secret that environment's own services need."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from llmproxy_ops.cli.options import ConfigsOpt, EnvOpt, target
from llmproxy_ops.cli.output import console
from llmproxy_ops.envfile import MASTER_KEY_VAR
from llmproxy_ops.ops.init_env import InitResult, add_stack_secrets, init_env_file, stack_secrets
from llmproxy_ops.pipeline import DEFAULT_CONFIGS, env_file_of, load_target


def init(
    env: EnvOpt = None,
    configs: ConfigsOpt = DEFAULT_CONFIGS,
    env_file: Annotated[Path | None, typer.Option(
        "--env-file", help="where to create it (default: .env, or the environment's "
        "stack.env_file)")] = None,
) -> None:
    """Create the env file with a fresh master key, or add the key an existing file lacks;
    with --env, also generate the stack's other secrets it lacks (POSTGRES_PASSWORD,
    REDIS_PASSWORD, LITELLM_SALT_KEY, as the environment needs them). A value that is set is
    never replaced, and no value is printed.

    Refuses while a proxy started with the old key is running (the new key would not match).

    Example: llmproxy-ops init --env prod
    """
    spec = load_target(target(env, configs)) if env else None
    path = env_file or (env_file_of(spec, target(env, configs)) if spec else Path(".env"))
    result = init_env_file(path)
    if result is InitResult.CREATED:
        console.print(f"created {path} (mode 0600) with a new {MASTER_KEY_VAR}")
    elif result is InitResult.KEY_ADDED:
        console.print(f"added a new {MASTER_KEY_VAR} to {path} (it had none); other lines kept")
    else:
        console.print(f"{path} exists with a {MASTER_KEY_VAR}; left unchanged")
    if spec is None:
        return
    wanted = stack_secrets(spec)
    added = add_stack_secrets(path, wanted)
    for secret in added:
        console.print(f"added a new {secret.variable} ({secret.why})")
    kept = [s.variable for s in wanted if s not in added]
    if kept:
        console.print(f"{', '.join(kept)}: already set in {path}; left unchanged")
