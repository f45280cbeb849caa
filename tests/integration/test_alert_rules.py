"""The shipped alert rules (monitoring/prometheus/alerts.yml) pass promtool's check and their
unit tests, and every rule has a case that needs it to fire and one that needs it quiet: a
copy where one rule never fires, or always fires, fails the tests."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

from tests.conftest import REPO

RULES = REPO / "monitoring" / "prometheus"
pytestmark = pytest.mark.integration


def _promtool() -> str:
    found = shutil.which("promtool")
    if found is None:
        pytest.fail("promtool is not installed (Debian: prometheus; scripts/install-test-deps.sh)")
    return found


def _alerts(path: Path) -> list[dict]:
    return [rule for group in yaml.safe_load(path.read_text())["groups"] for rule in group["rules"]]


def _test_rules(folder: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([_promtool(), "test", "rules", "alerts.test.yml"], cwd=folder,
                          capture_output=True, text=True, timeout=60)


def test_the_shipped_rules_check_and_pass_their_tests() -> None:
    check = subprocess.run([_promtool(), "check", "rules", str(RULES / "alerts.yml")],
                           capture_output=True, text=True, timeout=60)
    assert check.returncode == 0, check.stdout + check.stderr
    assert f"SUCCESS: {len(_alerts(RULES / 'alerts.yml'))} rules found" in check.stdout
    tested = _test_rules(RULES)
    assert tested.returncode == 0, tested.stdout + tested.stderr


@pytest.mark.parametrize("alert", [rule["alert"] for rule in _alerts(RULES / "alerts.yml")])
@pytest.mark.parametrize("expr", ["vector(0) > 1", "vector(1)"], ids=["never", "always"])
def test_each_rule_has_a_firing_and_a_quiet_case(alert: str, expr: str, tmp_path: Path) -> None:
    doc = yaml.safe_load((RULES / "alerts.yml").read_text())
    for group in doc["groups"]:
        for rule in group["rules"]:
            if rule["alert"] == alert:
                rule["expr"] = expr
    (tmp_path / "alerts.yml").write_text(yaml.safe_dump(doc))
    shutil.copy(RULES / "alerts.test.yml", tmp_path)
    tested = _test_rules(tmp_path)
    assert tested.returncode != 0, f"{alert} as `{expr}` still passes: a case is missing"
    assert alert in tested.stdout + tested.stderr


def test_the_example_scrape_config_checks_with_the_rules(tmp_path: Path) -> None:
    doc = yaml.safe_load((RULES / "scrape.example.yml").read_text())
    job = doc["scrape_configs"][0]
    assert job["job_name"] == "litellm"  # what LiteLLMProxyDown selects
    (tmp_path / "key").write_text("sk-example")
    job["authorization"]["credentials_file"] = str(tmp_path / "key")
    (tmp_path / "prometheus.yml").write_text(yaml.safe_dump(doc))
    shutil.copy(RULES / "alerts.yml", tmp_path)
    check = subprocess.run([_promtool(), "check", "config", str(tmp_path / "prometheus.yml")],
                           capture_output=True, text=True, timeout=60)
    assert check.returncode == 0, check.stdout + check.stderr
    assert f"SUCCESS: {len(_alerts(RULES / 'alerts.yml'))} rules found" in check.stdout
