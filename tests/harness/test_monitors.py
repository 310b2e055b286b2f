"""The general rules as monitors: for each rule a trace that keeps it, a minimal one that breaks it once, and
the exceptions the standard allows."""

from __future__ import annotations

import itertools
from typing import Any

import pytest

from harness.monitors import RULES, check_trace, date_time_problem, monitors_for
from harness.trace import CS_TO_CSMS, CSMS_TO_CS

EVSE = {"id": 1, "connectorId": 1}
TOKEN = {"idToken": "ABC123", "type": "ISO14443"}
_ids = itertools.count(1)


def frame(direction: str, kind: str, mid: str, action: str | None, payload: Any, connection: int = 1) -> dict:
    return {"timestamp": "2024-05-06T10:00:00.000Z", "direction": direction, "messageType": kind,
            "messageId": mid, "action": action, "payload": payload, "connection": connection, "step": "1"}


def sent(action: str, payload: Any, reply: Any = None, *, by: str = CS_TO_CSMS, connection: int = 1,
         error: bool = False) -> list[dict]:
    """A CALL and the other side's answer (a CALLRESULT with ``reply``, a CALLERROR, or none: reply=False)."""
    mid = f"m{next(_ids)}"
    back = CSMS_TO_CS if by == CS_TO_CSMS else CS_TO_CSMS
    records = [frame(by, "CALL", mid, action, payload, connection)]
    if error:
        records.append(frame(back, "CALLERROR", mid, action, {"errorCode": "InternalError"}, connection))
    elif reply is not False:
        records.append(frame(back, "CALLRESULT", mid, action, reply or {}, connection))
    return records


def tx(event_type: str, seq_no: int, transaction_id: str = "tx1", trigger: str = "Trigger", **extra: Any) -> dict:
    return {"eventType": event_type, "timestamp": "2024-05-06T10:00:00Z", "triggerReason": trigger,
            "seqNo": seq_no, "transactionInfo": {"transactionId": transaction_id}, **extra}


def event(name: str, **details: Any) -> dict:
    return {"timestamp": "2024-05-06T10:00:00.000Z", "event": name, **details}


def judged(records: list[dict], role: str = "cs", **known: Any) -> list[tuple[str, str]]:
    return [(v.rule, v.requirement) for v in check_trace(records, role, **known)]


def one(rule: str) -> list[tuple[str, str]]:
    return [(rule, RULES[rule].requirement)]


def transaction(*events: dict, connection: int = 1) -> list[dict]:
    return [r for payload in events for r in sent("TransactionEvent", payload, connection=connection)]


A_TRANSACTION = transaction(tx("Started", 0, evse=EVSE), tx("Updated", 1), tx("Ended", 2))


# -- transactions and seqNo ------------------------------------------------------------------------------


def test_a_whole_transaction_keeps_every_rule():
    assert judged(A_TRANSACTION) == []


def test_a_transaction_may_start_at_any_seq_no_and_arrive_out_of_order():
    records = transaction(tx("Started", 7, evse=EVSE), tx("Updated", 9), tx("Updated", 8), tx("Ended", 10))
    assert judged(records) == []


def test_a_second_started_for_a_transaction_id_breaks_it():
    records = A_TRANSACTION + transaction(tx("Started", 3, evse=EVSE, trigger="CablePluggedIn"))
    assert judged(records) == one("§2.1 transactionId")


def test_an_event_numbered_after_the_ended_breaks_it():
    assert judged(A_TRANSACTION + transaction(tx("Updated", 3))) == one("§2.1 transactionId")


def test_a_second_ended_breaks_it():
    records = transaction(tx("Started", 0, evse=EVSE), tx("Ended", 1), tx("Ended", 2))
    assert ("§2.1 transactionId", "E01.FR.08") in judged(records)


def test_an_updated_for_a_transaction_never_started_breaks_it():
    assert judged(transaction(tx("Updated", 0), tx("Ended", 1))) == one("§2.1 Started first")


def test_an_event_numbered_before_its_started_breaks_it():
    assert judged(transaction(tx("Updated", 0), tx("Started", 1, evse=EVSE))) == one("§2.1 Started first")


