"""Layering rules, as documented in docs/configuration.md: deep maps, model_list by identity, lists replace."""

import pytest

from llmproxy_ops.errors import LayerError
from llmproxy_ops.findings import Location
from llmproxy_ops.spec import load_files
from llmproxy_ops.spec.located import to_plain

BASE = """
model_list:
  - model_name: a
    litellm_params: {model: openai/a, rpm: 5}
  - model_name: b
    litellm_params: {model: openai/b}
litellm_settings:
  drop_params: true
  callbacks: [x, y]
router_settings:
  optional_pre_call_checks: [enforce_model_rate_limits]
"""


def _merged(write, overlay: str) -> dict:
    write("base.yaml", BASE)
    spec = load_files([write("env.yaml", "layers: [base.yaml]\n" + overlay)])
    assert spec.findings == []
    return spec.litellm_config()


def test_maps_merge_deeply_and_scalars_override(write, in_tmp):
    cfg = _merged(write, "litellm_settings: {drop_params: false, num_retries: 1}\n")
    assert cfg["litellm_settings"] == {
        "drop_params": False,
        "callbacks": ["x", "y"],
        "num_retries": 1,
    }


def test_other_lists_replace_whole(write, in_tmp):
    cfg = _merged(write, "litellm_settings: {callbacks: [z]}\n")
    assert cfg["litellm_settings"]["callbacks"] == ["z"]


def test_model_list_override_by_identity(write, in_tmp):
    cfg = _merged(
        write, "model_list:\n  - model_name: a\n    litellm_params: {model: openai/a, rpm: 9}\n"
    )
    assert cfg["model_list"][0] == {
        "model_name": "a",
        "litellm_params": {"model": "openai/a", "rpm": 9},
    }
    assert len(cfg["model_list"]) == 2


def test_model_list_same_name_other_model_is_a_new_deployment(write, in_tmp):
    cfg = _merged(
        write, "model_list:\n  - model_name: a\n    litellm_params: {model: anthropic/a}\n"
    )
    assert [m["litellm_params"]["model"] for m in cfg["model_list"]] == [
        "openai/a",
        "openai/b",
        "anthropic/a",
    ]


def test_model_list_group_patch_applies_to_every_deployment_of_the_group(write, in_tmp):
    cfg = _merged(
        write,
        """
model_list:
  - model_name: a
    litellm_params: {model: anthropic/a}
  - model_name: a
    litellm_params: {api_base: http://127.0.0.1:9}
""",
    )
    bases = [
        m["litellm_params"].get("api_base") for m in cfg["model_list"] if m["model_name"] == "a"
    ]
    assert bases == ["http://127.0.0.1:9", "http://127.0.0.1:9"]


def test_explicit_removal_of_deployment_group_and_key(write, in_tmp):
    cfg = _merged(
        write,
        """
model_list:
  - model_name: a
    litellm_params: {model: openai/a}
    $patch: delete
  - model_name: b
    $patch: delete
router_settings: {$patch: delete}
""",
    )
    assert cfg["model_list"] == []
    assert "router_settings" not in cfg


def test_removing_what_does_not_exist_is_a_located_error(write, in_tmp):
    write("base.yaml", BASE)
    spec = load_files(
        [
            write(
                "env.yaml",
                """
layers: [base.yaml]
model_list:
  - model_name: c
    $patch: delete
general_settings: {$patch: delete}
""",
            )
        ]
    )
    assert [(f.code, str(f.location), f.message) for f in spec.findings] == [
        (
            "bad-patch",
            "env.yaml:3:5",
            "'$patch: delete' of deployment 'c', which no earlier layer defines",
        ),
        (
            "bad-patch",
            "env.yaml:5:1",
            "'$patch: delete' of 'general_settings', which no earlier layer sets",
        ),
    ]


def test_provenance_follows_the_layer_that_set_the_value(write, in_tmp):
    write("base.yaml", BASE)
    spec = load_files(
        [
            write(
                "env.yaml",
                "layers: [base.yaml]\nmodel_list:\n  - model_name: b\n    litellm_params: {model: openai/b, rpm: 3}\n",
            )
        ]
    )
    assert spec.locate(("model_list", 0, "litellm_params", "rpm")) == Location("base.yaml", 3, 39)
    assert spec.locate(("model_list", 1, "litellm_params", "rpm")) == Location("env.yaml", 4, 39)
    assert spec.locate(("litellm_settings", "drop_params")) == Location("base.yaml", 7, 3)
    # a path that does not exist points at its deepest existing parent
    assert spec.locate(("litellm_settings", "nope")) == Location("base.yaml", 6, 1)


def test_layers_nest_and_merge_in_order(write, in_tmp):
    write("a.yaml", "litellm_settings: {x: 1, y: 1}\n")
    write("sub/b.yaml", "layers: [../a.yaml]\nlitellm_settings: {y: 2}\n")
    spec = load_files([write("env.yaml", "layers: [sub/b.yaml]\nlitellm_settings: {z: 3}\n")])
    assert spec.litellm_config()["litellm_settings"] == {"x": 1, "y": 2, "z": 3}
    assert spec.sources == ["a.yaml", "sub/b.yaml", "env.yaml"]


def test_layer_cycle_is_a_located_error(write, in_tmp):
    write("a.yaml", "layers: [b.yaml]\n")
    write("b.yaml", "x: 1\nlayers: [a.yaml]\n")
    with pytest.raises(LayerError) as info:
        load_files([in_tmp / "a.yaml"])
    err = info.value
    assert err.message == "layer cycle: a.yaml -> b.yaml -> a.yaml"
    assert (err.file, err.line, err.col) == ("b.yaml", 2, 10)


def test_missing_layer_points_at_where_it_is_named(write, in_tmp):
    write("env.yaml", "litellm_settings: {}\nlayers:\n  - base.yaml\n  - gone.yaml\n")
    write("base.yaml", "x: 1\n")
    with pytest.raises(LayerError) as info:
        load_files([in_tmp / "env.yaml"])
    assert (info.value.message, info.value.file, info.value.line) == (
        "layer 'gone.yaml' not found",
        "env.yaml",
        4,
    )


def test_layers_must_be_a_list_of_paths(write, in_tmp):
    with pytest.raises(LayerError, match="'layers' must be a list of file paths"):
        load_files([write("env.yaml", "layers: base.yaml\n")])


def test_patch_marker_in_a_first_layer_is_reported_not_rendered(write, in_tmp):
    spec = load_files([write("only.yaml", "litellm_settings:\n  drop_params: {$patch: delete}\n")])
    assert to_plain(spec.root) == {"litellm_settings": {}}
    assert [f.code for f in spec.findings] == ["bad-patch"]


def test_delete_add_and_patch_in_one_overlay_keep_positions_right(write, in_tmp):
    cfg = _merged(
        write,
        """
model_list:
  - model_name: a
    $patch: delete
  - model_name: c
    litellm_params: {model: openai/c}
  - model_name: b
    litellm_params: {model: openai/b, rpm: 1}
  - model_name: c
    litellm_params: {model: openai/c, rpm: 2}
""",
    )
    assert [(m["model_name"], m["litellm_params"].get("rpm")) for m in cfg["model_list"]] == [
        ("b", 1),
        ("c", 2),
    ]
