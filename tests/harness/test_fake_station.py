"""The fake Charging Station does what it accepts: a scripted CSMS on 127.0.0.1, speaking raw OCPP-J, drives
it through Pending (GetBaseReport, TriggerMessage, Reset) and Accepted (remote start / stop, triggers), and
checks every frame it receives against the schemas and against Part 4's one outstanding CALL."""

from __future__ import annotations

import asyncio
import dataclasses
import itertools
import json
from typing import Any, AsyncIterator

import pytest
from websockets.asyncio.server import Server, ServerConnection, serve

from harness.case import Case, CaseInfo
from harness.config import SutConfig, Timeouts, reference_config
from harness.core.frames import Call
from harness.core.schemas import Kind, ocpp201
from harness.fake_station import SimulatedStation
from harness.responders import now, station_defaults
from harness.roles import Answering, FakeStation, StationIdentity
from harness.session import Connection
from harness.trace import CS_TO_CSMS

WAIT = 5.0
SCHEMAS = ocpp201()


class Peer:
    """One connection of the scripted CSMS. It remembers whether the station's last CALL is still unanswered,
    so a second CALL sent meanwhile (Part 4 §4.1.1) is caught."""

    def __init__(self, websocket: ServerConnection) -> None:
        self.websocket = websocket
        self.unanswered: str | None = None
        self.overlapping: list[str] = []
        self._ids = itertools.count(1)
        self._current: list[Any] = []

    async def _read(self) -> list[Any]:
        async with asyncio.timeout(WAIT):
            frame = json.loads(await self.websocket.recv())
        if frame[0] == 2:
            if self.unanswered is not None:
                self.overlapping.append(f"{frame[2]} while {self.unanswered} was unanswered")
            self.unanswered = frame[1]
            assert not list(SCHEMAS.validate(frame[2], Kind.REQUEST, frame[3])), frame
        return frame

    async def next_call(self) -> list[Any]:
        """The station's next CALL, as a frame; it stays unanswered until :meth:`answer`."""
        frame = await self._read()
        assert frame[0] == 2, f"expected a CALL from the station, got {frame}"
        self._current = frame
        return frame

    async def expect(self, action: str) -> dict[str, Any]:
        """The station's next CALL must be ``action``; its payload."""
        frame = await self.next_call()
        assert frame[2] == action, f"expected {action}, got {frame}"
        return frame[3]

    async def answer(self, payload: dict[str, Any]) -> None:
        await self.websocket.send(json.dumps([3, self._current[1], payload]))
        self.unanswered = None

    async def answered(self, action: str, payload: dict[str, Any]) -> dict[str, Any]:
        """Expect ``action`` and answer it at once; its request payload."""
        request = await self.expect(action)
        await self.answer(payload)
        return request

    async def call(self, action: str, payload: dict[str, Any]) -> dict[str, Any]:
        """A CSMS CALL; the station's CALLRESULT payload (F06.FR.04: it comes before any follow-up)."""
        message_id = f"csms-{next(self._ids)}"
        await self.websocket.send(json.dumps([2, message_id, action, payload]))
        frame = await self._read()
        assert frame[:2] == [3, message_id], f"expected the CALLRESULT of {action}, got {frame}"
        assert not list(SCHEMAS.validate(action, Kind.RESPONSE, frame[2])), frame
        return frame[2]

    async def closed(self) -> None:
        async with asyncio.timeout(WAIT):
            await self.websocket.wait_closed()


class ScriptedCsms:
    """A WebSocket server on a free port of 127.0.0.1 handing each connection to the test."""

    def __init__(self) -> None:
        self.connections: asyncio.Queue[Peer] = asyncio.Queue()
        self.server: Server | None = None

    async def start(self) -> None:
        self.server = await serve(self._handler, "127.0.0.1", 0, subprotocols=["ocpp2.0.1"])

    async def _handler(self, websocket: ServerConnection) -> None:
        await self.connections.put(Peer(websocket))
        await websocket.wait_closed()

    @property
    def url(self) -> str:
        assert self.server is not None
        return f"ws://127.0.0.1:{self.server.sockets[0].getsockname()[1]}/ocpp"

    async def next_connection(self) -> Peer:
        async with asyncio.timeout(WAIT):
            return await self.connections.get()

    async def stop(self) -> None:
        assert self.server is not None
        self.server.close()
        await self.server.wait_closed()


