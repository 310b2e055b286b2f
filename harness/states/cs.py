"""Part 6 §2.18 Reusable States and §2.19 Memory States for a Charging Station under test, as tables.

Each state plays the steps of its table, numbered as there but prefixed with the state's name so that a
verdict says where it stopped ("Booted 5-6"), and names its tool validations the same way ("Booted step 5",
"Authorized A step 3": the ids of the Part 6 data, :mod:`harness.part6`). A case reaches a state with one
call, ``await reach(case, "EnergyTransferStarted", authorization="local")``: the states it needs first
run only when the SUT model (:mod:`harness.sut_model`) says they are missing, and the branches on
TxCtrlr.TxStartPoint read the model too (refreshed whenever a case reads or sets the variable).

================================  ========================  ================================================
state                             needs first (Part 6       reached when (SUT model, and this case's frames)
                                  "Before")
================================  ========================  ================================================
Booting, Booted                   —                         (always played: a Reset, or a power cycle)
Reserved                          —                         the model holds a reservation
Unavailable                       —                         the EVSE or the station was made Inoperative
ParkingBayOccupied (optional)     —                         EV connected, a transaction runs, or EVDetected
EVConnectedPreSession             ParkingBayOccupied        the configured connector is Occupied
Authorized (local / remote)       ParkingBayOccupied        a transaction carries the valid idToken
Authorized15118                   —                         a transaction carries the valid idToken
EnergyTransferStarted             Authorized                the transaction's chargingState is Charging
EnergyTransferSuspended           EnergyTransferStarted     the transaction's chargingState is SuspendedEV
StopAuthorized (local / remote)   EnergyTransferStarted     EV connected, the last authorization a stop
EVConnectedPostSession            StopAuthorized            StopAuthorized, and no longer charging
EVDisconnected                    EVConnectedPostSession    the connector is not Occupied
ParkingBayUnoccupied              EVDisconnected            no EV connected and no transaction
StartOfflineTransaction, Renego-  —                         (always played)
tiateChargingLimits, GetInstal-
ledCertificates, RebootBefore-
Firmware{Installation,Activation}
================================  ========================  ================================================

The Memory States (§2.19) are in :data:`MEMORY_STATES`: ``await remember(case, "IdTokenLocalAuthList")``.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives.asymmetric import dsa, ec, rsa

from harness.case import Case, Expected
from harness.core.frames import Call, CallResult
from harness.matching import ABSENT, PRESENT, any_item, not_, one_of
from harness.roles import FakeCsms
from harness.sut_model import Transaction
from harness.trace import CSMS_TO_CS
from harness.verdicts import HarnessError, Inconclusive, SutTimeout


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


async def plug_in_reported(case: Case, state: str) -> int:
    """The opening both EVConnectedPreSession and EnergyTransferStarted part 1 share: "Manual Action: Connect
    the EV and EVSE", then steps 1-2, the connector reported Occupied (validation "<state> step 1").
    Returns the mark from before the plug-in: the TransactionEvent of step 3 may come before the report
    (Part 6 §2.1)."""
    evse_id, connector_id = case.config.evse_id, case.config.connector_id
    case.forget_received()
    plugged = case.mark()
    with case.step(state, "Manual Action: Connect the EV and EVSE"):
        await case.manual("plug_in", evse_id=evse_id, connector_id=connector_id)
    with case.step(f"{state} 1-2", "The Charging Station notifies the CSMS about the connector status"):
        report = await case.expect_any(connector_report(evse_id, connector_id), validation=f"{state} step 1")
        verify_connector_report(case, report, "Occupied", f"{state} step 1")
    return plugged


async def ev_connected_pre_session(case: Case) -> Call | None:
    """Reusable State EVConnectedPreSession: plug in; the connector is reported Occupied; a TransactionEvent
    when the transaction starts at EVConnected (or already runs). Part 6 §2.1: the status and the
    TransactionEvent may come in any order."""
    evse_id, connector_id = case.config.evse_id, case.config.connector_id
    authorized = _authorized(case)
    event_type = _plug_in_event_type(await tx_start_points(case), authorized)
    plugged = await plug_in_reported(case, "EVConnectedPreSession")
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
    started = case.link.model.running_transaction(case.config.evse_id) is not None
    case.forget_received()
    with case.step("Authorized", "Manual Action: Present idToken"):
        await case.manual("present_id_token", id_token=token.id_token, type=token.type, evse_id=case.config.evse_id)
    with case.step("Authorized 1-2", "The Charging Station sends an AuthorizeRequest"):
        authorize = await case.expect("Authorize", validation="Authorized A step 1")
        case.verify(
            authorize, {"idToken.idToken": token.id_token, "idToken.type": token.type}, validation="Authorized A step 1"
        )
    if not _authorization_event_due(start_points, ev_connected, started):
        return None
    with case.step("Authorized 3-4", "The Charging Station sends a TransactionEventRequest"):
        event = await case.expect("TransactionEvent", validation="Authorized A step 3")
        case.verify(
            event,
            {"triggerReason": "Authorized", "idToken.idToken": token.id_token, "idToken.type": token.type},
            validation="Authorized A step 3",
        )
    return event


def _authorization_event_due(start_points: list[str], ev_connected: bool, started: bool) -> bool:
    """Authorized step 3 (Main B step 5): "when TxStartPoint contains Authorized OR the transaction already
    started" (ParkingBayOccupancy, or EVConnected when the EV was connected first)."""
    return "Authorized" in start_points or started or (ev_connected and "EVConnected" in start_points)


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
    evse_id = case.config.evse_id
    started = case.link.model.running_transaction(evse_id) is not None
    plugged = await plug_in_reported(case, "EnergyTransferStarted")
    if not ("EVConnected" in start_points or started):
        return
    with case.step("EnergyTransferStarted 3-4", "The Charging Station sends a TransactionEventRequest"):
        event = await case.expect("TransactionEvent", since=plugged, validation="EnergyTransferStarted step 3")
        case.verify(
            event,
            {"triggerReason": "CablePluggedIn", "transactionInfo.chargingState": "EVConnected"},
            validation="EnergyTransferStarted step 3",
        )


# -- what the model tells, and what the station is asked when the model does not know --------------------

NOT_PERIODIC = {"triggerReason": not_("MeterValuePeriodic")}
"""A TransactionEventRequest a state waits for: any but the periodic meter values sent meanwhile (J02)."""

AUTHORIZING_TRIGGERS = frozenset({"Authorized", "RemoteStart"})
STOPPING_TRIGGERS = frozenset({"StopAuthorized", "RemoteStop"})
STOP_ENDS = ("Authorized", "PowerPathClosed", "EnergyTransfer")
"""TxStopPoint members that end the transaction when it is authorized to stop (errata 2025-09 §6.2.117)."""


