"""Self-signed TLS certificate for local use of the nginx front end (cert.pem, key.pem)."""

from __future__ import annotations

import datetime as dt
import ipaddress
from dataclasses import dataclass
from pathlib import Path
from typing import Final

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from llmproxy_ops.errors import OpsError
from llmproxy_ops.fsutil import atomic_write_bytes

CERT_FILE: Final = "cert.pem"  # the names the rendered nginx.conf reads
KEY_FILE: Final = "key.pem"
ALWAYS_INCLUDED: Final = ("localhost", "127.0.0.1")
MAX_DAYS: Final = 3650


@dataclass(frozen=True)
class CertPaths:
    cert: Path
    key: Path
    names: tuple[str, ...]  # subject alternative names, in order
    not_after: dt.datetime


def create_self_signed(
    out_dir: Path, hostnames: list[str], days: int = 365, *, force: bool = False
) -> CertPaths:
    """Write an EC P-256 self-signed certificate and its key (mode 0600) into `out_dir`.

    Refuses to replace existing files unless `force`; each file appears atomically.
    """
    if not 1 <= days <= MAX_DAYS:
        raise OpsError(f"--days must be between 1 and {MAX_DAYS}, got {days}")
    names = san_names(hostnames)
    cert_path, key_path = out_dir / CERT_FILE, out_dir / KEY_FILE
    _refuse_overwrite([cert_path, key_path], force)
    key = ec.generate_private_key(ec.SECP256R1())
    cert = _certificate(key, names, days)
    out_dir.mkdir(parents=True, exist_ok=True)
    _write_atomic(key_path, _key_pem(key), mode=0o600)
    _write_atomic(cert_path, cert.public_bytes(serialization.Encoding.PEM), mode=0o644)
    return CertPaths(cert_path, key_path, names, cert.not_valid_after_utc)


def san_names(hostnames: list[str]) -> tuple[str, ...]:
    """The given names first (they name the certificate), then localhost and 127.0.0.1."""
    names: list[str] = []
    for name in [*hostnames, *ALWAYS_INCLUDED]:
        name = name.strip().lower()
        if not name or any(c.isspace() for c in name) or "/" in name:
            raise OpsError(f"not a host name or IP address: {name!r}")
        if name not in names:
            names.append(name)
    return tuple(names)


def _refuse_overwrite(paths: list[Path], force: bool) -> None:
    existing = [str(p) for p in paths if p.exists()]
    if existing and not force:
        raise OpsError(
            f"refusing to overwrite {', '.join(existing)}",
            hint="pass --force to replace them (clients trusting the old certificate will fail)",
        )


def _certificate(
    key: ec.EllipticCurvePrivateKey, names: tuple[str, ...], days: int
) -> x509.Certificate:
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, names[0])])
    now = dt.datetime.now(dt.UTC)
    public = key.public_key()
    # A leaf (CA:FALSE, no certificate or CRL signing): trusted directly as its own anchor
    # (httpx verify=cert.pem, curl --cacert), but if its key ever leaks it cannot sign a
    # certificate for another name that a client trusting this file would accept.
    return (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(subject)
        .public_key(public)
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))  # tolerate small clock skew
        .not_valid_after(now + dt.timedelta(days=days))
        .add_extension(
            x509.SubjectAlternativeName([_general_name(n) for n in names]), critical=False
        )
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(_key_usage(), critical=True)
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(public), critical=False)
        .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(public), critical=False)
        .sign(key, hashes.SHA256())
    )


def _key_usage() -> x509.KeyUsage:
    return x509.KeyUsage(
        digital_signature=True,
        content_commitment=False,
        key_encipherment=False,
        data_encipherment=False,
        key_agreement=False,
        key_cert_sign=False,
        crl_sign=False,
        encipher_only=False,
        decipher_only=False,
    )


def _general_name(name: str) -> x509.GeneralName:
    try:
        return x509.IPAddress(ipaddress.ip_address(name))
    except ValueError:
        return x509.DNSName(name)


def _key_pem(key: ec.EllipticCurvePrivateKey) -> bytes:
    return key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )


def _write_atomic(path: Path, data: bytes, *, mode: int) -> None:
    atomic_write_bytes(path, data, mode=mode)  # the key is never readable by others
