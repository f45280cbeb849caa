"""The README is checked against the real CLI and Makefile, so it cannot drift."""

import re

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
