"""The websocket of a reference SUT as its ``ocpp`` ChargePoint sees it: every frame it sends goes through a
:class:`~harness.reference.mutations.Mutator` first.

Incoming CALLs are remembered by messageId so that the answering CALLRESULT is known by its action. A CALL of the
SUT's own that a mutation drops never reaches the peer; its ChargePoint is answered locally with a CALLERROR, so
that the SUT goes on at once, as after a CALLERROR from the peer, instead of stalling for its response timeout and
breaking more than the one validation the mutation aims at.

The chaos :class:`~harness.reference.chaos.Switches` act last, on what the mutations let out: a silent SUT drops
every frame, a truncating one sends the first half of the next, a binary one sends bytes. A CALL of the SUT's own
that does not go out whole is answered locally too.

The ChargePoint is handed only the answers to its own CALLs: answers to frames a chaos act sent past it, and the
peer's answers to frames it could not read (messageId "-1"), are left out. The ``ocpp`` package keeps every answer
it did not wait for in its response queue and looks through that queue recursively on its next CALL: 2,000 of
them exceed Python's recursion limit.
"""

from __future__ import annotations

import asyncio
import contextlib
from typing import Any

from ocpp.charge_point import ChargePoint
from ocpp.messages import CallError
from websockets.exceptions import ConnectionClosed

from harness.reference.chaos import Chaos
from harness.reference.mutations import Mutator, call_action, parse, reply_to


class MutatedConnection:
    """Wraps a ``websockets`` connection: ``send`` applies the mutator, ``recv`` tracks the CALLs received; every
    other attribute (``close``, ``subprotocol``, ...) is the connection's own."""

    def __init__(self, connection: Any, mutator: Mutator, chaos: Chaos | None = None) -> None:
        self._connection = connection
        self._mutator = mutator
        self._chaos = chaos or Chaos(None)
        self._calls_received: dict[str, str] = {}
        self._calls_sent: set[str] = set()
        self._charge_point: ChargePoint | None = None
        self._later: set[asyncio.Task[None]] = set()

    def __getattr__(self, name: str) -> Any:
        return getattr(self._connection, name)

    def serve(self, charge_point: ChargePoint) -> None:
        """The ChargePoint that reads this connection: it gets the local answer to a dropped CALL."""
        self._charge_point = charge_point

    async def recv(self) -> Any:
        """The next frame for the ChargePoint (see the module docstring for the answers left out)."""
        while True:
            message = await self._connection.recv()
            answered = reply_to(message)
            if answered is None or answered in self._calls_sent:
                break
        self._calls_sent.discard(answered or "")
        received = call_action(message)
        if received is not None:
            self._calls_received[received[0]] = received[1]
        return message

    async def send(self, message: str) -> None:
        await self._chaos.ahead()
        own = call_action(message)
        if own is not None:
            self._calls_sent.add(own[0])
        answered = reply_to(message)
        entries = self._mutator.outgoing(message, None if answered is None else self._calls_received.pop(answered, None))
        delivered = False
        for delay, text in entries:
            if delay > 0:
                self._send_later(delay, text)
                delivered = True
            else:
                delivered = await self._transmit(text) or delivered
        frame = parse(message)
        if frame is not None and frame.message_type == "CALL" and not delivered and message not in self._mutator.held:
            self._answer_locally(frame.message_id)

    async def _transmit(self, text: str) -> bool:
        """Send one frame as the chaos switches say; True when it went out whole."""
        switches = self._chaos.switches
        if switches.silent:
            return False
        if switches.truncate_next:
            switches.truncate_next = False
            await self._connection.send(text[: len(text) // 2])
            return False
        await self._connection.send(text.encode() if switches.binary else text)
        return True

    def _send_later(self, delay: float, text: str) -> None:
        """A delay mutation: an asyncio timer on the reference's send path."""
        task = asyncio.ensure_future(self._delayed(delay, text))
        self._later.add(task)
        task.add_done_callback(self._later.discard)

    async def _delayed(self, delay: float, text: str) -> None:
        await asyncio.sleep(delay)
        with contextlib.suppress(ConnectionClosed):
            await self._transmit(text)

    def _answer_locally(self, message_id: str) -> None:
        self._calls_sent.discard(message_id)
        if self._charge_point is not None:
            error = CallError(message_id, "GenericError", "not sent whole: a mutation or a chaos behaviour", {})
            self._charge_point._response_queue.put_nowait(error)

