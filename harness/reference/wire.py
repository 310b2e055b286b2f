"""The websocket of a reference SUT as its ``ocpp`` ChargePoint sees it: every frame it sends goes through a
:class:`~harness.reference.mutations.Mutator` first.

Incoming CALLs are remembered by messageId so that the answering CALLRESULT is known by its action. A CALL of the
SUT's own that a mutation drops never reaches the peer; its ChargePoint is answered locally with a CALLERROR, so
that the SUT goes on at once, as after a CALLERROR from the peer, instead of stalling for its response timeout and
breaking more than the one validation the mutation aims at.
"""

from __future__ import annotations

import asyncio
import contextlib
from typing import Any

from ocpp.charge_point import ChargePoint
from ocpp.messages import CallError
from websockets.exceptions import ConnectionClosed

from harness.reference.mutations import Mutator, call_action, parse, reply_to


class MutatedConnection:
    """Wraps a ``websockets`` connection: ``send`` applies the mutator, ``recv`` tracks the CALLs received; every
    other attribute (``close``, ``subprotocol``, ...) is the connection's own."""

    def __init__(self, connection: Any, mutator: Mutator) -> None:
        self._connection = connection
        self._mutator = mutator
        self._calls_received: dict[str, str] = {}
        self._charge_point: ChargePoint | None = None
        self._later: set[asyncio.Task[None]] = set()

    def __getattr__(self, name: str) -> Any:
        return getattr(self._connection, name)

    def serve(self, charge_point: ChargePoint) -> None:
        """The ChargePoint that reads this connection: it gets the local answer to a dropped CALL."""
        self._charge_point = charge_point

    async def recv(self) -> Any:
        message = await self._connection.recv()
        received = call_action(message)
        if received is not None:
            self._calls_received[received[0]] = received[1]
        return message

    async def send(self, message: str) -> None:
        answered = reply_to(message)
        entries = self._mutator.outgoing(message, None if answered is None else self._calls_received.pop(answered, None))
        for delay, text in entries:
            if delay > 0:
                self._send_later(delay, text)
            else:
                await self._connection.send(text)
        frame = parse(message)
        if frame is not None and frame.message_type == "CALL" and not entries and message not in self._mutator.held:
            self._answer_locally(frame.message_id)

    def _send_later(self, delay: float, text: str) -> None:
        """A delay mutation: an asyncio timer on the reference's send path."""
        task = asyncio.ensure_future(self._delayed(delay, text))
        self._later.add(task)
        task.add_done_callback(self._later.discard)

    async def _delayed(self, delay: float, text: str) -> None:
        await asyncio.sleep(delay)
        with contextlib.suppress(ConnectionClosed):
            await self._connection.send(text)

    def _answer_locally(self, message_id: str) -> None:
        if self._charge_point is not None:
            error = CallError(message_id, "GenericError", "dropped on the wire by a mutation", {})
            self._charge_point._response_queue.put_nowait(error)

