"""Transport truthfulness and the harness's own limits: what the SUT does on the WebSocket itself (the handshake,
binary messages, oversize messages, floods) gets a verdict that names the rule or the limit, never a false PASS."""

from __future__ import annotations

import asyncio
import dataclasses
import json
from collections.abc import AsyncIterator
from types import SimpleNamespace

import pytest
from websockets.asyncio.client import ClientConnection, connect
from websockets.asyncio.server import ServerConnection, serve

from harness.actions import ActionResult
from harness.case import Case, CaseInfo
from harness.config import HarnessError, Limits, Timeouts, from_dict, reference_config
from harness.core.schemas import ocpp201
from harness.core.rpc import RpcEndpoint
from harness.environment import Environment
from harness.responders import csms_defaults
from harness.roles import Answering, CsmsEndpoint, FakeCsms, FakeStation, StationIdentity, SubprotocolBroken
from harness.verdicts import Inconclusive, TransportFailure
from testcases.csms.test_b_provisioning import pending_interval

FAST = Timeouts(response=1.0, message=1.0, manual_action=1.0, silence=0.3)
WAIT = 5.0


class NoActions:
    async def perform(self, action: object) -> ActionResult:
        return ActionResult()


def _config(limits: Limits = Limits()) -> object:
    return dataclasses.replace(reference_config("cs", timeouts=FAST), limits=limits)


@pytest.fixture
async def small_csms() -> AsyncIterator[FakeCsms]:
    """A fake CSMS that takes messages up to 64 KiB."""
    config = _config()
    csms = FakeCsms(CsmsEndpoint(port=0, max_frame_bytes=64 * 1024), Answering(csms_defaults(config)))
    await csms.start()
    yield csms
    await csms.stop()


def _case(csms: FakeCsms, limits: Limits = Limits()) -> Case:
    config = _config(limits)
    running = Case(CaseInfo("TC_X_00_CS", "scripted", "cs"), csms, config, NoActions(), csms_defaults(config))  # type: ignore[arg-type]
    csms.attach(running)
    return running


async def _station(csms: FakeCsms, subprotocols: list[str] | None = None) -> ClientConnection:
    return await connect(f"{csms.url}/CS001", subprotocols=subprotocols or ["ocpp2.0.1"], max_size=None)


# -- the CSMS's side of the handshake (harness = station) ----------------------------------------------------


class _Closes(list[int | None]):
    """The close code each connection got, and an event set at each close."""

    def __init__(self) -> None:
        super().__init__()
        self.event = asyncio.Event()


async def _csms_answering(select: str | None) -> tuple[object, str, _Closes]:
    """A WebSocket server that completes every handshake with subprotocol ``select`` (None: no header) and then
    keeps talking, as a CSMS that ignores Part 4 §3.2 does; it records the close code each connection gets."""
    closes = _Closes()

    async def handler(websocket: ServerConnection) -> None:
        try:
            await websocket.send(json.dumps([2, "c1", "GetVariables", {"getVariableData": []}]))
            await websocket.wait_closed()
        finally:
            closes.append(websocket.close_code)
            closes.event.set()

    def choose(connection: ServerConnection, offered: object) -> str | None:
        return select

    server = await serve(handler, "127.0.0.1", 0, select_subprotocol=choose)  # type: ignore[arg-type]
    port = server.sockets[0].getsockname()[1]
    return server, f"ws://127.0.0.1:{port}/ocpp", closes


@pytest.mark.parametrize("select", [None, "ocpp1.6"])
async def test_a_csms_that_does_not_agree_to_ocpp201_is_refused_and_traced(select: str | None) -> None:
    """Without a Sec-WebSocket-Protocol header (or with one never offered) the harness station closes at once."""
    server, url, closes = await _csms_answering(select)
    link = FakeStation(StationIdentity(url), Answering({}))
    try:
        with pytest.raises(SubprotocolBroken) as broken:
            await link.connect(WAIT)
        assert broken.value.answered == select
        refused = [r for r in link.session.records if r.get("event") == "handshake refused"]
        assert refused and refused[0]["url"].startswith(url)
        if select is None:
            await asyncio.wait_for(closes.event.wait(), WAIT)
            assert closes == [1002]
    finally:
        await link.stop()
        server.close()
        await server.wait_closed()


async def test_every_case_fails_against_a_csms_that_ignores_the_subprotocol() -> None:
    """The prelude meets the broken handshake: the case FAILs naming Part 4 §3.2, it is not a configuration ERROR."""
    server, url, _ = await _csms_answering(None)
    config = dataclasses.replace(
        reference_config("csms", timeouts=FAST), sut="external", csms_url=url, action_driver="prompt", source="test"
    )
    environment = await Environment.start(config)
    try:
        blocked = await environment.before_case()
        assert isinstance(blocked, TransportFailure)
        assert blocked.requirement == "Part 4 §3.2"
        assert "MUST complete the WebSocket handshake with a response without a Sec-WebSocket-Protocol" in blocked.describe()
    finally:
        await environment.stop()
        server.close()
        await server.wait_closed()


# -- the station's messages (harness = CSMS) --------------------------------------------------------------


async def test_a_binary_message_is_recorded_as_binary_and_fails(small_csms: FakeCsms) -> None:
    case = _case(small_csms)
    async with await _station(small_csms) as ws:
        await ws.send(json.dumps([2, "1", "Heartbeat", {}]).encode())
        await ws.recv()
        with pytest.raises(AssertionError) as failure:
            await case.expect("Heartbeat")
    assert "binary WebSocket message" in str(failure.value)
    frames = [r for r in case.trace.records if r.get("direction") == "cs-to-csms"]
    assert frames[0]["binary"] is True


