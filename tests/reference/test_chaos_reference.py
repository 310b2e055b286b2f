"""The chaos behaviours inside the reference SUTs: the wire wrapper's switches, what the ChargePoint is handed,
the reference CSMS's manual actions when the exchange goes wrong, and the window the behaviour acts in."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from ocpp.exceptions import GenericError, SecurityError
from ocpp.messages import Call

from harness.actions import Action, ActionUnavailable, ReferenceDriver
from harness.case import SESSION, CaseInfo
from harness.config import reference_config
from harness.environment import Environment
from harness.reference import chaos as reference_chaos
from harness.reference.chaos import Chaos
from harness.reference.csms import CsmsSettings, ReferenceCsms
from harness.reference.mutations import Mutator
from harness.reference.station import ReferenceStation, StationSettings
from harness.reference.station_handlers import StationChargePoint
from harness.reference.wire import MutatedConnection
from harness.roles import Answering, CsmsEndpoint, FakeCsms

HEARTBEAT = '[2,"own-1","Heartbeat",{}]'


class Socket:
    """A websocket double: frames to receive are queued; sent frames are recorded."""

    def __init__(self, incoming: list[str] | None = None) -> None:
        self.incoming = list(incoming or [])
        self.sent: list[str | bytes] = []

    async def recv(self) -> str:
        return self.incoming.pop(0)

    async def send(self, message: str | bytes) -> None:
        self.sent.append(message)


class ChargePoint:
    def __init__(self) -> None:
        self._response_queue: asyncio.Queue[Any] = asyncio.Queue()


def wrapped(incoming: list[str] | None = None, **switches: Any) -> tuple[Socket, MutatedConnection, ChargePoint]:
    socket, chaos, charge_point = Socket(incoming), Chaos(None), ChargePoint()
    for name, value in switches.items():
        setattr(chaos.switches, name, value)
    wire = MutatedConnection(socket, Mutator([]), chaos)
    wire.serve(charge_point)  # type: ignore[arg-type]
    return socket, wire, charge_point


async def test_a_silent_sut_sends_nothing_and_its_own_call_is_answered_locally() -> None:
    socket, wire, charge_point = wrapped(silent=True)
    await wire.send(HEARTBEAT)
    await wire.send('[3,"x",{}]')
    assert socket.sent == [] and charge_point._response_queue.get_nowait().unique_id == "own-1"


async def test_truncation_cuts_the_next_frame_only_and_answers_a_cut_call_locally() -> None:
    socket, wire, charge_point = wrapped(truncate_next=True)
    await wire.send(HEARTBEAT)
    await wire.send(HEARTBEAT.replace("own-1", "own-2"))
    assert socket.sent == [HEARTBEAT[: len(HEARTBEAT) // 2], HEARTBEAT.replace("own-1", "own-2")]
    assert charge_point._response_queue.qsize() == 1


async def test_a_binary_sut_sends_bytes() -> None:
    socket, wire, _ = wrapped(binary=True)
    await wire.send(HEARTBEAT)
    assert socket.sent == [HEARTBEAT.encode()]


async def test_the_charge_point_gets_only_the_answers_to_its_own_calls() -> None:
    """Answers to frames a chaos act sent past the ChargePoint (2,000 in a flood) would pile up in the ``ocpp``
    package's response queue, which its next CALL looks through recursively: a RecursionError."""
    incoming = [
        '[3,"chaos-1",{"currentTime":"2026-01-01T00:00:00Z"}]',
        '[4,"-1","RpcFrameworkError","not valid JSON",{}]',
        '[2,"peer-1","GetVariables",{"getVariableData":[]}]',
        '[3,"own-1",{"currentTime":"2026-01-01T00:00:00Z"}]',
    ]
    _, wire, _ = wrapped(incoming)
    await wire.send(HEARTBEAT)
    assert await wire.recv() == incoming[2]
    assert await wire.recv() == incoming[3]


class Target:
    """The SUT side of a chaos act: its raw websocket is the socket double."""

    def __init__(self, behaviour: str, socket: Socket) -> None:
        self.chaos = Chaos(reference_chaos.behaviour(behaviour, "cs"))
        self.websocket = socket


