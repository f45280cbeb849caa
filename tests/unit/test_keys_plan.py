"""Rotation plans for each runtime shape, refused variables, and the salt-key check."""

from __future__ import annotations

from pathlib import Path

import pytest

from llmproxy_ops.errors import UsageError
from llmproxy_ops.ops.keys.plan import (
    SALT_KEY_REFUSAL,
    groups_using,
    plan_rotation,
)
from llmproxy_ops.ops.keys.rotate import RotateRequest, rotate_master, rotate_provider
from llmproxy_ops.pipeline import Target
from llmproxy_ops.spec import load_environment
from llmproxy_ops.targets.compose.rotation import SINGLE_REPLICA_GAP, SURGE_GAP
from llmproxy_ops.targets.local.rotation import LOCAL_GAP
from llmproxy_ops.targets.swarm.rotation import SWARM_GAP
from llmproxy_ops.validate.checks.salt_key import check_salt_key
from llmproxy_ops.validate.context import CheckContext

BASE = """\
general_settings: {master_key: os.environ/LITELLM_MASTER_KEY}
model_list:
  - model_name: claude
    litellm_params: {model: anthropic/claude-sonnet-4-5, api_key: os.environ/ANTHROPIC_API_KEY}
  - model_name: claude
    litellm_params: {model: anthropic/claude-haiku-4-5, api_key: os.environ/ANTHROPIC_API_KEY}
  - model_name: gpt
    litellm_params: {model: openai/gpt-4o-mini, api_key: os.environ/OPENAI_API_KEY}
stack: {port: 4123}
"""


def env_with(write, stack: str) -> Path:  # noqa: ANN001
    write("configs/base.yaml", BASE)
    write("configs/environments/x.yaml", f"layers: [../base.yaml]\nstack:\n{stack}")
    return Path("configs")


def compose_stack(replicas: int, nginx: bool = True, use_db: bool = False) -> str:
    return (
        "  runtime: compose\n  compose:\n"
        f"    litellm: {{replicas: {replicas}, use_db: {str(use_db).lower()}}}\n"
        f"    nginx: {{enabled: {str(nginx).lower()}}}\n"
    )


def test_local_plan_rolls_without_a_gap(write, in_tmp) -> None:  # noqa: ANN001
    spec = load_environment(env_with(write, "  runtime: local\n"), "x")
    plan = plan_rotation(spec, kind="master", variable="LITELLM_MASTER_KEY", env_file=Path(".env"))
    assert (plan.runtime, plan.replicas, plan.gap_expected) == ("local", ("litellm",), False)
    assert plan.gap_note == LOCAL_GAP
    assert plan.steps == (
        "back up .env to .env.bak-<UTC time> (mode 0600)",
        "write a new LITELLM_MASTER_KEY (sk- + 32 random bytes, URL-safe) to .env (0600)",
        "validate and render a new build, start it beside the running litellm on 127.0.0.1:4123, "
        "smoke-test it on its own port, steer new connections to it and drain the old one "
        "(llmproxy-ops apply's rollout)",
        "verify on every replica (litellm): the new key is accepted, the old one rejected",
        "on any failure: restore the backup, restart the same way, say so and exit 1",
    )


def test_compose_one_replica_behind_nginx_surges(write, in_tmp) -> None:  # noqa: ANN001
    spec = load_environment(env_with(write, compose_stack(1)), "x")
    plan = plan_rotation(spec, kind="master", variable="LITELLM_MASTER_KEY", env_file=Path(".env"))
    assert plan.replicas == ("litellm",) and not plan.gap_expected
    assert plan.gap_note == SURGE_GAP
    assert plan.steps[2:5] == (
        "start a second litellm container from the new build (docker compose up -d --no-deps "
        "--no-recreate --scale litellm=2 --wait) and check it on its own",
        "rewrite nginx's upstream (old container down, new one up), reload, and let the old one "
        "drain (up to stack.drain_timeout, 60 s)",
        "remove the old litellm container; nginx back on its rendered upstream",
    )


def test_compose_one_replica_without_nginx_has_a_gap(write, in_tmp) -> None:  # noqa: ANN001
    spec = load_environment(env_with(write, compose_stack(1, nginx=False)), "x")
    plan = plan_rotation(spec, kind="master", variable="LITELLM_MASTER_KEY", env_file=Path(".env"))
    assert plan.gap_expected and plan.gap_note == SINGLE_REPLICA_GAP
    assert plan.steps[2] == (
        "recreate litellm (docker compose up -d --no-deps --force-recreate --wait litellm) "
        "and wait until it is healthy"
    )


