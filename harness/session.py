"""One OCPP-J connection over a ``websockets`` connection: the asyncio skin over :mod:`harness.core.rpc`.

The connection reads every text the peer sends, lets the core account for it, answers the peer's CALLs at
once through its :class:`Listener` (a SUT must not wait on the harness), and resolves the harness's own
CALL when its answer arrives. It never decides a verdict: it reports everything to the listener, which is
the running case (or, between cases, a listener that only answers).
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from typing import Any, Awaitable, Callable, Protocol

from websockets.asyncio.connection import Connection as WebSocket
from websockets.exceptions import ConnectionClosed
from websockets.frames import CloseCode

from harness.core.frames import Call, CallError, RpcErrorCode, serialize
from harness.core.rpc import Inbound, Outbound, RpcEndpoint
from harness.core.schemas import SchemaSet


@dataclass(frozen=True)
class ErrorReply:
    """Answer a CALL with a CALLERROR instead of a CALLRESULT."""

    code: RpcErrorCode
    description: str = ""
    details: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class FollowUp:
    """Answer a CALL with ``reply``, then do ``then`` once the answer went out: what a station accepts it must
    do (a NotifyReport after GetBaseReport, a reboot after Reset), and never before it has said so (F06.FR.04)."""

    reply: dict[str, Any] | ErrorReply
    then: Callable[[], Awaitable[None]]


Reply = dict[str, Any] | ErrorReply | FollowUp
Responder = Reply | Callable[[Call], Reply]
"""How the harness answers one action: a payload, an ErrorReply, a FollowUp, or a function of the CALL."""

Spawn = Callable[[Callable[[], Awaitable[None]]], None]
"""Starts a follow-up as a task owned by someone who outlives the connection (the link), so a follow-up that
reconnects is not cancelled with the connection it came from, and none is left running after the link stops."""


def answer(responders: dict[str, Responder], call: Call) -> Reply:
    """The reply the responders give to a CALL; NotSupported for an action they do not handle."""
    responder = responders.get(call.action)
    if responder is None:
        return ErrorReply(RpcErrorCode.NotSupported, f"the harness does not handle {call.action} here")
    return responder(call) if callable(responder) else responder


class Listener(Protocol):
    """Who hears about a connection's frames and answers the peer's CALLs."""

    def on_frame(self, connection: Connection, item: Inbound | Outbound, inbound: bool) -> None: ...

    def reply_to(self, connection: Connection, call: Call) -> Reply: ...

    def on_closed(self, connection: Connection) -> None: ...

    def on_event(self, name: str, details: dict[str, Any]) -> None:
        """A transport event outside any connection's frames (a handshake the harness refused)."""

    def on_harness_error(self, connection: Connection, error: Exception) -> None: ...


