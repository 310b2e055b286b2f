"""Run the reference Charging Station as a process of its own, the way a vendor's station meets the harness:
it connects to the CSMS URL it is given (retrying until something listens there), and it takes the Part 6
manual actions from the harness's ``hook`` driver as webhook calls on a loopback HTTP port.

    python -m harness.reference.run_station --csms-url ws://127.0.0.1:9000/ocpp --identity CS001 \\
        --control-port 9100 [--fault NAME ...]

The SUT file then says ``[actions] driver = "hook"`` and ``webhook = "http://127.0.0.1:9100/"``.
It runs until it is terminated (SIGTERM or SIGINT).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import signal
from collections.abc import Sequence

from harness.reference import UnknownAction
from harness.reference.station import FAULTS, ReferenceStation, StationSettings

MAX_REQUEST_BYTES = 64 * 1024


async def serve_actions(station: ReferenceStation, port: int) -> asyncio.Server:
    """A minimal HTTP endpoint for the webhook: ``POST {"action": name, "params": {...}}``."""

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            status, body = await _perform(station, await _read_body(reader))
        except (ValueError, asyncio.IncompleteReadError) as error:
            status, body = 400, {"error": str(error)}
        payload = json.dumps(body).encode()
        writer.write(f"HTTP/1.1 {status} X\r\nContent-Type: application/json\r\nContent-Length: {len(payload)}\r\n".encode())
        writer.write(b"Connection: close\r\n\r\n" + payload)
        with contextlib.suppress(ConnectionError):
            await writer.drain()
        writer.close()

    return await asyncio.start_server(handle, "127.0.0.1", port)


async def _read_body(reader: asyncio.StreamReader) -> dict[str, object]:
    head = await reader.readuntil(b"\r\n\r\n")
    length = 0
    for line in head.decode("latin-1").split("\r\n")[1:]:
        name, _, value = line.partition(":")
        if name.strip().lower() == "content-length":
            length = int(value.strip())
    if length > MAX_REQUEST_BYTES:
        raise ValueError("request too large")
    data = json.loads(await reader.readexactly(length) or b"{}")
    if not isinstance(data, dict):
        raise ValueError("the body must be a JSON object")
    return data


async def _perform(station: ReferenceStation, request: dict[str, object]) -> tuple[int, dict[str, object]]:
    params = request.get("params") or {}
    if not isinstance(params, dict):
        raise ValueError("params must be an object")
    try:
        await station.perform(str(request.get("action")), params)
    except UnknownAction as error:
        return 404, {"error": str(error)}
    return 200, {}


async def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--csms-url", required=True)
    parser.add_argument("--identity", default="CS001")
    parser.add_argument("--password")
    parser.add_argument("--control-port", type=int, required=True)
    parser.add_argument("--fault", action="append", default=[], choices=sorted(FAULTS))
    args = parser.parse_args(argv)
    settings = StationSettings(csms_url=args.csms_url, identity=args.identity, basic_auth_password=args.password)
    station = ReferenceStation(settings, faults=args.fault)
    stop = asyncio.Event()
    for signum in (signal.SIGTERM, signal.SIGINT):
        asyncio.get_running_loop().add_signal_handler(signum, stop.set)
    server = await serve_actions(station, args.control_port)
    await station.start()
    try:
        await stop.wait()
    finally:
        server.close()
        await station.stop()


if __name__ == "__main__":
    asyncio.run(main())
