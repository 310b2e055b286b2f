"""TLS from the SUT file: ``[tls]`` → the SSL contexts the environment builds (security profiles 2 and 3),
proven with a throw-away PKI on 127.0.0.1, and the security profile the run reports for each setup."""

from __future__ import annotations

import ssl
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from websockets.asyncio.client import connect
from websockets.exceptions import InvalidHandshake

from pki import make_pki

from harness.config import from_dict, load, reference_config
from harness.environment import Environment
from harness.report.summary import security_profile
from harness.responders import csms_defaults
from harness.roles import SUBPROTOCOL, Answering, ConnectRefused, CsmsEndpoint, FakeCsms, FakeStation
from harness.verdicts import HarnessError

PASSWORD = "s3cret-s3cret-16"
REFUSED_BY_TLS = (InvalidHandshake, OSError, EOFError)
"""Under TLS 1.3 a client without an accepted certificate finishes its side of the handshake and then fails
reading the HTTP answer (websockets' InvalidMessage); under TLS 1.2 or a bad server it is an ssl.SSLError."""


@pytest.fixture(scope="module")
def pki(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_pki(tmp_path_factory.mktemp("tls"))


def sut_file(pki: Path, text: str) -> Path:
    """A SUT file next to ``pki/``, so that its [tls] paths can be relative ("pki/server.pem")."""
    path = pki.parent / "sut.toml"
    path.write_text(text, encoding="utf-8")
    return path


CS_TLS = """
[sut]
role = "cs"
kind = "external"
[tls]
server_certificate = "pki/server.pem"
server_key = "pki/server.key"
"""


def client_context(pki: Path, certificate: str | None = "client", maximum: ssl.TLSVersion | None = None) -> ssl.SSLContext:
    """The context of a station that trusts the root and presents ``certificate`` (None: no certificate)."""
    context = ssl.create_default_context(cafile=str(pki / "root.pem"))
    if certificate:
        context.load_cert_chain(pki / f"{certificate}.pem", pki / f"{certificate}.key")
    if maximum is not None:
        context.maximum_version = maximum
    return context


@pytest.fixture
async def mtls_environment(pki: Path) -> AsyncIterator[Environment]:
    """The harness as CSMS with [tls] client_ca: security profile 3."""
    config = load(sut_file(pki, CS_TLS + 'client_ca = "pki/root.pem"\n'))
    env = await Environment.start(config)
    yield env
    await env.stop()


def _url(env: Environment) -> str:
    assert isinstance(env.link, FakeCsms)
    return f"wss://127.0.0.1:{env.link.port}/ocpp/CS001"


# --- role cs: the harness's CSMS listens with wss:// --------------------------------------------------------

async def test_cs_tls_with_client_ca_accepts_a_station_certificate(pki: Path, mtls_environment: Environment) -> None:
    assert isinstance(mtls_environment.link, FakeCsms) and mtls_environment.link.url.startswith("wss://")
    async with connect(_url(mtls_environment), subprotocols=[SUBPROTOCOL], ssl=client_context(pki)) as websocket:
        assert websocket.subprotocol == SUBPROTOCOL
        connection = await mtls_environment.link.wait_for_connection(5)
        assert connection.number == 1 and mtls_environment.link.identity == "CS001"


@pytest.mark.parametrize("certificate", [None, "other_client"])
async def test_cs_tls_with_client_ca_refuses_a_station_without_an_accepted_certificate(
    pki: Path, mtls_environment: Environment, certificate: str | None
) -> None:
    with pytest.raises(REFUSED_BY_TLS):
        async with connect(
            _url(mtls_environment), subprotocols=[SUBPROTOCOL], ssl=client_context(pki, certificate), open_timeout=5
        ):
            pass
    assert mtls_environment.link.connections_made == 0


async def test_cs_tls_without_client_ca_is_basic_auth_over_tls(pki: Path) -> None:
    config = load(sut_file(pki, CS_TLS.replace("[tls]", f'[station]\nbasic_auth_password = "{PASSWORD}"\n[tls]')))
    env = await Environment.start(config)
    try:
        headers = {"Authorization": "Basic Q1MwMDE6czNjcmV0LXMzY3JldC0xNg=="}  # CS001:s3cret-s3cret-16
        async with connect(_url(env), subprotocols=[SUBPROTOCOL], ssl=client_context(pki, None), additional_headers=headers):
            assert (await env.link.wait_for_connection(5)).number == 1
    finally:
        await env.stop()
    assert security_profile(config)[0] == 2


async def test_cs_tls_min_version_13_refuses_tls_12(pki: Path) -> None:
    env = await Environment.start(load(sut_file(pki, CS_TLS + 'min_version = "TLSv1.3"\n')))
    try:
        with pytest.raises(REFUSED_BY_TLS):
            async with connect(
                _url(env), subprotocols=[SUBPROTOCOL], ssl=client_context(pki, None, ssl.TLSVersion.TLSv1_2), open_timeout=5
            ):
                pass
        async with connect(_url(env), subprotocols=[SUBPROTOCOL], ssl=client_context(pki, None)):
            assert (await env.link.wait_for_connection(5)).number == 1
    finally:
        await env.stop()


async def test_a_tls_file_gone_after_loading_is_a_configuration_error_at_start(tmp_path: Path) -> None:
    pki = make_pki(tmp_path)
    config = load(sut_file(pki, CS_TLS + 'client_ca = "pki/root.pem"\n'))
    (pki / "root.pem").unlink()
    with pytest.raises(HarnessError) as error:
        await Environment.start(config)
    message = str(error.value)
    assert "[tls] client_ca" in message and str(pki / "root.pem") in message and "sut.toml" in message


async def test_a_key_swapped_after_loading_is_a_configuration_error_at_start(tmp_path: Path) -> None:
    pki = make_pki(tmp_path)
    config = load(sut_file(pki, CS_TLS))
    (pki / "server.key").write_bytes((pki / "client.key").read_bytes())
    with pytest.raises(HarnessError, match=r"\[tls\] server_certificate .*server\.pem / server_key .*server\.key"):
        await Environment.start(config)


# --- role csms: the harness's station connects to wss:// ----------------------------------------------------

def _server_context(pki: Path, require_client: bool) -> ssl.SSLContext:
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(pki / "server.pem", pki / "server.key")
    if require_client:
        context.load_verify_locations(pki / "root.pem")
        context.verify_mode = ssl.CERT_REQUIRED
    return context


@pytest.fixture
async def wss_csms(pki: Path) -> AsyncIterator[FakeCsms]:
    """A CSMS under test stand-in that requires a client certificate (security profile 3)."""
    csms = FakeCsms(CsmsEndpoint(ssl_context=_server_context(pki, require_client=True)), Answering(csms_defaults(reference_config("cs"))))
    await csms.start()
    yield csms
    await csms.stop()


def _csms_sut(pki: Path, url: str, tls: str) -> Path:
    return sut_file(pki, f'[sut]\nrole = "csms"\nkind = "external"\n[csms]\nurl = "{url}"\n[tls]\n{tls}')


CSMS_MTLS = 'ca_certificate = "pki/root.pem"\nclient_certificate = "pki/client.pem"\nclient_key = "pki/client.key"\n'


async def test_csms_tls_station_connects_with_its_client_certificate(pki: Path, wss_csms: FakeCsms) -> None:
    assert wss_csms.url.startswith("wss://127.0.0.1:")
    config = load(_csms_sut(pki, wss_csms.url, CSMS_MTLS))
    env = await Environment.start(config)
    try:
        assert isinstance(env.link, FakeStation) and env.link.station.url.startswith("wss://127.0.0.1:")
        connection = await env.link.connect(5)
        assert connection.number == 1 and wss_csms.identity == "CS001"
    finally:
        await env.stop()
    assert security_profile(config)[0] == 3


@pytest.mark.parametrize("tls", [
    'ca_certificate = "pki/root.pem"\n',  # no client certificate: the CSMS requires one
    'ca_certificate = "pki/other_root.pem"\n' + CSMS_MTLS.split("\n", 1)[1],  # the server is not trusted
])
async def test_csms_tls_station_is_refused_or_refuses(pki: Path, wss_csms: FakeCsms, tls: str) -> None:
    env = await Environment.start(load(_csms_sut(pki, wss_csms.url, tls)))
    try:
        with pytest.raises(ConnectRefused):
            assert isinstance(env.link, FakeStation)
            await env.link.connect(5)
    finally:
        await env.stop()
    assert wss_csms.connections_made == 0


# --- the security profile the run reports -------------------------------------------------------------------

def _config(pki: Path, data: dict[str, Any]) -> Any:
    return from_dict(data, "sut.toml", base_dir=pki.parent)


def test_security_profiles_of_a_station_under_test(pki: Path) -> None:
    server = {"server_certificate": "pki/server.pem", "server_key": "pki/server.key"}
    basic = {"basic_auth_password": PASSWORD}
    assert security_profile(_config(pki, {"sut": {"role": "cs"}}))[0] == 0
    assert security_profile(_config(pki, {"sut": {"role": "cs"}, "station": basic}))[0] == 1
    level, basis = security_profile(_config(pki, {"sut": {"role": "cs"}, "station": basic, "tls": server}))
    assert level == 2 and "TLS server certificate and Basic auth" in basis
    for station in ({}, basic):
        level, basis = security_profile(
            _config(pki, {"sut": {"role": "cs"}, "station": station, "tls": {**server, "client_ca": "pki/root.pem"}})
        )
        assert level == 3 and "TLS with a client certificate required ([tls] client_ca)" in basis
    level, basis = security_profile(_config(pki, {"sut": {"role": "cs"}, "tls": server}))
    assert level is None and "not one of the OCPP security profiles" in basis


def test_security_profiles_of_a_csms_under_test(pki: Path) -> None:
    def config(url: str, tls: dict[str, str] | None = None, password: str | None = PASSWORD) -> Any:
        data: dict[str, Any] = {"sut": {"role": "csms"}, "csms": {"url": url}}
        if password:
            data["station"] = {"basic_auth_password": password}
        if tls is not None:
            data["tls"] = tls
        return _config(pki, data)

    ca = {"ca_certificate": "pki/root.pem"}
    client = {**ca, "client_certificate": "pki/client.pem", "client_key": "pki/client.key"}
    assert security_profile(config("ws://x/ocpp", password=None))[0] == 0
    assert security_profile(config("ws://x/ocpp"))[0] == 1
    assert security_profile(config("wss://x/ocpp", ca))[0] == 2
    level, basis = security_profile(config("wss://x/ocpp", client, password=None))
    assert level == 3 and "[tls] client_certificate" in basis
    level, basis = security_profile(config("wss://x/ocpp", ca, password=None))
    assert level is None and "not one of the OCPP security profiles" in basis


def test_the_reference_suts_stay_on_ws() -> None:
    assert security_profile(reference_config("cs")) == (
        0, "ws:// (no [tls] table in the SUT file) and no [station] basic_auth_password (no Basic auth)"
    )
    assert reference_config("csms").tls is None
