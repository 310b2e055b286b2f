"""The two roles' transport: identity from the path, Basic auth (security profile 1), TLS and mutual TLS
(profiles 2 and 3), between the harness's own fake CSMS and fake station on 127.0.0.1."""

from __future__ import annotations

import datetime as dt
import ipaddress
import ssl
from pathlib import Path
from typing import AsyncIterator

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from harness.config import reference_config
from harness.responders import csms_defaults
from harness.roles import Answering, ConnectRefused, CsmsEndpoint, FakeCsms, FakeStation, StationIdentity

CONFIG = reference_config("cs")


def _name(common_name: str) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])


def _certificate(subject: str, issuer_key, issuer: str, key, *, ca: bool, usage=None, san=None) -> x509.Certificate:
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
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(issuer_key.public_key()), critical=False
        )
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


def _write(folder: Path, name: str, certificate: x509.Certificate, key) -> tuple[Path, Path]:
    cert_path, key_path = folder / f"{name}.pem", folder / f"{name}.key"
    cert_path.write_bytes(certificate.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    )
    return cert_path, key_path


@pytest.fixture(scope="module")
def pki(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """A throw-away PKI: a root, the CSMS's server certificate for 127.0.0.1, the station's client certificate."""
    folder = tmp_path_factory.mktemp("pki")
    root_key, server_key, client_key = (ec.generate_private_key(ec.SECP256R1()) for _ in range(3))
    root = _certificate("Test Root", root_key, "Test Root", root_key, ca=True)
    server = _certificate(
        "127.0.0.1", root_key, "Test Root", server_key, ca=False, usage=ExtendedKeyUsageOID.SERVER_AUTH,
        san=[x509.IPAddress(ipaddress.ip_address("127.0.0.1"))],
    )
    client = _certificate("CS001", root_key, "Test Root", client_key, ca=False, usage=ExtendedKeyUsageOID.CLIENT_AUTH)
    root_pem, _ = _write(folder, "root", root, root_key)
    server_pem, server_pem_key = _write(folder, "server", server, server_key)
    client_pem, client_pem_key = _write(folder, "client", client, client_key)
    return {"root": root_pem, "server": server_pem, "server_key": server_pem_key, "client": client_pem, "client_key": client_pem_key}


async def _csms(endpoint: CsmsEndpoint) -> FakeCsms:
    csms = FakeCsms(endpoint, Answering(csms_defaults(CONFIG)))
    await csms.start()
    return csms


def _station(csms: FakeCsms, **overrides) -> FakeStation:
    return FakeStation(StationIdentity(csms.url, **overrides), Answering({}))


@pytest.fixture
async def basic_auth_csms() -> AsyncIterator[FakeCsms]:
    csms = await _csms(CsmsEndpoint(basic_auth_password="s3cret-s3cret-16"))
    yield csms
    await csms.stop()


async def test_basic_auth_with_the_right_password_connects(basic_auth_csms: FakeCsms) -> None:
    station = _station(basic_auth_csms, basic_auth_password="s3cret-s3cret-16")
    connection = await station.connect(timeout=5)
    assert connection.number == 1 and basic_auth_csms.identity == "CS001"
    await station.stop()


@pytest.mark.parametrize("password", [None, "wrong-password-16"])
async def test_basic_auth_without_the_right_password_gets_401(basic_auth_csms: FakeCsms, password: str | None) -> None:
    with pytest.raises(ConnectRefused) as refused:
        await _station(basic_auth_csms, basic_auth_password=password).connect(timeout=5)
    assert refused.value.status == 401
    assert basic_auth_csms.rejections[-1].status == 401


async def test_identity_is_percent_decoded_from_the_path() -> None:
    csms = await _csms(CsmsEndpoint(identities=frozenset({"RDAM 123"})))
    station = _station(csms, identity="RDAM 123")
    await station.connect(timeout=5)
    assert csms.identity == "RDAM 123"
    await station.stop()
    await csms.stop()


def _server_context(pki: dict[str, Path], require_client: bool) -> ssl.SSLContext:
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    context.load_cert_chain(pki["server"], pki["server_key"])
    if require_client:
        context.load_verify_locations(pki["root"])
        context.verify_mode = ssl.CERT_REQUIRED
    return context


def _client_context(pki: dict[str, Path], with_certificate: bool) -> ssl.SSLContext:
    context = ssl.create_default_context(cafile=str(pki["root"]))
    if with_certificate:
        context.load_cert_chain(pki["client"], pki["client_key"])
    return context


async def test_tls_server_certificate_security_profile_2(pki: dict[str, Path]) -> None:
    csms = await _csms(CsmsEndpoint(ssl_context=_server_context(pki, require_client=False), basic_auth_password="s3cret-s3cret-16"))
    assert csms.url.startswith("wss://")
    station = _station(csms, ssl_context=_client_context(pki, False), basic_auth_password="s3cret-s3cret-16")
    await station.connect(timeout=5)
    await station.stop()
    await csms.stop()


async def test_mutual_tls_security_profile_3(pki: dict[str, Path]) -> None:
    csms = await _csms(CsmsEndpoint(ssl_context=_server_context(pki, require_client=True)))
    station = _station(csms, ssl_context=_client_context(pki, True))
    await station.connect(timeout=5)
    await station.stop()
    await csms.stop()


async def test_mutual_tls_refuses_a_station_without_certificate(pki: dict[str, Path]) -> None:
    csms = await _csms(CsmsEndpoint(ssl_context=_server_context(pki, require_client=True)))
    with pytest.raises(ConnectRefused):
        await _station(csms, ssl_context=_client_context(pki, False)).connect(timeout=5)
    await csms.stop()
