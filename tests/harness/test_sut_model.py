"""The SUT model follows the frames: registration, connectors, transactions, variables, availability."""

from __future__ import annotations

import itertools
from typing import Any

from harness.sut_model import CSMS_TO_STATION, STATION_TO_CSMS, SutModel

_ids = itertools.count(1)


def call(model: SutModel, direction: str, action: str, payload: dict[str, Any], result: dict[str, Any] | None = None) -> None:
    """Feed a CALL and, when given, its CALLRESULT travelling the other way."""
    message_id = str(next(_ids))
    model.observe({"direction": direction, "messageType": "CALL", "messageId": message_id, "action": action, "payload": payload})
    if result is not None:
        model.observe({"messageType": "CALLRESULT", "messageId": message_id, "action": action, "payload": result})


def booted(model: SutModel, status: str = "Accepted") -> None:
    model.observe({"event": "connection opened", "connection": 1})
    call(model, STATION_TO_CSMS, "BootNotification", {"reason": "PowerUp"}, {"status": status, "interval": 5})


def test_registration_and_connection_follow_boot_and_close() -> None:
    model = SutModel()
    assert model.departures() == ["no open connection"]
    booted(model, "Pending")
    assert model.departures() == ["registration Pending"] and model.boot_interval == 5
    call(model, STATION_TO_CSMS, "BootNotification", {"reason": "Triggered"}, {"status": "Accepted", "interval": 5})
    assert model.accepted and model.departures() == []
    model.observe({"event": "connection closed", "connection": 1})
    assert not model.accepted


def test_connector_state_from_status_notification_or_any_notify_event_item() -> None:
    model = SutModel()
    booted(model)
    call(model, STATION_TO_CSMS, "StatusNotification", {"evseId": 1, "connectorId": 1, "connectorStatus": "Occupied"}, {})
    event = {"component": {"name": "Connector", "evse": {"id": 2, "connectorId": 1}}, "variable": {"name": "AvailabilityState"}, "actualValue": "Occupied"}
    other = {"component": {"name": "EVSE", "evse": {"id": 2}}, "variable": {"name": "AvailabilityState"}, "actualValue": "Occupied"}
    call(model, STATION_TO_CSMS, "NotifyEvent", {"eventData": [other, event]}, {})
    assert model.occupied() == [(1, 1), (2, 1)]
    assert "connector 1/1 Occupied" in model.departures()


def test_transactions_open_on_their_first_event_and_close_on_ended() -> None:
    model = SutModel()
    booted(model)
    started = {"eventType": "Started", "seqNo": 0, "evse": {"id": 1, "connectorId": 1}, "transactionInfo": {"transactionId": "T1"}}
    call(model, STATION_TO_CSMS, "TransactionEvent", started, {})
    call(model, STATION_TO_CSMS, "TransactionEvent", {"eventType": "Updated", "seqNo": 1, "idToken": {"idToken": "A", "type": "Central"}, "transactionInfo": {"transactionId": "T1"}}, {})
    running = model.running_transaction(1)
    assert running is not None and running.seq_no == 1 and running.id_token == {"idToken": "A", "type": "Central"}
    call(model, STATION_TO_CSMS, "TransactionEvent", {"eventType": "Ended", "seqNo": 2, "transactionInfo": {"transactionId": "T1"}}, {})
    assert model.transactions == {}


def test_variables_read_and_set_keep_what_the_case_changed_for_the_restore() -> None:
    model = SutModel()
    booted(model)
    tx = {"component": {"name": "TxCtrlr"}, "variable": {"name": "TxStartPoint"}}
    call(model, CSMS_TO_STATION, "GetVariables", {"getVariableData": [tx]}, {"getVariableResult": [{**tx, "attributeStatus": "Accepted", "attributeValue": "PowerPathClosed"}]})
    model.begin_case()
    call(model, CSMS_TO_STATION, "SetVariables", {"setVariableData": [{**tx, "attributeValue": "EVConnected, Authorized"}]}, {"setVariableResult": [{**tx, "attributeStatus": "Accepted"}]})
    assert model.tx_start_points() == ["EVConnected", "Authorized"]
    assert model.changed == {("TxCtrlr", "TxStartPoint"): "PowerPathClosed"}
    rejected = {"component": {"name": "X"}, "variable": {"name": "Y"}}
    call(model, CSMS_TO_STATION, "SetVariables", {"setVariableData": [{**rejected, "attributeValue": "1"}]}, {"setVariableResult": [{**rejected, "attributeStatus": "Rejected"}]})
    assert ("X", "Y") not in model.changed
    model.begin_case()
    assert model.changed == {}


def test_change_availability_answered_accepted_marks_the_evse_inoperative_until_operative() -> None:
    model = SutModel()
    booted(model)
    call(model, CSMS_TO_STATION, "ChangeAvailability", {"operationalStatus": "Inoperative", "evse": {"id": 1}}, {"status": "Accepted"})
    assert model.departures() == ["EVSE 1 Inoperative"]
    call(model, CSMS_TO_STATION, "ChangeAvailability", {"operationalStatus": "Operative", "evse": {"id": 1}}, {"status": "Accepted"})
    assert model.departures() == []


