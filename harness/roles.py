"""The two roles the harness plays: a fake CSMS (server) when a Charging Station is under test, a fake
Charging Station (client) when a CSMS is under test. Each is a *link*: it owns the WebSocket
connections to the SUT and hands their frames to whichever listener is attached (the running case).
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import http
import ssl
import urllib.parse
from dataclasses import dataclass, field
from collections.abc import Sequence
from typing import Any, Awaitable, Callable

from websockets.asyncio.client import connect
from websockets.asyncio.server import Server, ServerConnection, serve
from websockets.exceptions import InvalidHandshake, InvalidStatus, NegotiationError
from websockets.http11 import Request, Response
from websockets.typing import Subprotocol

from harness.config import Limits
from harness.core.frames import Call
from harness.core.rpc import Inbound, Outbound
from harness.core.schemas import SchemaSet, ocpp201
from harness.session import Connection, Listener, Reply, answer
from harness.sut_model import SutModel
from harness.trace import CS_TO_CSMS, CSMS_TO_CS, Trace, frame_record, utc_now

SUBPROTOCOL = Subprotocol("ocpp2.0.1")
MAX_FRAME_BYTES = Limits.max_frame_bytes
"""NotifyReport frames of a full inventory are large; websockets' 1 MiB default would cut them."""
SUBPROTOCOL_RULE = (
    "Part 4 §3.2: if the CSMS does not agree to using one of the subprotocols offered by the client, it MUST "
    "complete the WebSocket handshake with a response without a Sec-WebSocket-Protocol header and then "
    "immediately close the WebSocket connection"
)


class Answering:
    """The listener attached while no case runs: it answers with the role's defaults and records nothing."""

    def __init__(self, responders: dict[str, Any]) -> None:
        self.responders = responders
        self.calls_answered: dict[str, int] = {}
        self.answered = asyncio.Event()

    def on_frame(self, connection: Connection, item: Inbound | Outbound, inbound: bool) -> None:
        return None

    def reply_to(self, connection: Connection, call: Call) -> Reply:
        self.calls_answered[call.action] = self.calls_answered.get(call.action, 0) + 1
        self.answered.set()
        self.answered = asyncio.Event()
        return answer(self.responders, call)

    async def wait_for(self, action: str, timeout: float) -> None:
        """Until the SUT has sent ``action`` at least once (used to know the reference SUT is up)."""
        async with asyncio.timeout(timeout):
            while not self.calls_answered.get(action):
                await self.answered.wait()

    def on_closed(self, connection: Connection) -> None:
        return None

    def on_event(self, name: str, details: dict[str, Any]) -> None:
        return None

    def on_harness_error(self, connection: Connection, error: Exception) -> None:
        return None


