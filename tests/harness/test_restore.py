"""The prelude and the restore against a scripted station: the harness waits for the boot before anything
else, puts back what a case left, and a SUT it cannot put back makes the next case INCONCLUSIVE (never FAIL)."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from typing import Any

import pytest
from websockets.asyncio.client import ClientConnection, connect

from harness.actions import HookDriver
from harness.case import CaseInfo
from harness.config import from_dict
from harness.environment import Environment
from harness.verdicts import Inconclusive

BOOT = {"reason": "PowerUp", "chargingStation": {"model": "M", "vendorName": "V"}}
CONFIG = {
    "sut": {"role": "cs", "kind": "external"},
    "csms": {"listen_host": "127.0.0.1", "listen_port": 0},
    "timeouts": {"response": 2.0, "message": 2.0, "manual_action": 2.0, "time_tolerance": 0.5, "silence": 0.3},
    "actions": {"driver": "hook", "commands": {}},
}
VARIABLES = {("AuthCtrlr", "LocalPreAuthorize"): "false", ("TxCtrlr", "TxStartPoint"): "EVConnected,Authorized"}


class ScriptedStation:
    """A station that boots, reports its connector, and answers the harness's requests from a table."""

    def __init__(self, ws: ClientConnection) -> None:
        self.ws = ws
        self.requests: list[str] = []
        self._ids = iter(range(1, 1000))
        self._answers: dict[str, asyncio.Future[Any]] = {}
        self._later: set[asyncio.Task[Any]] = set()

    async def call(self, action: str, payload: dict[str, Any]) -> Any:
        message_id = f"s{next(self._ids)}"
        self._answers[message_id] = asyncio.get_running_loop().create_future()
        await self.ws.send(json.dumps([2, message_id, action, payload]))
        return await asyncio.wait_for(self._answers[message_id], 2)

    async def serve(self) -> None:
        async for text in self.ws:
            frame = json.loads(text)
            if frame[0] == 3:
                self._answers.pop(frame[1]).set_result(frame[2])
                continue
            self.requests.append(frame[2])
            answer = self._answer(frame[2], frame[3])
            await self.ws.send(json.dumps([3, frame[1], answer]))
            if frame[2] == "TriggerMessage" and answer["status"] == "Accepted" and frame[3]["requestedMessage"] == "StatusNotification":
                self._later.add(asyncio.create_task(self.call("StatusNotification", status(self.connector_status))))

    connector_status = "Available"
    """What the connector physically is, reported when a StatusNotification is triggered."""

    trigger_status = "Rejected"
    """How it answers TriggerMessage BootNotification: Rejected, as a station already Accepted does (F06.FR.17)."""

    def _answer(self, action: str, payload: dict[str, Any]) -> dict[str, Any]:
        if action == "GetVariables":
            return {"getVariableResult": [_read(item) for item in payload["getVariableData"]]}
        if action == "SetVariables":
            return {"setVariableResult": [{"attributeStatus": "Accepted", "component": i["component"], "variable": i["variable"]} for i in payload["setVariableData"]]}
        if action == "TriggerMessage":
            return {"status": self.trigger_status}
        return {"status": "Accepted"}


def _read(item: dict[str, Any]) -> dict[str, Any]:
    value = VARIABLES.get((item["component"]["name"], item["variable"]["name"]), "300")
    return {"attributeStatus": "Accepted", "attributeValue": value, "component": item["component"], "variable": item["variable"]}


def status(connector_status: str) -> dict[str, Any]:
    return {"timestamp": "2024-05-01T12:00:00Z", "connectorStatus": connector_status, "evseId": 1, "connectorId": 1}


@pytest.fixture
async def bench() -> AsyncIterator[tuple[Environment, ScriptedStation]]:
    environment = await Environment.start(from_dict(CONFIG, source="test"))
    async with connect(f"{environment.link.url}/CS001", subprotocols=["ocpp2.0.1"]) as ws:  # type: ignore[attr-defined]
        station = ScriptedStation(ws)
        serving = asyncio.create_task(station.serve())
        try:
            yield environment, station
        finally:
            serving.cancel()
    await environment.stop()


