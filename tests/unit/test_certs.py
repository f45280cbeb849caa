"""Self-signed certificates: names, key mode, no silent overwrite, and the CLI's output."""

from __future__ import annotations

import ipaddress
import ssl
import stat
from pathlib import Path

import pytest
import typer
from cryptography import x509
from cryptography.hazmat.primitives.asymmetric import ec
from typer.testing import CliRunner

from llmproxy_ops.cli import certs_cmd
from llmproxy_ops.errors import OpsError
from llmproxy_ops.ops.certs import create_self_signed, san_names


def load(path: Path) -> x509.Certificate:
    return x509.load_pem_x509_certificate(path.read_bytes())


def test_creates_ec_cert_with_sans_and_private_key_0600(tmp_path: Path) -> None:
    paths = create_self_signed(tmp_path / "certs", ["gw.example.com", "10.0.0.5"], days=30)
    assert paths.cert == tmp_path / "certs" / "cert.pem"
    assert paths.key == tmp_path / "certs" / "key.pem"
    assert stat.S_IMODE(paths.key.stat().st_mode) == 0o600
    cert = load(paths.cert)
    assert isinstance(cert.public_key(), ec.EllipticCurvePublicKey)
    san = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert san.get_values_for_type(x509.DNSName) == ["gw.example.com", "localhost"]
    assert san.get_values_for_type(x509.IPAddress) == [
        ipaddress.ip_address("10.0.0.5"),
        ipaddress.ip_address("127.0.0.1"),
    ]
    assert (cert.not_valid_after_utc - cert.not_valid_before_utc).days == 30
    assert paths.names == ("gw.example.com", "10.0.0.5", "localhost", "127.0.0.1")
    assert sorted(p.name for p in paths.cert.parent.iterdir()) == [
        "cert.pem",
        "key.pem",
    ]  # no temp files


def test_key_matches_certificate(tmp_path: Path) -> None:
    paths = create_self_signed(tmp_path, [])
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(paths.cert, paths.key)  # raises if the key does not match


def test_names_deduplicated_and_localhost_always_present() -> None:
    assert san_names(["LocalHost", "gw.lan", "gw.lan"]) == ("localhost", "gw.lan", "127.0.0.1")


def test_refuses_to_overwrite_without_force(tmp_path: Path) -> None:
    first = create_self_signed(tmp_path, ["a.lan"])
    before = first.cert.read_bytes()
    with pytest.raises(OpsError) as info:
        create_self_signed(tmp_path, ["b.lan"])
    assert (
        info.value.message
        == f"refusing to overwrite {tmp_path / 'cert.pem'}, {tmp_path / 'key.pem'}"
    )
    assert first.cert.read_bytes() == before
    second = create_self_signed(tmp_path, ["b.lan"], force=True)
    assert second.cert.read_bytes() != before


def test_refuses_when_only_the_key_exists(tmp_path: Path) -> None:
    (tmp_path / "key.pem").write_text("existing")
    with pytest.raises(OpsError) as info:
        create_self_signed(tmp_path, [])
    assert info.value.message == f"refusing to overwrite {tmp_path / 'key.pem'}"


@pytest.mark.parametrize(
    ("hosts", "days", "message"),
    [
        (["bad host"], 10, "not a host name or IP address: 'bad host'"),
        ([], 0, "--days must be between 1 and 3650, got 0"),
    ],
)
def test_bad_input(tmp_path: Path, hosts: list[str], days: int, message: str) -> None:
    with pytest.raises(OpsError) as info:
        create_self_signed(tmp_path, hosts, days)
    assert info.value.message == message
    assert not list(tmp_path.iterdir())


def _cli() -> typer.Typer:
    root = typer.Typer()
    root.add_typer(certs_cmd.app, name="certs")

    @root.callback()
    def _root() -> None:
        """test root"""

    return root


def test_cli_prints_paths_never_key_material(tmp_path: Path) -> None:
    out = tmp_path / "c"
    result = CliRunner().invoke(
        _cli(), ["certs", "self-signed", "--out", str(out), "--host", "gw.lan"]
    )
    assert result.exit_code == 0, result.output
    assert f"certificate: {out / 'cert.pem'}" in result.output
    assert f"private key: {out / 'key.pem'} (mode 0600)" in result.output
    assert "names: gw.lan, localhost, 127.0.0.1" in result.output
    assert "PRIVATE KEY" not in result.output and "BEGIN" not in result.output


def test_cli_existing_files_exit_1_with_hint(tmp_path: Path) -> None:
    create_self_signed(tmp_path, [])
    result = CliRunner().invoke(_cli(), ["certs", "self-signed", "--out", str(tmp_path)])
    assert result.exit_code == 1
    assert "hint: pass --force to replace them" in result.output


def test_cli_help_has_an_example() -> None:
    result = CliRunner().invoke(_cli(), ["certs", "self-signed", "--help"], env={"COLUMNS": "200"})
    assert result.exit_code == 0
    assert "Example: llmproxy-ops certs self-signed --out certs --host gateway.lan" in result.output
