"""Part 6 §2.18 Reusable States for a Charging Station under test, as composable functions.

Each takes the running case and plays the state's steps, numbered as in its table but prefixed with the
state's name so that a verdict says where it stopped ("Booted 5"). The configured EVSE, connector and
idToken come from the SUT configuration.
"""

from __future__ import annotations

from harness.case import Case
from harness.core.frames import Call
from harness.matching import PRESENT, one_of
from harness.verdicts import Inconclusive

def connector_status(evse_id: int, connector_id: int, status: str) -> list[tuple[str, dict[str, object]]]:
    """The two ways a station reports a connector's state (Part 6 lists both): StatusNotification or
    NotifyEvent on the AvailabilityState of the Connector component."""
    return [
        ("StatusNotification", {"evseId": evse_id, "connectorId": connector_id, "connectorStatus": status}),
        (
            "NotifyEvent",
            {
                "eventData[0].trigger": "Delta",
                "eventData[0].actualValue": status,
                "eventData[0].component.name": "Connector",
                "eventData[0].component.evse.id": evse_id,
                "eventData[0].component.evse.connectorId": connector_id,
                "eventData[0].variable.name": "AvailabilityState",
            },
        ),
    ]


def every_connector(case: Case, status: str) -> list[list[tuple[str, dict[str, object]]]]:
    """For each configured connector, the ways it may report ``status``."""
    return [
        connector_status(evse_id, connector_id, status)
        for evse_id, connectors in sorted(case.config.connectors.items())
        for connector_id in connectors
    ]


async def all_connectors_report(case: Case, status: str, requirement: str = "") -> list[Call]:
    """Wait until every configured connector has reported ``status`` (Part 6: "for all connectors"), in
    whatever order the connectors come."""
    return await case.expect_in_any_order(every_connector(case, status), requirement=requirement)


async def booted(case: Case, *, power_cycle: bool = True) -> Call:
    """Reusable State Booted: a power cycle (manual action) or a ResetRequest, then an accepted boot."""
    case.forget_received()
    if power_cycle:
        with case.step("Booted", "Manual Action: Power cycle the Charging Station"):
            await case.manual("reboot")
    else:
        with case.step("Booted 1-2", "The OCTT sends a ResetRequest with type Immediate"):
            reset = await case.call("Reset", {"type": "Immediate"})
            case.verify(reset, {"status": "Accepted"})
    with case.step("Booted 3-4", "The Charging Station sends a BootNotificationRequest, the OCTT accepts it"):
        boot = await case.expect("BootNotification")
    with case.step("Booted 5-6", "The Charging Station notifies the CSMS about the state of all connectors"):
        await all_connectors_report(case, "Available")
    with case.step("Booted 7-8", "The Charging Station sends a SecurityEventNotificationRequest"):
        await case.expect("SecurityEventNotification", {"type": one_of("StartupOfTheDevice", "ResetOrReboot")})
    return boot


async def configure(case: Case, settings: list[tuple[str, str, str]], *, if_implemented: bool = False) -> None:
    """A table's "Configuration State": set each (component, variable, value) with a SetVariablesRequest.

    A station that does not accept a required setting leaves the case's precondition unmet: INCONCLUSIVE
    (the case cannot test what it is for). With ``if_implemented`` an unknown variable is skipped, as
    Part 6 says "(If implemented)".
    """
    data = [
        {"component": {"name": component}, "variable": {"name": variable}, "attributeValue": value}
        for component, variable, value in settings
    ]
    answer = await case.call("SetVariables", {"setVariableData": data})
    for result in answer.payload.get("setVariableResult", []):
        status = result.get("attributeStatus")
        name = f"{result['component']['name']}.{result['variable']['name']}"
        if status == "Accepted" or (if_implemented and status in ("UnknownComponent", "UnknownVariable")):
            continue
        raise Inconclusive(f"Configuration State not reached: the station answered {status} for {name}")


async def general_preconditions(case: Case) -> None:
    """Part 6 §2.1: "The Configuration variable AuthCtrlr.LocalPreAuthorize is set to false". Read once per
    run and set only when it is not false, so a station that refuses SetVariables is not made INCONCLUSIVE
    by a precondition it already meets. The other general preconditions are states a case leaves behind
    (idle, no transaction) and its clean-up restores."""
    if case.link.memory.get("general_preconditions"):
        return
    with case.step("Before", "General preconditions (Part 6 §2.1): AuthCtrlr.LocalPreAuthorize is false"):
        answer = await case.call(
            "GetVariables",
            {"getVariableData": [{"component": {"name": "AuthCtrlr"}, "variable": {"name": "LocalPreAuthorize"}}]},
        )
        result = answer.payload["getVariableResult"][0]
        if result.get("attributeStatus") == "Accepted" and result.get("attributeValue", "").lower() != "false":
            await configure(case, [("AuthCtrlr", "LocalPreAuthorize", "false")])
    case.link.memory["general_preconditions"] = True