def test_compose_two_replicas_roll_one_at_a_time(write, in_tmp) -> None:  # noqa: ANN001
    spec = load_environment(env_with(write, compose_stack(2)), "x")
    plan = plan_rotation(spec, kind="master", variable="LITELLM_MASTER_KEY", env_file=Path(".env"))
    assert plan.replicas == ("litellm-1", "litellm-2") and not plan.gap_expected
    assert plan.gap_note == (
        "no gap expected: 2 replicas are replaced one at a time and nginx "
        "keeps 1 healthy upstream(s) throughout"
    )
    assert plan.steps[2:8] == (
        "check litellm-2 healthy, then mark litellm-1 down in nginx's upstream, reload, and let "
        "its requests and streams drain",
        "recreate litellm-1 (docker compose up -d --no-deps --force-recreate --wait litellm-1) "
        "and wait until it is healthy",
        "put litellm-1 back in nginx's upstream (reload)",
        "check litellm-1 healthy, then mark litellm-2 down in nginx's upstream, reload, and let "
        "its requests and streams drain",
        "recreate litellm-2 (docker compose up -d --no-deps --force-recreate --wait litellm-2) "
        "and wait until it is healthy",
        "put litellm-2 back in nginx's upstream (reload)",
    )
    assert plan.steps[8] == (
        "verify on every replica (litellm-1, litellm-2): the new key is "
        "accepted, the old one rejected"
    )


def test_compose_replicas_without_nginx_have_a_per_port_gap(write, in_tmp) -> None:  # noqa: ANN001
    spec = load_environment(env_with(write, compose_stack(2, nginx=False)), "x")
    plan = plan_rotation(spec, kind="master", variable="LITELLM_MASTER_KEY", env_file=Path(".env"))
    assert plan.gap_expected and "no nginx" in plan.gap_note
    assert not any("nginx" in s and "reload" in s for s in plan.steps)


def test_swarm_plan_is_swarms_rolling_update_not_the_local_rollout(write, in_tmp) -> None:  # noqa: ANN001
    stack = compose_stack(2).replace("runtime: compose", "runtime: swarm")
    spec = load_environment(env_with(write, stack), "x")
    plan = plan_rotation(spec, kind="master", variable="LITELLM_MASTER_KEY", env_file=Path(".env"))
    assert (plan.runtime, plan.replicas) == ("swarm", ("litellm.1", "litellm.2"))
    assert not plan.gap_expected and plan.gap_note == SWARM_GAP
    assert plan.steps[2:4] == (
        "validate and render a new build; docker stack deploy with new versions of the changed "
        "secrets: Swarm replaces the 2 litellm task(s) one at a time, start-first, each gated "
        "by its health check, rolling back by itself on failure",
        "wait until the replaced tasks drained and exited (up to their stop_grace_period)",
    )
    assert not any("127.0.0.1:4123" in step for step in plan.steps)  # no local process


@pytest.mark.parametrize("runtime", ["compose", "swarm"])
def test_master_plan_says_the_stacks_prometheus_meets_401s_while_replicas_roll(
        write, in_tmp, runtime: str) -> None:  # noqa: ANN001
    """Measured on swarm (2 tasks): its scrapes of the tasks holding the other key answered
    401 for about 70 s and LiteLLMProxyDown fired for one; the plan says so before."""
    stack = compose_stack(2).replace("runtime: compose", f"runtime: {runtime}")
    plain = load_environment(env_with(write, stack), "x")
    metrics = load_environment(env_with(write, stack + "  metrics: true\n"), "x")
    said = [s for s in plan_rotation(metrics, kind="master", variable="LITELLM_MASTER_KEY",
                                     env_file=Path(".env")).steps if "LiteLLMProxyDown" in s]
    assert len(said) == 1 and "401" in said[0]
    write("configs/environments/l.yaml", "layers: [../base.yaml]\nstack: {metrics: true}\n")
    local = load_environment(Path("configs"), "l")  # it scrapes per request, with the new key
    for spec, kind, variable in ((plain, "master", "LITELLM_MASTER_KEY"),
                                 (metrics, "provider", "OPENAI_API_KEY"),
                                 (local, "master", "LITELLM_MASTER_KEY")):
        steps = plan_rotation(spec, kind=kind, variable=variable, env_file=Path(".env")).steps
        assert not [s for s in steps if "Prometheus" in s], (kind, steps)


def test_provider_plan_names_exactly_the_groups_using_the_variable(write, in_tmp) -> None:  # noqa: ANN001
    spec = load_environment(env_with(write, "  runtime: local\n"), "x")
    assert groups_using(spec, "ANTHROPIC_API_KEY") == ("claude",)
    assert groups_using(spec, "OPENAI_API_KEY") == ("gpt",)
    plan = plan_rotation(spec, kind="provider", variable="OPENAI_API_KEY", env_file=Path(".env"))
    assert plan.model_groups == ("gpt",)
    assert plan.steps[3] == (
        "smoke-test the groups that use OPENAI_API_KEY (gpt) on every "
        "replica (litellm), without rate-limit checks"
    )


