"""Property tests (hypothesis) of the two parsers that read files from anyone: the backup
manifest and the YAML layer loader. Whatever the input, they answer with a result or their
own typed error, never another exception, and a result never carries a name or a path that
could leave its place."""

from __future__ import annotations

import contextlib
import json
import os
import string
from pathlib import PurePosixPath
from typing import Any

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from llmproxy_ops.errors import BackupError, LayerError
from llmproxy_ops.ops.backup.manifest import (
    FORMAT,
    DatabaseEntry,
    FileEntry,
    Manifest,
    ManifestInvalid,
    parse_manifest,
)
from llmproxy_ops.ops.pg import TableStats, check_name
from llmproxy_ops.spec.located import to_plain
from llmproxy_ops.spec.yamlfile import MIN_ALIAS_BUDGET, parse_yaml

SETTINGS = settings(max_examples=300, deadline=None,
                    suppress_health_check=[HealthCheck.too_slow])

# ---- the manifest ----------------------------------------------------------------------------

json_values = st.recursive(
    st.none() | st.booleans() | st.integers(-10, 2**40) | st.floats(allow_nan=False)
    | st.text(max_size=30),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=12), inner,
                                                                max_size=4),
    max_leaves=25,
)
hostile_text = st.one_of(
    st.text(max_size=40),
    st.sampled_from(['x"; CREATE ROLE r SUPERUSER; --', "../../etc/passwd", "/etc/shadow",
                     "db/../../x", "a\\b", "", ".", "db//x", "host=evil dbname=x", "A", "a" * 40,
                     "db/\x00x", "./db/x"]),
)
db_names = st.from_regex(r"[a-z_][a-z0-9_]{0,30}", fullmatch=True)
rel_paths = st.lists(st.text(string.ascii_lowercase + string.digits + "_-.", min_size=1,
                             max_size=8).filter(lambda p: p not in (".", "..")),
                     min_size=1, max_size=3).map("/".join)
sha = st.text("0123456789abcdef", min_size=64, max_size=64)


@st.composite
def valid_manifests(draw: st.DrawFn) -> Manifest:
    files = draw(st.dictionaries(rel_paths, st.builds(FileEntry, sha, st.integers(0, 2**40)),
                                 min_size=1, max_size=5))
    dbs = draw(st.dictionaries(db_names, st.builds(
        DatabaseEntry, st.sampled_from(sorted(files)),
        st.dictionaries(st.text(max_size=20),
                        st.builds(TableStats, st.integers(0, 10**9), st.text(max_size=32)),
                        max_size=3)), max_size=3))
    return Manifest(env=draw(st.text(max_size=10)), runtime="local",
                    created="2026-01-01T00:00:00+00:00", files=files, databases=dbs)


def _assert_safe(manifest: Manifest) -> None:
    for name in manifest.databases:
        assert check_name(name) == name
    for rel in [*manifest.files, *(d.file for d in manifest.databases.values())]:
        assert not rel.startswith("/") and ".." not in PurePosixPath(rel).parts
        assert os.path.normpath(os.path.join("/folder", rel)).startswith("/folder/")
        assert "\x00" not in rel and "\\" not in rel


@SETTINGS
@given(json_values)
def test_any_json_is_a_manifest_or_a_manifest_error(raw: Any) -> None:
    try:
        manifest = Manifest.from_dict(raw)
    except ManifestInvalid:
        return
    _assert_safe(manifest)


@SETTINGS
@given(valid_manifests())
def test_a_manifest_round_trips(manifest: Manifest) -> None:
    parsed = Manifest.from_dict(json.loads(manifest.to_json()))
    assert parsed == manifest and parsed.format == FORMAT


@SETTINGS
@given(valid_manifests(), hostile_text, st.sampled_from(["database", "file", "db_file"]))
def test_a_hostile_name_or_path_is_refused_or_harmless(
    manifest: Manifest, value: str, where: str
) -> None:
    raw = json.loads(manifest.to_json())
    if where == "database":
        raw["databases"][value] = {"file": next(iter(raw["files"])), "tables": {}}
    elif where == "file":
        raw["files"][value] = {"sha256": "0" * 64, "size": 1}
    else:
        raw["databases"]["x"] = {"file": value, "tables": {}}
    with contextlib.suppress(ManifestInvalid):
        _assert_safe(Manifest.from_dict(raw))


@SETTINGS
@given(st.binary(max_size=300))
def test_any_bytes_parse_or_raise_a_backup_error(tmp_path_factory, data: bytes) -> None:  # noqa: ANN001
    folder = tmp_path_factory.getbasetemp()
    with contextlib.suppress(BackupError):
        _assert_safe(parse_manifest(folder, data))


# ---- the YAML loader -------------------------------------------------------------------------

yamlish = st.lists(st.sampled_from([*"ab1:-[]{}&*!<|>'\"#,. ?%@`\n\t", "<<: ", "!!str ",
                                    "!!binary ", "&a ", "*a", "\n- ", "\n  ", "2026-13-45"]),
                   max_size=60).map("".join)
plain = st.recursive(
    st.none() | st.booleans() | st.integers(-(2**31), 2**31) | st.text(max_size=20),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner,
                                                                max_size=4),
    max_leaves=30,
)


@SETTINGS
@given(yamlish)
def test_any_text_loads_or_raises_a_layer_error(text: str) -> None:
    try:
        parse_yaml(text, "x.yaml")
    except LayerError as exc:
        assert exc.file == "x.yaml" and exc.line >= 1


@SETTINGS
@given(st.dictionaries(st.text(min_size=1, max_size=8), plain, min_size=1, max_size=5))
def test_plain_data_loads_back_as_written(data: dict) -> None:
    doc = parse_yaml(yaml.safe_dump(data), "x.yaml")
    assert doc.findings == [] and to_plain(doc.data) == data


def _count(value: Any) -> int:
    if isinstance(value, dict):
        return 1 + sum(_count(k) + _count(v) for k, v in value.items())
    if isinstance(value, list):
        return 1 + sum(_count(v) for v in value)
    return 1


@SETTINGS
@given(st.integers(1, 12), st.integers(1, 12), st.booleans())
def test_nested_aliases_expand_within_the_budget(levels: int, fanout: int, merge: bool) -> None:
    lines = ["model_list: []", "l0: &l0 {k: v}" if merge else "l0: &l0 [v]"]
    for i in range(1, levels + 1):
        refs = ", ".join([f"*l{i - 1}"] * fanout)
        lines.append(f"l{i}: &l{i} {{<<: [{refs}], n{i}: {i}}}" if merge
                     else f"l{i}: &l{i} [{refs}]")
    text = "\n".join(lines) + "\n"
    try:
        doc = parse_yaml(text, "x.yaml")
    except LayerError as exc:
        assert "aliases expand to more than" in exc.message
        return
    assert _count(to_plain(doc.data)) <= 3 * len(text) + 2 * MIN_ALIAS_BUDGET


@pytest.mark.parametrize("text", ["a: &a [*a]", "a: &a {b: *a}", "a: &a {<<: *a}"])
def test_a_recursive_alias_is_a_layer_error(text: str) -> None:
    with pytest.raises(LayerError, match="recursive alias"):
        parse_yaml(text, "x.yaml")