async def variable(case: Case, component: str, name: str) -> str | None:
    """A variable's Actual value as the model knows it, else read with a GetVariablesRequest (None: the
    station does not report it)."""
    known = case.link.model.variables.get((component, name))
    if known is not None:
        return known
    answer = await case.call(
        "GetVariables", {"getVariableData": [{"component": {"name": component}, "variable": {"name": name}}]}
    )
    result = answer.payload["getVariableResult"][0]
    return result.get("attributeValue") if result.get("attributeStatus") == "Accepted" else None


async def tx_stop_points(case: Case) -> list[str]:
    """TxCtrlr.TxStopPoint as the model knows it (read from the station when it does not)."""
    value = await variable(case, "TxCtrlr", "TxStopPoint")
    if value is None:
        raise Inconclusive("TxCtrlr.TxStopPoint cannot be read, so the transaction states cannot be followed")
    return [point.strip() for point in value.split(",") if point.strip()]


def _running(case: Case) -> Transaction | None:
    return case.link.model.running_transaction(case.config.evse_id)


def _last_trigger(case: Case, triggers: frozenset[str]) -> str | None:
    """The triggerReason of the last TransactionEventRequest of this case that had one of ``triggers``."""
    found = None
    for item in case.received:
        if item.call.action == "TransactionEvent" and item.call.payload.get("triggerReason") in triggers:
            found = item.call.payload["triggerReason"]
    return found


def _stop_authorized(case: Case) -> bool:
    """The EV is connected and the last authorization of this case was one to stop (StopAuthorized done)."""
    return _ev_connected(case) and _last_trigger(case, AUTHORIZING_TRIGGERS | STOPPING_TRIGGERS) in STOPPING_TRIGGERS


def _post_session(case: Case) -> bool:
    """StopAuthorized done and the energy transfer over: the transaction ended or reported EVConnected."""
    running = _running(case)
    return _stop_authorized(case) and (running is None or running.charging_state == "EVConnected")


def _parked(case: Case) -> bool:
    """The EV is in the bay as far as the station told: connected, in a transaction, or detected last."""
    detected = _last_trigger(case, frozenset({"EVDetected", "EVDeparted"})) == "EVDetected"
    return _ev_connected(case) or _running(case) is not None or detected


def _idle(case: Case) -> bool:
    return not _ev_connected(case) and _running(case) is None


def _suspended(case: Case) -> bool:
    running = _running(case)
    return running is not None and running.charging_state == "SuspendedEV"


def _unavailable(case: Case) -> bool:
    return case.config.evse_id in case.link.model.inoperative or 0 in case.link.model.inoperative


def _never(case: Case) -> bool:
    """A state the model cannot recognise (it is always played)."""
    return False


async def _transaction_duration(case: Case, state: str, seconds: float) -> None:
    """"The tool will wait for <Configured Transaction Duration> seconds": the session's length, a
    configured interval (0 by default), not a wait for the station."""
    if seconds > 0:
        with case.step(state, f"The tool waits the configured Transaction Duration ({seconds:g} s)"):
            await case.honour_interval(seconds)


async def _connectors_reported(case: Case, targets: list[tuple[int, int]], status: str | None, validation: str) -> None:
    """One connector report per target connector, in any order, each ``status`` (None: any status)."""
    reports = await case.expect_in_any_order(
        [connector_report(evse, connector) for evse, connector in targets], validation=validation
    )
    if status is None:
        return
    for report in reports:
        verify_connector_report(case, report, status, validation, {"evseId": not_(0), "connectorId": not_(0)})


def _connectors_of(case: Case, evse_id: int, connector_id: int) -> list[tuple[int, int]]:
    """The configured connectors a component covers: evse_id 0 the station, connector_id 0 the whole EVSE."""
    return [
        (evse, connector)
        for evse, connector in connectors(case)
        if evse_id in (0, evse) and connector_id in (0, connector)
    ]


def _id_token(case: Case) -> dict[str, str]:
    token = case.config.valid_id_token
    return {"idToken": token.id_token, "type": token.type}


def _calls_so_far(case: Case, action: str) -> int:
    """How many ``action`` CALLs the harness sent in this case: numbers a case's own ids from 1, so its
    frames do not depend on the cases before it."""
    return sum(
        1
        for record in case.trace.records
        if record.get("messageType") == "CALL" and record.get("action") == action and record.get("direction") == CSMS_TO_CS
    )


# -- ParkingBayOccupied / ParkingBayUnoccupied ------------------------------------------------------------


async def parking_bay_occupied(case: Case, **_: Any) -> Call | None:
    """Reusable State ParkingBayOccupied, an "(Optional state)": played only when TxCtrlr.TxStartPoint
    contains ParkingBayOccupancy, for without it nothing of the bay is observable (Part 6: there may be no
    sensor, or a test plug). A driver that cannot drive an EV into the bay skips it when another start point
    can start the transaction, and leaves the case INCONCLUSIVE when none can."""
    start_points = await tx_start_points(case)
    if "ParkingBayOccupancy" not in start_points:
        case.trace.event("Reusable State ParkingBayOccupied skipped: TxStartPoint has no ParkingBayOccupancy")
        return None
    case.forget_received()
    with case.step("ParkingBayOccupied", "Manual Action: Drive EV into parking bay"):
        try:
            await case.manual("park", evse_id=case.config.evse_id)
        except Inconclusive:
            if start_points == ["ParkingBayOccupancy"]:
                raise
            case.trace.event("Reusable State ParkingBayOccupied skipped: the EV cannot be driven into the bay")
            return None
    with case.step("ParkingBayOccupied 1-2", "The Charging Station sends a TransactionEventRequest"):
        event = await case.expect("TransactionEvent", NOT_PERIODIC, validation="ParkingBayOccupied step 1")
        case.verify(event, {"triggerReason": "EVDetected"}, validation="ParkingBayOccupied step 1")
    return event


async def parking_bay_unoccupied(case: Case, *, stop: str = "local", **_: Any) -> Call | None:
    """Reusable State ParkingBayUnoccupied: played when TxStartPoint or TxStopPoint knows the bay (else there
    is nothing to drive out of, as for ParkingBayOccupied); step 1 when TxStopPoint contains
    ParkingBayOccupancy and the transaction still runs."""
    start_points, stop_points = await tx_start_points(case), await tx_stop_points(case)
    if "ParkingBayOccupancy" not in start_points + stop_points:
        case.trace.event("Reusable State ParkingBayUnoccupied skipped: neither Tx point has ParkingBayOccupancy")
        return None
    running = _running(case) is not None
    case.forget_received()
    with case.step("ParkingBayUnoccupied", "Manual Action: Drive EV out of parking bay"):
        await case.manual("unpark", evse_id=case.config.evse_id)
    if not (running and "ParkingBayOccupancy" in stop_points):
        return None
    with case.step("ParkingBayUnoccupied 1-2", "The Charging Station sends a TransactionEventRequest"):
        event = await case.expect("TransactionEvent", NOT_PERIODIC, validation="ParkingBayUnoccupied step 1")
        case.verify(
            event,
            {
                "triggerReason": "EVDeparted",
                "transactionInfo.stoppedReason": "Remote" if stop == "remote" else "Local",
                "eventType": "Ended",
            },
            validation="ParkingBayUnoccupied step 1",
        )
    return event


