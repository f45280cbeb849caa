"""stack.metrics: the prometheus callback rendered, by-hand and public /metrics reported at
their key, and the local process's PROMETHEUS_MULTIPROC_DIR fresh per start and never a
folder a state file points elsewhere."""

from __future__ import annotations

from pathlib import Path

import pytest

from llmproxy_ops.render.litellm_config import METRICS_CALLBACK, litellm_config
from llmproxy_ops.spec import load_files
from llmproxy_ops.targets.local.process import METRICS_DIR_VAR, LaunchSpec, LocalRuntime
from llmproxy_ops.validate.checks.metrics import check_metrics
from llmproxy_ops.validate.context import CheckContext

MODEL = """\
model_list:
  - model_name: m
    litellm_params: {model: openai/gpt-4o-mini, api_key: os.environ/OPENAI_API_KEY}
"""


def _spec(write, extra: str):  # noqa: ANN001, ANN202
    return load_files([write("x.yaml", MODEL + extra)])


def _findings(write, extra: str) -> list[tuple[str, str, str, int | None]]:  # noqa: ANN001
    spec = _spec(write, extra)
    return [(f.severity.value, f.code, ".".join(map(str, f.path)), f.location.line)
            for f in check_metrics(CheckContext(spec))]


def test_metrics_true_renders_the_callback_once_beside_the_users(write) -> None:  # noqa: ANN001
    spec = _spec(write, "litellm_settings: {callbacks: [mlflow]}\nstack: {metrics: true}\n")
    callbacks = litellm_config(spec)["litellm_settings"]["callbacks"]
    assert callbacks.count(METRICS_CALLBACK) == 1 and callbacks[0] == "mlflow"
    off = litellm_config(_spec(write, "stack: {metrics: false}\n"))
    assert METRICS_CALLBACK not in off["litellm_settings"].get("callbacks", [])


def test_a_callback_listed_by_hand_is_located_error_with_several_workers(write) -> None:  # noqa: ANN001
    extra = "litellm_settings:\n  callbacks: [mlflow, prometheus]\nstack: {workers: 2}\n"
    assert _findings(write, extra) == [
        ("error", "metrics-callback-by-hand", "litellm_settings.callbacks.1", 5)
    ]
    one = _findings(write, extra.replace("workers: 2", "workers: 1"))
    assert [(s, c) for s, c, _, _ in one] == [("warning", "metrics-callback-by-hand")]


def test_a_plain_litellm_file_is_left_to_litellm(write) -> None:  # noqa: ANN001
    assert _findings(write, "litellm_settings: {success_callback: [prometheus]}\n") == []


def test_unauthenticated_metrics_are_reported_error_in_production(write) -> None:  # noqa: ANN001
    extra = "litellm_settings:\n  require_auth_for_metrics_endpoint: false\nstack: {metrics: true}\n"
    assert _findings(write, extra) == [
        ("warning", "metrics-public", "litellm_settings.require_auth_for_metrics_endpoint", 5)
    ]
    prod = _findings(write, extra.replace("{metrics: true}", "{metrics: true, production: true}"))
    assert [(s, c) for s, c, _, _ in prod] == [("error", "metrics-public")]
    assert _findings(write, extra.replace("false", "true")) == []


def test_each_start_gets_an_empty_metrics_folder_in_the_run_dir(tmp_path: Path) -> None:
    proc = LocalRuntime(tmp_path)
    first, second = proc._fresh_metrics_dir("aa"), proc._fresh_metrics_dir("bb")  # noqa: SLF001
    assert first != second and list(first.iterdir()) == [] and first.parent == tmp_path
    assert first.stat().st_mode & 0o777 == 0o700
    env = proc._child_env(LaunchSpec(config_path=tmp_path / "c", metrics=True),  # noqa: SLF001
                          tmp_path / "workers-aa.json", first)
    assert env[METRICS_DIR_VAR] == str(first)
    proc._forget_workers({"metrics_dir": str(first)})  # noqa: SLF001 - down removes its own
    assert not first.exists() and second.is_dir()


@pytest.mark.parametrize("recorded", ["{elsewhere}", "{run}/../x/metrics-aa", "{run}/notmetrics",
                                      "{run}/metrics-link"])
def test_a_state_file_never_points_the_cleanup_elsewhere(tmp_path: Path, recorded: str) -> None:
    run, elsewhere = tmp_path / "run", tmp_path / "metrics-elsewhere"
    for folder in (run / "notmetrics", elsewhere, tmp_path / "x" / "metrics-aa"):
        folder.mkdir(parents=True)
    (run / "metrics-link").symlink_to(elsewhere)
    proc = LocalRuntime(run)
    state = {"metrics_dir": recorded.format(run=run, elsewhere=elsewhere)}
    assert proc.metrics_dir(state) is None
    proc._forget_workers(state)  # noqa: SLF001
    assert elsewhere.is_dir() and (run / "notmetrics").is_dir() and (tmp_path / "x" / "metrics-aa").is_dir()
