"""callback-module: a callback, custom handler, guardrail or auth hook LiteLLM could not load.

Checked by reading the module file beside the config (validate/pymodules.py), never by
importing it. The shipped hooks (render/litellm_hooks) are ours and are started for real by
the LiteLLM stage; a module that is installed is left to that stage too (installed code is
not the user's folder). What remains is named with its file: not there, not Python, or
without the attribute the config names.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

from llmproxy_ops.findings import Finding, Severity
from llmproxy_ops.render.litellm_hooks import SHIPPED
from llmproxy_ops.spec.model import Spec
from llmproxy_ops.spec.resolve import display_path
from llmproxy_ops.targets.registry import target_of
from llmproxy_ops.validate.checks._common import make, stack_settings
from llmproxy_ops.validate.context import CheckContext
from llmproxy_ops.validate.pymodules import ModuleRef, installed, module_refs, read_module

CODE = "callback-module"


def config_folder(spec: Spec) -> Path:
    """Where LiteLLM looks for the config's modules: the folder of the file read last."""
    return Path(spec.sources[-1]).resolve().parent if spec.sources else Path.cwd()


def user_refs(spec: Spec) -> list[ModuleRef]:
    """The config's module references that are not our shipped hooks."""
    return [r for r in module_refs(spec.root) if r.module not in SHIPPED]


def check_callback_modules(ctx: CheckContext) -> Iterable[Finding]:
    folder = config_folder(ctx.spec)
    for ref in user_refs(ctx.spec):
        if not ref.well_formed:
            yield _finding(ctx, ref, "that is not a Python module path", Severity.ERROR,
                           "write it as module.attribute (dotted Python names)")
            continue
        file = ref.file_in(folder)
        shown = display_path(file)
        if file.is_file():
            reading = read_module(file)
            if reading.problem is not None:
                yield _finding(ctx, ref, f"{shown} {reading.problem}", Severity.ERROR,
                               "fix the module; validation reads it, it never imports it")
            elif not reading.defines(ref.attribute):
                yield _finding(ctx, ref, f"{shown} defines no '{ref.attribute}'", Severity.ERROR,
                               f"define {ref.attribute} at the top level of {shown}")
        elif not installed(ref.module):
            elsewhere = _runs_elsewhere(ctx)
            yield _finding(
                ctx, ref,
                f"module '{ref.module}' is neither beside the config ({shown}) nor installed",
                Severity.WARNING if elsewhere else Severity.ERROR,
                "the image that runs it must install it" if elsewhere else
                f"put {Path(shown).name} beside the config, or install the package",
            )


def _finding(ctx: CheckContext, ref: ModuleRef, what: str, severity: Severity,
             hint: str) -> Finding:
    return make(ctx, severity, CODE, f"LiteLLM cannot load '{ref.value}': {what}", ref.path, hint)


def _runs_elsewhere(ctx: CheckContext) -> bool:
    stack = stack_settings(ctx.spec)
    return stack is not None and not target_of(stack).runs_in_this_venv