def test_reservations_last_until_cancelled_expired_or_used() -> None:
    model = SutModel()
    booted(model)
    for reservation_id in (1, 2, 3):
        call(model, CSMS_TO_STATION, "ReserveNow", {"id": reservation_id, "expiryDateTime": "2030-01-01T00:00:00Z", "idToken": {"idToken": "A", "type": "Central"}}, {"status": "Accepted"})
    call(model, CSMS_TO_STATION, "ReserveNow", {"id": 4, "expiryDateTime": "2030-01-01T00:00:00Z", "idToken": {"idToken": "A", "type": "Central"}}, {"status": "Occupied"})
    assert model.departures() == ["reservation 1 active", "reservation 2 active", "reservation 3 active"]
    call(model, CSMS_TO_STATION, "CancelReservation", {"reservationId": 1}, {"status": "Accepted"})
    call(model, STATION_TO_CSMS, "ReservationStatusUpdate", {"reservationId": 2, "reservationUpdateStatus": "Expired"}, {})
    call(model, STATION_TO_CSMS, "TransactionEvent", {"eventType": "Started", "seqNo": 0, "reservationId": 3, "transactionInfo": {"transactionId": "T"}}, {})
    assert model.reservations == set()


def test_what_the_station_sent_since_its_last_boot() -> None:
    model = SutModel()
    booted(model)
    call(model, STATION_TO_CSMS, "StatusNotification", {"evseId": 1, "connectorId": 1, "connectorStatus": "Available"}, {})
    call(model, STATION_TO_CSMS, "SecurityEventNotification", {"type": "StartupOfTheDevice", "timestamp": "2024-05-01T12:00:00Z"}, {})
    assert model.reported_since_boot == {(1, 1)} and model.security_event_since_boot
    call(model, STATION_TO_CSMS, "BootNotification", {"reason": "RemoteReset"}, {"status": "Accepted", "interval": 5})
    assert model.reported_since_boot == set() and not model.security_event_since_boot


def _tx_start_point(model: SutModel, value: str) -> None:
    data = {"component": {"name": "TxCtrlr"}, "variable": {"name": "TxStartPoint"}}
    call(model, CSMS_TO_STATION, "GetVariables", {"getVariableData": [data]}, {"getVariableResult": [{**data, "attributeStatus": "Accepted", "attributeValue": value}]})


def test_a_plug_in_under_tx_start_point_ev_connected_makes_a_transaction_event_due_until_it_comes() -> None:
    """The StatusNotification Occupied and the TransactionEvent Started may come in either order (Part 6 §2.1)."""
    model = SutModel()
    booted(model)
    _tx_start_point(model, "EVConnected,Authorized")
    call(model, STATION_TO_CSMS, "StatusNotification", {"evseId": 1, "connectorId": 1, "connectorStatus": "Occupied"}, {})
    call(model, STATION_TO_CSMS, "StatusNotification", {"evseId": 1, "connectorId": 1, "connectorStatus": "Available"}, {})
    assert model.transaction_due == {1}
    assert any("TransactionEvent due on EVSE 1" in d for d in model.departures())
    started = {"eventType": "Started", "seqNo": 0, "evse": {"id": 1, "connectorId": 1}, "transactionInfo": {"transactionId": "T1"}}
    call(model, STATION_TO_CSMS, "TransactionEvent", started, {})
    assert model.transaction_due == set()


def test_no_transaction_event_is_due_when_the_plug_in_alone_starts_none() -> None:
    model = SutModel()
    booted(model)
    _tx_start_point(model, "Authorized")
    call(model, STATION_TO_CSMS, "StatusNotification", {"evseId": 1, "connectorId": 1, "connectorStatus": "Occupied"}, {})
    assert model.transaction_due == set()


def test_on_a_new_connection_the_registration_holds_only_once_the_station_shows_it() -> None:
    """A reconnect (still Accepted) and a reboot (not Accepted until it boots again) look the same until the
    station's first frame: a request sent in between meets a station still booting (SecurityError)."""
    model = SutModel()
    booted(model)
    model.observe({"event": "connection opened", "connection": 2})
    assert not model.accepted and any("not yet shown on connection 2" in d for d in model.departures())
    call(model, STATION_TO_CSMS, "Heartbeat", {}, {"currentTime": "2024-05-01T12:00:00Z"})
    assert model.accepted and model.departures() == []
    model.observe({"event": "connection opened", "connection": 3})
    call(model, STATION_TO_CSMS, "BootNotification", {"reason": "PowerUp"}, {"status": "Accepted", "interval": 5})
    assert model.accepted


def test_a_request_of_the_csms_on_a_new_connection_shows_nothing_of_the_station() -> None:
    model = SutModel()
    booted(model)
    model.observe({"event": "connection opened", "connection": 2})
    call(model, CSMS_TO_STATION, "GetVariables", {"getVariableData": []}, {"getVariableResult": []})
    assert not model.accepted