# -- Authorized Main B, Authorized15118 -------------------------------------------------------------------


async def authorized_remote(case: Case) -> Call | None:
    """Reusable State Authorized, Main B (remote): RequestStartTransaction; an AuthorizeRequest when
    AuthCtrlr.AuthorizeRemoteStart is true (read from the model, or from the station); the
    TransactionEvent with triggerReason RemoteStart (errata 2025-09 §6.2.116: no StatusNotification)."""
    evse_id = case.config.evse_id
    start_points = await tx_start_points(case)
    authorize_first = (await variable(case, "AuthCtrlr", "AuthorizeRemoteStart") or "").lower() == "true"
    running = _running(case)
    ev_connected = _ev_connected(case)
    remote_start_id = _calls_so_far(case, "RequestStartTransaction") + 1
    case.forget_received()
    with case.step("Authorized B 1-2", "The OCTT sends a RequestStartTransactionRequest"):
        answer = await case.call(
            "RequestStartTransaction", {"idToken": _id_token(case), "evseId": evse_id, "remoteStartId": remote_start_id}
        )
        expected: dict[str, Any] = {"status": "Accepted"}
        if running is not None:
            expected["transactionId"] = running.transaction_id
        case.verify(answer, expected, validation="Authorized B step 2")
    if authorize_first:
        with case.step("Authorized B 3-4", "The Charging Station sends an AuthorizeRequest"):
            authorize = await case.expect("Authorize", validation="Authorized B step 3")
            token = _id_token(case)
            case.verify(
                authorize,
                {"idToken.idToken": token["idToken"], "idToken.type": token["type"]},
                validation="Authorized B step 3",
            )
    if not _authorization_event_due(start_points, ev_connected, running is not None):
        return None
    with case.step("Authorized B 5-6", "The Charging Station sends a TransactionEventRequest"):
        event = await case.expect("TransactionEvent", NOT_PERIODIC, validation="Authorized B step 5")
        token = _id_token(case)
        case.verify(
            event,
            {
                "eventType": "Updated" if running is not None else "Started",
                "triggerReason": "RemoteStart",
                "transactionInfo.remoteStartId": PRESENT,
                "idToken.idToken": token["idToken"],
                "idToken.type": token["type"],
            },
            validation="Authorized B step 5",
        )
    return event


AUTHORIZATIONS: dict[str, Callable[[Case], Awaitable[Call | None]]] = {
    "local": authorized_local,
    "remote": authorized_remote,
}
"""Reusable State Authorized's two Mains: A (local, the idToken presented) and B (RequestStartTransaction)."""


async def authorized(case: Case, *, authorization: str = "local", **_: Any) -> Call | None:
    """Reusable State Authorized by ``authorization`` ("local": Main A, "remote": Main B)."""
    try:
        play = AUTHORIZATIONS[authorization]
    except KeyError:
        raise HarnessError(
            f"Reusable State Authorized has no Main for authorization={authorization!r} (one of {sorted(AUTHORIZATIONS)})"
        ) from None
    return await play(case)


async def authorized_15118(case: Case, *, method: str = "EIM", **_: Any) -> Call:
    """Reusable State Authorized15118: EIM (an idToken presented) or PnC (the EV's contract certificate, no
    manual action); then the AuthorizeRequest. A GetCertificateStatusRequest before it is answered by the
    responders and passed over, as the table asks."""
    case.forget_received()
    if method == "EIM":
        token = case.config.valid_id_token
        with case.step("Authorized15118", "Manual Action: Present idToken (authorization method EIM)"):
            await case.manual("present_id_token", id_token=token.id_token, type=token.type, evse_id=case.config.evse_id)
    with case.step("Authorized15118 1-2", "The Charging Station sends an AuthorizeRequest"):
        return await case.expect("Authorize")


# -- EnergyTransferSuspended ------------------------------------------------------------------------------


async def energy_transfer_suspended(case: Case, *, transaction_duration: float = 0.0, **_: Any) -> Call | None:
    """Reusable State EnergyTransferSuspended: the EV stops drawing energy; the TransactionEvent says
    SuspendedEV (or EVConnected), or ends the transaction StoppedByEV when TxStopPoint has EnergyTransfer."""
    await _transaction_duration(case, "EnergyTransferSuspended", transaction_duration)
    running = _running(case) is not None
    case.forget_received()
    with case.step("EnergyTransferSuspended", "Manual Action: The EV suspends the energy transfer"):
        await case.manual("ev_suspends", evse_id=case.config.evse_id)
    if not running:
        return None
    with case.step("EnergyTransferSuspended 1-2", "The Charging Station sends a TransactionEventRequest"):
        event = await case.expect("TransactionEvent", NOT_PERIODIC, validation="EnergyTransferSuspended step 1")
        expected: dict[str, Any] = {
            "eventType": one_of("Ended", "Updated"),
            "transactionInfo.chargingState": one_of("EVConnected", "SuspendedEV"),
        }
        if event.payload.get("transactionInfo", {}).get("chargingState") == "SuspendedEV":
            expected["triggerReason"] = "ChargingStateChanged"
        if event.payload.get("eventType") == "Ended":
            expected["transactionInfo.stoppedReason"] = "StoppedByEV"
        case.verify(event, expected, validation="EnergyTransferSuspended step 1")
    return event


# -- StopAuthorized, EVConnectedPostSession, EVDisconnected -----------------------------------------------


async def stop_authorized_local(case: Case) -> list[Call]:
    """StopAuthorized Main A (errata 2025-09 §6.2.117): the same idToken presented again; StopAuthorized,
    then ChargingStateChanged to EVConnected unless the first event ended the transaction."""
    token = case.config.valid_id_token
    ends = any(point in STOP_ENDS for point in await tx_stop_points(case))
    case.forget_received()
    with case.step("StopAuthorized", "Manual Action: Present the same idToken as used to start the transaction"):
        await case.manual("present_id_token", id_token=token.id_token, type=token.type, evse_id=case.config.evse_id)
    with case.step("StopAuthorized A 1-2", "The Charging Station sends a TransactionEventRequest"):
        first = await case.expect("TransactionEvent", NOT_PERIODIC, validation="StopAuthorized A step 1")
        expected: dict[str, Any] = {"triggerReason": "StopAuthorized"}
        expected.update(_omitted_or_valid_id_token(case, first))
        case.verify(first, expected, validation="StopAuthorized A step 1")
    events = [(first, "StopAuthorized A step 1")]
    if first.payload.get("eventType") != "Ended":
        with case.step("StopAuthorized A 3-4", "The Charging Station sends a TransactionEventRequest"):
            last = await case.expect("TransactionEvent", NOT_PERIODIC, validation="StopAuthorized A step 3")
            case.verify(
                last,
                {"triggerReason": "ChargingStateChanged", "transactionInfo.chargingState": "EVConnected"},
                validation="StopAuthorized A step 3",
            )
        events.append((last, "StopAuthorized A step 3"))
    _verify_stop_outcome(case, events, ends, one_of(ABSENT, "Local"))
    return [event for event, _ in events]