def test_a_transaction_known_at_attach_time_needs_no_started():
    records = transaction(tx("Updated", 5), tx("Ended", 6))
    assert judged(records, known_transactions={"tx1": 4}) == []
    assert judged(records, known_transactions={"tx1": 3}) == one("§2.1 seqNo")


def test_a_gap_in_seq_no_breaks_it():
    records = transaction(tx("Started", 0, evse=EVSE), tx("Updated", 2), tx("Ended", 3))
    assert judged(records) == one("§2.1 seqNo")
    assert RULES["§2.1 seqNo"].requirement == "E01.FR.07"


def test_a_repeated_seq_no_breaks_it():
    records = transaction(tx("Started", 0, evse=EVSE), tx("Updated", 1), tx("Updated", 1, trigger="MeterValuePeriodic"))
    assert judged(records) == one("§2.1 seqNo")


def test_the_same_event_again_after_it_was_delivered_is_a_repeat():
    records = transaction(tx("Started", 0, evse=EVSE), tx("Updated", 1), tx("Updated", 1))
    assert judged(records) == one("§2.1 seqNo")


def test_an_undelivered_event_resent_on_a_later_connection_is_no_repeat():
    records = [
        *transaction(tx("Started", 0, evse=EVSE)),
        *sent("TransactionEvent", tx("Updated", 1), reply=False),
        event("connection closed", connection=1, code=1006),
        *transaction(tx("Updated", 1, offline=True), tx("Ended", 2), connection=2),
    ]
    assert judged(records) == []


def test_an_answered_event_resent_after_the_connection_closed_is_no_repeat():
    records = [
        *transaction(tx("Started", 0, evse=EVSE), tx("Updated", 1)),
        event("connection closed", connection=1, code=1000),
        *transaction(tx("Updated", 1), tx("Ended", 2), connection=2),
    ]
    assert judged(records) == []


def test_an_event_answered_with_a_callerror_may_be_sent_again():
    records = [
        *transaction(tx("Started", 0, evse=EVSE)),
        *sent("TransactionEvent", tx("Updated", 1), error=True),
        *transaction(tx("Updated", 1), tx("Ended", 2)),
    ]
    assert judged(records) == []


def test_updated_events_dropped_while_offline_leave_an_allowed_gap():
    records = transaction(
        tx("Started", 0, evse=EVSE), tx("Updated", 2, offline=True), tx("Updated", 4, offline=True), tx("Ended", 5)
    )
    assert judged(records) == []


# -- evse after plug-in ----------------------------------------------------------------------------------


def test_the_first_event_after_plug_in_carries_evse_and_connector():
    records = [
        *transaction(tx("Started", 0, trigger="Authorized", evse={"id": 1}, idToken=TOKEN)),
        event("manual action", action="plug_in", params={"evse_id": 1, "connector_id": 1}),
        *sent("StatusNotification", {"timestamp": "2024-05-06T10:00:00Z", "connectorStatus": "Occupied",
                                     "evseId": 1, "connectorId": 1}),
        *transaction(tx("Updated", 1, trigger="CablePluggedIn", evse=EVSE), tx("Updated", 2), tx("Ended", 3)),
    ]
    assert judged(records) == []


def test_an_event_after_plug_in_without_connector_id_breaks_it():
    records = [
        *transaction(tx("Started", 0, trigger="Authorized", evse={"id": 1})),
        event("manual action", action="plug_in", params={"evse_id": 1, "connector_id": 1}),
        *transaction(tx("Updated", 1, trigger="ChargingStateChanged", evse={"id": 1}), tx("Ended", 2)),
    ]
    assert judged(records) == one("§2.1 evse")


def test_a_started_on_cable_plugged_in_without_evse_breaks_it():
    records = transaction(tx("Started", 0, trigger="CablePluggedIn"), tx("Ended", 1))
    assert judged(records) == one("§2.1 evse")


def test_an_event_queued_offline_is_not_the_first_after_plug_in():
    records = [
        *transaction(tx("Started", 0, evse=EVSE)),
        event("manual action", action="plug_in", params={"evse_id": 1, "connector_id": 1}),
        *transaction(tx("Updated", 1, offline=True), tx("Updated", 2, evse=EVSE), tx("Ended", 3)),
    ]
    assert judged(records) == []