def test_a_binary_message_is_judged_as_its_text_would_be() -> None:
    endpoint = RpcEndpoint(ocpp201())
    inbound = endpoint.receive_binary(b"\xff\xfe not json")
    assert inbound.binary and inbound.frame is None
    assert any("binary WebSocket message" in p for p in inbound.problems)
    assert any("malformed frame" in p for p in inbound.problems)


async def test_a_message_over_the_frame_limit_ends_the_case_inconclusive_naming_the_limit(small_csms: FakeCsms) -> None:
    case = _case(small_csms)
    async with await _station(small_csms) as ws:
        await ws.send(json.dumps([2, "1", "Heartbeat", {"customData": {"vendorId": "x" * 100_000}}]))
        with pytest.raises(Inconclusive) as stopped:
            await case.expect("Heartbeat")
        assert ws.close_code == 1009
    assert "[limits] max_frame_bytes" in stopped.value.reason
    closed = [r for r in case.trace.records if r.get("event") == "connection closed"]
    assert closed and "65536 bytes" in closed[0]["limit"]


async def test_a_flood_past_the_frame_count_limit_ends_the_case_inconclusive(small_csms: FakeCsms) -> None:
    case = _case(small_csms, Limits(max_frames_per_case=100))
    async with await _station(small_csms) as ws:
        for number in range(150):
            await ws.send(json.dumps([2, str(number), "Heartbeat", {}]))
            await ws.recv()
        with pytest.raises(Inconclusive) as stopped:
            await case.expect("BootNotification")
    assert "[limits] max_frames_per_case" in stopped.value.reason
    frames = [r for r in case.trace.records if r.get("direction") == "cs-to-csms"]
    assert len(frames) == 100


async def test_a_refused_handshake_is_in_the_trace(small_csms: FakeCsms) -> None:
    case = _case(small_csms)
    with pytest.raises(Exception):
        await connect(f"{small_csms.url}/NOBODY", subprotocols=["ocpp2.0.1"])
    refused = [r for r in case.trace.records if r.get("event") == "handshake refused"]
    assert refused and refused[0]["status"] == 404 and refused[0]["path"].endswith("/NOBODY")


# -- configuration -------------------------------------------------------------------------------------------


def test_limits_are_read_from_the_sut_file() -> None:
    config = from_dict(
        {"sut": {"role": "cs"}, "limits": {"max_frame_bytes": 1048576, "max_frames_per_case": 500, "max_interval": 60}},
        source="test",
    )
    assert config.limits == Limits(max_frame_bytes=1048576, max_frames_per_case=500, max_interval=60.0)


@pytest.mark.parametrize(
    ("key", "value", "message"),
    [("max_frame_bytes", 10, "at least 65536"), ("max_frames_per_case", "many", "must be an integer"), ("max_interval", 0, "positive")],
)
def test_a_bad_limit_is_a_configuration_error_naming_it(key: str, value: object, message: str) -> None:
    with pytest.raises(HarnessError) as error:
        from_dict({"sut": {"role": "cs"}, "limits": {key: value}}, source="sut.toml")
    assert f"[limits] {key}" in str(error.value) and message in str(error.value)


def test_a_pending_interval_over_the_limit_is_inconclusive_naming_it() -> None:
    """TC_B_02_CSMS: a CSMS asking to wait 10⁹ s gets INCONCLUSIVE at once, not a hung run."""
    config = dataclasses.replace(reference_config("csms"), limits=Limits(max_interval=60.0))
    case = SimpleNamespace(config=config)
    assert pending_interval(case, 30) == 30.0  # type: ignore[arg-type]
    with pytest.raises(Inconclusive) as stopped:
        pending_interval(case, 1_000_000_000)  # type: ignore[arg-type]
    assert "[limits] max_interval" in stopped.value.reason


async def test_a_station_offering_another_subprotocol_is_refused_and_the_timeout_says_so(small_csms: FakeCsms) -> None:
    """Part 4 §3.2 from the harness's side: no ocpp2.0.1 offered, handshake completed without it, then closed; a
    step waiting for the station then FAILs saying the handshake was refused and why."""
    case = _case(small_csms)
    async with await _station(small_csms, subprotocols=["ocpp1.6"]) as ws:
        assert ws.subprotocol is None
        with pytest.raises(AssertionError) as failure:
            await case.expect("BootNotification", timeout=0.5)
        assert ws.close_code == 1002
    assert "handshake(s) refused" in str(failure.value) and "no ocpp2.0.1 subprotocol offered" in str(failure.value)


async def test_an_answer_over_the_frame_limit_is_inconclusive_not_a_closed_connection_fail(small_csms: FakeCsms) -> None:
    """The harness closes the connection itself at its limit; the CALL it waited on is then unanswered, which is
    no fault of the SUT: the verdict is the limit's INCONCLUSIVE, not "the connection closed"."""
    case = _case(small_csms)
    async with await _station(small_csms) as ws:
        await small_csms.wait_for_connection(WAIT)
        calling = asyncio.create_task(case.call("GetVariables", {"getVariableData": [{"component": {"name": "OCPPCommCtrlr"}, "variable": {"name": "OfflineThreshold"}}]}))
        request = json.loads(await ws.recv())
        await ws.send(json.dumps([3, request[1], {"getVariableResult": [], "customData": {"vendorId": "x" * 100_000}}]))
        with pytest.raises(Inconclusive) as stopped:
            await calling
    assert "[limits] max_frame_bytes" in stopped.value.reason