async def stop_authorized_remote(case: Case) -> list[Call]:
    """StopAuthorized Main B (errata 2025-09 §6.2.117): RequestStopTransaction for the running transaction;
    RemoteStop, then ChargingStateChanged to EVConnected unless the first event ended the transaction.
    Step 5 has no validation id in the Part 6 data (the errata added it), so it FAILs unnamed."""
    running = _running(case)
    if running is None:
        raise Inconclusive("StopAuthorized by RequestStopTransaction needs a running transaction on the EVSE")
    ends = any(point in STOP_ENDS for point in await tx_stop_points(case))
    case.forget_received()
    with case.step("StopAuthorized B 1-2", "The OCTT sends a RequestStopTransactionRequest"):
        answer = await case.call("RequestStopTransaction", {"transactionId": running.transaction_id})
        case.verify(answer, {"status": "Accepted"}, validation="StopAuthorized B step 2")
    with case.step("StopAuthorized B 3-4", "The Charging Station sends a TransactionEventRequest"):
        first = await case.expect("TransactionEvent", NOT_PERIODIC, validation="StopAuthorized B step 3")
        case.verify(first, {"triggerReason": "RemoteStop"}, validation="StopAuthorized B step 3")
    events = [(first, "StopAuthorized B step 3")]
    if first.payload.get("eventType") != "Ended":
        with case.step("StopAuthorized B 5-6", "The Charging Station sends a TransactionEventRequest"):
            last = await case.expect("TransactionEvent", NOT_PERIODIC)
            case.verify(last, {"triggerReason": "ChargingStateChanged", "transactionInfo.chargingState": "EVConnected"})
        events.append((last, ""))
    _verify_stop_outcome(case, events, ends, "Remote")
    return [event for event, _ in events]


def _omitted_or_valid_id_token(case: Case, event: Call) -> dict[str, Any]:
    """"idToken omit OR idToken.idToken <Configured valid_idtoken_idtoken> AND idToken.type …"."""
    if "idToken" not in event.payload:
        return {"idToken": ABSENT}
    token = _id_token(case)
    return {"idToken.idToken": token["idToken"], "idToken.type": token["type"]}


def _verify_stop_outcome(case: Case, events: list[tuple[Call, str]], ends: bool, stopped_reason: Any) -> None:
    """Errata §6.2.117: with TxStopPoint Authorized, PowerPathClosed or EnergyTransfer the last event ends the
    transaction with ``stopped_reason``; otherwise every event is an Updated one."""
    if ends:
        last, validation = events[-1]
        case.verify(last, {"eventType": "Ended", "transactionInfo.stoppedReason": stopped_reason}, validation=validation)
        return
    for event, validation in events:
        case.verify(event, {"eventType": "Updated"}, validation=validation)


STOPS: dict[str, Callable[[Case], Awaitable[list[Call]]]] = {
    "local": stop_authorized_local,
    "remote": stop_authorized_remote,
}
"""Reusable State StopAuthorized's two Mains: A (the idToken presented again) and B (RequestStopTransaction)."""


async def stop_authorized(case: Case, *, stop: str = "local", transaction_duration: float = 0.0, **_: Any) -> list[Call]:
    """Reusable State StopAuthorized by ``stop`` ("local": Main A, "remote": Main B)."""
    try:
        play = STOPS[stop]
    except KeyError:
        raise HarnessError(f"Reusable State StopAuthorized has no Main for stop={stop!r} (one of {sorted(STOPS)})") from None
    await _transaction_duration(case, "StopAuthorized", transaction_duration)
    return await play(case)


async def ev_connected_post_session(case: Case, **_: Any) -> list[Call]:
    """Reusable State EVConnectedPostSession: step 1 when the transaction runs and has not yet reported
    EVConnected (StopAuthorized, as the errata writes it, already takes that event); step 3 when
    TxStopPoint contains DataSigned and the transaction still runs."""
    stop_points = await tx_stop_points(case)
    events: list[Call] = []
    running = _running(case)
    if running is not None and running.charging_state != "EVConnected":
        with case.step("EVConnectedPostSession 1-2", "The Charging Station sends a TransactionEventRequest"):
            event = await case.expect("TransactionEvent", NOT_PERIODIC, validation="EVConnectedPostSession step 1")
            case.verify(
                event,
                {"triggerReason": "ChargingStateChanged", "transactionInfo.chargingState": "EVConnected"},
                validation="EVConnectedPostSession step 1",
            )
            events.append(event)
    if "DataSigned" in stop_points and _running(case) is not None:
        with case.step("EVConnectedPostSession 3-4", "The Charging Station sends a TransactionEventRequest"):
            event = await case.expect("TransactionEvent", NOT_PERIODIC, validation="EVConnectedPostSession step 3")
            case.verify(event, {"triggerReason": "SignedDataReceived"}, validation="EVConnectedPostSession step 3")
            events.append(event)
    return events


async def ev_disconnected(case: Case, **_: Any) -> Call | None:
    """Reusable State EVDisconnected: unplug; the connector is reported Available; a TransactionEvent when
    the transaction had not ended yet (status and event in any order, Part 6 §2.1)."""
    evse_id, connector_id = case.config.evse_id, case.config.connector_id
    running = _running(case) is not None
    case.forget_received()
    unplugged = case.mark()
    with case.step("EVDisconnected", "Manual Action: Disconnect the EV and EVSE"):
        await case.manual("unplug", evse_id=evse_id, connector_id=connector_id)
    with case.step("EVDisconnected 1-2", "The Charging Station notifies the CSMS about the connector status"):
        report = await case.expect_any(connector_report(evse_id, connector_id), validation="EVDisconnected step 1")
        verify_connector_report(case, report, "Available", "EVDisconnected step 1")
    if not running:
        return None
    with case.step("EVDisconnected 3-4", "The Charging Station sends a TransactionEventRequest"):
        event = await case.expect("TransactionEvent", NOT_PERIODIC, since=unplugged, validation="EVDisconnected step 3")
        case.verify(
            event,
            {"triggerReason": "EVCommunicationLost", "transactionInfo.chargingState": "Idle"},
            validation="EVDisconnected step 3",
        )
    return event


# -- Unavailable, Reserved, Booting -----------------------------------------------------------------------


