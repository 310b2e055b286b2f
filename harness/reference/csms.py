"""Reference CSMS: the SUT the harness's CSMS-side cases (…_CSMS) are proven against.

A WebSocket server on loopback: OCPP-J handshake rules (subprotocol ocpp2.0.1, HTTP Basic auth of security
profile 1, 404 for an unknown identity) are enforced in `process_request` / `select_subprotocol`, then one
`CsmsChargePoint` per connection answers the station. Everything it receives is logged in `received` so tests can
wait for a message instead of sleeping.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import datetime as dt
import itertools
import logging
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from functools import cache
from http import HTTPStatus
from typing import Any
from urllib.parse import unquote, urlsplit

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from ocpp.exceptions import OCPPError
from ocpp.v201 import call
from websockets.asyncio.server import Server, ServerConnection, serve
from websockets.datastructures import Headers
from websockets.exceptions import ConnectionClosed
from websockets.http11 import Request, Response
from websockets.typing import Subprotocol

from harness.reference import NotConnected, UnknownAction
from harness.reference.chaos import Chaos, behaviour
from harness.reference.csms_handlers import CsmsChargePoint
from harness.reference.faults import CSMS_FAULTS, applied
from harness.reference.mutations import Mutation, Mutator
from harness.reference.transport import MAX_MESSAGE_SIZE, SUBPROTOCOL
from harness.reference.wire import MutatedConnection

FAULTS = CSMS_FAULTS
LOGGER = logging.getLogger(__name__)
STOP_TIMEOUT_S = 5.0


@dataclass
class CsmsSettings:
    host: str = "127.0.0.1"
    port: int = 0
    known_identities: set[str] = field(default_factory=lambda: {"CS001"})
    basic_auth_password: str | None = None
    heartbeat_interval: int = 300
    boot_pending_first: bool = False
    id_tokens: dict[str, str] = field(
        default_factory=lambda: {
            "VALID001": "Accepted",
            "BLOCKED001": "Blocked",
            "EXPIRED001": "Expired",
            "INVALID001": "Invalid",
        }
    )


@dataclass(frozen=True)
class Received:
    """One CALL the CSMS received, with its payload as it was on the wire (camelCase)."""

    identity: str
    action: str
    payload: dict[str, Any]


def _identity(path: str) -> str:
    """The station identity is the last segment of the connection URL (Part 4 §3.1.1)."""
    return unquote(urlsplit(path).path.rstrip("/").rsplit("/", 1)[-1])


@dataclass(frozen=True)
class CertificateAuthority:
    """The reference CSMS's own CSMS Root certificate and key, which sign the Charging Station certificates."""

    certificate: x509.Certificate
    key: ec.EllipticCurvePrivateKey

    @property
    def pem(self) -> str:
        return self.certificate.public_bytes(serialization.Encoding.PEM).decode("ascii")


