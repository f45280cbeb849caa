"""The offline images (scripts/build-images-offline.sh) exist and their programs run."""

from __future__ import annotations

import subprocess
import time
import uuid
from collections.abc import Iterator

import pytest

pytestmark = pytest.mark.stack

BUILD_HINT = "build them with: scripts/build-images-offline.sh"
ENGINE_HINT = "the Docker engine is not reachable; run scripts/provision-docker.sh (as root)"
LITELLM = "llmproxy-ops/litellm:1.108.7"
POSTGRES = "llmproxy-ops/postgres:15"
IMAGES = [
    "llmproxy-ops/debian:bookworm",
    "llmproxy-ops/python:bookworm",
    LITELLM,
    "llmproxy-ops/mlflow:3.17.2",
    POSTGRES,
    "llmproxy-ops/nginx:1.22",
    "llmproxy-ops/redis:7.0",
    "llmproxy-ops/prometheus:2.42",
    "llmproxy-ops/fake-provider:latest",
]


def docker(*args: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    """Run the docker CLI; never raises on a non-zero exit."""
    return subprocess.run(
        ["docker", *args], capture_output=True, text=True, timeout=timeout, check=False
    )


@pytest.fixture(scope="module", autouse=True)
def engine() -> None:
    """CI provides the engine: a missing one is a failure, never a skip."""
    try:
        info = docker("info", "--format", "{{.ServerVersion}}", timeout=30)
    except FileNotFoundError:
        pytest.fail(f"docker CLI not found; {ENGINE_HINT}")
    if info.returncode != 0 or not info.stdout.strip():
        pytest.fail(f"{ENGINE_HINT}\n{info.stderr.strip()}")


@pytest.mark.parametrize("image", IMAGES)
def test_image_is_present(image: str) -> None:
    result = docker("image", "inspect", "--format", "{{.Id}}", image)
    assert result.returncode == 0, f"image {image} is missing; {BUILD_HINT}"


@pytest.mark.parametrize(
    ("image", "command", "expected"),
    [
        (LITELLM, ["litellm", "--version"], "1.108.7"),
        # compose passes only litellm's arguments, as with the official image
        (LITELLM, ["--version"], "1.108.7"),
        ("llmproxy-ops/mlflow:3.17.2", ["mlflow", "--version"], "version 3.17.2"),
        (POSTGRES, ["postgres", "--version"], "postgres (PostgreSQL) 15."),
        (POSTGRES, ["pg_isready", "--version"], "pg_isready (PostgreSQL) 15."),
        ("llmproxy-ops/nginx:1.22", ["nginx", "-v"], "nginx version: nginx/1.22.1"),
        # prometheus is the entrypoint, as in prom/prometheus: compose passes flags only
        ("llmproxy-ops/prometheus:2.42", ["--version"], "prometheus, version 2.42.0"),
        (
            "llmproxy-ops/fake-provider:latest",
            ["python", "-m", "llmproxy_ops.testing.fake_provider", "--help"],
            "usage:",
        ),
    ],
)
def test_main_binary_runs(image: str, command: list[str], expected: str) -> None:
    result = docker("run", "--rm", image, *command)
    output = result.stdout + result.stderr
    assert result.returncode == 0, f"{command} in {image} failed ({BUILD_HINT}):\n{output}"
    assert expected in output


def test_litellm_image_is_offline_ready_and_not_root() -> None:
    result = docker(
        "run", "--rm", LITELLM, "sh", "-c", 'id -un; echo "$LITELLM_LOCAL_MODEL_COST_MAP"; pwd'
    )
    assert result.stdout.split() == ["app", "True", "/app"], result.stderr


@pytest.fixture(scope="module")
def postgres_container(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A throw-away Postgres from the image, with one init script (as compose mounts it)."""
    name = f"llmproxy-ops-test-pg-{uuid.uuid4().hex[:8]}"
    init = tmp_path_factory.mktemp("initdb") / "01-mlflow.sql"
    init.write_text("CREATE DATABASE mlflow;\n", encoding="utf-8")
    init.chmod(0o644)
    created = docker(
        "create", "--name", name,
        "-e", "POSTGRES_USER=ops", "-e", "POSTGRES_PASSWORD=s3cret", "-e", "POSTGRES_DB=litellm",
        POSTGRES,
    )  # fmt: skip
    assert created.returncode == 0, created.stderr
    try:
        copied = docker("cp", str(init), f"{name}:/docker-entrypoint-initdb.d/01-mlflow.sql")
        assert copied.returncode == 0, copied.stderr
        assert docker("start", name).returncode == 0
        yield name
    finally:
        docker("rm", "-f", "-v", name)


def wait_ready(name: str, seconds: float = 60) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        ready = docker("exec", name, "pg_isready", "-h", "127.0.0.1", "-U", "ops", "-d", "litellm")
        if ready.returncode == 0:
            return
        time.sleep(0.5)
    pytest.fail(f"postgres not ready in {seconds} s:\n{docker('logs', name).stderr}")


def test_postgres_entrypoint_creates_dbs_with_password_auth(postgres_container: str) -> None:
    wait_ready(postgres_container)
    query = ["psql", "-h", "127.0.0.1", "-U", "ops", "-d", "litellm", "-tAc"]
    wrong = docker("exec", "-e", "PGPASSWORD=wrong", postgres_container, *query, "select 1")
    assert "password authentication failed" in wrong.stderr
    right = docker(
        "exec", "-e", "PGPASSWORD=s3cret", postgres_container, *query,
        "select current_user, current_database(), current_setting('password_encryption')",
    )  # fmt: skip
    assert right.stdout.strip() == "ops|litellm|scram-sha-256", right.stderr
    listed = docker(
        "exec", postgres_container, "psql", "-U", "ops", "-d", "litellm", "-tAc",
        "select datname from pg_database where datname in ('litellm', 'mlflow') order by 1",
    )  # fmt: skip
    assert listed.stdout.split() == ["litellm", "mlflow"], listed.stderr
    whoami = docker("exec", postgres_container, "id", "-un")
    assert whoami.stdout.strip() == "postgres"


def test_postgres_stops_cleanly(postgres_container: str) -> None:
    wait_ready(postgres_container)
    stopped = docker("stop", "-t", "30", postgres_container)
    assert stopped.returncode == 0, stopped.stderr
    state = docker("inspect", "--format", "{{.State.ExitCode}}", postgres_container)
    assert state.stdout.strip() == "0"
    assert "database system is shut down" in docker("logs", postgres_container).stderr
