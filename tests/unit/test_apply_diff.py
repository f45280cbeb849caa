"""Build diffs, the release history and the one status shape (no process started)."""

from __future__ import annotations

import json
import stat
from dataclasses import replace
from pathlib import Path

import pytest

from llmproxy_ops.errors import UsageError
from llmproxy_ops.ops.apply.diff import diff_builds
from llmproxy_ops.releases import ReleaseStore
from llmproxy_ops.runtime.api import Status, Unit, kinds, runtime_of
from llmproxy_ops.spec import load_environment


def test_a_diff_is_unified_per_file_and_names_secrets_only() -> None:
    old = {"config.yaml": "a: 1\nb: 2\n", "runtime.env": "X=1\n"}
    new = {"config.yaml": "a: 1\nb: 3\n", "runtime.env": "X=1\n", "nginx.conf": "x\n"}
    diff = diff_builds(old, new, {"KEY": "d1", "GONE": "d2"}, {"KEY": "d9", "NEW": "d3"},
                       old_label="running (0001)")
    assert diff.changed_names == ("config.yaml", "nginx.conf")
    assert diff.text() == (
        "--- running (0001)/config.yaml\n+++ new/config.yaml\n@@ -1,2 +1,2 @@\n a: 1\n-b: 2\n"
        "+b: 3\n\n--- /dev/null\n+++ new/nginx.conf\n@@ -0,0 +1 @@\n+x\n\n"
        "runtime environment (values never shown):\n  GONE: removed\n  KEY: changed\n"
        "  NEW: added"
    )


def test_no_change_is_said_plainly() -> None:
    files = {"config.yaml": "a: 1\n"}
    diff = diff_builds(files, dict(files), {"K": "d"}, {"K": "d"})
    assert not diff.changed and diff.text() == "no changes"


@pytest.fixture
def spec(write, in_tmp):  # noqa: ANN001, ANN201
    write("configs/base.yaml", "model_list: []\n")
    write("configs/environments/x.yaml", "layers: [../base.yaml]\nstack: {runtime: local}\n")
    return load_environment(Path("configs"), "x")


def test_releases_keep_a_short_history_and_secret_digests_not_values(spec) -> None:  # noqa: ANN001
    store = ReleaseStore(spec)
    made = []
    for _ in range(7):
        release, _ = store.create(spec, {"LITELLM_MASTER_KEY": "sk-secret-value-1234"}, None)
        store.mark_running(release)
        made.append(release.id)
    assert made == ["0001", "0002", "0003", "0004", "0005", "0006", "0007"]
    assert [r.id for r in store.all()] == ["0003", "0004", "0005", "0006", "0007"]
    assert store.running().id == "0007" and store.previous().id == "0006"  # type: ignore[union-attr]
    meta = (store.root / "0007.json").read_text()
    assert "sk-secret-value-1234" not in meta
    assert list(json.loads(meta)["secrets"]) == ["LITELLM_MASTER_KEY"]
    assert stat.S_IMODE((store.root / ".salt").stat().st_mode) == 0o600
    assert (store.root / "0007" / "config.yaml").is_file()


def test_one_status_shape_as_text_and_json() -> None:
    st = Status("dev", "local", True, True, "http://127.0.0.1:4000",
                (Unit("litellm", "running", "healthy", "http://127.0.0.1:4000", "pid 42"),),
                (("pid", 42),), build="0003", drift="the configs changed since build 0003")
    assert st.as_dict() == {
        "env": "dev", "runtime": "local", "running": True, "healthy": True,
        "url": "http://127.0.0.1:4000", "build": "0003",
        "drift": "the configs changed since build 0003", "note": None, "facts": {"pid": 42},
        "units": [{"name": "litellm", "state": "running", "health": "healthy",
                   "url": "http://127.0.0.1:4000", "detail": "pid 42", "restarts": 0,
                   "last_exit": None, "workers": []}],
    }
    assert st.as_text() == (
        "dev: running on local, healthy, url http://127.0.0.1:4000\n"
        "  ok litellm        running    healthy    pid 42\n"
        "  pid: 42\n  build: 0003\n  the configs changed since build 0003"
    )
    # a crash is never silent: a restarted unit is marked and says how it ended
    crashed = Unit("litellm", "running", "healthy", None, "pid 42", restarts=2,
                   last_exit="killed by SIGSEGV at 12:00:01 UTC")
    assert replace(st, units=(crashed,)).as_text().splitlines()[1] == (
        "  !! litellm        running    healthy    pid 42; restarted 2 times "
        "(last: killed by SIGSEGV at 12:00:01 UTC)")
    assert Status("dev", "local", False, False).as_text() == "dev: not running"


def test_the_registry_names_the_runtimes_it_has(spec, write) -> None:  # noqa: ANN001
    assert {"local", "compose"} <= set(kinds())
    assert runtime_of(spec).kind == "local"
    write("configs/environments/y.yaml", "layers: [../base.yaml]\nstack: {runtime: nomad}\n")
    with pytest.raises(UsageError) as caught:
        runtime_of(load_environment(Path("configs"), "y"))
    assert caught.value.message == "unknown stack.runtime 'nomad'"
    assert caught.value.hint is not None and caught.value.hint.startswith("use one of: compose, ")


def test_build_groups_reads_the_rendered_model_list(tmp_path: Path) -> None:
    from llmproxy_ops.ops.apply.deploy import build_groups

    (tmp_path / "config.yaml").write_text(
        "model_list:\n  - model_name: a\n  - model_name: b\n  - model_name: a\n  - {}\n")
    assert build_groups(tmp_path) == ["a", "b"]
    assert build_groups(tmp_path / "missing") is None