class RecordingIdle(Answering):
    """The idle listener, keeping the harness errors a follow-up reports (there must be none)."""

    def __init__(self, responders: dict[str, Any]) -> None:
        super().__init__(responders)
        self.errors: list[Exception] = []

    def on_harness_error(self, connection: Connection, error: Exception) -> None:
        self.errors.append(error)


@dataclasses.dataclass
class Rig:
    csms: ScriptedCsms
    station: SimulatedStation
    link: FakeStation
    idle: RecordingIdle


@pytest.fixture
async def rig() -> AsyncIterator[Rig]:
    csms = ScriptedCsms()
    await csms.start()
    config: SutConfig = dataclasses.replace(
        reference_config("csms", timeouts=Timeouts(response=WAIT, message=WAIT, manual_action=WAIT, silence=0.5)),
        csms_url=csms.url,
        connectors={1: [1], 2: [1]},
    )
    station = SimulatedStation(config)
    idle = RecordingIdle(station_defaults(config, station))
    link = FakeStation(StationIdentity(csms.url, config.identity), idle)
    station.attach(link)
    link.memory["station"] = station
    yield Rig(csms, station, link, idle)
    await link.stop()
    await csms.stop()
    assert idle.errors == []


def boot_answer(status: str, interval: int = 300) -> dict[str, Any]:
    return {"currentTime": now(), "interval": interval, "status": status}


async def boot_accepted(rig: Rig) -> Peer:
    """Power the station up and accept it; it then reports both connectors."""
    rig.link.spawn(lambda: rig.station.reboot("PowerUp"))
    peer = await rig.csms.next_connection()
    assert (await peer.answered("BootNotification", boot_answer("Accepted")))["reason"] == "PowerUp"
    for evse_id in (1, 2):
        status = await peer.answered("StatusNotification", {})
        assert (status["evseId"], status["connectorId"], status["connectorStatus"]) == (evse_id, 1, "Available")
    await rig.station.settled(WAIT)  # the station has read the last answer: a case attached now sees only its own
    return peer


async def test_pending_station_reports_answers_a_boot_trigger_and_reboots_on_reset(rig: Rig) -> None:
    rig.link.spawn(lambda: rig.station.reboot("PowerUp"))
    peer = await rig.csms.next_connection()
    await peer.answered("BootNotification", boot_answer("Pending"))
    assert not rig.station.accepted

    assert await peer.call("GetBaseReport", {"requestId": 7, "reportBase": "FullInventory"}) == {"status": "Accepted"}
    reports = [await peer.answered("NotifyReport", {})]
    while reports[-1]["tbc"]:
        reports.append(await peer.answered("NotifyReport", {}))
    assert len(reports) > 1
    assert [r["seqNo"] for r in reports] == list(range(len(reports)))
    assert {r["requestId"] for r in reports} == {7}
    items = [item for r in reports for item in r["reportData"]]
    offline = next(i for i in items if i["variable"]["name"] == "OfflineThreshold")
    attribute = offline["variableAttribute"][0]
    assert (attribute["type"], attribute["value"], attribute["mutability"]) == ("Actual", "300", "ReadWrite")
    assert offline["variableCharacteristics"] == {"dataType": "integer", "supportsMonitoring": False}
    assert await peer.call("GetBaseReport", {"requestId": 8, "reportBase": "SummaryInventory"}) == {"status": "NotSupported"}

    assert await peer.call("TriggerMessage", {"requestedMessage": "BootNotification"}) == {"status": "Accepted"}
    assert (await peer.answered("BootNotification", boot_answer("Pending")))["reason"] == "Triggered"
    start = {"idToken": {"idToken": "VALID001", "type": "ISO14443"}, "remoteStartId": 1}
    assert (await peer.call("RequestStartTransaction", start))["status"] == "Rejected"  # B02.FR.05

    assert await peer.call("Reset", {"type": "Immediate"}) == {"status": "Accepted"}
    await peer.closed()
    again = await rig.csms.next_connection()
    assert (await again.answered("BootNotification", boot_answer("Accepted")))["reason"] == "RemoteReset"
    reported = [await again.answered("StatusNotification", {}) for _ in range(2)]
    assert {(s["evseId"], s["connectorId"]) for s in reported} == {(1, 1), (2, 1)}
    async with asyncio.timeout(WAIT):
        await rig.station.settled(WAIT)
    assert rig.station.accepted
    assert await again.call("TriggerMessage", {"requestedMessage": "BootNotification"}) == {"status": "Rejected"}
    assert peer.overlapping == again.overlapping == []


