"""Every registered target's hooks name something that exists and has the promised shape:
they are imported by name (import-linter cannot follow them), so this is their check."""

from __future__ import annotations

import importlib
import inspect

import pytest

from llmproxy_ops.errors import UsageError
from llmproxy_ops.runtime.api import kinds, runtime_of
from llmproxy_ops.spec import Spec, load_files
from llmproxy_ops.targets.info import load
from llmproxy_ops.targets.registry import TARGETS, names, target_named


@pytest.mark.parametrize("name", sorted(TARGETS))
def test_the_hooks_load(name: str) -> None:
    hooks = TARGETS[name].hooks
    assert callable(load(hooks.runtime))
    rotation = importlib.import_module(hooks.rotation)
    assert callable(rotation.plan) and callable(rotation.done_text)
    if hooks.render is not None:
        params = list(inspect.signature(load(hooks.render)).parameters)
        assert params == ["spec", "out_dir", "env_file", "request_timeout", "config_yaml"]
    store = TARGETS[name].copilot
    if store is not None and store.place is not None:
        assert list(inspect.signature(load(store.place)).parameters) == [
            "spec", "target", "for_login"]
    if hooks.settings is not None:
        assert list(inspect.signature(load(hooks.settings)).parameters) == ["raw", "env_name"]
    if hooks.checks is not None:
        assert all(callable(check) for check in load(hooks.checks))


def test_the_runtimes_are_the_registered_targets() -> None:
    assert kinds() == names() == sorted(TARGETS)


def test_an_unknown_name_has_no_facts_of_its_own() -> None:
    unknown = target_named("nomad")
    assert unknown.name == "nomad" and not unknown.live and unknown.copilot is None
    assert unknown.redis is None and not unknown.runs_compose_services
    assert target_named(["not", "a", "name"]).name == "['not', 'a', 'name']"  # type: ignore[arg-type]


def test_a_live_target_runs_and_a_render_only_one_refuses(write, in_tmp) -> None:
    def spec(runtime: str) -> Spec:
        return load_files([write(f"{runtime}.yaml", f"stack: {{runtime: {runtime}}}\n")])

    assert runtime_of(spec("local")).kind == "local"
    with pytest.raises(UsageError, match="runs on Kubernetes"):
        runtime_of(spec("kubernetes"))
    with pytest.raises(UsageError, match="unknown stack.runtime 'nomad'"):
        runtime_of(spec("nomad"))