# -- idToken after authorization ---------------------------------------------------------------------------


def authorized(status: str = "Accepted") -> list[dict]:
    return sent("Authorize", {"idToken": TOKEN}, {"idTokenInfo": {"status": status}})


def test_the_first_event_after_authorization_carries_the_id_token():
    records = [
        *authorized(),
        *transaction(tx("Started", 0, trigger="Authorized", evse=EVSE, idToken=TOKEN), tx("Updated", 1)),
    ]
    assert judged(records) == []


def test_an_event_after_authorization_without_the_id_token_breaks_it():
    records = [*authorized(), *transaction(tx("Started", 0, trigger="Authorized", evse=EVSE), tx("Ended", 1))]
    assert judged(records) == one("§2.1 idToken")


def test_another_id_token_breaks_it():
    other = {"idToken": "OTHER", "type": "ISO14443"}
    records = [*authorized(), *transaction(tx("Started", 0, evse=EVSE, idToken=other), tx("Ended", 1))]
    assert judged(records) == one("§2.1 idToken")


def test_a_refused_authorization_or_a_stop_authorization_asks_nothing():
    records = [
        *authorized("Invalid"),
        *transaction(tx("Started", 0, evse=EVSE)),
        *authorized(),
        *transaction(tx("Updated", 1, trigger="StopAuthorized"), tx("Ended", 2)),
    ]
    assert judged(records) == []


# -- Part 4 RPC ------------------------------------------------------------------------------------------


@pytest.mark.parametrize("role, sut", [("cs", CS_TO_CSMS), ("csms", CSMS_TO_CS)])
def test_a_call_while_the_previous_one_is_unanswered_breaks_it(role, sut):
    first = sent("Heartbeat", {}, reply=False, by=sut)
    second = sent("Heartbeat", {}, by=sut)
    assert judged(first + second, role) == one("Part 4 §4.1.1")
    assert judged(sent("Heartbeat", {}, by=sut) + second, role) == []


def test_a_closed_connection_or_the_sut_timeout_ends_the_wait():
    first = sent("Heartbeat", {}, reply=False)
    later = sent("Heartbeat", {})
    later[0]["timestamp"] = "2024-05-06T10:00:31.000Z"
    assert judged(first + [event("connection closed", connection=1, code=1006)] + later) == []
    assert judged(first + later, call_timeout=30) == []
    assert judged(first + later, call_timeout=60) == one("Part 4 §4.1.1")


def test_the_harness_calls_crossing_the_sut_call_are_allowed():
    records = [
        frame(CS_TO_CSMS, "CALL", "s1", "Heartbeat", {}),
        frame(CSMS_TO_CS, "CALL", "h1", "GetVariables", {"getVariableData": []}),
        frame(CS_TO_CSMS, "CALLRESULT", "h1", "GetVariables", {"getVariableResult": []}),
        frame(CSMS_TO_CS, "CALLRESULT", "s1", "Heartbeat", {"currentTime": "2024-05-06T10:00:00Z"}),
    ]
    assert judged(records) == []


@pytest.mark.parametrize("role, harness", [("cs", CSMS_TO_CS), ("csms", CS_TO_CSMS)])
def test_a_response_that_answers_no_harness_call_breaks_it(role, harness):
    records = sent("ClearCache", {}, {"status": "Accepted"}, by=harness)
    assert judged(records, role) == []
    again = dict(records[1])
    assert judged(records + [again], role) == one("Part 4 §4.1.4")
    elsewhere = sent("ClearCache", {}, reply=False, by=harness) + [dict(records[1], connection=2)]
    assert judged(elsewhere, role) == one("Part 4 §4.1.4")


def test_a_late_response_still_answers_its_call():
    records = [*sent("ClearCache", {}, reply=False, by=CSMS_TO_CS), *sent("Heartbeat", {})]
    late = frame(CS_TO_CSMS, "CALLRESULT", records[0]["messageId"], "ClearCache", {"status": "Accepted"})
    assert judged([*records, late]) == []


# -- date-times ------------------------------------------------------------------------------------------