class Connection:
    """An OCPP-J connection. ``number`` counts the connections of one link from 1."""

    def __init__(
        self, websocket: WebSocket, number: int, schemas: SchemaSet, listener: Listener, spawn: Spawn | None = None
    ) -> None:
        self.websocket = websocket
        self.number = number
        self.listener = listener
        self.endpoint = RpcEndpoint(schemas)
        self.closed = asyncio.Event()
        self.close_code: int | None = None
        self.limit_exceeded: str | None = None
        """Why the harness itself closed the connection at a limit of its own (a frame over max_size)."""
        self._answer: asyncio.Future[Inbound] | None = None
        self._send_lock = asyncio.Lock()
        self._call_lock = asyncio.Lock()
        self._spawn = spawn

    async def serve(self) -> None:
        """Read until the connection closes. Returns normally when it does, whoever closed it."""
        try:
            async for message in self.websocket:
                if isinstance(message, str):
                    await self._handle(self.endpoint.receive(message))
                else:
                    await self._handle(self.endpoint.receive_binary(message))
        except ConnectionClosed:
            pass
        finally:
            self.close_code = self.websocket.close_code
            self.limit_exceeded = _limit_exceeded(self.websocket)
            self.closed.set()
            if self._answer is not None and not self._answer.done():
                self._answer.set_exception(ConnectionClosedDuringCall(self.close_code))
            self.listener.on_closed(self)

    async def call(
        self, action: str, payload: dict[str, Any], timeout: float, *, invalid_on_purpose: bool = False
    ) -> Inbound:
        """Send a CALL and wait for its CALLRESULT or CALLERROR (TimeoutError after ``timeout`` seconds).

        Part 4 §4.1.1 allows one outstanding CALL: a second caller (a case's step while a follow-up of the fake
        station waits for its answer) queues here. The wait is bounded, since the CALL ahead ends within its own
        timeout; ``timeout`` counts from the moment this CALL is sent."""
        async with self._call_lock:
            if self.closed.is_set():
                raise ConnectionClosedDuringCall(self.close_code)
            outbound = self.endpoint.send_call(action, payload, invalid_on_purpose=invalid_on_purpose)
            self._answer = asyncio.get_running_loop().create_future()
            await self._send(outbound)
            try:
                async with asyncio.timeout(timeout):
                    return await self._answer
            except TimeoutError:
                self.endpoint.forget_outstanding_call()
                raise
            finally:
                self._answer = None

    async def close(self, code: int = 1000, reason: str = "") -> None:
        await self.websocket.close(code, reason)
        await self.closed.wait()

    async def _handle(self, inbound: Inbound) -> None:
        self.listener.on_frame(self, inbound, inbound=True)
        if inbound.auto_reply is not None:
            await self._send(inbound.auto_reply)
        elif isinstance(inbound.frame, Call) and inbound.frame.message_id in self.endpoint.unanswered_calls:
            await self._answer_call(inbound.frame)
        elif inbound.answers is not None and self._answer is not None and not self._answer.done():
            self._answer.set_result(inbound)

    async def _answer_call(self, call: Call) -> None:
        follow_up: Callable[[], Awaitable[None]] | None = None
        try:
            reply = self.listener.reply_to(self, call)
            if isinstance(reply, FollowUp):
                follow_up, reply = reply.then, reply.reply
            if isinstance(reply, ErrorReply):
                outbound = self.endpoint.send_error(call, reply.code, reply.description, reply.details)
            else:
                outbound = self.endpoint.send_result(call, reply)
        except Exception as error:  # a responder's bug must not stop the connection, nor blame the SUT
            self.listener.on_harness_error(self, error)
            self.endpoint.unanswered_calls.pop(call.message_id, None)
            outbound = Outbound(*_internal_error(call))
            follow_up = None
        await self._send(outbound)
        if follow_up is not None:
            self._start(follow_up)

    def _start(self, follow_up: Callable[[], Awaitable[None]]) -> None:
        if self._spawn is None:
            self.listener.on_harness_error(self, RuntimeError("a follow-up was given but nobody owns its task"))
            return
        self._spawn(lambda: self._run_follow_up(follow_up))

    async def _run_follow_up(self, follow_up: Callable[[], Awaitable[None]]) -> None:
        """A follow-up's own bug is the harness's fault; what the SUT does to it is the follow-up's business."""
        try:
            await follow_up()
        except asyncio.CancelledError:
            raise
        except Exception as error:
            self.listener.on_harness_error(self, error)

    async def _send(self, outbound: Outbound) -> None:
        self.listener.on_frame(self, outbound, inbound=False)
        async with self._send_lock:
            try:
                await self.websocket.send(outbound.text)
            except ConnectionClosed:
                pass


def _limit_exceeded(websocket: WebSocket) -> str | None:
    """The harness closed with 1009 (RFC 6455: message too big): the peer sent a frame over max_size."""
    sent = websocket.protocol.close_sent
    if sent is None or sent.code != CloseCode.MESSAGE_TOO_BIG:
        return None
    return f"the SUT sent a WebSocket message over the harness's size limit ({sent.reason or 'message too big'})"


def _internal_error(call: Call) -> tuple[str, CallError, str]:
    error = CallError(call.message_id, RpcErrorCode.InternalError.value, "the harness failed to answer")
    return serialize(error), error, call.action


class ConnectionClosedDuringCall(ConnectionError):
    """The connection closed while the harness waited for the answer to its CALL."""

    def __init__(self, code: int | None) -> None:
        super().__init__(f"the connection closed (code {code}) before the CALL was answered")
        self.code = code
