"""Finding 10: the `curl` that `up` prints must not put the master key into curl's argv."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

from llmproxy_ops.cli.runtime_cmd import _curl

KEY = "sk-HINTsecretZZ1010"


def test_finding_10_the_up_hint_keeps_the_key_out_of_argv(tmp_path: Path) -> None:
    (tmp_path / ".env").write_text(f"OTHER=x\nLITELLM_MASTER_KEY={KEY}\n")
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    fake = bin_dir / "curl"  # records what a real curl would get: argv and stdin
    fake.write_text('#!/bin/sh\nprintf "%s\\n" "$@" > argv.txt\ncat > stdin.txt\n')
    fake.chmod(0o755)
    hint = _curl("http://127.0.0.1:4000", "LITELLM_MASTER_KEY", ".env", "mock-gpt")
    subprocess.run(["bash", "-c", hint], cwd=tmp_path, check=True, timeout=30,
                   env={**os.environ, "PATH": f"{bin_dir}:{os.environ['PATH']}"})
    argv = (tmp_path / "argv.txt").read_text()
    assert KEY not in argv and "http://127.0.0.1:4000/v1/chat/completions" in argv
    assert "@-" in argv.splitlines()
    assert (tmp_path / "stdin.txt").read_text() == f"Authorization: Bearer {KEY}\n"
