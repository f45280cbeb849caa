"""Findings 4, 15 and 16 on the shipped production environment, through `docker compose
config` (no container started): each service gets only its own secrets, as files; no value
in build/, argv or the config output; services run unprivileged; MLflow is not published."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

from llmproxy_ops.pipeline import Target, build_of, render_target
from llmproxy_ops.targets.compose.runtime import ComposeEnvRuntime
from tests.conftest import REPO

SECRETS = {
    "LITELLM_MASTER_KEY": "sk-MASTER9vQz2LkT7wXe4RbN8yHc3JmP6sDf1GuA",
    "LITELLM_SALT_KEY": "SALTsecretZZ2222bbbbbbbbbbbbbbbbbbbbb",
    "POSTGRES_PASSWORD": "PGsecretZZ3333ccccccccccccc",
    "REDIS_PASSWORD": "REDISsecretZZ4444dddddddddd",
    "ANTHROPIC_API_KEY": "sk-ant-ANTsecretZZ5555eeeeeeeeeeeee",
    "OPENAI_API_KEY": "sk-OAIsecretZZ6666fffffffffffffff",
    "UNUSED_TOKEN": "UNUSEDsecretZZ7777ggggggggggg",  # in .env, needed by no service
}
OWN = {
    "db": ["POSTGRES_PASSWORD"],
    "mlflow": ["POSTGRES_PASSWORD"],
    "redis": ["REDIS_PASSWORD"],
    "litellm": ["ANTHROPIC_API_KEY", "LITELLM_MASTER_KEY", "LITELLM_SALT_KEY", "OPENAI_API_KEY",
                "POSTGRES_PASSWORD", "REDIS_PASSWORD"],
    "nginx": [],
}


@pytest.fixture
def prod(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    shutil.copytree(REPO / "configs", tmp_path / "configs")
    (tmp_path / ".env").write_text("".join(f"{k}={v}\n" for k, v in SECRETS.items()))
    (tmp_path / ".env").chmod(0o600)
    shutil.copy(REPO / ".env.example", tmp_path / ".env.example")
    monkeypatch.chdir(tmp_path)
    for name in SECRETS:
        monkeypatch.delenv(name, raising=False)
    return tmp_path


def _render(project: Path):  # noqa: ANN202
    target = Target(env="prod")
    validated, rendered = render_target(target)
    build = build_of(validated, rendered, target)
    return validated.spec, rendered.out_dir, build


def secret_environment(compose_file: Path, values: dict[str, str]) -> dict[str, str]:
    from llmproxy_ops.targets.compose.project import secret_environment as of_file

    return of_file(compose_file, values)


def _config(out_dir: Path, env: dict[str, str]) -> str:
    proc = subprocess.run(
        ["docker", "compose", "-f", str(out_dir / "docker-compose.yml"), "config"],
        capture_output=True, text=True, timeout=120, check=True,
        env={**os.environ, **env})
    return proc.stdout


def test_finding_04_each_service_gets_only_its_own_secrets_as_files(prod: Path) -> None:
    spec, out_dir, build = _render(prod)
    for path in out_dir.iterdir():  # no value in build/
        text = path.read_text()
        assert [k for k, v in SECRETS.items() if v in text] == [], path.name
    # what `up` would run with: the runtime's compose command and its environment
    compose = ComposeEnvRuntime(spec, tuple(SECRETS.values()))._for(build)  # noqa: SLF001
    env = getattr(compose, "secret_env", {})
    assert env == {k: v for k, v in SECRETS.items() if k != "UNUSED_TOKEN"}
    assert [k for k, v in SECRETS.items() if v in " ".join(compose.base_command())] == []
    shown = _config(out_dir, env)
    assert [k for k, v in SECRETS.items() if v in shown] == []
    services = yaml.safe_load(shown)["services"]
    got = {n: sorted(s["source"] for s in svc.get("secrets", [])) for n, svc in services.items()}
    assert got == OWN
    for name, svc in services.items():  # the env file reaches no container
        assert "env_file" not in svc, name
        assert not set(svc.get("environment") or {}) & set(SECRETS), name
    assert yaml.safe_load(shown)["secrets"]["POSTGRES_PASSWORD"]["environment"] == (
        "POSTGRES_PASSWORD")


def test_finding_15_services_run_unprivileged(prod: Path) -> None:
    _, out_dir, build = _render(prod)
    services = yaml.safe_load(_config(out_dir, secret_environment(
        out_dir / "docker-compose.yml", build.env)))["services"]
    users = {n: s.get("user") for n, s in services.items()}
    assert users == {"db": "postgres", "mlflow": "10001:10001", "redis": "redis",
                     "litellm": "10001:10001", "nginx": None}  # nginx: its master binds 443
    assert {n for n, s in services.items() if s.get("cap_add")} == {"nginx"}


def test_finding_16_mlflow_is_not_published_without_asking(prod: Path, cli) -> None:  # noqa: ANN001
    _, out_dir, build = _render(prod)
    env = secret_environment(out_dir / "docker-compose.yml", build.env)
    assert "ports" not in yaml.safe_load(_config(out_dir, env))["services"]["mlflow"]
    layer = prod / "configs/environments/prod.yaml"
    layer.write_text(layer.read_text() + "    mlflow: {port: 5001}\n")
    result = cli("validate", "config", "--no-litellm-load", "--env", "prod")
    assert ("warning[mlflow-published] stack.compose.mlflow.port: MLflow is published on "
            "127.0.0.1:5001 without authentication") in " ".join(result.output.split())