async def test_a_sending_act_goes_out_ahead_of_the_first_frame_of_the_case_only() -> None:
    socket = Socket()
    target = Target("garbage_text", socket)
    wire = MutatedConnection(socket, Mutator([]), target.chaos)
    await wire.send(HEARTBEAT)  # no case yet
    target.chaos.case_started(target)  # type: ignore[arg-type]
    assert socket.sent == [HEARTBEAT]
    await wire.send(HEARTBEAT)
    await wire.send(HEARTBEAT)
    assert socket.sent == [HEARTBEAT, "chaos: this frame is no JSON {", HEARTBEAT, HEARTBEAT]
    target.chaos.case_ended()


async def test_a_reboot_sends_the_act_again_on_the_next_connection() -> None:
    """What the act sent on the connection a reboot closes may never have reached the harness (a 100 MB message
    cut at 10 MB): the case meets the behaviour on the connection after the reboot."""
    socket = Socket()
    target = Target("garbage_text", socket)
    wire = MutatedConnection(socket, Mutator([]), target.chaos)
    target.chaos.case_started(target)  # type: ignore[arg-type]
    await wire.send(HEARTBEAT)
    target.chaos.power_cycled()
    await wire.send(HEARTBEAT)
    assert socket.sent == ["chaos: this frame is no JSON {", HEARTBEAT] * 2
    target.chaos.case_ended()
    target.chaos.power_cycled()  # after the case: nothing is armed again
    await wire.send(HEARTBEAT)
    assert socket.sent[-1] == HEARTBEAT and len(socket.sent) == 5


# --- the reference CSMS's manual actions --------------------------------------------------------------

class FailingStation:
    """A station connection whose every exchange fails, as under a silent or disconnecting CSMS."""

    id = "CS001"

    async def call(self, request: Any, suppress: bool = True) -> Any:
        raise GenericError("not sent whole")


async def test_a_manual_action_is_done_once_its_request_is_sent_whatever_the_answer() -> None:
    csms = ReferenceCsms(CsmsSettings())
    csms._stations["CS001"] = FailingStation()  # type: ignore[assignment]
    assert await csms.perform("csms_get_variables", {"component": "OCPPCommCtrlr", "variable": "HeartbeatInterval"}) is None
    assert await csms.perform("csms_change_availability", {"evse_id": 1, "operational_status": "Inoperative"}) is None
    confirmed = await csms.perform(
        "csms_confirm_variable_read", {"component": "OCPPCommCtrlr", "variable": "HeartbeatInterval", "value": "2"}
    )
    assert confirmed is False


async def test_a_manual_action_with_no_station_connected_is_unavailable() -> None:
    driver = ReferenceDriver(ReferenceCsms(CsmsSettings()))
    with pytest.raises(ActionUnavailable):
        await driver.perform(Action("csms_get_variables", {"component": "OCPPCommCtrlr", "variable": "HeartbeatInterval"}))


# --- the window ---------------------------------------------------------------------------------------

class Reference:
    def __init__(self) -> None:
        self.started: list[str] = []

    def case_started(self, case_id: str) -> None:
        self.started.append(case_id)

    def case_ended(self) -> None:
        return None


async def test_the_preludes_and_restores_meet_a_well_behaved_sut() -> None:
    reference = Reference()
    driver = ReferenceDriver(reference)  # type: ignore[arg-type]
    environment = Environment(reference_config("cs"), FakeCsms(CsmsEndpoint(), Answering({})), driver, reference)
    environment.new_case(CaseInfo(SESSION, "Restore after TC_B_01_CS", "cs"))
    await environment.end_case()
    environment.new_case(CaseInfo("TC_B_01_CS", "Cold Boot Charging Station - Accepted", "cs"))
    await environment.end_case()
    assert reference.started == ["TC_B_01_CS"]


# --- the reference station's reader -----------------------------------------------------------------------

async def test_a_request_before_the_boot_answer_is_refused_at_once_not_after_the_message_timeout() -> None:
    """Waiting there held the reader that had to read the BootNotificationResponse: the station stalled for its
    MessageTimeout (30 s) whenever a case began while it rebooted."""
    station = ReferenceStation(StationSettings(csms_url="ws://127.0.0.1:9"))
    station.boot_in_flight = True
    charge_point = StationChargePoint(station, Socket(), response_timeout=30)
    request = Call(unique_id="1", action="GetVariables", payload={"getVariableData": []})
    async with asyncio.timeout(5):
        with pytest.raises(SecurityError):
            await charge_point._handle_call(request)