async def tx_start_points(case: Case) -> list[str]:
    """TxCtrlr.TxStartPoint of the station, read once per run (the reusable states branch on it)."""
    if "tx_start_points" not in case.link.memory:
        answer = await case.call(
            "GetVariables", {"getVariableData": [{"component": {"name": "TxCtrlr"}, "variable": {"name": "TxStartPoint"}}]}
        )
        result = answer.payload["getVariableResult"][0]
        if result.get("attributeStatus") != "Accepted":
            raise Inconclusive("TxCtrlr.TxStartPoint cannot be read, so the transaction states cannot be followed")
        case.link.memory["tx_start_points"] = [p.strip() for p in result.get("attributeValue", "").split(",")]
    return list(case.link.memory["tx_start_points"])


async def ev_connected_pre_session(case: Case, authorized: bool = False) -> Call | None:
    """Reusable State EVConnectedPreSession: plug in; connector Occupied; a TransactionEvent when the
    transaction starts at EVConnected (or already runs)."""
    evse_id, connector_id = case.config.evse_id, case.config.connector_id
    event_type = _plug_in_event_type(await tx_start_points(case), authorized)
    case.forget_received()
    with case.step("EVConnectedPreSession", "Manual Action: Connect the EV and EVSE"):
        await case.manual("plug_in", evse_id=evse_id, connector_id=connector_id)
    with case.step("EVConnectedPreSession 1-2", "The Charging Station notifies the CSMS about the connector status"):
        await case.expect_any(connector_status(evse_id, connector_id, "Occupied"))
    if event_type is None:
        return None
    with case.step("EVConnectedPreSession 3-4", "The Charging Station sends a TransactionEventRequest"):
        event = await case.expect("TransactionEvent")
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
        )
    remember_transaction(case, event)
    return event


def _plug_in_event_type(start_points: list[str], authorized: bool) -> str | None:
    """The eventType Part 6 expects when the EV is connected, or None when no TransactionEvent is due."""
    if "ParkingBayOccupancy" in start_points or (authorized and "Authorized" in start_points):
        return "Updated"
    if "EVConnected" in start_points or (authorized and "PowerPathClosed" in start_points):
        return "Started"
    return None


def remember_transaction(case: Case, event: Call) -> None:
    """Keep the running transaction's id: later states and the clean-up need it."""
    case.link.memory["transaction_id"] = event.payload["transactionInfo"]["transactionId"]


async def authorized_local(case: Case, ev_connected: bool) -> Call | None:
    """Reusable State Authorized, Main A (local): present the idToken; Authorize; TransactionEvent Authorized."""
    token = case.config.valid_id_token
    start_points = await tx_start_points(case)
    with case.step("Authorized", "Manual Action: Present idToken"):
        await case.manual("present_id_token", id_token=token.id_token, type=token.type, evse_id=case.config.evse_id)
    with case.step("Authorized 1-2", "The Charging Station sends an AuthorizeRequest", "C01.FR.02"):
        authorize = await case.expect("Authorize")
        case.verify(authorize, {"idToken.idToken": token.id_token, "idToken.type": token.type})
    if not ("Authorized" in start_points or (ev_connected and "EVConnected" in start_points)):
        return None
    with case.step("Authorized 3-4", "The Charging Station sends a TransactionEventRequest"):
        event = await case.expect("TransactionEvent", {"idToken": PRESENT})
        case.verify(
            event, {"triggerReason": "Authorized", "idToken.idToken": token.id_token, "idToken.type": token.type}
        )
    remember_transaction(case, event)
    return event


async def energy_transfer_started(case: Case) -> Call:
    """Reusable State EnergyTransferStarted, part 2 (the EV is connected): the station starts charging."""
    with case.step("EnergyTransferStarted 9-10", "The Charging Station sends a TransactionEventRequest"):
        event = await case.expect("TransactionEvent", {"transactionInfo.chargingState": "Charging"})
        case.verify(event, {"triggerReason": "ChargingStateChanged"})
    return event


async def stop_transaction_and_unplug(case: Case) -> None:
    """Clean-up after a case that leaves a transaction running: stop it remotely and unplug the EV."""
    transaction_id = case.link.memory.pop("transaction_id", None)
    if transaction_id is not None:
        await case.call_answer("RequestStopTransaction", {"transactionId": transaction_id})
    await case.manual("unplug", evse_id=case.config.evse_id, connector_id=case.config.connector_id)
    await case.expect_any(connector_status(case.config.evse_id, case.config.connector_id, "Available"))
    if transaction_id is not None:
        await case.expect(
            "TransactionEvent", {"eventType": "Ended", "transactionInfo.transactionId": transaction_id}
        )


def check_seq_no_order(case: Case) -> None:
    """Part 6 §2.1: the seqNo values of the running transaction's events are numbered without gap (a message
    resent after a connection loss repeats its seqNo, which is no gap)."""
    transaction_id = case.link.memory.get("transaction_id")
    numbers = sorted({
        r.call.payload["seqNo"]
        for r in case.received
        if r.call.action == "TransactionEvent" and r.call.payload["transactionInfo"]["transactionId"] == transaction_id
    })
    case.require(
        numbers == list(range(numbers[0], numbers[0] + len(numbers))) if numbers else True,
        f"the seqNo values of transaction {transaction_id} are not sequential: {numbers}",
    )