@pytest.mark.parametrize("value, problem", [
    ("2024-05-06T10:00:00Z", None),
    ("2024-05-06T10:00:00.123+02:00", None),
    ("2024-05-06T10:00:00", "has no UTC offset"),
    ("2024-05-06T10:00:00.1234Z", "has more than 3 decimal places"),
    ("06-05-2024 10:00", "is not an RFC 3339 date-time"),
])
def test_date_time_problems(value, problem):
    found = date_time_problem(value)
    assert found == problem if problem is None else problem in found


@pytest.mark.parametrize("role, sut", [("cs", CS_TO_CSMS), ("csms", CSMS_TO_CS)])
def test_a_date_time_without_offset_in_a_nested_field_breaks_it(role, sut):
    profile = {"id": 1, "stackLevel": 0, "chargingProfilePurpose": "TxDefaultProfile",
               "chargingProfileKind": "Absolute",
               "chargingSchedule": [{"id": 1, "startSchedule": "2024-05-06T10:00:00", "chargingRateUnit": "A",
                                     "chargingSchedulePeriod": [{"startPeriod": 0, "limit": 6}]}]}
    if role == "cs":
        records = sent("ReportChargingProfiles", {"requestId": 1, "chargingLimitSource": "CSO", "evseId": 1,
                                                  "chargingProfile": [profile]})
    else:
        records = sent("SetChargingProfile", {"evseId": 1, "chargingProfile": profile}, by=sut)
    [violation] = check_trace(records, role)
    assert (violation.rule, violation.requirement) == one("Part 2 §3.1 dateTime")[0]
    assert "chargingSchedule[0].startSchedule" in violation.reason
    assert judged(sent("Heartbeat", {}, {"currentTime": "2024-05-06T10:00:00"}, by=sut), role) == []


def test_a_date_time_in_a_response_of_the_sut_is_judged():
    records = sent("Heartbeat", {}, {"currentTime": "2024-05-06T10:00:00"}, by=CS_TO_CSMS)
    assert judged(records, "csms") == one("Part 2 §3.1 dateTime")


# -- charging schedules and firmware ------------------------------------------------------------------------


def profile(*periods: dict) -> dict:
    return {"id": 1, "stackLevel": 0, "chargingProfilePurpose": "TxDefaultProfile", "chargingProfileKind": "Absolute",
            "chargingSchedule": [{"id": 1, "chargingRateUnit": "A", "chargingSchedulePeriod": list(periods)}]}


def test_schedule_periods_in_increasing_start_period_keep_it():
    ordered = profile({"startPeriod": 0, "limit": 6}, {"startPeriod": 60, "limit": 8, "numberPhases": 1,
                                                      "phaseToUse": 2})
    assert judged(sent("SetChargingProfile", {"evseId": 1, "chargingProfile": ordered}, by=CS_TO_CSMS), "csms") == []
    report = {"requestId": 1, "chargingLimitSource": "CSO", "evseId": 1, "chargingProfile": [ordered]}
    assert judged(sent("ReportChargingProfiles", report)) == []


@pytest.mark.parametrize("role, sut, action, payload", [
    ("csms", CSMS_TO_CS, "SetChargingProfile", {"evseId": 1}),
    ("cs", CS_TO_CSMS, "ReportChargingProfiles", {"requestId": 1, "chargingLimitSource": "CSO", "evseId": 1}),
])
def test_schedule_periods_out_of_order_break_it(role, sut, action, payload):
    unordered = profile({"startPeriod": 0, "limit": 6}, {"startPeriod": 120, "limit": 8},
                        {"startPeriod": 60, "limit": 7})
    body = {**payload, "chargingProfile": [unordered] if role == "cs" else unordered}
    assert judged(sent(action, body, by=sut), role) == one("§2.1 startPeriod")


def test_phase_to_use_without_a_single_phase_breaks_it_for_a_csms():
    three = profile({"startPeriod": 0, "limit": 6, "phaseToUse": 1})
    records = sent("SetChargingProfile", {"evseId": 1, "chargingProfile": three}, by=CSMS_TO_CS)
    [violation] = check_trace(records, "csms")
    assert (violation.rule, violation.requirement) == ("§3.1 phaseToUse", "K01.FR.19")
    assert "numberPhases omitted (3)" in violation.reason