async def unavailable(case: Case, *, evse_id: int | None = None, connector_id: int | None = None, **_: Any) -> Call:
    """Reusable State Unavailable for the specified component (default the configured connector; evse_id 0:
    the station, connector_id 0: the whole EVSE). Every connector it covers is reported Unavailable, one
    report each; a NotifyEvent on the ChargingStation or EVSE component alone does not stand for them."""
    evse_id = case.config.evse_id if evse_id is None else evse_id
    connector_id = case.config.connector_id if connector_id is None else connector_id
    payload: dict[str, Any] = {"operationalStatus": "Inoperative"}
    if evse_id:
        payload["evse"] = {"id": evse_id, **({"connectorId": connector_id} if connector_id else {})}
    case.forget_received()
    with case.step("Unavailable 1-2", "The OCTT sends a ChangeAvailabilityRequest with operationalStatus Inoperative"):
        answer = await case.call("ChangeAvailability", payload)
        case.verify(answer, {"status": "Accepted"}, validation="Unavailable step 2")
    with case.step("Unavailable 3-4", "The Charging Station notifies the CSMS about the state of its connectors"):
        await _connectors_reported(case, _connectors_of(case, evse_id, connector_id), "Unavailable", "Unavailable step 3")
    return answer


async def reserved(
    case: Case, *, evse_id: int | None = None, id_token: dict[str, str] | None = None, **_: Any
) -> Call:
    """Reusable State Reserved: ReserveNow for the specified EVSE (default the configured one) and idToken
    (default the configured valid one); the EVSE's connectors are reported Reserved (the EVSE component's
    own AvailabilityState is optional and not waited for). The restore cancels what the case leaves."""
    evse_id = case.config.evse_id if evse_id is None else evse_id
    reservation_id = _calls_so_far(case, "ReserveNow") + 1
    expiry = dt.datetime.now(dt.timezone.utc) + dt.timedelta(seconds=RESERVATION_S)
    case.forget_received()
    with case.step("Reserved 1-2", "The OCTT sends a ReserveNowRequest"):
        answer = await case.call(
            "ReserveNow",
            {
                "id": reservation_id,
                "expiryDateTime": expiry.isoformat(timespec="seconds").replace("+00:00", "Z"),
                "idToken": id_token or _id_token(case),
                "evseId": evse_id,
            },
        )
        case.verify(answer, {"status": "Accepted"}, validation="Reserved step 2")
    with case.step("Reserved 3-4", "The Charging Station notifies the CSMS about the status change of the connector"):
        await _connectors_reported(case, _connectors_of(case, evse_id, 0), "Reserved", "Reserved step 3")
    return answer


RESERVATION_S = 3600
"""How long a Reserved state's reservation lasts: longer than any case that uses it."""


async def booting(case: Case, **_: Any) -> Call:
    """Reusable State Booting: a ResetRequest Immediate, accepted; the station is then still booting (the
    calling case expects its BootNotification)."""
    case.forget_received()
    with case.step("Booting 1-2", "The OCTT sends a ResetRequest with type Immediate"):
        answer = await case.call("Reset", {"type": "Immediate"})
        case.verify(answer, {"status": "Accepted"}, validation="Booting step 2")
    return answer


# -- offline: StartOfflineTransaction (and the memory state TransactionEventsInQueueEnded) -----------------


async def _offline(case: Case, state: str, actions: list[tuple[str, str, dict[str, Any]]]) -> None:
    """"The OCTT closes the WebSocket connection AND does not accept a reconnect", the manual actions, then
    "The OCTT accepts reconnection attempt from the Charging Station". Reconnection is refused for as long as
    the actions may take, and accepted again whatever happens."""
    link = case.link
    if not isinstance(link, FakeCsms):
        raise HarnessError(f"{state} needs the harness in the CSMS role")
    with case.step(f"{state} 1", "The OCTT closes the WebSocket connection AND does not accept a reconnect"):
        link.refuse_connections_for(case.config.timeouts.manual_action * (len(actions) + 1))
        try:
            lost = await case.drop_connection()
            for name, title, params in actions:
                with case.step(state, f"Manual Action: {title}"):
                    await case.manual(name, **params)
        finally:
            link.refuse_connections_for(0)
    with case.step(f"{state} 2", "The OCTT accepts reconnection attempt from the Charging Station"):
        await case.connection(
            timeout=case.config.timeouts.message + RECONNECT_BACK_OFFS * case.config.retry_back_off_wait_minimum,
            newer_than=lost.number,
        )


RECONNECT_BACK_OFFS = 4
"""RetryBackOffWaitMinimum periods a refused station may be waiting before it tries again (it doubles)."""


def _session_actions(case: Case, *names: str) -> list[tuple[str, str, dict[str, Any]]]:
    """The manual actions of an offline session, in the order the table gives them."""
    token = case.config.valid_id_token
    evse = {"evse_id": case.config.evse_id}
    catalogue = {
        "park": ("Drive EV into parking bay", evse),
        "plug_in": ("Connect the EV and EVSE", {**evse, "connector_id": case.config.connector_id}),
        "present_id_token": ("Present idToken", {"id_token": token.id_token, "type": token.type, **evse}),
        "present_again": (
            "Present the same idToken as used to start the transaction",
            {"id_token": token.id_token, "type": token.type, **evse},
        ),
        "unplug": ("Disconnect the EV and EVSE", {**evse, "connector_id": case.config.connector_id}),
        "unpark": ("Drive EV out of parking bay", evse),
    }
    return [
        ("present_id_token" if name == "present_again" else name, catalogue[name][0], catalogue[name][1])
        for name in names
    ]


async def _parking_known(case: Case) -> bool:
    """Whether the station watches the bay (a Tx point has ParkingBayOccupancy): else no bay action is asked."""
    return "ParkingBayOccupancy" in await tx_start_points(case) + await tx_stop_points(case)


async def start_offline_transaction(case: Case, **_: Any) -> None:
    """Reusable State StartOfflineTransaction: offline, the EV driven in (when the station watches the bay),
    the idToken presented, the EV connected; then the reconnection is accepted. No tool validations: the
    calling case checks the queued TransactionEvents."""
    parking = ("park",) if await _parking_known(case) else ()
    await _offline(
        case, "StartOfflineTransaction", _session_actions(case, *parking, "present_id_token", "plug_in")
    )


# -- firmware reboots -------------------------------------------------------------------------------------


async def reboot_before_firmware_installation(case: Case, *, bootloader_ocpp: bool = True, **_: Any) -> None:
    """Reusable State RebootBeforeFirmwareInstallation; steps 3-8 only when the bootloader speaks OCPP
    (``bootloader_ocpp``, as configured for the station)."""
    connection = case.link.connection.number if case.link.connection else 0
    with case.step("RebootBeforeFirmwareInstallation 1-2", "FirmwareStatusNotificationRequest InstallRebooting"):
        status = await case.expect("FirmwareStatusNotification", validation="RebootBeforeFirmwareInstallation step 1")
        case.verify(status, {"status": "InstallRebooting"}, validation="RebootBeforeFirmwareInstallation step 1")
    if not bootloader_ocpp:
        return
    await _firmware_boot(case, "RebootBeforeFirmwareInstallation", connection)
    with case.step("RebootBeforeFirmwareInstallation 7-8", "FirmwareStatusNotificationRequest Installing"):
        status = await case.expect("FirmwareStatusNotification", validation="RebootBeforeFirmwareInstallation step 7")
        case.verify(status, {"status": "Installing"}, validation="RebootBeforeFirmwareInstallation step 7")


