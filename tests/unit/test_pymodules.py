"""Modules a config names are found and checked by reading them (never imported)."""

from __future__ import annotations

import textwrap
from pathlib import Path

from llmproxy_ops.findings import format_path
from llmproxy_ops.spec import load_files
from llmproxy_ops.validate.checks.callback_modules import check_callback_modules
from llmproxy_ops.validate.context import CheckContext
from llmproxy_ops.validate.probe_stubs import stub_sources
from llmproxy_ops.validate.pymodules import installed, module_refs, read_module

CONFIG = {
    "litellm_settings": {
        "callbacks": ["langfuse", "hooks.logger", "llmproxy_auth_status.handler"],
        "success_callback": "mlflow",
        "failure_callback": ["pkg.sub.on_fail"],
        "post_call_rules": "rules.check",
        "custom_provider_map": [{"provider": "mine", "custom_handler": "handlers.llm"}, 3],
    },
    "general_settings": {"custom_auth": "auth.check", "custom_sso": "auth.sso",
                         "master_key": "os.environ/LITELLM_MASTER_KEY"},
    "guardrails": [{"guardrail_name": "g", "litellm_params": {"guardrail": "guards.Mine"}},
                   {"guardrail_name": "p", "litellm_params": {"guardrail": "presidio"}}],
}


def test_every_place_litellm_loads_a_module_from_is_found() -> None:
    got = [(format_path(r.path), r.value, r.kind) for r in module_refs(CONFIG)]
    assert got == [
        ("litellm_settings.callbacks[1]", "hooks.logger", "callback"),
        ("litellm_settings.callbacks[2]", "llmproxy_auth_status.handler", "callback"),
        ("litellm_settings.failure_callback[0]", "pkg.sub.on_fail", "callback"),
        ("litellm_settings.post_call_rules", "rules.check", "function"),
        ("litellm_settings.custom_provider_map[0].custom_handler", "handlers.llm", "handler"),
        ("general_settings.custom_auth", "auth.check", "auth"),
        ("general_settings.custom_sso", "auth.sso", "function"),
        ("guardrails[0].litellm_params.guardrail", "guards.Mine", "guardrail"),
    ]
    [ref] = [r for r in module_refs(CONFIG) if r.value == "pkg.sub.on_fail"]
    assert ref.file_in(Path("/cfg")) == Path("/cfg/pkg/sub.py")  # as get_instance_fn builds it


def test_reading_collects_top_level_names_without_running_anything(tmp_path: Path) -> None:
    module = tmp_path / "m.py"
    module.write_text(textwrap.dedent("""\
        import os, json as j
        from x import y as z
        raise SystemExit("never run")
        a = b = 1
        c: int = 2
        def f(): inner = 1
        class K: attr = 1
        try:
            t = 1
        except ImportError:
            e = 2
        if os.name:
            i = 3
        """))
    reading = read_module(module)
    assert reading.names == {"os", "j", "z", "a", "b", "c", "f", "K", "t", "e", "i"}
    assert not reading.open_ended and reading.problem is None
    module.write_text("from x import *\n")
    assert read_module(module).defines("anything")
    module.write_text("def __getattr__(name): ...\n")
    assert read_module(module).defines("anything")
    module.write_text("x = 1\ndef broken(:\n")
    assert read_module(module).problem == "is not valid Python at line 2: invalid syntax"


def test_installed_means_the_interpreters_libraries_not_the_working_folder(
    tmp_path: Path, monkeypatch
) -> None:
    (tmp_path / "only_here.py").write_text("x = 1\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.chdir(tmp_path)
    assert not installed("only_here")
    assert installed("json") and installed("sys") and installed("litellm.integrations")


def test_findings_name_the_file_and_what_is_wrong(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "hooks.py").write_text("other = 1\n")
    (tmp_path / "guards.py").write_text("class Mine(:\n")
    config = tmp_path / "c.yaml"
    config.write_text(textwrap.dedent("""\
        litellm_settings:
          callbacks: [hooks.logger, llmproxy_auth_status.handler, "a/../b.x", nowhere.h]
        guardrails:
          - {guardrail_name: g, litellm_params: {guardrail: guards.Mine, mode: pre_call}}
        """))
    spec = load_files([config])
    got = [(str(f.location), f.severity.value, f.message)
           for f in check_callback_modules(CheckContext(spec))]
    assert got == [
        ("c.yaml:2:15", "error", "LiteLLM cannot load 'hooks.logger': hooks.py defines no 'logger'"),
        ("c.yaml:2:59", "error",
         "LiteLLM cannot load 'a/../b.x': that is not a Python module path"),
        ("c.yaml:2:71", "error", "LiteLLM cannot load 'nowhere.h': module 'nowhere' is neither "
         "beside the config (nowhere.py) nor installed"),
        ("c.yaml:4:42", "error", "LiteLLM cannot load 'guards.Mine': guards.py is not valid "
         "Python at line 1: invalid syntax"),
    ]


def test_stand_ins_define_each_named_attribute_as_litellm_expects_it() -> None:
    stubs = stub_sources(module_refs(CONFIG))
    assert sorted(stubs) == ["auth.py", "guards.py", "handlers.py", "hooks.py",
                             "llmproxy_auth_status.py", "pkg/sub.py", "rules.py"]
    assert "check = None" not in stubs["auth.py"]
    assert "async def check(request, api_key):" in stubs["auth.py"]
    assert "def sso(*args, **kwargs):" in stubs["auth.py"]
    assert "class Mine(CustomGuardrail):" in stubs["guards.py"]
    assert "llm = CustomLLM()" in stubs["handlers.py"]
    for source in stubs.values():
        compile(source, "stub", "exec")
