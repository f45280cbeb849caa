"""The user docs (README.md and docs/*.md) are checked against the real CLI, the Makefile and
the files they link, so they cannot drift."""

import re
from pathlib import Path

from tests.conftest import REPO
from tests.user_docs import user_doc_files, user_docs

README = (REPO / "README.md").read_text(encoding="utf-8")
DOCS = user_docs()  # README first, then docs/*.md


def _commands_in_docs() -> set[tuple[str, ...]]:
    found = set()
    for line in DOCS.splitlines():
        for match in re.finditer(r"llmproxy-ops ((?:[a-z][a-z-]*)(?: [a-z][a-z-]*)?)", line):
            found.add(tuple(match.group(1).split()))
    return found


def test_every_command_the_docs_show_exists(cli):
    assert _commands_in_docs()
    for words in sorted(_commands_in_docs()):
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


def test_every_make_target_the_docs_name_exists():
    makefile = (REPO / "Makefile").read_text(encoding="utf-8")
    targets = set(re.findall(r"^([a-z][a-z-]*):", makefile, re.M))
    named = set(re.findall(r"`make ([a-z][a-z-]*)", DOCS))
    assert {"up", "test", "down", "status", "logs", "validate", "render"} <= named
    assert named <= targets, named - targets


def test_the_readme_makes_llmproxy_ops_reachable_before_it_uses_it():
    # `make up` installs into .venv/bin, which is not on PATH: the README must say so before
    # any page shows a command (docs/ pages are read after it, and assume the venv active)
    assert DOCS.startswith(README)  # so positions in README are positions in DOCS
    activate = README.index("source .venv/bin/activate")
    first_use = min(m.start() for m in re.finditer(r"^llmproxy-ops ", DOCS, re.M))
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


def test_config_diff_exit_codes_are_documented_in_help_and_docs(cli):
    codes = "0 no differences, 1 they differ or one cannot be loaded, 2 usage"
    assert codes in " ".join(cli("config", "diff", "--help").output.split())
    assert f"`config diff` exit codes: {codes}." in DOCS


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


LINK = re.compile(r"\[[^\]]*\]\(([^)\s]+)\)")
FENCE = re.compile(r"^```.*?^```", re.S | re.M)
CODE = re.compile(r"`[^`\n]*`")


def _anchors(path: Path) -> set[str]:
    """GitHub's heading anchors: lower case, punctuation dropped, spaces to hyphens."""
    text = FENCE.sub("", path.read_text(encoding="utf-8"))
    return {re.sub(r"[^\w\- ]", "", h.strip().lower()).replace(" ", "-")
            for h in re.findall(r"^#+ (.*)$", text, re.M)}


def test_every_relative_link_in_the_docs_resolves():
    # Pages moved from the README to docs/: a link written for one folder breaks in the other.
    broken = []
    for page in user_doc_files():
        text = CODE.sub("", FENCE.sub("", page.read_text(encoding="utf-8")))
        for target in LINK.findall(text):
            if re.match(r"[a-z]+:", target):  # https:, mailto:
                continue
            file, _, anchor = target.partition("#")
            path = (page.parent / file).resolve() if file else page
            if not path.exists():
                broken.append(f"{page.relative_to(REPO)}: {target} (no such file)")
            elif anchor and path.suffix == ".md" and anchor not in _anchors(path):
                broken.append(f"{page.relative_to(REPO)}: {target} (no such heading)")
    assert broken == [], "\n".join(broken)
