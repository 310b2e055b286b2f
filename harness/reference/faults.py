"""Named faults of the reference SUTs: each breaks exactly one requirement, so that a harness case can be shown to
FAIL against a faulty variant. README.md maps every fault to the case(s) it must kill."""

from __future__ import annotations

from collections.abc import Iterable, Mapping

STATION_FAULTS: dict[str, str] = {
    "no_status_notification_after_boot": "B01.FR.05/G01.FR.01: connector states not reported after Accepted",
    "accepts_start_while_pending": "B02.FR.05: RequestStartTransaction Accepted while boot is Pending",
    "sends_messages_while_rejected": "B03.FR.02: sends a Heartbeat while the boot is Rejected",
    "getvariables_wrong_value": "B06.FR.01: GetVariables returns a value other than the stored one",
    "setvariables_rejected": "B05.FR.01: SetVariables of a writable variable answered Rejected",
    "notify_report_tbc_never_false": "B07.FR.10: the last NotifyReport of a report keeps tbc true",
    "datatransfer_accepted": "P01.FR.05: DataTransfer with an unknown vendorId answered Accepted",
    "occupied_not_reported": "G01.FR.01: connecting the EV does not report the connector Occupied",
    "wrong_trigger_reason": "E02.FR.13: TransactionEvent after authorization has triggerReason CablePluggedIn",
    "id_token_missing": "E02.FR.06: TransactionEvent after authorization lacks idToken",
    "seqno_gap": "E01.FR.16: TransactionEvent seqNo skips a number (0, 2, 3, ...)",
    "offline_flag_missing": "E11.FR.06: queued TransactionEvents are delivered without offline=true",
    "drops_queued_events": "E11.FR.01: TransactionEvents queued while offline are discarded on reconnect",
    "schema_invalid_payload": "OCPP-J schemas: StatusNotification sent with a connectorStatus outside the enum",
}

CSMS_FAULTS: dict[str, str] = {
    "rejects_boot": "B01.FR.02: BootNotification of a known station answered Rejected",
    "boot_accepted_instead_of_pending": "B02.FR.01: answers Accepted although configured to answer Pending first",
    "getvariables_wrong_variable": "B06.FR.01: the manual GetVariables asks for HeartbeatInterval instead",
    "does_not_store_variable": "B06.FR.02: the value read with GetVariables is not kept",
    "blocked_token_accepted": "C01.FR.07: Authorize of a blocked idToken answered Accepted",
    "rejects_valid_token": "C01: Authorize of a valid idToken answered Invalid",
    "datatransfer_accepted": "P02.FR.06: DataTransfer with an unknown vendorId answered Accepted",
    "schema_invalid_response": "OCPP-J schemas: BootNotificationResponse with interval as a string",
}


def checked(faults: Iterable[str], known: Mapping[str, str]) -> frozenset[str]:
    """The requested faults; an unknown name is a configuration mistake, so it raises instead of being ignored."""
    requested = frozenset(faults)
    unknown = sorted(requested - known.keys())
    if unknown:
        raise ValueError(f"unknown fault(s) {unknown}; known: {sorted(known)}")
    return requested