async def reboot_before_firmware_activation(case: Case, **_: Any) -> None:
    """Reusable State RebootBeforeFirmwareActivation: the InstallRebooting notification is optional (step
    1), so whichever of it and the BootNotification comes first decides. The reference station reboots
    before installing (RebootBeforeFirmwareInstallation), so this one is not run against it."""
    connection = case.link.connection.number if case.link.connection else 0
    with case.step("RebootBeforeFirmwareActivation 1-2", "FirmwareStatusNotificationRequest InstallRebooting (optional)"):
        first = await case.expect_any(
            [("FirmwareStatusNotification", {}), ("BootNotification", {})],
            validation="RebootBeforeFirmwareActivation step 3",
        )
        if first.action == "FirmwareStatusNotification":
            case.verify(first, {"status": "InstallRebooting"}, validation="RebootBeforeFirmwareActivation step 1")
    await _firmware_boot(
        case, "RebootBeforeFirmwareActivation", connection, boot=first if first.action == "BootNotification" else None
    )


async def _firmware_boot(case: Case, state: str, connection: int, boot: Call | None = None) -> None:
    """Steps 3-6 of both firmware reboots: BootNotification with reason FirmwareUpdate on a new connection,
    then the state of every connector (no status is validated)."""
    with case.step(f"{state} 3-4", "The Charging Station sends a BootNotificationRequest"):
        if boot is None:
            boot = await case.expect("BootNotification", newer_than=connection, validation=f"{state} step 3")
        case.verify(boot, {"reason": "FirmwareUpdate"}, validation=f"{state} step 3")
    with case.step(f"{state} 5-6", "The Charging Station notifies the CSMS about the current state of all connectors"):
        await _connectors_reported(case, connectors(case), None, "")


# -- RenegotiateChargingLimits, GetInstalledCertificates ----------------------------------------------------


RENEGOTIATED_LIMIT = {"W": 10000.0, "A": 10.0}
"""The limit of Part 6's SetChargingProfileRequest: 10 A, or ×1000 in W."""


async def renegotiate_charging_limits(case: Case, *, charging_rate_unit: str = "A", **_: Any) -> None:
    """Reusable State RenegotiateChargingLimits (ISO 15118): the EV's new needs, a TxProfile for the running
    transaction, the optional NotifyEVChargingSchedule (checked when it came) and, when the transaction is
    not charging, TransactionEvents until it is (steps 7-8, errata 2025-09 §6.2.119). The reference station
    has no ISO 15118: its case is INCONCLUSIVE at the manual action."""
    evse_id = case.config.evse_id
    case.respond("NotifyEVChargingNeeds", {"status": "Accepted"})
    case.respond("NotifyEVChargingSchedule", {"status": "Accepted"})
    case.forget_received()
    renegotiating = case.mark()
    with case.step("RenegotiateChargingLimits", "Manual Action: Renegotiate EV Charging Limits"):
        await case.manual("renegotiate_charging_limits", evse_id=evse_id)
    with case.step("RenegotiateChargingLimits 1-2", "The Charging Station sends a NotifyEVChargingNeedsRequest"):
        needs = await case.expect("NotifyEVChargingNeeds", validation="RenegotiateChargingLimits step 1")
        transfer = str(needs.payload.get("chargingNeeds", {}).get("requestedEnergyTransfer", ""))
        parameters = "dcChargingParameters" if transfer.startswith("DC") else "acChargingParameters"
        case.verify(
            needs, {"evseId": evse_id, f"chargingNeeds.{parameters}": PRESENT}, validation="RenegotiateChargingLimits step 1"
        )
    running = _running(case)
    if running is None:
        raise Inconclusive("RenegotiateChargingLimits needs a running transaction for its TxProfile")
    with case.step("RenegotiateChargingLimits 3-4", "The OCTT sends a SetChargingProfileRequest (TxProfile)"):
        answer = await case.call(
            "SetChargingProfile", {"evseId": evse_id, "chargingProfile": _tx_profile(case, running.transaction_id, charging_rate_unit)}
        )
        case.verify(answer, {"status": "Accepted"}, validation="RenegotiateChargingLimits step 4")
    for item in case.received[renegotiating:]:
        if item.call.action == "NotifyEVChargingSchedule":
            with case.step("RenegotiateChargingLimits 5-6", "The Charging Station sent a NotifyEVChargingScheduleRequest"):
                case.verify(item.call, {"evseId": evse_id}, validation="RenegotiateChargingLimits step 5")
    running = _running(case)
    if running is not None and running.charging_state != "Charging":
        with case.step("RenegotiateChargingLimits 7-8", "The Charging Station sends TransactionEventRequests"):
            event = await case.expect(
                "TransactionEvent", {"transactionInfo.chargingState": "Charging"}, validation="RenegotiateChargingLimits step 7"
            )
            case.verify(
                event,
                {"triggerReason": "ChargingStateChanged", "transactionInfo.chargingState": "Charging"},
                validation="RenegotiateChargingLimits step 7",
            )


def _tx_profile(case: Case, transaction_id: str, unit: str) -> dict[str, Any]:
    """Part 6's TxProfile: 300 s at 10 A (10000 W) from the start, for the given transaction."""
    number = _calls_so_far(case, "SetChargingProfile") + 1
    return {
        "id": number,
        "stackLevel": 0,
        "chargingProfilePurpose": "TxProfile",
        "chargingProfileKind": "Relative",
        "transactionId": transaction_id,
        "chargingSchedule": [
            {
                "id": number,
                "duration": 300,
                "chargingRateUnit": unit,
                "chargingSchedulePeriod": [{"startPeriod": 0, "limit": RENEGOTIATED_LIMIT[unit]}],
            }
        ],
    }


async def get_installed_certificates(
    case: Case, *, certificate_type: str, hash_data: dict[str, str] | None = None, **_: Any
) -> CallResult:
    """Reusable State GetInstalledCertificates (the PDF's GetInstalledCertificateIdsRequest): Accepted, with
    an entry of the specified certificateType, whose certificateHashData is ``hash_data`` (the configured
    certificate's) when given. The reference station has no certificate store: not run against it."""
    entry: dict[str, Any] = {"certificateType": certificate_type}
    entry.update({f"certificateHashData.{key}": value for key, value in (hash_data or {}).items()})
    with case.step("GetInstalledCertificates 1-2", "The OCTT sends a GetInstalledCertificateIdsRequest"):
        answer = await case.call("GetInstalledCertificateIds", {"certificateType": [certificate_type]})
        case.verify(
            answer,
            {"status": "Accepted", "certificateHashDataChain": any_item(entry)},
            validation="GetInstalledCertificates step 2",
        )
    return answer


# -- the table ----------------------------------------------------------------------------------------------

Play = Callable[..., Awaitable[object]]
"""A state's steps: ``play(case, **options)``; each state takes the options it knows and ignores the rest."""


def _without_options(play: Callable[[Case], Awaitable[object]]) -> Play:
    async def run(case: Case, **_: Any) -> object:
        return await play(case)

    return run


