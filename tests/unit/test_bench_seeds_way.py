"""The benchmarks' baseline is the seeds' way exactly (issue 26): their venv's
`litellm --config FILE --port P` with the master key, nothing of ours in argv or environment."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

BENCHMARKS = Path(__file__).resolve().parents[2] / "benchmarks"


@pytest.fixture
def bench_modules(monkeypatch: pytest.MonkeyPatch):  # noqa: ANN201
    monkeypatch.syspath_prepend(str(BENCHMARKS))
    before = dict(os.environ)
    import perf_setups
    import seeds_way

    os.environ.clear()  # _common sets a default for the benchmarks' own process only
    os.environ.update(before)
    yield perf_setups, seeds_way
    for name in ("perf_setups", "seeds_way"):
        sys.modules.pop(name, None)


def test_the_command_is_the_seeds_and_nothing_of_ours(bench_modules, tmp_path: Path) -> None:
    _, seeds_way = bench_modules
    litellm = tmp_path / "venv-seeds" / "bin" / "litellm"
    argv, env = seeds_way.command(litellm, tmp_path / "config.yaml", 4123, "sk-master")
    assert argv == [str(litellm), "--config", str(tmp_path / "config.yaml"), "--port", "4123"]
    assert set(env) <= {*seeds_way.PASSED_ON, "LITELLM_MASTER_KEY"}
    assert env["LITELLM_MASTER_KEY"] == "sk-master"
    shown = " ".join([*argv, *env.values()])
    assert "llmproxy" not in shown and "reuseport" not in shown and "PYTHON" not in " ".join(env)


def test_start_seeds_runs_that_command_not_our_runtime(
        bench_modules, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    perf_setups, seeds_way = bench_modules
    seeds_bin = tmp_path / "venv-seeds" / "bin" / "litellm"
    started: list[tuple] = []

    class Proxy:
        url, time_to_healthy_s, pgid = "http://127.0.0.1:4123", 1.0, 4321

        def stop(self) -> None: ...

    monkeypatch.setattr(perf_setups.bench, "seeds_litellm", lambda: seeds_bin)
    monkeypatch.setattr(seeds_way, "start", lambda *args, **kw: started.append(args) or Proxy())
    monkeypatch.setattr(perf_setups, "LocalRuntime", None)  # our runtime must not be touched
    running = perf_setups.start_seeds(tmp_path, "http://127.0.0.1:9999")
    assert [args[0] for args in started] == [seeds_bin]
    assert started[0][1] == tmp_path / "seeds" / "config.yaml"
    assert running.target.groups == (4321,) and running.info["pid"] == 4321