def firmware_update(status: str = "Accepted") -> list[dict]:
    request = {"requestId": 42, "firmware": {"location": "https://example.invalid/fw",
                                             "retrieveDateTime": "2024-05-06T10:00:00Z"}}
    return sent("UpdateFirmware", request, {"status": status}, by=CSMS_TO_CS)


def test_firmware_status_carries_the_update_request_id():
    records = [
        *sent("FirmwareStatusNotification", {"status": "Idle"}),
        *firmware_update(),
        *sent("FirmwareStatusNotification", {"status": "Downloading", "requestId": 42}),
        *sent("FirmwareStatusNotification", {"status": "Idle"}),
    ]
    assert judged(records) == []


def test_firmware_status_with_another_request_id_breaks_it():
    records = [*firmware_update(), *sent("FirmwareStatusNotification", {"status": "Downloading", "requestId": 7})]
    assert judged(records) == one("§2.1 firmware requestId")
    refused = [*firmware_update("Rejected"), *sent("FirmwareStatusNotification", {"status": "Downloading",
                                                                                  "requestId": 7})]
    assert judged(refused) == []


# -- registration ----------------------------------------------------------------------------------------


def boot(status: str) -> list[dict]:
    request = {"reason": "PowerUp", "chargingStation": {"model": "M", "vendorName": "V"}}
    return sent("BootNotification", request, {"currentTime": "2024-05-06T10:00:00Z", "interval": 10,
                                              "status": status})


def test_pending_allows_only_boot_and_what_the_csms_asked_for():
    records = [
        *boot("Pending"),
        *sent("TriggerMessage", {"requestedMessage": "StatusNotification"}, {"status": "Accepted"}, by=CSMS_TO_CS),
        *sent("StatusNotification", {"timestamp": "2024-05-06T10:00:00Z", "connectorStatus": "Available",
                                     "evseId": 1, "connectorId": 1}),
        *sent("GetBaseReport", {"requestId": 7, "reportBase": "FullInventory"}, {"status": "Accepted"},
              by=CSMS_TO_CS),
        *sent("NotifyReport", {"requestId": 7, "generatedAt": "2024-05-06T10:00:00Z", "seqNo": 0, "tbc": True}),
        *sent("NotifyReport", {"requestId": 7, "generatedAt": "2024-05-06T10:00:00Z", "seqNo": 1}),
        *boot("Accepted"),
        *sent("Heartbeat", {}),
    ]
    assert judged(records) == []


def test_pending_breaks_it_with_an_unasked_message():
    assert judged([*boot("Pending"), *sent("Heartbeat", {})]) == one("B02 Pending")
    rejected_trigger = sent("TriggerMessage", {"requestedMessage": "Heartbeat"}, {"status": "Rejected"}, by=CSMS_TO_CS)
    assert judged([*boot("Pending"), *rejected_trigger, *sent("Heartbeat", {})]) == one("B02 Pending")


def test_rejected_allows_nothing_but_boot_even_on_a_new_connection():
    records = [*boot("Rejected"), event("connection closed", connection=1, code=1000),
               *sent("Heartbeat", {}, connection=2)]
    assert judged(records) == one("B03 Rejected")
    assert judged([*boot("Rejected"), *boot("Accepted"), *sent("Heartbeat", {})]) == []


def test_registration_known_at_attach_time():
    assert judged(sent("Heartbeat", {})) == []
    assert judged(sent("Heartbeat", {}), registration="Pending") == one("B02 Pending")


# -- assembly --------------------------------------------------------------------------------------------


def test_monitors_per_role_are_fresh_and_the_csms_gets_only_its_rules():
    assert len(monitors_for("csms")) == 4
    assert monitors_for("cs")[0] is not monitors_for("cs")[0]
    never_started = transaction(tx("Updated", 0))
    assert judged(never_started, "csms") == []
    assert judged(never_started, "cs") == one("§2.1 Started first")


def test_every_rule_names_a_requirement_and_quotes_its_text():
    for rule in RULES.values():
        assert rule.requirement and len(rule.text) > 40