async def booted(environment: Environment, station: ScriptedStation) -> None:
    """The station boots while the prelude waits, then reports its connector and its startup."""
    prelude = asyncio.create_task(environment.before_case())
    assert (await station.call("BootNotification", BOOT))["status"] == "Accepted"
    await station.call("StatusNotification", status("Available"))
    await station.call("SecurityEventNotification", {"type": "StartupOfTheDevice", "timestamp": "2024-05-01T12:00:00Z"})
    assert await prelude is None


async def test_the_prelude_waits_for_the_boot_before_sending_anything(bench: tuple[Environment, ScriptedStation]) -> None:
    environment, station = bench
    await booted(environment, station)
    frames = [(r["direction"], r["messageType"], r["action"]) for r in environment.link.session.records if "action" in r]
    first_request = frames.index(("csms-to-cs", "CALL", "GetVariables"))
    assert frames.index(("csms-to-cs", "CALLRESULT", "BootNotification")) < first_request
    assert station.requests == ["GetVariables", "GetVariables"], "LocalPreAuthorize and TxStartPoint, once"
    assert environment.link.model.accepted


async def test_a_variable_the_case_changed_is_put_back(bench: tuple[Environment, ScriptedStation]) -> None:
    environment, station = bench
    await booted(environment, station)
    case = environment.new_case(CaseInfo("TC_B_09_CS", "Set Variables - single value", "cs"))
    data = [{"component": {"name": "OCPPCommCtrlr"}, "variable": {"name": "OfflineThreshold"}, "attributeValue": "600"}]
    await case.call("SetVariables", {"setVariableData": data})
    await environment.end_case()
    await environment.after_case("TC_B_09_CS")
    assert environment.blocked is None
    put_back = [r for r in environment.link.session.records if r.get("action") == "SetVariables" and r.get("messageType") == "CALL"]
    assert put_back[-1]["payload"]["setVariableData"][0]["attributeValue"] == "300"


async def test_a_station_the_restore_cannot_bring_back_makes_the_next_case_inconclusive(
    bench: tuple[Environment, ScriptedStation],
) -> None:
    """The EV stays plugged in and no hook can unplug it: the next case cannot start from the general
    preconditions, so it is INCONCLUSIVE with the reason, not a FAIL of the station."""
    environment, station = bench
    await booted(environment, station)
    environment.new_case(CaseInfo("TC_G_01_CS", "Connector status", "cs"))
    await station.call("StatusNotification", status("Occupied"))
    await environment.end_case()
    await environment.after_case("TC_G_01_CS")
    blocked = await environment.before_case()
    assert isinstance(blocked, Inconclusive)
    assert "unplug" in blocked.reason and "general preconditions" in blocked.reason


async def test_a_silent_station_already_accepted_is_asked_and_not_blocked(bench: tuple[Environment, ScriptedStation]) -> None:
    """A station that was registered before the harness started sends nothing on connecting: the harness
    triggers a BootNotification, the station answers Rejected (it is Accepted already, F06.FR.17), and the
    cases run."""
    environment, station = bench
    assert await environment.before_case() is None
    assert station.requests[0] == "TriggerMessage"
    assert environment.link.model.registration == "Accepted"


