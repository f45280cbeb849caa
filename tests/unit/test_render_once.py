"""`apply` renders the new build once and carries it through diff, rollout and record.

Measured on the shipped configs before this held (one apply of a changed config): the build
rendered twice, config.yaml serialised twice (dev, local) or four times (prod, compose),
StackSettings built 41 (dev) and 99 (prod) times. Counted here around a real apply (real
validation, render, diff and release record) whose runtime is a stub: no LiteLLM, no Docker.
"""

from __future__ import annotations

import collections
from pathlib import Path
from typing import Any

import pytest
import yaml

from llmproxy_ops import releases
from llmproxy_ops.ops.apply import deploy
from llmproxy_ops.ops.apply.diff import read_build
from llmproxy_ops.pipeline import Target
from llmproxy_ops.render import build, litellm_config
from llmproxy_ops.runtime import api
from llmproxy_ops.spec import model

ENV_TEXT = ("LITELLM_MASTER_KEY=sk-MASTERsecretZZ1111\nPOSTGRES_PASSWORD=PGsecretZZ3333\n"
            "REDIS_PASSWORD=REDISsecretZZ5555\n")
EXAMPLE_TEXT = "LITELLM_MASTER_KEY=sk-change-me\nPOSTGRES_PASSWORD=\nREDIS_PASSWORD=\n"

BASE = """\
model_list:
  - model_name: small
    litellm_params: {model: openai/small, api_base: "http://127.0.0.1:9/v1", api_key: sk-x,
                     mock_response: hi}
general_settings:
  master_key: os.environ/LITELLM_MASTER_KEY
router_settings:
  optional_pre_call_checks: [enforce_model_rate_limits]
stack:
  workers: 2
"""


class _Runtime:
    """Running, and a rollout that only notes the build it was given."""

    kind = "stub"

    def __init__(self) -> None:
        self.rolled_out: list[api.Build] = []

    def status(self) -> api.Status:
        return api.Status("x", self.kind, True, True)

    def rollout(self, build: api.Build, check: api.Check) -> api.RolloutResult:
        self.rolled_out.append(build)
        return api.RolloutResult([api.Step("stub rollout", True, 0.0)], changed=True)

    def endpoint(self) -> api.Endpoint:
        return api.Endpoint("http://127.0.0.1:9")


@pytest.fixture
def counted(monkeypatch: pytest.MonkeyPatch) -> collections.Counter[str]:
    counts: collections.Counter[str] = collections.Counter()
    from_mapping = model.StackSettings.from_mapping.__func__  # type: ignore[attr-defined]

    def built(cls: Any, raw: dict[str, Any]) -> model.StackSettings:
        counts["stack settings"] += 1
        return from_mapping(cls, raw)  # type: ignore[no-any-return]

    monkeypatch.setattr(model.StackSettings, "from_mapping", classmethod(built))
    dump = yaml.dump

    def dumped(data: Any, *args: Any, **kwargs: Any) -> Any:
        if kwargs.get("Dumper") is litellm_config._DUMPER:  # what render_yaml writes with
            counts["config.yaml"] += 1
        return dump(data, *args, **kwargs)

    monkeypatch.setattr(litellm_config.yaml, "dump", dumped)
    render_files = build.render_files

    def rendered(*args: Any, **kwargs: Any) -> dict[str, str]:
        counts["render"] += 1
        return render_files(*args, **kwargs)

    # every module that renders a build, however it reaches render_files
    for module in (build, releases, deploy):
        if hasattr(module, "render_files"):
            monkeypatch.setattr(module, "render_files", rendered)
    return counts


@pytest.mark.parametrize("runtime", ["local", "compose"])
def test_apply_renders_once_and_rolls_out_what_it_diffed(
        runtime: str, write: Any, in_tmp: Path, monkeypatch: pytest.MonkeyPatch,
        counted: collections.Counter[str]) -> None:
    write("configs/base.yaml", BASE)
    env_yaml = write("configs/environments/x.yaml",
                     f"layers: [../base.yaml]\nstack: {{runtime: {runtime}}}\n")
    write(".env", ENV_TEXT).chmod(0o600)
    write(".env.example", EXAMPLE_TEXT)
    stub = _Runtime()
    monkeypatch.setattr(deploy, "runtime_of", lambda spec, secrets=(): stub)
    monkeypatch.setattr(deploy, "smoke_check", lambda *a, **k: lambda url, verify=True: "ok")
    target = Target(env="x", configs_dir=Path("configs"))
    first = deploy.roll_out(target)  # the running build, recorded as release 0001
    assert first.ok and first.release == "0001"
    env_yaml.write_text(env_yaml.read_text() + "litellm_settings: {num_retries: 1}\n")

    counted.clear()
    result = deploy.apply(deploy.ApplyRequest(target))

    assert result.ok and result.changed and result.target == "0002"
    assert "config.yaml" in result.diff.changed_names
    assert dict(counted) == {"render": 1, "config.yaml": 1, "stack settings": 1}
    # what was diffed is what was recorded and rolled out, byte for byte
    [build_] = stub.rolled_out[1:]
    assert build_.id == "0002" and "num_retries: 1" in read_build(build_.dir)["config.yaml"]
    assert releases.ReleaseStore(build_.spec).running().id == "0002"  # type: ignore[union-attr]


def test_a_dry_run_renders_once_and_writes_no_release(
        write: Any, in_tmp: Path, monkeypatch: pytest.MonkeyPatch,
        counted: collections.Counter[str]) -> None:
    write("configs/base.yaml", BASE)
    env_yaml = write("configs/environments/x.yaml", "layers: [../base.yaml]\n")
    write(".env", ENV_TEXT).chmod(0o600)
    write(".env.example", EXAMPLE_TEXT)
    monkeypatch.setattr(deploy, "runtime_of", lambda spec, secrets=(): _Runtime())
    monkeypatch.setattr(deploy, "smoke_check", lambda *a, **k: lambda url, verify=True: "ok")
    target = Target(env="x", configs_dir=Path("configs"))
    assert deploy.roll_out(target).ok
    env_yaml.write_text(env_yaml.read_text() + "litellm_settings: {num_retries: 1}\n")

    counted.clear()
    result = deploy.apply(deploy.ApplyRequest(target, dry_run=True))

    assert result.changed and result.target is None
    assert dict(counted) == {"render": 1, "config.yaml": 1, "stack settings": 1}
    store = releases.ReleaseStore(deploy._load(target).spec)
    assert [r.id for r in store.all()] == ["0001"]  # the prepared 0002 was never written
