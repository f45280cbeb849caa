"""`llmproxy-ops certs`: certificates for the nginx front end."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from llmproxy_ops.cli.boundary import GuardedTyper
from llmproxy_ops.cli.output import console
from llmproxy_ops.ops.certs import create_self_signed

app = GuardedTyper(help="TLS certificates for the nginx front end.", no_args_is_help=True)


@app.command("self-signed")
def self_signed(
    out: Annotated[Path, typer.Option("--out", help="folder for cert.pem and key.pem")] = Path(
        "certs"
    ),
    host: Annotated[
        list[str] | None,
        typer.Option(
            "--host",
            help="host name or IP to certify (repeatable); localhost, 127.0.0.1 always added",
        ),
    ] = None,
    days: Annotated[int, typer.Option("--days", help="validity in days (1-3650)")] = 365,
    force: Annotated[
        bool, typer.Option("--force", help="replace an existing cert.pem/key.pem")
    ] = False,
) -> None:
    """Create a self-signed certificate for local use (cert.pem, key.pem with mode 0600).

    Example: llmproxy-ops certs self-signed --out certs --host gateway.lan --days 90
    """
    paths = create_self_signed(out, list(host or []), days, force=force)
    console.print(f"certificate: {paths.cert}")
    console.print(f"private key: {paths.key} (mode 0600)")
    console.print(f"names: {', '.join(paths.names)}; valid until {paths.not_after:%Y-%m-%d}")