async def _booted(case: Case, *, power_cycle: bool = True, **_: Any) -> Call:
    return await booted(case, power_cycle=power_cycle)


@dataclass(frozen=True)
class ReusableState:
    """One row of the table in the module docstring."""

    needs: tuple[str, ...]
    reached: Callable[[Case], bool]
    play: Play


STATES: dict[str, ReusableState] = {
    "Booting": ReusableState((), _never, booting),
    "Booted": ReusableState((), _never, _booted),
    "Reserved": ReusableState((), lambda case: bool(case.link.model.reservations), reserved),
    "Unavailable": ReusableState((), _unavailable, unavailable),
    "ParkingBayOccupied": ReusableState((), _parked, parking_bay_occupied),
    "EVConnectedPreSession": ReusableState(("ParkingBayOccupied",), _ev_connected, _without_options(ev_connected_pre_session)),
    "Authorized": ReusableState(("ParkingBayOccupied",), _authorized, authorized),
    "Authorized15118": ReusableState((), _authorized, authorized_15118),
    "EnergyTransferStarted": ReusableState(("Authorized",), lambda case: _charging(case), _without_options(energy_transfer_started)),
    "EnergyTransferSuspended": ReusableState(("EnergyTransferStarted",), _suspended, energy_transfer_suspended),
    "StopAuthorized": ReusableState(("EnergyTransferStarted",), _stop_authorized, stop_authorized),
    "EVConnectedPostSession": ReusableState(("StopAuthorized",), _post_session, ev_connected_post_session),
    "EVDisconnected": ReusableState(("EVConnectedPostSession",), lambda case: not _ev_connected(case), ev_disconnected),
    "ParkingBayUnoccupied": ReusableState(("EVDisconnected",), _idle, parking_bay_unoccupied),
    "StartOfflineTransaction": ReusableState((), _never, start_offline_transaction),
    "RenegotiateChargingLimits": ReusableState((), _never, renegotiate_charging_limits),
    "GetInstalledCertificates": ReusableState((), _never, get_installed_certificates),
    "RebootBeforeFirmwareInstallation": ReusableState((), _never, reboot_before_firmware_installation),
    "RebootBeforeFirmwareActivation": ReusableState((), _never, reboot_before_firmware_activation),
}


def _charging(case: Case) -> bool:
    running = case.link.model.running_transaction(case.config.evse_id)
    return running is not None and running.charging_state == "Charging"


async def reach(case: Case, name: str, **options: Any) -> None:
    """Play the reusable state ``name``, after the states it needs that the SUT is not in yet.

    Every state gets the options and takes its own: ``authorization`` "local" (Main A, the default) or
    "remote" (Main B) for Authorized, ``stop`` "local" or "remote" for StopAuthorized (and the stoppedReason
    ParkingBayUnoccupied expects), ``transaction_duration`` (s), ``evse_id``/``connector_id`` for Unavailable
    and Reserved, ``power_cycle`` for Booted, ``method`` ("EIM"/"PnC") for Authorized15118,
    ``certificate_type``/``hash_data`` for GetInstalledCertificates, ``charging_rate_unit`` for
    RenegotiateChargingLimits, ``bootloader_ocpp`` for RebootBeforeFirmwareInstallation."""
    state = STATES[name]
    for needed in state.needs:
        if not STATES[needed].reached(case):
            await reach(case, needed, **options)
    await state.play(case, **options)


# -- Memory States (Part 6 §2.19): what the station is made to remember ------------------------------------


async def certificate_installed(case: Case, *, certificate_type: str, certificate: str, **_: Any) -> CallResult:
    """Memory State CertificateInstalled: the specified certificateType's configured certificate installed.
    The reference station has no certificate store: not run against it."""
    with case.step("CertificateInstalled 1-2", "The OCTT sends an InstallCertificateRequest"):
        answer = await case.call("InstallCertificate", {"certificateType": certificate_type, "certificate": certificate})
        case.verify(answer, {"status": "Accepted"}, validation="CertificateInstalled step 2")
    return answer


async def id_token_cached(case: Case, **options: Any) -> None:
    """Memory State IdTokenCached as the errata 2025-09 §6.2.120 writes it: a whole session with the valid
    idToken (Main B and its validation are withdrawn; the configured idToken is Accepted, so Main A always
    applies)."""
    for number, name in enumerate(IDTOKEN_CACHED_SESSION, start=1):
        with case.step(f"IdTokenCached {number}", f"Execute Reusable State {name}"):
            await reach(case, name, **options)


IDTOKEN_CACHED_SESSION = (
    "ParkingBayOccupied",
    "Authorized",
    "EVConnectedPreSession",
    "EnergyTransferStarted",
    "StopAuthorized",
    "EVDisconnected",
    "ParkingBayUnoccupied",
)


async def id_token_local_auth_list(case: Case, *, version_number: int = 1, **_: Any) -> CallResult:
    """Memory State IdTokenLocalAuthList: LocalAuthListCtrlr.Enabled true if implemented (errata 2025-09
    §6.2.121), then a Full list with the valid idToken. The reference station has no Local Authorization
    List: not run against it."""
    with case.step("IdTokenLocalAuthList", "Configuration State: LocalAuthListCtrlr.Enabled is true (If implemented)"):
        await configure(case, [("LocalAuthListCtrlr", "Enabled", "true")], if_implemented=True)
    with case.step("IdTokenLocalAuthList 1-2", "The OCTT sends a SendLocalListRequest with updateType Full"):
        answer = await case.call(
            "SendLocalList",
            {
                "versionNumber": version_number,
                "updateType": "Full",
                "localAuthorizationList": [{"idToken": _id_token(case), "idTokenInfo": {"status": "Accepted"}}],
            },
        )
        case.verify(answer, {"status": "Accepted"}, validation="IdTokenLocalAuthList step 2")
    return answer


async def set_charging_profile(
    case: Case, *, charging_profile: dict[str, Any], evse_id: int | None = None, **_: Any
) -> CallResult:
    """Memory State SetChargingProfile: the provided chargingProfile, on the given EVSE (default the
    configured one; 0 for a ChargingStationMaxProfile). The reference station has no smart charging: not run
    against it."""
    evse_id = case.config.evse_id if evse_id is None else evse_id
    with case.step("SetChargingProfile 1-2", "The OCTT sends a SetChargingProfileRequest"):
        answer = await case.call("SetChargingProfile", {"evseId": evse_id, "chargingProfile": charging_profile})
        case.verify(answer, {"status": "Accepted"}, validation="SetChargingProfile step 2")
    return answer


SignCsr = Callable[[str], str]
"""Signs a PEM CSR with the CSMS Root (or V2G SubCA) key the lab configured; returns the PEM chain."""


@dataclass(frozen=True)
class CsrRule:
    """What Part 6 asks of a CSR: the key sizes per algorithm, and whether only ECDSA will do."""

    rsa_bits: int
    ec_bits: int
    ec_only: bool


