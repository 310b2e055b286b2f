"""The reference station against the reference CSMS on loopback: both must agree on the happy paths the harness
cases walk, so that a harness FAIL against a faulty variant can only come from the fault."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest
from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed, InvalidStatus

from harness.reference import UnknownAction
from harness.reference.csms import CsmsSettings, Received, ReferenceCsms
from harness.reference.station import ReferenceStation, StationSettings
from harness.reference.transport import basic_auth_header

pytestmark = pytest.mark.asyncio

PASSWORD = "0123456789abcdefXYZ"


def actions(received: list[Received], action: str) -> list[dict]:
    return [m.payload for m in received if m.action == action]


def ended(received: list[Received]) -> bool:
    return any(p["eventType"] == "Ended" for p in actions(received, "TransactionEvent"))


async def pair(csms_settings: CsmsSettings, **station: object) -> tuple[ReferenceCsms, ReferenceStation]:
    csms = ReferenceCsms(csms_settings)
    await csms.start()
    station_settings = StationSettings(csms_url=csms.url, basic_auth_password=csms_settings.basic_auth_password)
    for name, value in station.items():
        setattr(station_settings, name, value)
    return csms, ReferenceStation(station_settings)


@pytest.fixture
async def running() -> AsyncIterator[tuple[ReferenceCsms, ReferenceStation]]:
    csms, station = await pair(CsmsSettings(basic_auth_password=PASSWORD), evses={1: [1], 2: [1]})
    await station.start()
    async with asyncio.timeout(3):
        await station.wait_online()
    yield csms, station
    await station.stop()
    await csms.stop()


async def test_boot_accepted_reports_every_connector(running: tuple[ReferenceCsms, ReferenceStation]) -> None:
    csms, _ = running
    boots = actions(csms.received, "BootNotification")
    assert [b["reason"] for b in boots] == ["PowerUp"]
    statuses = {(s["evseId"], s["connectorId"]): s["connectorStatus"] for s in actions(csms.received, "StatusNotification")}
    assert statuses == {(1, 1): "Available", (2, 1): "Available"}
    events = [e["eventData"][0] for e in actions(csms.received, "NotifyEvent")]
    assert {(e["component"]["name"], e["variable"]["name"], e["actualValue"], e["trigger"]) for e in events} == {
        ("Connector", "AvailabilityState", "Available", "Delta")
    }
    assert [m.action for m in csms.received][0] == "BootNotification"


async def test_heartbeat_follows_boot_interval() -> None:
    csms, station = await pair(CsmsSettings(heartbeat_interval=1))
    await station.start()
    try:
        async with asyncio.timeout(3):
            await csms.wait_for(lambda r: bool(actions(r, "Heartbeat")))
        assert station.device_model.value("OCPPCommCtrlr", "HeartbeatInterval") == "1"
    finally:
        await station.stop()
        await csms.stop()


async def test_boot_pending_then_accepted() -> None:
    csms, station = await pair(CsmsSettings(boot_pending_first=True))
    await station.start()
    try:
        async with asyncio.timeout(4):
            await station.wait_online()
        names = [m.action for m in csms.received]
        assert names[:2] == ["BootNotification", "BootNotification"]
        assert csms.registration["CS001"] == "Accepted"
        await csms.perform("csms_get_variables", {"identity": "CS001", "component": "OCPPCommCtrlr", "variable": "OfflineThreshold"})
        read = {"identity": "CS001", "component": "OCPPCommCtrlr", "variable": "OfflineThreshold"}
        assert await csms.perform("csms_confirm_variable_read", read | {"value": "300"}) is True
        assert await csms.perform("csms_confirm_variable_read", read | {"value": "301"}) is False
    finally:
        await station.stop()
        await csms.stop()


async def test_local_transaction_in_seq_no_order(running: tuple[ReferenceCsms, ReferenceStation]) -> None:
    csms, station = running
    await station.perform("plug_in", {"evse_id": 1, "connector_id": 1})
    token = {"id_token": "VALID001", "type": "ISO14443", "evse_id": 1}
    await station.perform("present_id_token", token)
    await station.perform("present_id_token", token)
    await station.perform("unplug", {"evse_id": 1, "connector_id": 1})
    async with asyncio.timeout(3):
        await csms.wait_for(ended)
    events = actions(csms.received, "TransactionEvent")
    assert [e["seqNo"] for e in events] == list(range(len(events)))
    assert len({e["transactionInfo"]["transactionId"] for e in events}) == 1
    summary = [(e["eventType"], e["triggerReason"], e["transactionInfo"]["chargingState"]) for e in events]
    assert summary == [
        ("Started", "CablePluggedIn", "EVConnected"),
        ("Updated", "Authorized", "EVConnected"),
        ("Updated", "ChargingStateChanged", "Charging"),
        ("Updated", "StopAuthorized", "Charging"),
        ("Updated", "ChargingStateChanged", "EVConnected"),
        ("Ended", "EVCommunicationLost", "Idle"),
    ]
    assert events[0]["evse"] == {"id": 1, "connectorId": 1}
    assert events[1]["idToken"] == {"idToken": "VALID001", "type": "ISO14443"}
    assert events[-1]["transactionInfo"]["stoppedReason"] == "Local"
    assert not any(e.get("offline") for e in events)
    occupied = [s for s in actions(csms.received, "StatusNotification") if s["connectorStatus"] == "Occupied"]
    assert [(s["evseId"], s["connectorId"]) for s in occupied] == [(1, 1)]


async def test_blocked_token_starts_nothing(running: tuple[ReferenceCsms, ReferenceStation]) -> None:
    csms, station = running
    await station.perform("present_id_token", {"id_token": "BLOCKED001", "type": "ISO14443", "evse_id": 1})
    await station.perform("present_id_token", {"id_token": "VALID001", "type": "ISO14443", "evse_id": 1})
    async with asyncio.timeout(3):
        await csms.wait_for(lambda r: bool(actions(r, "TransactionEvent")))
    assert [a["idToken"]["idToken"] for a in actions(csms.received, "Authorize")] == ["BLOCKED001", "VALID001"]
    assert [e["idToken"]["idToken"] for e in actions(csms.received, "TransactionEvent")] == ["VALID001"]


async def test_queued_events_arrive_offline_after_connection_loss(running: tuple[ReferenceCsms, ReferenceStation]) -> None:
    csms, station = running
    await station.perform("plug_in", {"evse_id": 1, "connector_id": 1})
    await station.perform("present_id_token", {"id_token": "VALID001", "type": "ISO14443", "evse_id": 1})
    async with asyncio.timeout(3):
        await csms.wait_for(lambda r: any(e["transactionInfo"]["chargingState"] == "Charging" for e in actions(r, "TransactionEvent")))
    # A round trip after the last event: its response reached the station, so nothing is left to retransmit.
    await csms.perform("csms_get_variables", {"identity": "CS001", "component": "OCPPCommCtrlr", "variable": "OfflineThreshold"})
    online_count = len(actions(csms.received, "TransactionEvent"))
    await csms.drop_connection("CS001", refuse_reconnect=True)
    async with asyncio.timeout(3):
        await station.wait_online(False)
    station.engine.sample()
    await station.perform("unplug", {"evse_id": 1, "connector_id": 1})
    csms.accept_reconnect("CS001")
    async with asyncio.timeout(3):
        await csms.wait_for(ended)
    events = actions(csms.received, "TransactionEvent")
    assert [e["seqNo"] for e in events] == list(range(len(events)))
    queued = events[online_count:]
    assert [(e["eventType"], e["triggerReason"]) for e in queued] == [
        ("Updated", "MeterValuePeriodic"),
        ("Ended", "EVCommunicationLost"),
    ]
    assert all(e["offline"] is True for e in queued)
    assert queued[0]["meterValue"][0]["sampledValue"][0]["measurand"] == "Energy.Active.Import.Register"
    assert [b["reason"] for b in actions(csms.received, "BootNotification")] == ["PowerUp"]


async def test_reboot_boots_again_with_power_up(running: tuple[ReferenceCsms, ReferenceStation]) -> None:
    csms, station = running
    await station.perform("reboot", {})
    async with asyncio.timeout(3):
        await csms.wait_for(lambda r: len(actions(r, "BootNotification")) == 2)
        await station.wait_online()
    assert [b["reason"] for b in actions(csms.received, "BootNotification")] == ["PowerUp", "PowerUp"]


async def test_handshake_rules() -> None:
    csms = ReferenceCsms(CsmsSettings(basic_auth_password=PASSWORD))
    await csms.start()
    try:
        with pytest.raises(InvalidStatus) as unknown:
            async with connect(f"{csms.url}/NOPE", subprotocols=["ocpp2.0.1"]):
                pass
        assert unknown.value.response.status_code == 404
        with pytest.raises(InvalidStatus) as unauthorized:
            async with connect(f"{csms.url}/CS001", subprotocols=["ocpp2.0.1"]):
                pass
        assert unauthorized.value.response.status_code == 401
        auth = {"Authorization": basic_auth_header("CS001", PASSWORD)}
        async with asyncio.timeout(3), connect(f"{csms.url}/CS001", additional_headers=auth) as ws:
            assert ws.subprotocol is None
            with pytest.raises(ConnectionClosed):
                await ws.recv()
    finally:
        await csms.stop()


async def test_unknown_fault_names_raise() -> None:
    with pytest.raises(ValueError, match="no_such_fault"):
        ReferenceStation(StationSettings(csms_url="ws://127.0.0.1:1"), faults=["no_such_fault"])
    with pytest.raises(ValueError, match="no_such_fault"):
        ReferenceCsms(CsmsSettings(), faults=["no_such_fault"])


async def test_unknown_actions_raise() -> None:
    station = ReferenceStation(StationSettings(csms_url="ws://127.0.0.1:1"))
    with pytest.raises(UnknownAction):
        await station.perform("dance", {})
    with pytest.raises(UnknownAction):
        await ReferenceCsms(CsmsSettings()).perform("dance", {})


async def test_stop_never_hangs_without_a_csms() -> None:
    station = ReferenceStation(StationSettings(csms_url="ws://127.0.0.1:9"))
    await station.start()
    async with asyncio.timeout(2):
        await station.stop()
        await station.stop()
    csms = ReferenceCsms(CsmsSettings())
    async with asyncio.timeout(2):
        await csms.stop()
        await csms.start()
        await csms.stop()
        await csms.stop()
