"""The named faults of the reference SUTs, as one table: each breaks one Part 2 requirement so that a harness case
can be shown to FAIL at a named Part 6 validation (its ``targets``).

A fault with mutations is applied on the wire (see ``harness.reference.mutations``): the reference behaves
correctly and its outgoing frames are changed. A fault without mutations is a *behaviour* fault the reference
implements in code, for what a frame edit cannot express (a message sent on its own, a seqNo sequence, state kept
inside the SUT). The mutations here have ``case=None``: given by name, a fault applies in every case; the
self-test narrows them to one case with :meth:`Fault.windowed`.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from harness.reference.mutations import Mutation

@dataclass(frozen=True)
class Fault:
    """One named fault: the requirement it breaks, what it does in Part 2's words, the (case id, validation id)
    pairs it must kill, and its wire mutations (none: a behaviour fault)."""

    name: str
    role: str
    requirement: str
    breaks: str
    targets: tuple[tuple[str, str], ...]
    mutations: tuple[Mutation, ...] = ()

    @property
    def behaviour(self) -> bool:
        """Implemented in the reference's code rather than on the wire."""
        return not self.mutations

    def windowed(self, case_id: str) -> tuple[Mutation, ...]:
        """The mutations, applying only within the case ``case_id``."""
        return tuple(dataclasses.replace(m, case=case_id) for m in self.mutations)


def _wire(fault: str, message_type: str, action: str, op: str, where: Mapping[str, Any] | None = None, **rest: Any) -> Mutation:
    """A mutation for every case, named after its fault, action and filter values."""
    selector = ",".join(str(value) for value in (where or {}).values())
    name = f"{fault}:{action}" + (f"[{selector}]" if selector else "")
    return Mutation(name, None, message_type, action, op, where=dict(where or {}), **rest)


def _answer(fault: str, action: str, path: str, value: Any, where: Mapping[str, Any] | None = None) -> Mutation:
    """Set a field of the CALLRESULT to ``action``."""
    return _wire(fault, "CALLRESULT", action, "set", where, path=path, value=value)


def _request(fault: str, action: str, op: str, path: str = "", value: Any = None, where: Mapping[str, Any] | None = None) -> Mutation:
    """Change a CALL the SUT sends: ``op`` set, delete or drop."""
    return _wire(fault, "CALL", action, op, where, path=path, value=value)


def _status_reported(fault: str, status: str) -> tuple[Mutation, ...]:
    """Drop both reports of a connector becoming ``status``: the StatusNotificationRequest and the NotifyEventRequest
    of Connector.AvailabilityState (G01.FR.03 allows either, so both must go)."""
    return (
        _request(fault, "StatusNotification", "drop", where={"connectorStatus": status}),
        _request(fault, "NotifyEvent", "drop", where={"eventData[0].actualValue": status}),
    )