CSR_RULES = {
    "ChargingStationCertificate": CsrRule(rsa_bits=2048, ec_bits=224, ec_only=False),
    "V2GCertificate": CsrRule(rsa_bits=0, ec_bits=256, ec_only=True),
}


def csr_problem(pem: str, rule: CsrRule) -> str | None:
    """Why the csr breaks Part 6's rule (RFC 2986 in PEM, key size), or None."""
    try:
        request = x509.load_pem_x509_csr(pem.encode())
    except ValueError:
        return "the csr is not a PEM-encoded PKCS #10 certification request (RFC 2986)"
    key = request.public_key()
    if isinstance(key, ec.EllipticCurvePublicKey):
        return None if key.key_size >= rule.ec_bits else f"its EC key has {key.key_size} bits, fewer than {rule.ec_bits}"
    if rule.ec_only:
        return f"its key is {type(key).__name__}, but ISO 15118 needs ECDSA"
    if isinstance(key, (rsa.RSAPublicKey, dsa.DSAPublicKey)) and key.key_size < rule.rsa_bits:
        return f"its key has {key.key_size} bits, fewer than {rule.rsa_bits}"
    return None


async def _renew_certificate(
    case: Case, state: str, certificate_type: str, trigger: dict[str, Any], sign_csr: SignCsr | None
) -> CallResult:
    """Steps 1-6 of both Renew… memory states: TriggerMessage, the SignCertificateRequest (its CSR checked),
    CertificateSigned with the chain the lab's CA signs. The reference station has no PKI: not run against
    it (the CSR rules are tested on their own)."""
    if sign_csr is None:
        raise Inconclusive(f"{state} needs the lab's CA to sign the station's CSR (option sign_csr)")
    case.respond("SignCertificate", {"status": "Accepted"})
    with case.step(f"{state} 1-2", f"The OCTT sends a TriggerMessageRequest with requestedMessage {trigger['requestedMessage']}"):
        answer = await case.call("TriggerMessage", trigger)
        case.verify(answer, {"status": "Accepted"}, validation=f"{state} step 2")
    with case.step(f"{state} 3-4", "The Charging Station sends a SignCertificateRequest"):
        request = await case.expect("SignCertificate", validation=f"{state} step 3")
        problem = csr_problem(str(request.payload.get("csr", "")), CSR_RULES[certificate_type])
        case.require(problem is None, f"the SignCertificateRequest's csr: {problem}", request, validation=f"{state} step 3")
    with case.step(f"{state} 5-6", "The OCTT sends a CertificateSignedRequest"):
        signed = await case.call(
            "CertificateSigned",
            {"certificateChain": sign_csr(request.payload["csr"]), "certificateType": certificate_type},
        )
        case.verify(signed, {"status": "Accepted"}, validation=f"{state} step 6")
    return signed


async def renew_charging_station_certificate(case: Case, *, sign_csr: SignCsr | None = None, **_: Any) -> None:
    """Memory State RenewChargingStationCertificate (A02/A03), with the errata 2025-09 §6.2.122-123: the
    station reconnects with its new certificate; when it does not within the message timeout, the harness
    closes the connection to make it (no Reset). A BootNotification after a reboot is answered as usual."""
    connection = case.link.connection.number if case.link.connection else 0
    await _renew_certificate(
        case,
        "RenewChargingStationCertificate",
        "ChargingStationCertificate",
        {"requestedMessage": "SignChargingStationCertificate"},
        sign_csr,
    )
    with case.step("RenewChargingStationCertificate 7", "The Charging Station reconnects (with the new certificate)"):
        try:
            await case.connection(newer_than=connection)
        except SutTimeout:
            dropped = await case.drop_connection()
            await case.connection(newer_than=dropped.number)


async def renew_v2g_charging_station_certificate(
    case: Case, *, sign_csr: SignCsr | None = None, secc_evse_ids: tuple[int, ...] = (), **_: Any
) -> None:
    """Memory State RenewV2GChargingStationCertificate: the ISO15118Ctrlr settings if implemented, then the
    renewal once per EVSE with a SeccId (``secc_evse_ids``, from the lab's GetBaseReport), or once without
    an EVSE when there is none."""
    with case.step("RenewV2GChargingStationCertificate", "Configuration State: ISO15118Ctrlr (if implemented)"):
        await configure(
            case,
            [
                ("ISO15118Ctrlr", "V2GCertificateInstallationEnabled", "true"),
                ("ISO15118Ctrlr", "CountryName", "NL"),
                ("ISO15118Ctrlr", "OrganizationName", case.config.vendor_name),
            ],
            if_implemented=True,
        )
    for evse_id in secc_evse_ids or (None,):
        trigger: dict[str, Any] = {"requestedMessage": "SignV2GCertificate"}
        if evse_id is not None:
            trigger["evse"] = {"id": evse_id}
        await _renew_certificate(case, "RenewV2GChargingStationCertificate", "V2GCertificate", trigger, sign_csr)


async def transaction_events_in_queue_ended(case: Case, **options: Any) -> None:
    """Memory State TransactionEventsInQueueEnded: with OfflineTxForUnknownIdEnabled, IdTokenCached and
    IdTokenLocalAuthList where implemented, a whole session offline; the events stay queued until the
    reconnection is accepted, for the calling case to check. The memory states count as implemented when
    AuthCacheCtrlr.Enabled, respectively LocalAuthListCtrlr.Enabled, can be read."""
    with case.step("TransactionEventsInQueueEnded", "Configuration State: OfflineTxForUnknownIdEnabled is true (If implemented)"):
        await configure(case, [("AuthCtrlr", "OfflineTxForUnknownIdEnabled", "true")], if_implemented=True)
    if await variable(case, "AuthCacheCtrlr", "Enabled") is not None:
        await id_token_cached(case, **options)
    if await variable(case, "LocalAuthListCtrlr", "Enabled") is not None:
        await id_token_local_auth_list(case, **options)
    parking = await _parking_known(case)
    names = ("park", "plug_in", "present_id_token", "present_again", "unplug", "unpark")
    await _offline(
        case,
        "TransactionEventsInQueueEnded",
        _session_actions(case, *(name for name in names if parking or name not in ("park", "unpark"))),
    )


MEMORY_STATES: dict[str, Play] = {
    "CertificateInstalled": certificate_installed,
    "IdTokenCached": id_token_cached,
    "IdTokenLocalAuthList": id_token_local_auth_list,
    "RenewChargingStationCertificate": renew_charging_station_certificate,
    "RenewV2GChargingStationCertificate": renew_v2g_charging_station_certificate,
    "SetChargingProfile": set_charging_profile,
    "TransactionEventsInQueueEnded": transaction_events_in_queue_ended,
}
"""Part 6 §2.19 Memory States of a Charging Station under test, by name: ``await remember(case, name, …)``."""


async def remember(case: Case, name: str, **options: Any) -> None:
    """Play the memory state ``name`` (its options are those of its function)."""
    await MEMORY_STATES[name](case, **options)