class Link:
    """What both roles share: connections numbered from 1, one attached listener, waiting for a connection."""

    INBOUND = CS_TO_CSMS
    """The direction of the SUT's frames."""

    def __init__(self, schemas: SchemaSet, idle: Listener) -> None:
        self.schemas = schemas
        self.idle = idle
        self.listener: Listener = idle
        self.connection: Connection | None = None
        self.connections_made = 0
        self.memory: dict[str, Any] = {}
        """What reusable and memory states remember across cases (the SUT's state outlives a case)."""
        self.model = SutModel()
        """The station side's state, fed with every frame of every connection (see harness.sut_model)."""
        self.session = Trace("session")
        """Frames and events while no case is attached (before the first case, restores, between cases)."""
        self._changed = asyncio.Condition()
        self._follow_ups: set[asyncio.Task[None]] = set()

    def spawn(self, follow_up: Callable[[], Awaitable[None]]) -> None:
        """Run a follow-up as the link's task: it may outlive its connection (a Reset reconnects), not the link."""
        task = asyncio.ensure_future(follow_up())
        self._follow_ups.add(task)
        task.add_done_callback(self._follow_ups.discard)

    async def cancel_follow_ups(self) -> None:
        """Stop every follow-up still running, and wait until each has stopped: none outlives the link."""
        tasks = list(self._follow_ups)
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)

    def attach(self, listener: Listener | None) -> None:
        """Route frames to ``listener`` (a case), or back to the idle listener with None."""
        self.listener = listener or self.idle

    async def wait_for_connection(self, timeout: float, newer_than: int = 0) -> Connection:
        """The open connection numbered above ``newer_than``; TimeoutError if none comes in time."""
        async with asyncio.timeout(timeout):
            async with self._changed:
                await self._changed.wait_for(lambda: self._open_connection(newer_than) is not None)
        connection = self._open_connection(newer_than)
        assert connection is not None
        return connection

    def _open_connection(self, newer_than: int) -> Connection | None:
        connection = self.connection
        if connection is None or connection.closed.is_set() or connection.number <= newer_than:
            return None
        return connection

    def record_event(self, name: str, **details: Any) -> None:
        """A transport event (a refused handshake) in the trace of whoever listens now: the case, or the session."""
        record = {"timestamp": utc_now(), "event": name, **details}
        self.observe(record)
        if self.listener is not self.idle:
            self.listener.on_event(name, details)

    @property
    def outbound(self) -> str:
        return CSMS_TO_CS if self.INBOUND == CS_TO_CSMS else CS_TO_CSMS

    def observe(self, record: dict[str, Any]) -> None:
        """Every frame and connection event: into the model, and into the session trace between cases."""
        self.model.observe(record)
        if self.listener is self.idle:
            self.session.add(record)

    async def _run(self, websocket: Any) -> None:
        self.connections_made += 1
        connection = Connection(websocket, self.connections_made, self.schemas, _Forward(self), self.spawn)
        self.connection = connection
        self.observe({"timestamp": utc_now(), "event": "connection opened", "connection": connection.number})
        await self._notify()
        try:
            await connection.serve()
        finally:
            await self._notify()

    async def _notify(self) -> None:
        async with self._changed:
            self._changed.notify_all()


class _Forward:
    """Sends each event to whichever listener the link has *now*, so a case can attach mid-connection."""

    def __init__(self, link: Link) -> None:
        self.link = link

    def on_frame(self, connection: Connection, item: Inbound | Outbound, inbound: bool) -> None:
        direction = self.link.INBOUND if inbound else self.link.outbound
        self.link.observe(frame_record(item, direction, connection.number, "", self.link.session.identity))
        self.link.listener.on_frame(connection, item, inbound)

    def reply_to(self, connection: Connection, call: Call) -> Reply:
        return self.link.listener.reply_to(connection, call)

    def on_closed(self, connection: Connection) -> None:
        record = {"timestamp": utc_now(), "event": "connection closed", "connection": connection.number}
        if connection.limit_exceeded:
            record["limit"] = connection.limit_exceeded
        self.link.observe({**record, "code": connection.close_code})
        self.link.listener.on_closed(connection)

    def on_harness_error(self, connection: Connection, error: Exception) -> None:
        self.link.listener.on_harness_error(connection, error)


@dataclass
class CsmsEndpoint:
    """Where and how the fake CSMS listens (Part 4 §3): ``ws://host:port/<path>/<identity>``."""

    host: str = "127.0.0.1"
    port: int = 0
    path: str = "/ocpp"
    identities: frozenset[str] = frozenset({"CS001"})
    basic_auth_password: str | None = None
    ssl_context: ssl.SSLContext | None = None
    max_frame_bytes: int = MAX_FRAME_BYTES


@dataclass
class HandshakeRejection:
    """A WebSocket handshake the fake CSMS refused, kept for the trace."""

    path: str
    status: int
    reason: str


