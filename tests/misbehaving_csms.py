"""A CSMS of the tests' own that misbehaves with huge frames, on 127.0.0.1 (a free port), for the harness's
Charging Station to connect to (role csms). It answers every CALL of the harness with a plain CALLRESULT, except
the first BootNotification: there it does what its behaviour says (an over-long field in the response, or a burst
of huge CALLs before the response). Later connections (the harness's power cycle after a FAIL) are served
correctly, so the run ends quickly.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import threading
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from typing import Any

from websockets.asyncio.server import ServerConnection, serve

MiB = 1024 * 1024

Behaviour = Callable[[str], Iterable[str]]
"""Given the messageId of the first BootNotification, the frames the CSMS sends instead of a plain answer."""


def now() -> str:
    return dt.datetime.now(dt.UTC).isoformat(timespec="seconds").replace("+00:00", "Z")


def accepted(message_id: str, **extra: Any) -> str:
    return json.dumps([3, message_id, {"currentTime": now(), "interval": 300, "status": "Accepted", **extra}])


def long_field(size: int) -> Behaviour:
    """The BootNotificationResponse's statusInfo.reasonCode (string[20]) is ``size`` characters long."""
    return lambda message_id: [accepted(message_id, statusInfo={"reasonCode": "R" * size})]


def huge_calls(count: int, size: int) -> Behaviour:
    """``count`` DataTransfer CALLs whose vendorId (string[255]) is ``size`` characters long, then the answer."""

    def frames(message_id: str) -> Iterator[str]:
        vendor = "V" * size
        for n in range(count):
            yield f'[2,"huge-{n}","DataTransfer",{{"vendorId":"{vendor}"}}]'
        yield accepted(message_id)

    return frames


class MisbehavingCsms:
    """The CSMS; ``url`` is what the SUT file's ``[csms] url`` says once :meth:`running` has started it."""

    def __init__(self, behaviour: Behaviour) -> None:
        self.behaviour = behaviour
        self.port = 0
        self._misbehaved = False

    @property
    def url(self) -> str:
        return f"ws://127.0.0.1:{self.port}/ocpp"

    async def _serve(self, websocket: ServerConnection) -> None:
        async for message in websocket:
            frame = json.loads(message)
            if frame[0] != 2:
                continue
            if frame[2] == "BootNotification" and not self._misbehaved:
                self._misbehaved = True
                for text in self.behaviour(frame[1]):
                    await websocket.send(text)
            elif frame[2] == "BootNotification":
                await websocket.send(accepted(frame[1]))
            elif frame[2] == "Heartbeat":
                await websocket.send(json.dumps([3, frame[1], {"currentTime": now()}]))
            else:
                await websocket.send(json.dumps([3, frame[1], {}]))

    @contextmanager
    def running(self) -> Iterator[MisbehavingCsms]:
        """Serve on a thread of its own for the duration of the block."""
        loop = asyncio.new_event_loop()
        started = threading.Event()
        stop: asyncio.Future[None] | None = None

        async def main() -> None:
            nonlocal stop
            stop = loop.create_future()
            async with serve(self._handle, "127.0.0.1", 0, subprotocols=["ocpp2.0.1"], max_size=MiB, compression=None) as server:
                self.port = server.sockets[0].getsockname()[1]
                started.set()
                await stop

        thread = threading.Thread(target=loop.run_until_complete, args=(main(),), daemon=True)
        thread.start()
        started.wait(10)
        try:
            yield self
        finally:
            loop.call_soon_threadsafe(lambda: stop is not None and not stop.done() and stop.set_result(None))
            thread.join(10)
            loop.close()

    async def _handle(self, websocket: ServerConnection) -> None:
        try:
            await self._serve(websocket)
        except Exception:  # the harness closing mid-burst is expected
            return
