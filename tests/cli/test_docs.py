"""The README is checked against the real CLI and Makefile, so it cannot drift."""

import re
from pathlib import Path

from tests.conftest import REPO

README = (REPO / "README.md").read_text(encoding="utf-8")


def _commands_in_readme() -> set[tuple[str, ...]]:
    found = set()
    for line in README.splitlines():
        for match in re.finditer(r"llmproxy-ops ((?:[a-z][a-z-]*)(?: [a-z][a-z-]*)?)", line):
            found.add(tuple(match.group(1).split()))
    return found


def test_every_command_the_readme_shows_exists(cli):
    assert _commands_in_readme()
    for words in sorted(_commands_in_readme()):
        result = cli(*words, "--help")
        if result.exit_code != 0:  # a second word that is an argument, not a subcommand
            result = cli(words[0], "--help")
        assert result.exit_code == 0, f"llmproxy-ops {' '.join(words)}: {result.output}"


def test_every_command_has_help_with_an_example(cli):
    top = cli("--help").output
    for name in ["init", "render", "up", "down", "status", "logs", "smoke-test"]:
        assert name in top
        assert "Example: llmproxy-ops" in cli(name, "--help").output, name
    for group, sub in [("validate", "config"), ("config", "show"), ("config", "diff"), ("certs", "self-signed")]:
        assert "Example: llmproxy-ops" in cli(group, sub, "--help").output, f"{group} {sub}"


def test_every_make_target_the_readme_names_exists():
    makefile = (REPO / "Makefile").read_text(encoding="utf-8")
    targets = set(re.findall(r"^([a-z][a-z-]*):", makefile, re.M))
    named = set(re.findall(r"`make ([a-z][a-z-]*)", README))
    assert {"up", "test", "down", "status", "logs", "validate", "render"} <= named
    assert named <= targets, named - targets


def test_the_readme_makes_llmproxy_ops_reachable_before_it_uses_it():
    # `make up` installs into .venv/bin, which is not on PATH: the README must say so first
    activate = README.index("source .venv/bin/activate")
    first_use = min(m.start() for m in re.finditer(r"^llmproxy-ops ", README, re.M))
    assert activate < first_use
    makefile = (REPO / "Makefile").read_text(encoding="utf-8")
    assert "VENV ?= .venv" in makefile and "OPS := $(VENV)/bin/llmproxy-ops" in makefile


def test_the_activated_venv_runs_the_readme_command_as_typed(tmp_path):
    import subprocess
    import sys

    venv = Path(sys.executable).parent.parent
    script = f"source {venv}/bin/activate && llmproxy-ops --project {REPO} config show --env dev"
    proc = subprocess.run(["bash", "-c", script], cwd=tmp_path, capture_output=True, text=True,
                          env={"PATH": "/usr/bin:/bin", "HOME": str(tmp_path)}, timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.startswith("general_settings:\n")


def test_config_diff_exit_codes_are_documented_in_help_and_readme(cli):
    codes = "0 no differences, 1 they differ or one cannot be loaded, 2 usage"
    assert codes in " ".join(cli("config", "diff", "--help").output.split())
    assert f"`config diff` exit codes: {codes}." in README


def test_from_another_folder_errors_say_where_they_looked_and_how_to_point(cli, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    result = cli("validate", "config", "--env", "dev")
    assert result.exit_code == 1
    assert result.output.splitlines() == [
        f"configs/environments/dev.yaml:1:1: error: no environment 'dev': there is no "
        f"environments/ folder in {tmp_path}/configs (looked for {tmp_path}/configs/environments/dev.yaml)",
        "  hint: run it from the project folder, or point at the project: llmproxy-ops --project "
        "DIR ... (or LLMPROXY_OPS_PROJECT=DIR); --configs DIR names the configs folder alone",
    ]
    monkeypatch.setenv("LLMPROXY_OPS_PROJECT", str(REPO))
    assert cli("config", "show", "--env", "dev").exit_code == 0