async def test_the_restore_waits_for_a_transaction_the_plug_in_started_even_when_it_reports_after_the_unplug(
    bench: tuple[Environment, ScriptedStation],
) -> None:
    """Once a flake of the self-test: the Occupied came, the TransactionEvent Started was still on its way, the
    unplug's Available came first, and the restore called the station idle; the Started and Ended then landed in
    the next case. With TxStartPoint EVConnected the restore waits for them."""
    environment, station = bench
    environment.actions = HookDriver({"unplug": "true"}, None, 2.0)
    await booted(environment, station)
    environment.new_case(CaseInfo("TC_E_03_CS", "Local start transaction - Cable plugin first", "cs"))
    await station.call("StatusNotification", status("Occupied"))
    await environment.end_case()
    restore = asyncio.create_task(environment.after_case("TC_E_03_CS", passed=False))
    await station.call("StatusNotification", status("Available"))
    done, _ = await asyncio.wait({restore}, timeout=0.5)
    assert not done, "the restore must wait for the TransactionEvent the plug-in made due"
    event = {"timestamp": "2024-05-01T12:00:00Z", "triggerReason": "CablePluggedIn", "evse": {"id": 1, "connectorId": 1}}
    await station.call("TransactionEvent", {**event, "eventType": "Started", "seqNo": 0, "transactionInfo": {"transactionId": "T1"}})
    await station.call("TransactionEvent", {**event, "eventType": "Ended", "seqNo": 1, "triggerReason": "EVCommunicationLost", "transactionInfo": {"transactionId": "T1", "stoppedReason": "EVDisconnected"}})
    await asyncio.wait_for(restore, 5)
    assert environment.blocked is None



async def test_after_a_case_that_did_not_pass_the_station_reports_its_connectors_again(
    bench: tuple[Environment, ScriptedStation],
) -> None:
    """A SUT that broke a rule may have reported wrongly too (or is still acting on the case): its connector said
    Available while an EV is plugged in. The restore asks it again (TriggerMessage StatusNotification with the
    connectorId, F06.FR.13) and so sees the EV it has to have unplugged."""
    environment, station = bench
    await booted(environment, station)
    station.trigger_status = "Accepted"
    station.connector_status = "Occupied"
    environment.new_case(CaseInfo("TC_E_03_CS", "Local start transaction - Cable plugin first", "cs"))
    await environment.end_case()
    await environment.after_case("TC_E_03_CS", passed=False)
    triggers = [r["payload"] for r in environment.link.session.records if r.get("action") == "TriggerMessage" and r.get("messageType") == "CALL"]
    assert {"requestedMessage": "StatusNotification", "evse": {"id": 1, "connectorId": 1}} in triggers
    assert isinstance(environment.blocked, Inconclusive) and "unplug" in environment.blocked.reason


async def test_after_a_case_that_passed_the_model_is_trusted(bench: tuple[Environment, ScriptedStation]) -> None:
    environment, station = bench
    await booted(environment, station)
    environment.new_case(CaseInfo("TC_B_01_CS", "Cold Boot Charging Station - Accepted", "cs"))
    await environment.end_case()
    await environment.after_case("TC_B_01_CS", passed=True)
    assert "TriggerMessage" not in station.requests and environment.blocked is None


async def test_the_restore_waits_for_a_reconnected_station_to_show_its_registration(
    bench: tuple[Environment, ScriptedStation],
) -> None:
    """A station that reconnects (a reboot, or a chaos SUT's dropped connection) is asked nothing before its first
    frame on the new connection: its BootNotification, here, after which the restore goes on."""
    environment, station = bench
    await booted(environment, station)
    environment.new_case(CaseInfo("TC_B_01_CS", "Cold Boot Charging Station - Accepted", "cs"))
    await environment.end_case()
    async with connect(f"{environment.link.url}/CS001", subprotocols=["ocpp2.0.1"]) as ws:  # type: ignore[attr-defined]
        rebooted = ScriptedStation(ws)
        serving = asyncio.create_task(rebooted.serve())
        try:
            await environment.link.wait_for_connection(5, newer_than=1)
            restore = asyncio.create_task(environment.after_case("TC_B_01_CS", passed=True))
            done, _ = await asyncio.wait({restore}, timeout=0.3)
            assert not done and rebooted.requests == [], "nothing is asked before the station shows its registration"
            assert (await rebooted.call("BootNotification", BOOT))["status"] == "Accepted"
            await rebooted.call("StatusNotification", status("Available"))
            await rebooted.call("SecurityEventNotification", {"type": "StartupOfTheDevice", "timestamp": "2024-05-01T12:00:00Z"})
            await asyncio.wait_for(restore, 5)
        finally:
            serving.cancel()
    assert environment.blocked is None and environment.link.model.accepted