FAULTS: tuple[Fault, ...] = (
    # ---------------------------------------------------------------- reference Charging Station
    Fault(
        "no_status_notification_after_boot", "cs", "B01.FR.05",
        "after the BootNotificationResponse Accepted no StatusNotificationRequest (nor NotifyEventRequest) is sent "
        "for the Connectors",
        (("TC_B_01_CS", "post 1"), ("TC_B_02_CS", "step 17"), ("TC_B_03_CS", "step 5")),
        _status_reported("no_status_notification_after_boot", "Available"),
    ),
    Fault(
        "accepts_start_while_pending", "cs", "B02.FR.05",
        "while in Pending status a RequestStartTransactionRequest is answered with status Accepted",
        (("TC_B_02_CS", "step 12"),),
        (_answer("accepts_start_while_pending", "RequestStartTransaction", "status", "Accepted", {"status": "Rejected"}),),
    ),
    Fault(
        "sends_messages_while_rejected", "cs", "B03.FR.02",
        "after the status Rejected a HeartbeatRequest is sent before the retry interval has expired",
        (("TC_B_03_CS", "step 3"),),
    ),
    Fault(
        "boot_retry_before_interval", "cs", "B03.FR.06",
        "after the status Rejected the BootNotificationRequest is resent at once, not after the interval",
        (("TC_B_03_CS", "step 3"),),
    ),
    Fault(
        "getvariables_wrong_value", "cs", "B06.FR.04",
        "the GetVariableResult attributeValue is not the value of the attribute (\"3001\" for \"300\")",
        (("TC_B_06_CS", "step 2"),),
        (
            _answer(
                "getvariables_wrong_value", "GetVariables", "getVariableResult[0].attributeValue", "3001",
                {"getVariableResult[0].attributeStatus": "Accepted"},
            ),
        ),
    ),
    Fault(
        "setvariables_rejected", "cs", "B05.FR.10",
        "a value the Charging Station was able to set is answered with attributeStatus Rejected",
        (("TC_B_09_CS", "step 2"), ("TC_B_02_CS", "step 4")),
        (_answer("setvariables_rejected", "SetVariables", "setVariableResult[0].attributeStatus", "Rejected"),),
    ),
    Fault(
        "notify_report_tbc_never_false", "cs", "B07.FR.03",
        "the last NotifyReportRequest of a report still has tbc true, so the report never completes",
        (("TC_B_02_CS", "step 9"),),
        (_request("notify_report_tbc_never_false", "NotifyReport", "set", "tbc", True, {"tbc": False}),),
    ),
    Fault(
        "datatransfer_accepted", "cs", "P01.FR.05",
        "a DataTransferRequest with a vendorId that has no implementation is answered with status Accepted",
        (("TC_P_01_CS", "step 2"),),
        (_answer("datatransfer_accepted", "DataTransfer", "status", "Accepted"),),
    ),
    Fault(
        "occupied_not_reported", "cs", "G01.FR.03",
        "an EV connecting to an Available connector is reported neither by StatusNotificationRequest Occupied nor "
        "by NotifyEventRequest",
        (("TC_G_01_CS", "step 1"), ("TC_E_03_CS", "before")),
        _status_reported("occupied_not_reported", "Occupied"),
    ),
    Fault(
        "wrong_trigger_reason", "cs", "E02.FR.01",
        "the TransactionEventRequest after the EV Driver is authorized has triggerReason CablePluggedIn, not Authorized",
        (("TC_E_03_CS", "step 1"),),
        (
            _request(
                "wrong_trigger_reason", "TransactionEvent", "set", "triggerReason", "CablePluggedIn",
                {"triggerReason": "Authorized"},
            ),
        ),
    ),
    Fault(
        "id_token_missing", "cs", "E02.FR.20",
        "the TransactionEventRequest after an idToken is authorized does not contain the idToken",
        (("TC_E_03_CS", "step 1"),),
        (_request("id_token_missing", "TransactionEvent", "delete", "idToken"),),
    ),
    Fault(
        "seqno_gap", "cs", "E02.FR.07",
        "the seqNo of TransactionEventRequests skips a number (0, 2, 3, ...)",
        (("TC_E_03_CS", "step 1"), ("TC_E_40_CS", "step 3")),
    ),
    Fault(
        "offline_flag_missing", "cs", "E11.FR.02",
        "queued TransactionEventRequests are sent after the connection is restored without offline set to true",
        (("TC_E_40_CS", "step 3"),),
        (_request("offline_flag_missing", "TransactionEvent", "delete", "offline", where={"offline": True}),),
    ),
    Fault(
        "drops_queued_events", "cs", "E11.FR.01",
        "the TransactionEventRequests queued while offline are never sent",
        (("TC_E_40_CS", "step 3"),),
        (_request("drops_queued_events", "TransactionEvent", "drop", where={"offline": True}),),
    ),
    Fault(
        "schema_invalid_payload", "cs", "G01.FR.01",
        "the StatusNotificationRequest connectorStatus is not one of the ConnectorStatusEnumType values (lower-cased)",
        (
            ("TC_B_01_CS", "step 1"), ("TC_B_02_CS", "step 17"), ("TC_B_03_CS", "step 5"), ("TC_G_01_CS", "step 1"),
            ("TC_E_03_CS", "before"),
        ),
        (
            _request("schema_invalid_payload", "StatusNotification", "set", "connectorStatus", "available", {"connectorStatus": "Available"}),
            _request("schema_invalid_payload", "StatusNotification", "set", "connectorStatus", "occupied", {"connectorStatus": "Occupied"}),
        ),
    ),
    # ---------------------------------------------------------------- reference CSMS
    Fault(
        "rejects_boot", "csms", "B01.FR.02",
        "the BootNotificationRequest of a known Charging Station is answered with status Rejected",
        (("TC_B_01_CSMS", "step 1"),),
        (_answer("rejects_boot", "BootNotification", "status", "Rejected"),),
    ),
    Fault(
        "boot_accepted_instead_of_pending", "csms", "B02.FR.01",
        "the CSMS configured to answer Pending first answers the BootNotificationRequest with status Accepted",
        (("TC_B_02_CSMS", "step 2"),),
        (_answer("boot_accepted_instead_of_pending", "BootNotification", "status", "Accepted", {"status": "Pending"}),),
    ),
    Fault(
        "getvariables_wrong_variable", "csms", "B06.FR.01",
        "the GetVariablesRequest asks for OCPPCommCtrlr.HeartbeatInterval instead of the variable to read",
        (("TC_B_06_CSMS", "step 1"),),
        (
            _request(
                "getvariables_wrong_variable", "GetVariables", "set", "getVariableData[0].variable.name", "HeartbeatInterval"
            ),
        ),
    ),
    Fault(
        "does_not_store_variable", "csms", "B06.FR.01",
        "the value read with GetVariablesRequest is not kept by the CSMS",
        (("TC_B_06_CSMS", "post 1"),),
    ),
    Fault(
        "blocked_token_accepted", "csms", "C01.FR.07",
        "the AuthorizeResponse (and TransactionEventResponse) for a blocked idToken has idTokenInfo.status Accepted",
        (("TC_C_06_CSMS", "step 2"),),
        tuple(
            _answer("blocked_token_accepted", action, "idTokenInfo.status", "Accepted", {"idTokenInfo.status": "Blocked"})
            for action in ("Authorize", "TransactionEvent")
        ),
    ),
    Fault(
        "rejects_valid_token", "csms", "C01.FR.07",
        "the AuthorizeResponse (and TransactionEventResponse) for a valid idToken has idTokenInfo.status Invalid",
        (("TC_E_01_CSMS", "step 2"),),
        tuple(
            _answer("rejects_valid_token", action, "idTokenInfo.status", "Invalid", {"idTokenInfo.status": "Accepted"})
            for action in ("Authorize", "TransactionEvent")
        ),
    ),
    Fault(
        "datatransfer_accepted", "csms", "P02.FR.06",
        "a DataTransferRequest with a vendorId that has no implementation is answered with status Accepted",
        (("TC_P_02_CSMS", "step 2"),),
        (_answer("datatransfer_accepted", "DataTransfer", "status", "Accepted"),),
    ),
    Fault(
        "schema_invalid_response", "csms", "OCPP-J JSON schema",
        "the BootNotificationResponse interval is a string, against the BootNotificationResponse schema",
        (("TC_B_01_CSMS", "step 1"), ("TC_B_02_CSMS", "step 2")),
        (_answer("schema_invalid_response", "BootNotification", "interval", "300"),),
    ),
)


def by_role(role: str) -> dict[str, Fault]:
    """The faults of the reference SUT of ``role``, by name."""
    return {fault.name: fault for fault in FAULTS if fault.role == role}


STATION_FAULTS = by_role("cs")
CSMS_FAULTS = by_role("csms")


def checked(faults: Iterable[str], known: Mapping[str, Fault]) -> frozenset[str]:
    """The requested faults; an unknown name is a configuration mistake, so it raises instead of being ignored."""
    requested = frozenset(faults)
    unknown = sorted(requested - known.keys())
    if unknown:
        raise ValueError(f"unknown fault(s) {unknown}; known: {sorted(known)}")
    return requested


def applied(faults: Iterable[str], known: Mapping[str, Fault]) -> tuple[frozenset[str], tuple[Mutation, ...]]:
    """The requested faults split into the behaviour faults the reference implements and the mutations of the
    wire faults; an unknown name raises (see :func:`checked`)."""
    requested = checked(faults, known)
    behaviour = frozenset(name for name in requested if known[name].behaviour)
    mutations = tuple(m for name in sorted(requested) for m in known[name].mutations)
    return behaviour, mutations
