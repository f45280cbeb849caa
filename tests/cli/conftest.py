from __future__ import annotations

import pytest
from typer.testing import CliRunner

from llmproxy_ops.cli.main import app


class Cli:
    """Invoke `llmproxy-ops ARGS` in-process; returns typer's Result (exit_code, output)."""

    def __init__(self) -> None:
        self.runner = CliRunner()

    def __call__(self, *args: str, input: str | None = None):  # noqa: A002 - typer's name
        return self.runner.invoke(app, list(args), input=input, catch_exceptions=False)


@pytest.fixture
def cli() -> Cli:
    return Cli()