@cache
def certificate_authority() -> CertificateAuthority:
    """One CSMS Root per process: a case against the in-process reference CSMS configures it as the CSMS Root
    certificate it checks the signed certificates against."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "Reference CSMS Root")])
    start = dt.datetime.now(dt.UTC) - dt.timedelta(minutes=5)
    certificate = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(start)
        .not_valid_after(start + dt.timedelta(days=1))
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    return CertificateAuthority(certificate, key)


class ReferenceCsms:
    """The reference CSMS; `perform` carries out the manual actions of docs/design.md."""

    def __init__(
        self, settings: CsmsSettings, faults: Iterable[str] = (), mutations: Sequence[Mutation] = (), chaos: str | None = None
    ) -> None:
        self.settings = settings
        self.faults, wire_faults = applied(faults, FAULTS)
        self.mutator = Mutator((*wire_faults, *mutations))
        self.chaos = Chaos(None if chaos is None else behaviour(chaos, "csms"))
        """A chaos behaviour (harness.reference.chaos) acting within every case."""
        self._connections = 0
        self.current_case: str | None = None
        self.received: list[Received] = []
        self.boot_pending = settings.boot_pending_first
        self.pending_answered: set[str] = set()
        self.registration: dict[str, str] = {}
        self._variables: dict[tuple[str, str, str], str] = {}
        self._stations: dict[str, CsmsChargePoint] = {}
        self._refused: set[str] = set()
        self._server: Server | None = None
        self._changed = asyncio.Event()
        self._ids = itertools.count(1)

    def next_id(self) -> int:
        """A fresh id for a reservation, a charging profile or a schedule."""
        return next(self._ids)

    def sign(self, csr_pem: str) -> str:
        """The PEM certificate for a CSR, valid for a day, signed by :func:`certificate_authority`."""
        authority = certificate_authority()
        csr = x509.load_pem_x509_csr(csr_pem.encode("ascii"))
        start = dt.datetime.now(dt.UTC) - dt.timedelta(minutes=5)
        certificate = (
            x509.CertificateBuilder()
            .subject_name(csr.subject)
            .issuer_name(authority.certificate.subject)
            .public_key(csr.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(start)
            .not_valid_after(start + dt.timedelta(days=1))
            .sign(authority.key, hashes.SHA256())
        )
        return certificate.public_bytes(serialization.Encoding.PEM).decode("ascii")

    async def start(self) -> None:
        if self._server is not None:
            return
        self._server = await serve(
            self._handle,
            self.settings.host,
            self.settings.port,
            subprotocols=[SUBPROTOCOL],
            select_subprotocol=self._select_subprotocol,
            process_request=self._process_request,
            compression=None,
            max_size=MAX_MESSAGE_SIZE,
            close_timeout=1,
        )
        self.settings.port = self._server.sockets[0].getsockname()[1]

    async def stop(self) -> None:
        """Close the listener and every connection; idempotent and bounded."""
        server, self._server = self._server, None
        if server is None:
            return
        server.close()
        try:
            await asyncio.wait_for(server.wait_closed(), STOP_TIMEOUT_S)
        except TimeoutError:
            LOGGER.warning("reference CSMS did not close within %s s", STOP_TIMEOUT_S)

    @property
    def url(self) -> str:
        return f"ws://{self.settings.host}:{self.settings.port}"

    # ----------------------------------------------------------------- manual actions

    def case_started(self, case_id: str) -> None:
        """The harness starts the case ``case_id``: the self-test's frame mutations count from here, and a chaos
        behaviour acts."""
        self.current_case = case_id
        self.mutator.case_started(case_id)
        self.chaos.case_started(self)

    def case_ended(self) -> None:
        """The case is over: its frame mutations and chaos no longer apply (the harness's restore after it meets a
        well-behaved CSMS)."""
        self.mutator.case_ended()
        self.chaos.case_ended()

    # ----------------------------------------------------------------- chaos target (harness.reference.chaos)

    @property
    def websocket(self) -> ServerConnection | None:
        """The connection of the (one) station the harness plays."""
        station = next(iter(self._stations.values()), None)
        return None if station is None else station.connection._connection

    @property
    def connections(self) -> int:
        return self._connections

    @property
    def harness_address(self) -> None:
        """The harness's station is the client: there is nowhere to connect to."""
        return None

    async def drop(self) -> None:
        for station in list(self._stations.values()):
            await station.connection.close()

    async def wait_connection(self, newer_than: int) -> None:
        while self._connections <= newer_than or self.websocket is None:
            await self._changed.wait()

    async def perform(self, name: str, params: dict[str, object]) -> bool | None:
        if name == "csms_get_variables":
            await self._get_variables(str(params.get("identity", "CS001")), str(params["component"]), str(params["variable"]))
            return None
        if name == "csms_confirm_variable_read":
            key = (str(params.get("identity", "CS001")), str(params["component"]), str(params["variable"]))
            return key in self._variables and self._variables[key] == str(params["value"])
        if name == "csms_boot_pending":
            self.boot_pending = True
            self.pending_answered.clear()
            return None
        request = self._request_for(name, params)
        if request is None:
            raise UnknownAction(f"the reference CSMS cannot perform {name!r}")
        await self._exchange(self._station(str(params.get("identity", "CS001"))), request)
        return None

    @staticmethod
    async def _exchange(station: CsmsChargePoint, request: Any) -> Any:
        """Send the request a manual action asks for and return the answer, or None when none came (a CALLERROR,
        no answer, the connection closed). The action is done once the request is sent: what the station makes of
        it is on the wire, for the harness to judge, and no failure of the action."""
        try:
            return await station.call(request, suppress=False)
        except (OCPPError, ConnectionClosed, TimeoutError) as error:
            LOGGER.info("%s: %s got no answer: %r", station.id, type(request).__name__, error)
            return None

    def _request_for(self, name: str, params: dict[str, object]) -> Any:
        """The request a manual action makes the CSMS send (docs/design.md), or None for an unknown action."""
        if name == "csms_change_availability":
            return call.ChangeAvailability(operational_status=str(params["operational_status"]), evse={"id": params["evse_id"]})
        if name == "csms_reserve_now":
            expiry = (dt.datetime.now(dt.UTC) + dt.timedelta(hours=1)).isoformat(timespec="milliseconds")
            token = {"id_token": params["id_token"], "type": params["type"]}
            return call.ReserveNow(id=self.next_id(), expiry_date_time=expiry, id_token=token, evse_id=params["evse_id"])
        if name == "csms_get_installed_certificate_ids":
            return call.GetInstalledCertificateIds(certificate_type=[params["certificate_type"]])
        if name == "csms_install_certificate":
            return call.InstallCertificate(certificate_type=str(params["certificate_type"]), certificate=str(params["certificate"]))
        if name == "csms_trigger_sign_certificate":
            return call.TriggerMessage(requested_message="SignChargingStationCertificate")
        return None

    def _station(self, identity: str) -> CsmsChargePoint:
        station = self._stations.get(identity)
        if station is None:
            raise NotConnected(f"station {identity!r} is not connected: the reference CSMS cannot send to it")
        return station

    async def _get_variables(self, identity: str, component: str, variable: str) -> None:
        """B06: GetVariablesRequest for one variable; an Accepted value is stored for the later confirmation."""
        response = await self._exchange(
            self._station(identity),
            call.GetVariables(get_variable_data=[{"component": {"name": component}, "variable": {"name": variable}}]),
        )
        for result in [] if response is None else response.get_variable_result:
            if result["attribute_status"] == "Accepted" and "does_not_store_variable" not in self.faults:
                key = (identity, result["component"]["name"], result["variable"]["name"])
                self._variables[key] = result.get("attribute_value", "")

    # ----------------------------------------------------------------- observation (tests)

    def record(self, identity: str, action: str, payload: dict[str, Any]) -> None:
        self.received.append(Received(identity, action, payload))
        self._wake()

    def _wake(self) -> None:
        """Wake every waiter once: set the current event and give later waiters a fresh one."""
        self._changed.set()
        self._changed = asyncio.Event()

    async def wait_for(self, predicate: Callable[[list[Received]], bool]) -> None:
        """Return once `predicate(received)` holds; callers bound it with asyncio.timeout."""
        while not predicate(self.received):
            await self._changed.wait()

    async def drop_connection(self, identity: str, refuse_reconnect: bool) -> None:
        """Close the station's WebSocket, as the OCTT does in TC_E_40_CS; optionally refuse reconnects (HTTP 503)."""
        if refuse_reconnect:
            self._refused.add(identity)
        station = self._stations.get(identity)
        if station is not None:
            await station.connection.close()

    def accept_reconnect(self, identity: str) -> None:
        self._refused.discard(identity)

    # ----------------------------------------------------------------- WebSocket

    def _select_subprotocol(self, _: ServerConnection, offered: Sequence[Subprotocol]) -> Subprotocol | None:
        """Agree on ocpp2.0.1 or answer 101 without the header (Part 4 §3.1.2); the handler then closes."""
        if self.chaos.switches.no_subprotocol:
            return None
        return SUBPROTOCOL if SUBPROTOCOL in offered else None

    async def _process_request(self, connection: ServerConnection, request: Request) -> Response | None:
        if self.chaos.switches.stall_handshakes:
            await self.chaos.calm.wait()
        identity = _identity(request.path)
        if identity not in self.settings.known_identities:
            return connection.respond(HTTPStatus.NOT_FOUND, "unknown charging station\n")
        if self.settings.basic_auth_password is not None and not self._authorized(identity, request.headers):
            response = connection.respond(HTTPStatus.UNAUTHORIZED, "basic authentication required\n")
            response.headers["WWW-Authenticate"] = 'Basic realm="OCPP"'
            return response
        if identity in self._refused:
            return connection.respond(HTTPStatus.SERVICE_UNAVAILABLE, "reconnect refused\n")
        return None

    def _authorized(self, identity: str, headers: Headers) -> bool:
        """A00.FR.204: username must be the identity in the URL and the password the configured one."""
        scheme, _, token = headers.get("Authorization", "").partition(" ")
        if scheme.lower() != "basic":
            return False
        try:
            username, _, password = base64.b64decode(token, validate=True).decode().partition(":")
        except (binascii.Error, UnicodeDecodeError):
            return False
        return username == identity and password == self.settings.basic_auth_password

    async def _handle(self, connection: ServerConnection) -> None:
        switches = self.chaos.switches
        if connection.subprotocol != SUBPROTOCOL and not switches.no_subprotocol:
            await connection.close(1002, "ocpp2.0.1 subprotocol required")
            return
        if switches.close_new_connections > 0:
            switches.close_new_connections -= 1
            await connection.close()
            return
        identity = _identity(connection.request.path if connection.request else "")
        wire = MutatedConnection(connection, self.mutator, self.chaos)
        self._connections += 1
        station = CsmsChargePoint(identity, wire, self)
        wire.serve(station)
        previous = self._stations.get(identity)
        self._stations[identity] = station
        self._wake()
        if previous is not None:
            await previous.connection.close()
        try:
            await station.start()
        except ConnectionClosed:
            LOGGER.info("%s disconnected", identity)
        finally:
            if self._stations.get(identity) is station:
                del self._stations[identity]
