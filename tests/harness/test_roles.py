"""The two roles' transport: identity from the path, Basic auth (security profile 1), TLS and mutual TLS
(profiles 2 and 3), between the harness's own fake CSMS and fake station on 127.0.0.1."""

from __future__ import annotations

import base64
import dataclasses
import ssl
from pathlib import Path
from typing import AsyncIterator

import pytest

from pki import make_pki

from harness.config import reference_config
from harness.responders import csms_defaults
from harness.roles import Answering, ConnectRefused, CsmsEndpoint, FakeCsms, FakeStation, StationIdentity

CONFIG = reference_config("cs")


@pytest.fixture(scope="module")
def pki(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A root, the CSMS's server certificate for 127.0.0.1, the station's client certificate (see pki.py)."""
    return make_pki(tmp_path_factory.mktemp("tls"))


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


async def test_the_basic_scheme_name_is_case_insensitive(basic_auth_csms: FakeCsms) -> None:
    """RFC 7235 §2.1: a station that writes "basic" authenticates like one that writes "Basic"."""
    token = base64.b64encode(b"CS001:s3cret-s3cret-16").decode()
    station = _station(basic_auth_csms, extra_headers={"Authorization": f"basic {token}"})
    connection = await station.connect(timeout=5)
    assert connection.number == 1
    await station.stop()


def test_the_password_is_in_no_repr_of_the_configuration() -> None:
    config = reference_config("cs")
    secret = "s3cret-s3cret-16"
    assert secret not in repr(dataclasses.replace(config, basic_auth_password=secret))


async def test_identity_is_percent_decoded_from_the_path() -> None:
    csms = await _csms(CsmsEndpoint(identities=frozenset({"RDAM 123"})))
    station = _station(csms, identity="RDAM 123")
    await station.connect(timeout=5)
    assert csms.identity == "RDAM 123"
    await station.stop()
    await csms.stop()


def _server_context(pki: Path, require_client: bool) -> ssl.SSLContext:
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    context.load_cert_chain(pki / "server.pem", pki / "server.key")
    if require_client:
        context.load_verify_locations(pki / "root.pem")
        context.verify_mode = ssl.CERT_REQUIRED
    return context


def _client_context(pki: Path, with_certificate: bool) -> ssl.SSLContext:
    context = ssl.create_default_context(cafile=str(pki / "root.pem"))
    if with_certificate:
        context.load_cert_chain(pki / "client.pem", pki / "client.key")
    return context


async def test_tls_server_certificate_security_profile_2(pki: Path) -> None:
    csms = await _csms(CsmsEndpoint(ssl_context=_server_context(pki, require_client=False), basic_auth_password="s3cret-s3cret-16"))
    assert csms.url.startswith("wss://")
    station = _station(csms, ssl_context=_client_context(pki, False), basic_auth_password="s3cret-s3cret-16")
    await station.connect(timeout=5)
    await station.stop()
    await csms.stop()


async def test_mutual_tls_security_profile_3(pki: Path) -> None:
    csms = await _csms(CsmsEndpoint(ssl_context=_server_context(pki, require_client=True)))
    station = _station(csms, ssl_context=_client_context(pki, True))
    await station.connect(timeout=5)
    await station.stop()
    await csms.stop()


async def test_mutual_tls_refuses_a_station_without_certificate(pki: Path) -> None:
    csms = await _csms(CsmsEndpoint(ssl_context=_server_context(pki, require_client=True)))
    with pytest.raises(ConnectRefused):
        await _station(csms, ssl_context=_client_context(pki, False)).connect(timeout=5)
    await csms.stop()
