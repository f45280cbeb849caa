"""Finding 17: `certs self-signed` makes a server certificate that cannot sign others."""

from __future__ import annotations

import socket
import ssl
import threading
from pathlib import Path

from cryptography import x509
from cryptography.x509.oid import ExtendedKeyUsageOID


def test_finding_17_the_self_signed_certificate_is_a_leaf(tmp_path: Path, cli) -> None:  # noqa: ANN001
    result = cli("certs", "self-signed", "--out", str(tmp_path), "--host", "gateway.lan")
    assert result.exit_code == 0, result.output
    cert = x509.load_pem_x509_certificate((tmp_path / "cert.pem").read_bytes())
    basic = cert.extensions.get_extension_for_class(x509.BasicConstraints)
    usage = cert.extensions.get_extension_for_class(x509.KeyUsage).value
    eku = cert.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value
    sans = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert basic.critical and basic.value.ca is False
    assert usage.digital_signature and not usage.key_cert_sign and not usage.crl_sign
    assert list(eku) == [ExtendedKeyUsageOID.SERVER_AUTH]
    assert sans.get_values_for_type(x509.DNSName) == ["gateway.lan", "localhost"]
    assert [str(ip) for ip in sans.get_values_for_type(x509.IPAddress)] == ["127.0.0.1"]
    assert (tmp_path / "key.pem").stat().st_mode & 0o777 == 0o600


def test_finding_17_clients_still_trust_it_directly(tmp_path: Path, cli) -> None:  # noqa: ANN001
    cli("certs", "self-signed", "--out", str(tmp_path))
    server = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    server.load_cert_chain(tmp_path / "cert.pem", tmp_path / "key.pem")
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen()

        def serve() -> None:
            conn, _ = listener.accept()
            with server.wrap_socket(conn, server_side=True) as tls:
                tls.recv(1)

        thread = threading.Thread(target=serve, daemon=True)
        thread.start()
        client = ssl.create_default_context(cafile=str(tmp_path / "cert.pem"))
        client.verify_flags |= ssl.VERIFY_X509_STRICT
        with socket.create_connection(listener.getsockname()) as raw, client.wrap_socket(
                raw, server_hostname="localhost") as tls:
            assert tls.version() in ("TLSv1.2", "TLSv1.3")
            tls.send(b"x")
        thread.join(10)
