from pathlib import Path

import pytest

from llmproxy_ops.errors import LayerError
from llmproxy_ops.findings import Location
from llmproxy_ops.spec.located import LMap, to_plain
from llmproxy_ops.spec.yamlfile import MAX_LAYER_BYTES, load_yaml


def _load_error(path: Path) -> LayerError:
    with pytest.raises(LayerError) as info:
        load_yaml(path, path.name)
    return info.value


def test_positions_of_keys_and_items(write, in_tmp):
    path = write("a.yaml", """
        model_list:
          - model_name: m
            litellm_params:
              rpm: 5
    """)
    doc = load_yaml(path, "a.yaml")
    item = doc.data["model_list"][0]
    assert doc.data.locs["model_list"] == Location("a.yaml", 1, 1)
    assert doc.data["model_list"].locs[0] == Location("a.yaml", 2, 5)
    assert item["litellm_params"].locs["rpm"] == Location("a.yaml", 4, 7)


def test_duplicate_key_is_a_located_error_and_last_value_kept(write, in_tmp):
    path = write("a.yaml", """
        litellm_settings:
          num_retries: 2
          num_retries: 3
    """)
    doc = load_yaml(path, "a.yaml")
    assert doc.data["litellm_settings"]["num_retries"] == 3
    [f] = doc.findings
    assert (f.code, str(f.location), f.path) == ("duplicate-key", "a.yaml:3:3", ("litellm_settings", "num_retries"))
    assert f.message == "duplicate key 'num_retries' (first at line 2); YAML keeps only the last one"


def test_yaml_merge_keys_resolve_and_explicit_keys_win(write, in_tmp):
    path = write("a.yaml", """
        defaults: &d {rpm: 5, tpm: 10}
        m:
          <<: *d
          rpm: 7
    """)
    data = load_yaml(path, "a.yaml").data
    assert to_plain(data["m"]) == {"rpm": 7, "tpm": 10}
    assert data["m"].locs["rpm"].line == 4


@pytest.mark.parametrize(
    ("text", "message", "line", "col"),
    [
        ("a: [1, 2\nb: 3\n", "YAML syntax error: did not find expected ',' or ']'", 2, 2),
        ("a:\n  - x\n  y: 1\n", "YAML syntax error: did not find expected '-' indicator", 3, 3),
        ("- a\n- b\n", "top level is a list, expected a mapping of config sections", 1, 1),
        ("just text\n", "top level is a single value, expected a mapping of config sections", 1, 1),
        ("", "file is empty", 1, 1),
        ("# only a comment\n", "file is empty", 1, 1),
        ("a:\n\tb: 1\n", "YAML syntax error: a tab character; YAML does not allow tabs for indentation", 2, 1),
    ],
)
def test_bad_yaml_gives_located_error(tmp_path, text, message, line, col):
    path = tmp_path / "bad.yaml"
    path.write_text(text, encoding="utf-8")
    err = _load_error(path)
    assert (err.message, err.file, err.line, err.col) == (message, "bad.yaml", line, col)


def test_non_utf8_points_at_the_byte(tmp_path):
    path = tmp_path / "latin1.yaml"
    path.write_bytes(b"a: 1\nb: caf\xe9\n")
    err = _load_error(path)
    assert (err.message, err.line, err.col) == ("not valid UTF-8 (byte 0xe9)", 2, 7)


def test_huge_file_is_refused_quickly(tmp_path):
    path = tmp_path / "huge.yaml"
    path.write_bytes(b"a: " + b"x" * (10 * 1024 * 1024) + b"\n")
    err = _load_error(path)
    assert err.message == "file is 10.0 MiB; layers over 4 MiB are refused"
    assert MAX_LAYER_BYTES == 4 * 1024 * 1024


def test_missing_file_and_directory(tmp_path):
    assert _load_error(tmp_path / "nope.yaml").message == "file not found"
    (tmp_path / "dir.yaml").mkdir()
    assert _load_error(tmp_path / "dir.yaml").message == "is a directory, expected a YAML file"


def test_plain_scalars_keep_yaml_types(write, in_tmp):
    data = load_yaml(write("a.yaml", "a: 1\nb: '1'\nc: true\nd: null\ne: 1.5\n"), "a.yaml").data
    assert isinstance(data, LMap)
    assert to_plain(data) == {"a": 1, "b": "1", "c": True, "d": None, "e": 1.5}


def test_tab_indentation_error_says_use_spaces(tmp_path):
    path = tmp_path / "tab.yaml"
    path.write_text("litellm_settings:\n  num_retries: 1\n\tdrop_params: true\n", encoding="utf-8")
    err = _load_error(path)
    assert (err.line, err.col, err.hint) == (3, 1, "indent with spaces (2 per level is usual)")


@pytest.mark.parametrize(
    ("text", "message", "hint", "kept"),
    [
        (
            "a: 2026-13-45\n",
            "'2026-13-45' looks like a date but is not a valid one",
            "write a real date (YYYY-MM-DD) or quote the value to keep it as text",
            "2026-13-45",
        ),
        (
            "a: 2026-01-01 25:61:00\n",
            "'2026-01-01 25:61:00' looks like a date but is not a valid one",
            "write a real date (YYYY-MM-DD) or quote the value to keep it as text",
            "2026-01-01 25:61:00",
        ),
        (
            "a: !!bool maybe\n",
            "cannot read 'maybe' as !!bool",
            "remove the tag or quote the value to keep it as text",
            "maybe",
        ),
        (
            "a: !include other.yaml\n",
            "cannot read value: could not determine a constructor for the tag '!include'",
            "remove the tag or quote the value to keep it as text",
            "other.yaml",
        ),
    ],
)
def test_unreadable_scalar_is_a_located_finding_not_a_crash(write, in_tmp, text, message, hint, kept):
    doc = load_yaml(write("a.yaml", "x: 1\n" + text), "a.yaml")
    [f] = doc.findings
    assert (f.code, str(f.location), f.path, f.message, f.hint) == ("bad-value", "a.yaml:2:4", ("a",), message, hint)
    assert doc.data["a"] == kept and doc.data["x"] == 1


def test_valid_dates_stay_dates(write, in_tmp):
    import datetime as dt

    doc = load_yaml(write("a.yaml", "a: 2026-02-28\n"), "a.yaml")
    assert doc.data["a"] == dt.date(2026, 2, 28) and doc.findings == []
