"""One deployment per target configuration, shared by every scenario that runs on it.

The fixture is module-scoped and parametrized by target, so pytest runs the scenarios of
test_scenarios.py target by target, in file order: start first, `down` last. A target that
cannot run a scenario says why in its declaration (targets.py); the scenario skips with that
reason, which the CI skip guard (tests/conftest.py) accepts.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import nullcontext

import pytest

from tests.conformance.deployment import Deployment
from tests.conformance.targets import DOCKER, LIVE, SWARM, TargetConfig, targets
from tests.conftest import free_port
from tests.swarm_node import swarm_where_possible_of_two

PORTS = {
    "local-2": {"port": free_port()},
    **{f"compose-{n}": {"https": free_port(), "http": free_port(), "mlflow": free_port()}
       for n in (1, 2)},
    "swarm-2": {"https": free_port(), "http": free_port()},
}
TARGETS = targets(PORTS)


def allowed_skip_reasons() -> dict[str, str]:
    """Reason -> where it is declared: the skips the CI guard lets through."""
    where: dict[str, list[str]] = {}
    for t in TARGETS:
        for scenario, reason in t.cannot.items():
            named = "every live scenario" if scenario == LIVE else scenario
            where.setdefault(reason, []).append(f"{t.name}: {named}")
    return {reason: ", ".join(places) for reason, places in where.items()}


@pytest.fixture(scope="module", params=TARGETS, ids=lambda t: t.name)
def deployment(request: pytest.FixtureRequest,
               tmp_path_factory: pytest.TempPathFactory) -> Iterator[Deployment]:
    target: TargetConfig = request.param
    if target.engine in (DOCKER, SWARM):
        request.getfixturevalue("docker_engine")
    d = Deployment.create(target, tmp_path_factory.mktemp(target.name))
    volumes = ["--volumes", "--yes"] if target.engine in (DOCKER, SWARM) else []

    def down() -> None:
        d.env_cli("down", *volumes, check=False)

    engine = (swarm_where_possible_of_two(remove_leftovers=down) if target.engine == SWARM
              else nullcontext(None))
    with engine as nodes:
        if nodes is not None:  # said in the run: how many nodes this machine gave swarm
            print(f"\n[{target.name}] swarm on {nodes}")
        try:
            yield d
        finally:
            down()
