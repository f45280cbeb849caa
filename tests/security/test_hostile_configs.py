"""Findings 6, 18 and 19: a config from a pull request, validated by the CLI in a subprocess
(the CI gate's way), under a time and memory bound."""

from __future__ import annotations

import os
import resource
import subprocess
import sys
import time
from pathlib import Path

import pytest

OPS = Path(sys.executable).parent / "llmproxy-ops"
MEMORY_BOUND = 512 * 2**20  # address space: the CLI itself needs ~60 MB resident
TIME_BOUND_S = 30.0


def _validate(project: Path, env: str) -> tuple[subprocess.CompletedProcess[str], float]:
    """`validate config` in a subprocess whose address space and time are bounded; findings
    and errors are both in .stdout (stderr merged)."""
    def bound() -> None:
        resource.setrlimit(resource.RLIMIT_AS, (MEMORY_BOUND, MEMORY_BOUND))

    started = time.monotonic()
    proc = subprocess.run(
        [str(OPS), "validate", "config", "--no-litellm-load", "--env", env],
        cwd=project, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, timeout=TIME_BOUND_S, preexec_fn=bound,
        env={**os.environ, "COLUMNS": "300"},
    )
    return proc, time.monotonic() - started


@pytest.fixture
def configs(tmp_path: Path) -> Path:
    (tmp_path / "configs" / "environments").mkdir(parents=True)
    (tmp_path / "configs" / "base.yaml").write_text("model_list: []\n")
    return tmp_path / "configs"


def _env(configs: Path, name: str, text: str) -> None:
    (configs / "environments" / f"{name}.yaml").write_text(text)


def test_finding_06_an_alias_bomb_is_a_located_error_within_bounds(configs: Path) -> None:
    lines = ['model_list: []', 'a0: &a0 ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]']
    lines += [f"a{i}: &a{i} [{', '.join([f'*a{i - 1}'] * 9)}]" for i in range(1, 9)]
    _env(configs, "bomb", "\n".join(lines) + "\n")  # ~450 bytes, 9**9 values expanded
    proc, took = _validate(configs.parent, "bomb")
    assert proc.returncode == 1, proc.stdout
    assert ("configs/environments/bomb.yaml:2:52: error: aliases expand to more than 10,000 "
            "extra values (nested aliases multiply: an alias bomb?); refused") in proc.stdout
    assert took < TIME_BOUND_S


def test_finding_06_a_recursive_alias_is_a_located_error(configs: Path) -> None:
    _env(configs, "rec", "model_list: []\na: &a [1, *a]\n")
    proc, _ = _validate(configs.parent, "rec")
    assert proc.returncode == 1, proc.stdout
    assert ("configs/environments/rec.yaml:2:4: error: an alias refers to a value that "
            "contains it (a recursive alias); it would expand forever") in proc.stdout


def test_finding_18_a_symlink_loop_in_layers_is_a_located_error(configs: Path) -> None:
    (configs / "environments" / "loop.yaml").symlink_to("loop.yaml")
    _env(configs, "looped", "layers: [../base.yaml, loop.yaml]\n")
    proc, _ = _validate(configs.parent, "looped")
    assert proc.returncode == 1, proc.stdout
    assert "configs/environments/looped.yaml:1:24: error: 'loop.yaml' is a symlink loop" in (
        proc.stdout)


def test_finding_19_a_layer_outside_the_configs_folder_is_refused(configs: Path) -> None:
    secret = configs.parent / "secret.yaml"
    secret.write_text("model_list: []\nstolen: s3cr3t-value\n")
    _env(configs, "out", "layers: [../../secret.yaml]\n")
    proc, _ = _validate(configs.parent, "out")
    assert proc.returncode == 1
    assert (f"configs/environments/out.yaml:1:10: error: layer 'secret.yaml' resolves to "
            f"{secret}, outside configs; layers and includes must stay inside the configs "
            "folder") in proc.stdout
    assert "s3cr3t-value" not in proc.stdout


def test_finding_19_a_symlink_out_of_the_configs_folder_is_refused(configs: Path) -> None:
    key = configs.parent / "id_rsa"
    key.write_text("-----BEGIN OPENSSH PRIVATE KEY----- s3cr3t\n")
    (configs / "innocent.yaml").symlink_to(key)
    _env(configs, "link", "model_list: []\ninclude: [../innocent.yaml]\n")
    proc, _ = _validate(configs.parent, "link")
    assert proc.returncode == 1
    assert (f"configs/environments/link.yaml:2:11: error[include-unsafe] include: included file "
            f"'../innocent.yaml' resolves to {key}, outside configs; layers and includes must "
            "stay inside the configs folder") in proc.stdout
    assert "s3cr3t" not in proc.stdout


def test_finding_19_size_is_checked_before_reading(configs: Path) -> None:
    huge = configs / "huge.yaml"
    with huge.open("wb") as fh:
        fh.truncate(64 * 2**30)  # sparse: 64 GiB that a read would have to produce
    _env(configs, "big", "layers: [../huge.yaml]\n")
    proc, took = _validate(configs.parent, "big")
    assert proc.returncode == 1, proc.stdout
    assert ("configs/huge.yaml:1:1: error: file is 65536.0 MiB; layers over 4 MiB are refused"
            in proc.stdout)
    assert took < TIME_BOUND_S


def test_finding_19_a_fifo_is_no_layer_and_never_blocks(configs: Path) -> None:
    os.mkfifo(configs / "pipe.yaml")
    _env(configs, "fifo", "layers: [../pipe.yaml]\n")
    proc, _ = _validate(configs.parent, "fifo")
    assert proc.returncode == 1
    assert "configs/pipe.yaml:1:1: error: is not a regular file, expected a YAML file" in proc.stdout
