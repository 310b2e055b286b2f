"""Part 6 §2.18 Reusable States for a Charging Station under test, as one table.

Each state plays the steps of its table, numbered as there but prefixed with the state's name so that a
verdict says where it stopped ("Booted 5-6"), and names its tool validations the same way ("Booted step 5",
"Authorized A step 3": the ids of the Part 6 data, :mod:`harness.part6`). A case reaches a state with one
call, ``await reach(case, "EnergyTransferStarted", authorization="local")``: the states it needs first
run only when the SUT model (:mod:`harness.sut_model`) says they are missing, and the branches on
TxCtrlr.TxStartPoint read the model too (refreshed whenever a case reads or sets the variable).

=======================  =====================================  ===========================================
state                    needs first (Part 6 "Before")          reached when (SUT model)
=======================  =====================================  ===========================================
Booted                   —                                      (always played: a power cycle or a Reset)
EVConnectedPreSession    —                                      the configured connector is Occupied
Authorized               —                                      a transaction carries the valid idToken
EnergyTransferStarted    Authorized                             the transaction's chargingState is Charging
=======================  =====================================  ===========================================
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from harness.case import Case, Expected
from harness.core.frames import Call
from harness.matching import any_item, not_, one_of
from harness.verdicts import HarnessError, Inconclusive


# -- how a connector reports its state (StatusNotification or NotifyEvent, Part 6 lists both) -----------


def connector_report(evse_id: int, connector_id: int) -> list[Expected]:
    """A message that reports the state of one connector: a StatusNotificationRequest for it, or a
    NotifyEventRequest with an eventData element on its Connector.AvailabilityState (in any element)."""
    return [
        ("StatusNotification", {"evseId": evse_id, "connectorId": connector_id}),
        (
            "NotifyEvent",
            {
                "eventData": any_item(
                    {
                        "component.name": "Connector",
                        "component.evse.id": evse_id,
                        "component.evse.connectorId": connector_id,
                        "variable.name": "AvailabilityState",
                    }
                )
            },
        ),
    ]


def verify_connector_report(
    case: Case, report: Call, status: str, validation: str, extra: dict[str, Any] | None = None
) -> None:
    """The tool validation of a connector report, as the tables write it for either message."""
    if report.action == "StatusNotification":
        case.verify(report, {"connectorStatus": status, **(extra or {})}, validation=validation)
        return
    evse, connector = _reported_connector(report)
    case.verify(
        report,
        {
            "eventData": any_item(
                {
                    "trigger": "Delta",
                    "actualValue": status,
                    "component.name": "Connector",
                    "component.evse.id": evse,
                    "component.evse.connectorId": connector,
                    "variable.name": "AvailabilityState",
                }
            )
        },
        validation=validation,
    )


def _reported_connector(report: Call) -> tuple[Any, Any]:
    for item in report.payload.get("eventData", []):
        evse = item.get("component", {}).get("evse", {})
        if item.get("component", {}).get("name") == "Connector" and "connectorId" in evse:
            return evse.get("id"), evse.get("connectorId")
    return None, None


def connectors(case: Case) -> list[tuple[int, int]]:
    return [(evse, connector) for evse, ids in sorted(case.config.connectors.items()) for connector in ids]


async def all_connectors_report(
    case: Case, status: str, *, validation: str, received_validation: str = "", since: int | None = None
) -> list[Call]:
    """"The Charging Station notifies the CSMS about the current state of all connectors": one report per
    configured connector, in any order (missing ones break ``received_validation``, e.g. a "post 1" that
    says "received for all connectors"), each with ``status`` (``validation``)."""
    reports = await case.expect_in_any_order(
        [connector_report(evse, connector) for evse, connector in connectors(case)],
        validation=received_validation or validation,
        since=since,
    )
    for report in reports:
        verify_connector_report(case, report, status, validation, {"evseId": not_(0), "connectorId": not_(0)})
    return reports


# -- Configuration State and the general precondition -------------------------------------------------


async def configure(
    case: Case, settings: list[tuple[str, str, str]], *, if_implemented: bool = False, if_read_write: bool = False
) -> None:
    """A table's "Configuration State": set each (component, variable, value) with a SetVariablesRequest.

    A station that does not accept a required setting leaves the case's precondition unmet: INCONCLUSIVE
    (the case cannot test what it is for). With ``if_implemented`` a variable the station does not know is
    skipped, as Part 6 says "(If implemented)"; with ``if_read_write`` a Rejected one too ("If implemented
    AND ReadWrite": a ReadOnly variable is Rejected, B05.FR.09). The restore after the case puts every
    value back.
    """
    skipped = {"UnknownComponent", "UnknownVariable"} if if_implemented else set()
    if if_read_write:
        skipped.add("Rejected")
    data = [
        {"component": {"name": component}, "variable": {"name": variable}, "attributeValue": value}
        for component, variable, value in settings
    ]
    answer = await case.call("SetVariables", {"setVariableData": data})
    for result in answer.payload.get("setVariableResult", []):
        status = result.get("attributeStatus")
        name = f"{result['component']['name']}.{result['variable']['name']}"
        if status == "Accepted" or status in skipped:
            continue
        raise Inconclusive(f"Configuration State not reached: the station answered {status} for {name}")


async def general_preconditions(case: Case) -> None:
    """Part 6 §2.1: "The Configuration variable AuthCtrlr.LocalPreAuthorize is set to false". Read when the
    model does not know it and set only when it is not false, so a station that refuses SetVariables is not
    made INCONCLUSIVE by a precondition it already meets. The other general preconditions are the
    restore's (harness.restore)."""
    key = ("AuthCtrlr", "LocalPreAuthorize")
    if case.link.model.variables.get(key, "").lower() == "false":
        return
    with case.step("Before", "General preconditions (Part 6 §2.1): AuthCtrlr.LocalPreAuthorize is false"):
        answer = await case.call(
            "GetVariables",
            {"getVariableData": [{"component": {"name": key[0]}, "variable": {"name": key[1]}}]},
        )
        result = answer.payload["getVariableResult"][0]
        if result.get("attributeStatus") == "Accepted" and result.get("attributeValue", "").lower() != "false":
            await configure(case, [(*key, "false")])
            case.link.model.changed.pop(key, None)  # a general precondition stays for every case


async def tx_start_points(case: Case) -> list[str]:
    """TxCtrlr.TxStartPoint as the model knows it (read from the station when it does not)."""
    known = case.link.model.tx_start_points()
    if known is not None:
        return known
    answer = await case.call(
        "GetVariables", {"getVariableData": [{"component": {"name": "TxCtrlr"}, "variable": {"name": "TxStartPoint"}}]}
    )
    result = answer.payload["getVariableResult"][0]
    if result.get("attributeStatus") != "Accepted":
        raise Inconclusive("TxCtrlr.TxStartPoint cannot be read, so the transaction states cannot be followed")
    return case.link.model.tx_start_points() or []


# -- the states ---------------------------------------------------------------------------------------


async def booted(case: Case, *, power_cycle: bool = True, connectors_validation: str = "") -> Call:
    """Reusable State Booted: a power cycle (manual action) or a ResetRequest, then an accepted boot, the
    state of every connector and a SecurityEventNotification (steps 5 and 7 in any order: Part 2 orders
    neither)."""
    connection = case.link.connection.number if case.link.connection else 0
    case.forget_received()
    if power_cycle:
        with case.step("Booted", "Manual Action: Power cycle the Charging Station"):
            await case.manual("reboot")
    else:
        with case.step("Booted 1-2", "The OCTT sends a ResetRequest with type Immediate"):
            reset = await case.call("Reset", {"type": "Immediate"})
            case.verify(reset, {"status": "Accepted"}, validation="Booted step 2")
    with case.step("Booted 3-4", "The Charging Station sends a BootNotificationRequest, the OCTT accepts it"):
        boot = await case.expect("BootNotification", newer_than=connection)
    after_boot = case.mark()
    with case.step("Booted 5-6", "The Charging Station notifies the CSMS about the current state of all connectors"):
        await all_connectors_report(
            case, "Available", validation="Booted step 5", received_validation=connectors_validation
        )
    with case.step("Booted 7-8", "The Charging Station sends a SecurityEventNotificationRequest"):
        event = await case.expect("SecurityEventNotification", since=after_boot, validation="Booted step 7")
        case.verify(event, {"type": one_of("StartupOfTheDevice", "ResetOrReboot")}, validation="Booted step 7")
    return boot


async def ev_connected_pre_session(case: Case) -> Call | None:
    """Reusable State EVConnectedPreSession: plug in; the connector is reported Occupied; a TransactionEvent
    when the transaction starts at EVConnected (or already runs). Part 6 §2.1: the status and the
    TransactionEvent may come in any order."""
    evse_id, connector_id = case.config.evse_id, case.config.connector_id
    authorized = _authorized(case)
    event_type = _plug_in_event_type(await tx_start_points(case), authorized)
    case.forget_received()
    plugged = case.mark()
    with case.step("EVConnectedPreSession", "Manual Action: Connect the EV and EVSE"):
        await case.manual("plug_in", evse_id=evse_id, connector_id=connector_id)
    with case.step("EVConnectedPreSession 1-2", "The Charging Station notifies the CSMS about the connector status"):
        report = await case.expect_any(connector_report(evse_id, connector_id), validation="EVConnectedPreSession step 1")
        verify_connector_report(case, report, "Occupied", "EVConnectedPreSession step 1")
    if event_type is None:
        return None
    with case.step("EVConnectedPreSession 3-4", "The Charging Station sends a TransactionEventRequest"):
        event = await case.expect("TransactionEvent", since=plugged, validation="EVConnectedPreSession step 3")
        charging_states = ("EVConnected", "SuspendedEVSE", "Charging") if authorized else ("EVConnected",)
        case.verify(
            event,
            {
                "eventType": event_type,
                "triggerReason": one_of("CablePluggedIn", "ChargingStateChanged", "RemoteStart"),
                "transactionInfo.chargingState": one_of(*charging_states),
                "evse.id": evse_id,
                "evse.connectorId": connector_id,
            },
            validation="EVConnectedPreSession step 3",
        )
    return event


def _plug_in_event_type(start_points: list[str], authorized: bool) -> str | None:
    """The eventType Part 6 expects when the EV is connected, or None when no TransactionEvent is due."""
    if "ParkingBayOccupancy" in start_points or (authorized and "Authorized" in start_points):
        return "Updated"
    if "EVConnected" in start_points or (authorized and "PowerPathClosed" in start_points):
        return "Started"
    return None


def _authorized(case: Case) -> bool:
    """A transaction of the configured EVSE already carries an idToken (Reusable State Authorized done)."""
    running = case.link.model.running_transaction(case.config.evse_id)
    return running is not None and running.id_token is not None


def _ev_connected(case: Case) -> bool:
    return (case.config.evse_id, case.config.connector_id) in case.link.model.occupied()


async def authorized_local(case: Case) -> Call | None:
    """Reusable State Authorized, Main A (local): present the idToken; Authorize; TransactionEvent."""
    token = case.config.valid_id_token
    start_points = await tx_start_points(case)
    ev_connected = _ev_connected(case)
    case.forget_received()
    with case.step("Authorized", "Manual Action: Present idToken"):
        await case.manual("present_id_token", id_token=token.id_token, type=token.type, evse_id=case.config.evse_id)
    with case.step("Authorized 1-2", "The Charging Station sends an AuthorizeRequest"):
        authorize = await case.expect("Authorize", validation="Authorized A step 1")
        case.verify(
            authorize, {"idToken.idToken": token.id_token, "idToken.type": token.type}, validation="Authorized A step 1"
        )
    if not ("Authorized" in start_points or (ev_connected and "EVConnected" in start_points)):
        return None
    with case.step("Authorized 3-4", "The Charging Station sends a TransactionEventRequest"):
        event = await case.expect("TransactionEvent", validation="Authorized A step 3")
        case.verify(
            event,
            {"triggerReason": "Authorized", "idToken.idToken": token.id_token, "idToken.type": token.type},
            validation="Authorized A step 3",
        )
    return event


async def energy_transfer_started(case: Case) -> Call:
    """Reusable State EnergyTransferStarted: part 1 (the EV is not connected yet: plug in, steps 1-4), then
    part 2 (steps 5-10, the ones TxStartPoint calls for)."""
    start_points = await tx_start_points(case)
    if not _ev_connected(case):
        await _energy_transfer_part_1(case, start_points)
    started = case.link.model.running_transaction(case.config.evse_id) is not None
    if "DataSigned" in start_points and not started:
        with case.step("EnergyTransferStarted 5-6", "The Charging Station sends a TransactionEventRequest"):
            event = await case.expect("TransactionEvent", validation="EnergyTransferStarted step 5")
            case.verify(event, {"triggerReason": "SignedDataReceived"}, validation="EnergyTransferStarted step 5")
    if "PowerPathClosed" in start_points and not started:
        with case.step("EnergyTransferStarted 7-8", "The Charging Station sends a TransactionEventRequest"):
            event = await case.expect("TransactionEvent", validation="EnergyTransferStarted step 7")
            case.verify(
                event,
                {"triggerReason": "ChargingStateChanged", "transactionInfo.chargingState": "SuspendedEVSE"},
                validation="EnergyTransferStarted step 7",
            )
    with case.step("EnergyTransferStarted 9-10", "The Charging Station sends a TransactionEventRequest"):
        event = await case.expect("TransactionEvent", validation="EnergyTransferStarted step 9")
        case.verify(
            event,
            {"triggerReason": "ChargingStateChanged", "transactionInfo.chargingState": "Charging"},
            validation="EnergyTransferStarted step 9",
        )
    return event


async def _energy_transfer_part_1(case: Case, start_points: list[str]) -> None:
    evse_id, connector_id = case.config.evse_id, case.config.connector_id
    started = case.link.model.running_transaction(evse_id) is not None
    case.forget_received()
    plugged = case.mark()
    with case.step("EnergyTransferStarted", "Manual Action: Connect the EV and EVSE"):
        await case.manual("plug_in", evse_id=evse_id, connector_id=connector_id)
    with case.step("EnergyTransferStarted 1-2", "The Charging Station notifies the CSMS about the connector status"):
        report = await case.expect_any(connector_report(evse_id, connector_id), validation="EnergyTransferStarted step 1")
        verify_connector_report(case, report, "Occupied", "EnergyTransferStarted step 1")
    if not ("EVConnected" in start_points or started):
        return
    with case.step("EnergyTransferStarted 3-4", "The Charging Station sends a TransactionEventRequest"):
        event = await case.expect("TransactionEvent", since=plugged, validation="EnergyTransferStarted step 3")
        case.verify(
            event,
            {"triggerReason": "CablePluggedIn", "transactionInfo.chargingState": "EVConnected"},
            validation="EnergyTransferStarted step 3",
        )


@dataclass(frozen=True)
class ReusableState:
    """One row of the table in the module docstring."""

    needs: tuple[str, ...]
    reached: Callable[[Case], bool]
    play: Callable[[Case], Awaitable[object]]


STATES: dict[str, ReusableState] = {
    "EVConnectedPreSession": ReusableState((), _ev_connected, ev_connected_pre_session),
    "Authorized": ReusableState((), _authorized, authorized_local),
    "EnergyTransferStarted": ReusableState(("Authorized",), lambda case: _charging(case), energy_transfer_started),
}


def _charging(case: Case) -> bool:
    running = case.link.model.running_transaction(case.config.evse_id)
    return running is not None and running.charging_state == "Charging"


async def reach(case: Case, name: str, **options: Any) -> None:
    """Play the reusable state ``name``, after the states it needs that the SUT is not in yet.

    ``authorization`` chooses how Authorized is reached: "local" (Main A, the idToken presented at the
    station) is the only one the slice uses; another is a harness error until a case needs it."""
    authorization = options.get("authorization", "local")
    if authorization != "local":
        raise HarnessError(f"Reusable State Authorized by {authorization!r} is not written yet")
    state = STATES[name]
    for needed in state.needs:
        if not STATES[needed].reached(case):
            await reach(case, needed, **options)
    await state.play(case)