async def test_accepted_station_starts_and_stops_remotely_and_answers_triggers(rig: Rig) -> None:
    peer = await boot_accepted(rig)
    start = {"idToken": {"idToken": "VALID001", "type": "ISO14443"}, "remoteStartId": 42, "evseId": 2}
    assert await peer.call("RequestStartTransaction", start) == {"status": "Accepted"}
    started = await peer.answered("TransactionEvent", {"idTokenInfo": {"status": "Accepted"}})
    assert (started["eventType"], started["triggerReason"], started["seqNo"]) == ("Started", "RemoteStart", 0)
    assert started["transactionInfo"]["remoteStartId"] == 42 and started["idToken"] == start["idToken"]
    assert started["evse"] == {"id": 2, "connectorId": 1}
    transaction_id = started["transactionInfo"]["transactionId"]
    assert (await peer.call("RequestStartTransaction", {**start, "remoteStartId": 43}))["status"] == "Rejected"

    assert await peer.call("TriggerMessage", {"requestedMessage": "TransactionEvent"}) == {"status": "Accepted"}
    triggered = await peer.answered("TransactionEvent", {})
    assert (triggered["eventType"], triggered["triggerReason"], triggered["seqNo"]) == ("Updated", "Trigger", 1)

    assert await peer.call("RequestStopTransaction", {"transactionId": "unknown"}) == {"status": "Rejected"}
    assert await peer.call("RequestStopTransaction", {"transactionId": transaction_id}) == {"status": "Accepted"}
    ended = await peer.answered("TransactionEvent", {})
    assert (ended["eventType"], ended["triggerReason"], ended["seqNo"]) == ("Ended", "RemoteStop", 2)
    assert ended["transactionInfo"]["stoppedReason"] == "Remote"

    trigger = {"requestedMessage": "StatusNotification", "evse": {"id": 1, "connectorId": 1}}
    assert await peer.call("TriggerMessage", trigger) == {"status": "Accepted"}
    status = await peer.answered("StatusNotification", {})
    assert (status["evseId"], status["connectorId"], status["connectorStatus"]) == (1, 1, "Available")
    assert await peer.call("TriggerMessage", {"requestedMessage": "Heartbeat"}) == {"status": "Accepted"}
    await peer.answered("Heartbeat", {"currentTime": now()})
    assert await peer.call("TriggerMessage", {"requestedMessage": "SignV2GCertificate"}) == {"status": "NotImplemented"}
    assert peer.overlapping == []


async def test_change_availability_is_reported_or_scheduled_during_a_transaction(rig: Rig) -> None:
    peer = await boot_accepted(rig)
    unavailable = {"operationalStatus": "Inoperative", "evse": {"id": 1}}
    assert await peer.call("ChangeAvailability", unavailable) == {"status": "Accepted"}
    status = await peer.answered("StatusNotification", {})
    assert (status["evseId"], status["connectorStatus"]) == (1, "Unavailable")
    assert await peer.call("ChangeAvailability", unavailable) == {"status": "Accepted"}  # G03.FR.03: already so

    start = {"idToken": {"idToken": "VALID001", "type": "ISO14443"}, "remoteStartId": 5, "evseId": 2}
    assert await peer.call("RequestStartTransaction", start) == {"status": "Accepted"}
    transaction_id = (await peer.answered("TransactionEvent", {}))["transactionInfo"]["transactionId"]
    whole_station = {"operationalStatus": "Inoperative"}
    assert await peer.call("ChangeAvailability", whole_station) == {"status": "Scheduled"}
    assert await peer.call("Reset", {"type": "OnIdle"}) == {"status": "Scheduled"}
    assert await peer.call("RequestStopTransaction", {"transactionId": transaction_id}) == {"status": "Accepted"}
    assert (await peer.answered("TransactionEvent", {}))["eventType"] == "Ended"
    status = await peer.answered("StatusNotification", {})
    assert (status["evseId"], status["connectorStatus"]) == (2, "Unavailable")
    await peer.closed()  # the scheduled OnIdle reset, now that no transaction runs
    again = await rig.csms.next_connection()
    assert (await again.answered("BootNotification", boot_answer("Accepted")))["reason"] == "RemoteReset"
    reported = [await again.answered("StatusNotification", {}) for _ in range(2)]
    assert {s["connectorStatus"] for s in reported} == {"Unavailable"}  # G03.FR.08: persistent across reboot