class FakeCsms(Link):
    """The harness as CSMS: a WebSocket server the Charging Station under test connects to."""

    def __init__(self, endpoint: CsmsEndpoint, idle: Listener, schemas: SchemaSet | None = None) -> None:
        super().__init__(schemas or ocpp201(), idle)
        self.endpoint = endpoint
        self.rejections: list[HandshakeRejection] = []
        self.identity: str | None = None
        self._refuse_until = 0.0
        self._server: Server | None = None

    def refuse_connections_for(self, seconds: float) -> None:
        """Answer every handshake with HTTP 503 for ``seconds`` (Part 6: "does not accept a reconnect")."""
        self._refuse_until = asyncio.get_running_loop().time() + seconds

    @property
    def port(self) -> int:
        assert self._server is not None, "start() the fake CSMS first"
        return self._server.sockets[0].getsockname()[1]

    @property
    def url(self) -> str:
        """The OCPP-J endpoint URL the station appends its identity to."""
        scheme = "wss" if self.endpoint.ssl_context else "ws"
        return f"{scheme}://{self.endpoint.host}:{self.port}{self.endpoint.path}"

    async def start(self) -> None:
        self._server = await serve(
            self._handler,
            self.endpoint.host,
            self.endpoint.port,
            subprotocols=[SUBPROTOCOL],
            select_subprotocol=_select_subprotocol,
            process_request=self._check_handshake,
            ssl=self.endpoint.ssl_context,
            compression=None,
            max_size=self.endpoint.max_frame_bytes,
            ping_interval=None,
        )

    async def stop(self) -> None:
        await self.cancel_follow_ups()
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()
            self._server = None

    def _check_handshake(self, connection: ServerConnection, request: Request) -> Response | None:
        if asyncio.get_running_loop().time() < self._refuse_until:
            return self._reject(connection, request, http.HTTPStatus.SERVICE_UNAVAILABLE, "reconnection refused for now")
        identity = self._identity_from_path(request.path)
        if identity is None or identity not in self.endpoint.identities:
            return self._reject(connection, request, http.HTTPStatus.NOT_FOUND, "unknown Charging Station identity")
        if self.endpoint.basic_auth_password is not None:
            credentials = _basic_auth(request.headers.get("Authorization"))
            if credentials != (identity, self.endpoint.basic_auth_password):
                return self._reject(connection, request, http.HTTPStatus.UNAUTHORIZED, "wrong Basic auth credentials")
        self.identity = identity
        return None

    def _identity_from_path(self, path: str) -> str | None:
        path = path.split("?", 1)[0]
        prefix = self.endpoint.path.rstrip("/") + "/"
        if not path.startswith(prefix):
            return None
        identity = urllib.parse.unquote(path[len(prefix) :])
        return identity if identity and "/" not in identity else None

    def _reject(
        self, connection: ServerConnection, request: Request, status: http.HTTPStatus, reason: str
    ) -> Response:
        self._refused(HandshakeRejection(request.path, int(status), reason))
        response = connection.respond(status, reason + "\n")
        if status is http.HTTPStatus.UNAUTHORIZED:
            response.headers["WWW-Authenticate"] = 'Basic realm="OCPP"'
        return response

    async def _handler(self, websocket: ServerConnection) -> None:
        if websocket.subprotocol != SUBPROTOCOL:
            # Part 4 §3.2: finish the handshake without the header, then close at once.
            path = websocket.request.path if websocket.request else ""
            offered = websocket.request.headers.get("Sec-WebSocket-Protocol") if websocket.request else None
            self._refused(HandshakeRejection(path, 101, f"no ocpp2.0.1 subprotocol offered (offered: {offered})"))
            await websocket.close(1002, "subprotocol ocpp2.0.1 required")
            return
        await self._run(websocket)

    def _refused(self, rejection: HandshakeRejection) -> None:
        """A handshake the fake CSMS refused: kept, and in the trace of whoever listens (case or session)."""
        self.rejections.append(rejection)
        self.record_event("handshake refused", path=rejection.path, status=rejection.status, reason=rejection.reason)


def _select_subprotocol(connection: ServerConnection, offered: Sequence[Subprotocol]) -> Subprotocol | None:
    return SUBPROTOCOL if SUBPROTOCOL in offered else None


def _answered_subprotocol(error: NegotiationError) -> str | None:
    """The subprotocol a CSMS answered that the station never offered (websockets says it in its message)."""
    text = str(error)
    return text.rsplit(": ", 1)[-1] if "unsupported subprotocol" in text else None


def _basic_auth(header: str | None) -> tuple[str, str] | None:
    """(user, password) of an ``Authorization: Basic …`` header; the scheme name is case-insensitive
    (RFC 7235 §2.1), so ``basic`` is as good as ``Basic``."""
    scheme, _, credentials = (header or "").strip().partition(" ")
    if scheme.lower() != "basic":
        return None
    try:
        decoded = base64.b64decode(credentials.strip(), validate=True).decode("utf-8")
    except (binascii.Error, UnicodeDecodeError):
        return None
    user, sep, password = decoded.partition(":")
    return (user, password) if sep else None


