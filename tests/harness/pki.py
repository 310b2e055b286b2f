"""A throw-away PKI for the transport tests (security profiles 2 and 3), made with ``cryptography``."""

from __future__ import annotations

import datetime as dt
import ipaddress
from pathlib import Path
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID


def _name(common_name: str) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])


def _certificate(
    subject: str, key: Any, issuer: str, issuer_key: Any, *, ca: bool, usage: Any = None, san: Any = None
) -> x509.Certificate:
    now = dt.datetime.now(dt.timezone.utc)
    builder = (
        x509.CertificateBuilder()
        .subject_name(_name(subject))
        .issuer_name(_name(issuer))
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(hours=1))
        .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
        .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(issuer_key.public_key()), critical=False)
    )
    if ca:
        builder = builder.add_extension(
            x509.KeyUsage(False, False, False, False, False, True, True, False, False), critical=True
        )
    if usage:
        builder = builder.add_extension(x509.ExtendedKeyUsage([usage]), critical=False)
    if san:
        builder = builder.add_extension(x509.SubjectAlternativeName(san), critical=False)
    return builder.sign(issuer_key, hashes.SHA256())


def _write(folder: Path, name: str, certificate: x509.Certificate, key: Any) -> None:
    (folder / f"{name}.pem").write_bytes(certificate.public_bytes(serialization.Encoding.PEM))
    (folder / f"{name}.key").write_bytes(
        key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    )


def make_pki(folder: Path) -> Path:
    """``folder/pki``: root.pem, server.pem/.key (127.0.0.1, localhost), client.pem/.key (CS001) signed by the
    root, and other_root.pem with other_client.pem/.key: a second CA nobody trusts."""
    pki = folder / "pki"
    pki.mkdir()
    root_key, server_key, client_key, other_key, other_client_key = (ec.generate_private_key(ec.SECP256R1()) for _ in range(5))
    root = _certificate("Test Root", root_key, "Test Root", root_key, ca=True)
    server = _certificate(
        "127.0.0.1", server_key, "Test Root", root_key, ca=False, usage=ExtendedKeyUsageOID.SERVER_AUTH,
        san=[x509.IPAddress(ipaddress.ip_address("127.0.0.1")), x509.DNSName("localhost")],
    )
    client = _certificate("CS001", client_key, "Test Root", root_key, ca=False, usage=ExtendedKeyUsageOID.CLIENT_AUTH)
    other = _certificate("Other Root", other_key, "Other Root", other_key, ca=True)
    other_client = _certificate(
        "CS001", other_client_key, "Other Root", other_key, ca=False, usage=ExtendedKeyUsageOID.CLIENT_AUTH
    )
    _write(pki, "root", root, root_key)
    _write(pki, "server", server, server_key)
    _write(pki, "client", client, client_key)
    _write(pki, "other_root", other, other_key)
    _write(pki, "other_client", other_client, other_client_key)
    return pki