async def test_a_follow_up_and_a_case_call_queue_one_outstanding_call_at_a_time(rig: Rig) -> None:
    peer = await boot_accepted(rig)
    connection = rig.link.connection
    assert connection is not None
    assert await peer.call("GetBaseReport", {"requestId": 1, "reportBase": "ConfigurationInventory"}) == {"status": "Accepted"}
    first = await peer.expect("NotifyReport")
    assert first["seqNo"] == 0 and first["tbc"] is True

    calling = asyncio.Event()

    async def case_call() -> Any:
        calling.set()
        return await connection.call("Heartbeat", {}, WAIT)

    heartbeat = asyncio.create_task(case_call())
    async with asyncio.timeout(WAIT):
        await calling.wait()
    assert isinstance(connection.endpoint.outstanding_call, Call)
    assert connection.endpoint.outstanding_call.action == "NotifyReport" and not heartbeat.done()

    await peer.answer({})
    heartbeat_seen = report_done = False
    while not (heartbeat_seen and report_done):
        frame = await peer.next_call()
        heartbeat_seen |= frame[2] == "Heartbeat"
        report_done |= frame[2] == "NotifyReport" and frame[3]["tbc"] is False
        await peer.answer({"currentTime": now()} if frame[2] == "Heartbeat" else {})
    async with asyncio.timeout(WAIT):
        answer = await heartbeat
    assert answer.frame.payload["currentTime"]
    assert peer.overlapping == []


async def test_a_callerror_to_a_follow_up_is_recorded_not_a_harness_error(rig: Rig) -> None:
    peer = await boot_accepted(rig)
    assert await peer.call("TriggerMessage", {"requestedMessage": "Heartbeat"}) == {"status": "Accepted"}
    frame = await peer.next_call()
    await peer.websocket.send(json.dumps([4, frame[1], "InternalError", "scripted failure", {}]))
    assert await peer.call("TriggerMessage", {"requestedMessage": "LogStatusNotification"}) == {"status": "Accepted"}
    assert (await peer.answered("LogStatusNotification", {}))["status"] == "Idle"
    assert [(o.action, o.problem) for o in rig.station.outcomes if o.problem] == [("Heartbeat", "CALLERROR InternalError")]


class NoActions:
    async def perform(self, action: object) -> object:
        raise AssertionError("no manual action expected")


async def test_follow_ups_are_traced_by_the_attached_case_and_its_call_queues_behind_them(rig: Rig) -> None:
    peer = await boot_accepted(rig)
    config = rig.station.config
    case = Case(CaseInfo("TC_X_00_CSMS", "scripted", "csms"), rig.link, config, NoActions(), station_defaults(config, rig.station))
    rig.link.attach(case)
    assert await peer.call("TriggerMessage", {"requestedMessage": "FirmwareStatusNotification"}) == {"status": "Accepted"}
    await peer.expect("FirmwareStatusNotification")
    heartbeat = asyncio.create_task(case.call("Heartbeat", {}))
    await peer.answer({})
    await peer.answered("Heartbeat", {"currentTime": now()})
    async with asyncio.timeout(WAIT):
        await heartbeat
    case.finish()
    sent = [(r.get("messageType"), r.get("action")) for r in case.trace.records if r.get("direction") == CS_TO_CSMS]
    assert ("CALLRESULT", "TriggerMessage") in sent
    assert sent.index(("CALL", "FirmwareStatusNotification")) < sent.index(("CALL", "Heartbeat"))
    assert peer.overlapping == []