def test_dry_run_changes_nothing(write, in_tmp) -> None:  # noqa: ANN001
    env_with(write, "  runtime: local\n")
    Path(".env").write_text("LITELLM_MASTER_KEY=sk-old\n")
    result = rotate_master(RotateRequest(Target(env="x"), dry_run=True))
    assert result.dry_run and result.ok and result.steps == [] and result.backup is None
    assert Path(".env").read_text() == "LITELLM_MASTER_KEY=sk-old\n"
    assert not list(Path().glob(".env.bak-*"))


@pytest.mark.parametrize(
    ("var", "message", "hint"),
    [
        (
            "LITELLM_SALT_KEY",
            SALT_KEY_REFUSAL,
            "keep it unchanged for the life of the database (back it up with the env file)",
        ),
        (
            "LITELLM_MASTER_KEY",
            "LITELLM_MASTER_KEY is the master key",
            "rotate it with: llmproxy-ops keys rotate master",
        ),
        (
            "GEMINI_API_KEY",
            "GEMINI_API_KEY is not referenced by environment 'x'",
            "variables it reads (os.environ/...): ANTHROPIC_API_KEY, OPENAI_API_KEY",
        ),
    ],
)
def test_provider_rotation_refuses(write, in_tmp, var, message, hint) -> None:  # noqa: ANN001
    env_with(write, "  runtime: local\n")
    Path(".env").write_text("LITELLM_MASTER_KEY=sk-old\n")
    with pytest.raises(UsageError) as err:
        rotate_provider(RotateRequest(Target(env="x"), variable=var, value="new-value-123"))
    assert (err.value.message, err.value.hint, err.value.exit_code) == (message, hint, 2)
    assert Path(".env").read_text() == "LITELLM_MASTER_KEY=sk-old\n"


def test_salt_key_refusal_explains_why() -> None:
    assert SALT_KEY_REFUSAL == (
        "LITELLM_SALT_KEY cannot be rotated: LiteLLM encrypts the credentials it stores in its "
        "database (model keys added through the API or UI, virtual-key secrets) with it, and a "
        "new salt key makes every one of them unreadable"
    )


# ---- check_salt_key ----------------------------------------------------------------------

GOOD_SALT = "q3VxJ8r2LmZ0pW7tNc4YbH1s"


def salt_findings(write, stack: str, env: dict[str, str] | None) -> list[tuple[str, str]]:  # noqa: ANN001
    spec = load_environment(env_with(write, stack), "x")
    return [(f.severity.value, f.code) for f in check_salt_key(CheckContext(spec, env=env))]


@pytest.mark.parametrize("runtime", ["compose", "swarm"])  # the same use_db on both
def test_salt_key_required_when_litellm_uses_the_db(write, in_tmp, runtime) -> None:  # noqa: ANN001
    stack = compose_stack(1, use_db=True).replace("runtime: compose", f"runtime: {runtime}")
    assert salt_findings(write, stack, {}) == [("error", "salt-key-missing")]
    assert salt_findings(write, stack, {"LITELLM_SALT_KEY": GOOD_SALT}) == []
    assert salt_findings(write, stack, None) == []  # env checks off


@pytest.mark.parametrize(
    "value", ["changeme-changeme-123", "your-salt-key-here", "k3Zp9", "aaaaaaaaaaaaaaaaaaaa"]
)
def test_placeholder_salt_keys_are_errors(write, in_tmp, value) -> None:  # noqa: ANN001
    stack = compose_stack(1, use_db=True)
    spec = load_environment(env_with(write, stack), "x")
    found = list(check_salt_key(CheckContext(spec, env={"LITELLM_SALT_KEY": value})))
    assert [(f.severity.value, f.code) for f in found] == [("error", "salt-key-placeholder")]
    assert value not in found[0].message + (found[0].hint or "")


def test_no_salt_key_needed_without_a_db(write, in_tmp) -> None:  # noqa: ANN001
    assert salt_findings(write, compose_stack(1, use_db=False), {}) == []
    assert salt_findings(write, "  runtime: local\n", {}) == []


def test_local_runtime_with_database_url_needs_a_salt_key(write, in_tmp) -> None:  # noqa: ANN001
    env = {"DATABASE_URL": "postgresql://u:p@127.0.0.1:5432/litellm"}
    assert salt_findings(write, "  runtime: local\n", env) == [("error", "salt-key-missing")]


def test_database_url_must_fit_the_db_service(write, in_tmp) -> None:  # noqa: ANN001
    env = {"LITELLM_SALT_KEY": GOOD_SALT, "DATABASE_URL": "postgresql://u:p@elsewhere:5432/x"}
    stack = compose_stack(1, use_db=True) + "    db: {enabled: false}\n"
    assert salt_findings(write, stack, env) == [
        ("error", "litellm-db-disabled"),
        ("warning", "litellm-db-url-ignored"),
    ]
    env["DATABASE_URL"] = "postgresql://u:p@db:5432/litellm"
    assert salt_findings(write, compose_stack(1, use_db=True), env) == []