@dataclass
class StationIdentity:
    """How the fake Charging Station connects to the CSMS under test."""

    csms_url: str
    identity: str = "CS001"
    basic_auth_password: str | None = None
    ssl_context: ssl.SSLContext | None = None
    subprotocols: tuple[Subprotocol, ...] = (SUBPROTOCOL,)
    extra_headers: dict[str, str] = field(default_factory=dict)
    max_frame_bytes: int = MAX_FRAME_BYTES

    @property
    def url(self) -> str:
        return f"{self.csms_url.rstrip('/')}/{urllib.parse.quote(self.identity, safe='')}"


class ConnectRefused(ConnectionError):
    """The CSMS refused or failed the WebSocket handshake."""

    def __init__(self, reason: str, status: int | None = None) -> None:
        super().__init__(reason)
        self.reason = reason
        self.status = status


class SubprotocolBroken(ConnectRefused):
    """The CSMS completed the handshake without agreeing to ocpp2.0.1 (no Sec-WebSocket-Protocol header, or one
    the station did not offer): the CSMS broke Part 4 §3.2 if it then keeps the connection open. The harness
    closes it at once; a case FAILs, quoting the rule."""

    def __init__(self, answered: str | None) -> None:
        what = f"Sec-WebSocket-Protocol {answered!r}" if answered else "no Sec-WebSocket-Protocol header"
        super().__init__(f"the CSMS completed the WebSocket handshake with {what} for the offered ocpp2.0.1")
        self.answered = answered


class FakeStation(Link):
    """The harness as Charging Station: a WebSocket client of the CSMS under test."""

    INBOUND = CSMS_TO_CS

    def __init__(self, station: StationIdentity, idle: Listener, schemas: SchemaSet | None = None) -> None:
        super().__init__(schemas or ocpp201(), idle)
        self.station = station
        self._tasks: set[asyncio.Task[None]] = set()

    async def connect(self, timeout: float) -> Connection:
        """Open a new connection; ConnectRefused if the CSMS refuses it, TimeoutError if it does not answer."""
        headers = dict(self.station.extra_headers)
        if self.station.basic_auth_password is not None:
            token = f"{self.station.identity}:{self.station.basic_auth_password}".encode()
            headers["Authorization"] = "Basic " + base64.b64encode(token).decode()
        try:
            async with asyncio.timeout(timeout):
                websocket = await connect(
                    self.station.url,
                    subprotocols=list(self.station.subprotocols),
                    additional_headers=headers,
                    ssl=self.station.ssl_context,
                    compression=None,
                    max_size=self.station.max_frame_bytes,
                    ping_interval=None,
                    open_timeout=None,
                )
        except TimeoutError:
            raise
        except InvalidStatus as error:
            self.record_event("handshake refused", url=self.station.url, status=error.response.status_code)
            raise ConnectRefused(f"HTTP {error.response.status_code}", error.response.status_code) from None
        except NegotiationError as error:
            self.record_event("handshake refused", url=self.station.url, reason=str(error))
            raise SubprotocolBroken(_answered_subprotocol(error)) from None
        except (InvalidHandshake, OSError) as error:
            self.record_event("handshake refused", url=self.station.url, reason=f"{type(error).__name__}: {error}")
            raise ConnectRefused(f"{type(error).__name__}: {error}") from None
        if websocket.subprotocol != SUBPROTOCOL:
            self.record_event("handshake refused", url=self.station.url, reason="no ocpp2.0.1 subprotocol agreed")
            await websocket.close(1002, "subprotocol ocpp2.0.1 not agreed")
            raise SubprotocolBroken(websocket.subprotocol)
        before = self.connections_made
        task = asyncio.create_task(self._run(websocket))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return await self.wait_for_connection(timeout, newer_than=before)

    async def stop(self) -> None:
        await self.cancel_follow_ups()
        if self.connection is not None and not self.connection.closed.is_set():
            await self.connection.close()
        for task in list(self._tasks):
            task.cancel()
