"""Which container gets which secret, and how it turns its secret files into variables.

Compose and Swarm give each service only its own secrets, as files in /run/secrets: Swarm as
Docker secrets, compose through top-level `secrets:` read from the environment of the
`docker compose` process (the runtime fills it from the env file: targets/compose/project.py). No
container gets the whole env file, and no value is in a rendered file, in argv or in the
output of `docker compose config` (it shows the variable's name). The container's shell
exports the files as variables of the same name, then runs the real command.
"""

from __future__ import annotations

from typing import Any

from llmproxy_ops.render.env_manifest import env_references, master_key_var
from llmproxy_ops.render.stack_redis import PASSWORD_VAR, uses_service_redis
from llmproxy_ops.spec.model import Spec

SECRETS_DIR = "/run/secrets"
POSTGRES_PASSWORD_VAR, SALT_KEY_VAR = "POSTGRES_PASSWORD", "LITELLM_SALT_KEY"
REDIS_PASSWORD_VAR = PASSWORD_VAR

# Exports every mounted secret as a variable of the same name (shell variables: not in
# argv, not in the container's config). `$$`: compose and `docker stack deploy` interpolate
# `$`; the shell inside the container sees `$`.
EXPORT_SECRETS = (
    f'for f in {SECRETS_DIR}/*; do [ -f "$$f" ] && export "$${{f##*/}}=$$(cat "$$f")"; done; '
)


def secret_vars(spec: Spec, config: dict[str, Any]) -> dict[str, list[str]]:
    """Service → the variables it gets as secrets (LiteLLM: every os.environ/ of its config)."""
    cs = spec.stack.compose(spec.name)
    litellm = {name for name, _ in env_references(config)}
    if cs.use_db:
        litellm |= {POSTGRES_PASSWORD_VAR, SALT_KEY_VAR}
    out = {"litellm": sorted(litellm)}
    if cs.db.enabled:
        out["db"] = [POSTGRES_PASSWORD_VAR]
    if cs.mlflow.enabled:
        out["mlflow"] = [POSTGRES_PASSWORD_VAR]
    if uses_service_redis(config):
        out["redis"] = [REDIS_PASSWORD_VAR]
    if runs_prometheus(spec):  # it sends the master key to each replica's /metrics
        out["prometheus"] = [master_key_var(spec)]
    return out


def runs_prometheus(spec: Spec) -> bool:
    """The stack runs its own Prometheus: metrics on and its service not turned off."""
    return spec.stack.metrics and spec.stack.compose(spec.name).prometheus.enabled
