"""Finding 11: concurrent writers of the env file (keys rotate, SecretStore.set) lose nothing."""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

from llmproxy_ops.envfile import read_env_file
from llmproxy_ops.ops.secret_store import SecretStore

WRITERS, EACH = 6, 10
WRITER = f"""
import sys, time
from pathlib import Path
from llmproxy_ops.ops.secret_store import SecretStore
path, me, start = Path(sys.argv[1]), sys.argv[2], float(sys.argv[3])
time.sleep(max(0.0, start - time.time()))  # all writers begin together
store = SecretStore(path)
for i in range({EACH}):
    store.set(f"VAR_{{me}}_{{i}}", f"value-{{me}}-{{i}}")
"""


def test_finding_11_concurrent_writers_lose_no_update(tmp_path: Path) -> None:
    env = tmp_path / ".env"
    env.write_text("LITELLM_MASTER_KEY=sk-keep-me\n")
    env.chmod(0o600)
    start = time.time() + 2.0  # after every interpreter has imported
    procs = [subprocess.Popen([sys.executable, "-c", WRITER, str(env), str(n), str(start)])
             for n in range(WRITERS)]
    assert [p.wait(timeout=120) for p in procs] == [0] * WRITERS
    values = read_env_file(env)
    missing = [f"VAR_{n}_{i}" for n in range(WRITERS) for i in range(EACH)
               if values.get(f"VAR_{n}_{i}") != f"value-{n}-{i}"]
    assert missing == [] and values["LITELLM_MASTER_KEY"] == "sk-keep-me"


def test_finding_11_a_rollback_reverts_one_variable_and_keeps_the_others(tmp_path: Path) -> None:
    env = tmp_path / ".env"
    env.write_text("A=old\n")
    env.chmod(0o600)
    store = SecretStore(env)
    backup = store.set("A", "new")       # a rotation of A starts ...
    store.set("B", "from-another-rotation")  # ... another process changes B meanwhile
    store.revert("A", backup)            # A's rotation fails and rolls back
    assert read_env_file(env) == {"A": "old", "B": "from-another-rotation"}
