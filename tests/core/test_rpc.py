"""RPC state of one OCPP-J connection (harness.core.rpc): synchronicity, correlation, auto-replies."""

from __future__ import annotations

import itertools
import json

import pytest

from harness.core.frames import MAX_MESSAGE_ID_LENGTH, Call, CallError, CallResult, RpcErrorCode, parse
from harness.core import rpc
from harness.core.rpc import Inbound, LocalProtocolError, Outbound, RpcEndpoint
from harness.core.schemas import ocpp201

BOOT = {"reason": "PowerUp", "chargingStation": {"model": "SingleSocketCharger", "vendorName": "VendorX"}}
BOOT_RESPONSE = {"currentTime": "2024-05-06T10:00:00Z", "interval": 300, "status": "Accepted"}
HEARTBEAT_RESPONSE = {"currentTime": "2024-05-06T10:00:00Z"}
STATUS = {"timestamp": "2024-05-06T10:00:00Z", "connectorStatus": "Available", "evseId": 1, "connectorId": 1}


def counter_ids():
    numbers = itertools.count(1)
    return lambda: f"id-{next(numbers)}"


@pytest.fixture
def endpoint() -> RpcEndpoint:
    return RpcEndpoint(ocpp201(), new_message_id=counter_ids())


def text(*elements) -> str:
    return json.dumps(list(elements), ensure_ascii=False)


def error_reply(inbound: Inbound) -> CallError:
    assert inbound.auto_reply is not None
    reply = inbound.auto_reply
    assert isinstance(reply.frame, CallError)
    assert parse(reply.text) == reply.frame  # a well-formed CALLERROR, ready to send
    return reply.frame


# -- sending CALLs (§4.1.1) ----------------------------------------------------------------------------


def test_send_call_produces_the_call_and_makes_it_outstanding(endpoint):
    out = endpoint.send_call("BootNotification", BOOT)
    assert isinstance(out, Outbound)
    assert out.frame == Call("id-1", "BootNotification", BOOT)
    assert parse(out.text) == out.frame
    assert out.action == "BootNotification"
    assert out.violations == ()
    assert endpoint.outstanding_call == out.frame


def test_second_call_while_one_is_outstanding_raises(endpoint):
    endpoint.send_call("BootNotification", BOOT)
    with pytest.raises(LocalProtocolError, match="BootNotification"):
        endpoint.send_call("Heartbeat", {})
    assert endpoint.outstanding_call.action == "BootNotification"


@pytest.mark.parametrize(
    "answer",
    [
        lambda id_: text(3, id_, BOOT_RESPONSE),
        lambda id_: text(4, id_, "InternalError", "busy", {}),
    ],
    ids=["CALLRESULT", "CALLERROR"],
)
def test_after_the_matching_answer_another_call_may_be_sent(endpoint, answer):
    first = endpoint.send_call("BootNotification", BOOT)
    inbound = endpoint.receive(answer(first.frame.message_id))
    assert inbound.answers == first.frame
    assert inbound.action == "BootNotification"
    assert inbound.problems == ()
    assert endpoint.outstanding_call is None
    second = endpoint.send_call("Heartbeat", {})
    assert endpoint.outstanding_call == second.frame
    assert second.frame.message_id != first.frame.message_id


def test_forget_outstanding_call_allows_another_call(endpoint):
    first = endpoint.send_call("BootNotification", BOOT)
    assert endpoint.forget_outstanding_call() == first.frame
    assert endpoint.outstanding_call is None
    assert endpoint.forget_outstanding_call() is None
    endpoint.send_call("Heartbeat", {})
    # a late answer to the forgotten CALL answers nothing now
    late = endpoint.receive(text(3, first.frame.message_id, BOOT_RESPONSE))
    assert late.answers is None and late.problems
    assert endpoint.outstanding_call.action == "Heartbeat"


@pytest.mark.parametrize("action", ["NoSuchAction", "BootNotificationRequest", "heartbeat", ""])
def test_send_call_of_unknown_action_raises(endpoint, action):
    with pytest.raises(LocalProtocolError):
        endpoint.send_call(action, {})
    assert endpoint.outstanding_call is None


def test_send_call_with_invalid_payload_raises_and_sends_nothing(endpoint):
    with pytest.raises(LocalProtocolError, match="reason"):
        endpoint.send_call("BootNotification", {"chargingStation": BOOT["chargingStation"]})
    assert endpoint.outstanding_call is None
    endpoint.send_call("Heartbeat", {})  # nothing stuck


def test_send_call_invalid_on_purpose_records_the_violations(endpoint):
    payload = {"reason": "Booted", "chargingStation": {"model": "M"}}
    out = endpoint.send_call("BootNotification", payload, invalid_on_purpose=True)
    assert {(v.path, v.keyword) for v in out.violations} == {
        ("/reason", "enum"),
        ("/chargingStation", "required"),
    }
    assert out.frame.payload == payload
    assert endpoint.outstanding_call == out.frame


def test_send_call_valid_payload_invalid_on_purpose_has_no_violations(endpoint):
    assert endpoint.send_call("Heartbeat", {}, invalid_on_purpose=True).violations == ()


def test_generated_message_ids_are_uuids_at_most_36_chars_and_unique():
    endpoint = RpcEndpoint(ocpp201())
    ids = set()
    for _ in range(500):
        out = endpoint.send_call("Heartbeat", {})
        message_id = out.frame.message_id
        assert isinstance(message_id, str) and 0 < len(message_id) <= MAX_MESSAGE_ID_LENGTH
        ids.add(message_id)
        assert endpoint.receive(text(3, message_id, HEARTBEAT_RESPONSE)).is_compliant
    assert len(ids) == 500


# -- incoming CALLs ------------------------------------------------------------------------------------


def test_valid_incoming_call_is_unanswered_until_send_result(endpoint):
    inbound = endpoint.receive(text(2, "cs-1", "BootNotification", BOOT))
    assert inbound.frame == Call("cs-1", "BootNotification", BOOT)
    assert inbound.action == "BootNotification"
    assert inbound.is_compliant and inbound.problems == () and inbound.violations == ()
    assert inbound.auto_reply is None
    assert endpoint.unanswered_calls == {"cs-1": inbound.frame}

    out = endpoint.send_result(inbound.frame, BOOT_RESPONSE)
    assert out.frame == CallResult("cs-1", BOOT_RESPONSE)
    assert parse(out.text) == out.frame
    assert out.action == "BootNotification"
    assert endpoint.unanswered_calls == {}


def test_answering_a_call_twice_raises(endpoint):
    call = endpoint.receive(text(2, "cs-1", "Heartbeat", {})).frame
    endpoint.send_result(call, HEARTBEAT_RESPONSE)
    with pytest.raises(LocalProtocolError):
        endpoint.send_result(call, HEARTBEAT_RESPONSE)
    with pytest.raises(LocalProtocolError):
        endpoint.send_error(call, RpcErrorCode.GenericError)


def test_answering_a_call_that_was_never_received_raises(endpoint):
    with pytest.raises(LocalProtocolError):
        endpoint.send_result(Call("nope", "Heartbeat", {}), HEARTBEAT_RESPONSE)


def test_send_error_answers_the_call(endpoint):
    call = endpoint.receive(text(2, "cs-1", "Heartbeat", {})).frame
    out = endpoint.send_error(call, RpcErrorCode.NotSupported, "d" * 300, {"k": "v"})
    assert out.frame == CallError("cs-1", "NotSupported", "d" * 255, {"k": "v"})
    assert parse(out.text) == out.frame
    assert endpoint.unanswered_calls == {}


def test_send_result_with_invalid_payload_raises_and_the_call_stays_unanswered(endpoint):
    call = endpoint.receive(text(2, "cs-1", "Heartbeat", {})).frame
    with pytest.raises(LocalProtocolError, match="currentTime"):
        endpoint.send_result(call, {})
    # nothing was sent: the peer's CALL still waits, and the harness can still answer it properly
    assert endpoint.unanswered_calls == {"cs-1": call}
    assert endpoint.send_result(call, HEARTBEAT_RESPONSE).frame == CallResult("cs-1", HEARTBEAT_RESPONSE)
    assert endpoint.unanswered_calls == {}


def test_send_result_invalid_on_purpose_records_the_violations(endpoint):
    call = endpoint.receive(text(2, "cs-2", "Heartbeat", {})).frame
    out = endpoint.send_result(call, {}, invalid_on_purpose=True)
    assert [(v.path, v.keyword) for v in out.violations] == [("", "required")]
    assert out.frame == CallResult("cs-2", {})
    assert endpoint.unanswered_calls == {}


def test_incoming_call_while_own_call_outstanding_is_fine(endpoint):
    # §4.1.1 NOTE: CALLs of both sides may cross.
    endpoint.send_call("Reset", {"type": "Immediate"})
    inbound = endpoint.receive(text(2, "cs-1", "StatusNotification", STATUS))
    assert inbound.is_compliant
    assert endpoint.outstanding_call.action == "Reset"


@pytest.mark.parametrize("action", ["NoSuchAction", "StartTransaction", "heartbeat"])
def test_incoming_unknown_action_is_answered_not_implemented(endpoint, action):
    inbound = endpoint.receive(text(2, "cs-7", action, {}))
    assert inbound.frame == Call("cs-7", action, {})
    assert inbound.action == action
    assert len(inbound.problems) == 1 and action in inbound.problems[0]
    assert not inbound.is_compliant
    reply = error_reply(inbound)
    assert reply.message_id == "cs-7"
    assert reply.error_code == RpcErrorCode.NotImplemented.value
    assert endpoint.unanswered_calls == {}


@pytest.mark.parametrize(
    "payload,code",
    [
        ({"chargingStation": BOOT["chargingStation"]}, RpcErrorCode.OccurrenceConstraintViolation),
        ({**BOOT, "reason": "Booted"}, RpcErrorCode.PropertyConstraintViolation),
        ({**BOOT, "reason": 1}, RpcErrorCode.TypeConstraintViolation),
        ({**BOOT, "extra": 1}, RpcErrorCode.FormatViolation),
        ({**BOOT, "chargingStation": {"model": "M" * 21, "vendorName": "V"}}, RpcErrorCode.PropertyConstraintViolation),
    ],
)
def test_incoming_schema_invalid_call_is_answered_with_the_mapped_code(endpoint, payload, code):
    inbound = endpoint.receive(text(2, "cs-3", "BootNotification", payload))
    assert inbound.violations
    assert inbound.violations[0].error_code is code
    assert inbound.problems == ()
    assert not inbound.is_compliant
    reply = error_reply(inbound)
    assert reply.message_id == "cs-3"
    assert reply.error_code == code.value
    assert inbound.violations[0].path in reply.error_description or inbound.violations[0].path == ""
    assert len(reply.error_description) <= 255
    assert endpoint.unanswered_calls == {}
    # the auto-reply answered it: a next CALL is no synchronicity problem
    assert endpoint.receive(text(2, "cs-4", "Heartbeat", {})).is_compliant


def test_incoming_call_with_several_violations_lists_them_all(endpoint):
    payload = {"reason": "Booted", "chargingStation": {"model": 1, "vendorName": "V" * 51}, "x": 1}
    inbound = endpoint.receive(text(2, "cs-3", "BootNotification", payload))
    assert {(v.path, v.keyword) for v in inbound.violations} == {
        ("", "additionalProperties"),
        ("/reason", "enum"),
        ("/chargingStation/model", "type"),
        ("/chargingStation/vendorName", "maxLength"),
    }
    assert error_reply(inbound).error_code == inbound.violations[0].error_code.value


@pytest.mark.parametrize(
    "raw,code,message_id",
    [
        ("not json", RpcErrorCode.RpcFrameworkError, "-1"),
        ("{}", RpcErrorCode.RpcFrameworkError, "-1"),
        ("[]", RpcErrorCode.RpcFrameworkError, "-1"),
        ('["2","cs-1","Heartbeat",{}]', RpcErrorCode.RpcFrameworkError, "-1"),
        ('[2,17,"Heartbeat",{}]', RpcErrorCode.RpcFrameworkError, "-1"),
        ('[2,"","Heartbeat",{}]', RpcErrorCode.RpcFrameworkError, "-1"),
        (f'[2,"{"x" * 37}","Heartbeat",{{}}]', RpcErrorCode.RpcFrameworkError, "-1"),
        ('[2,"cs-1","Heartbeat"]', RpcErrorCode.RpcFrameworkError, "cs-1"),
        ('[2,"cs-1","HeartbeatRequest",{}]', RpcErrorCode.RpcFrameworkError, "cs-1"),
        ('[2,"cs-1",null,{}]', RpcErrorCode.RpcFrameworkError, "cs-1"),
        ('[2,"cs-1","Heartbeat",null]', RpcErrorCode.FormatViolation, "cs-1"),
        ('[5,"cs-1",{}]', RpcErrorCode.MessageTypeNotSupported, "cs-1"),
        ('[1,"cs-1",{}]', RpcErrorCode.MessageTypeNotSupported, "cs-1"),
        ("[5]", RpcErrorCode.MessageTypeNotSupported, "-1"),
    ],
)
def test_malformed_call_text_is_answered_with_a_callerror(endpoint, raw, code, message_id):
    inbound = endpoint.receive(raw)
    assert inbound.raw == raw
    assert inbound.frame is None
    assert len(inbound.problems) == 1 and inbound.problems[0].startswith("malformed frame")
    reply = error_reply(inbound)
    assert reply.error_code == code.value
    assert reply.message_id == message_id
    assert reply.error_details == {}
    assert endpoint.unanswered_calls == {}


@pytest.mark.parametrize(
    "raw",
    [
        '[3,"id-1",null]',
        '[3,"id-1"]',
        '[3,17,{}]',
        '[4,"id-1","NoSuchCode","",{}]',
        '[4,"id-1","GenericError",1,{}]',
        '[4,"id-1","GenericError","",null]',
        '[4,"id-1","GenericError"]',
        '[4,"id-1",["GenericError"],"",{}]',
    ],
)
def test_malformed_response_is_a_problem_without_auto_reply(endpoint, raw):
    endpoint.send_call("Heartbeat", {})
    inbound = endpoint.receive(raw)
    assert inbound.frame is None
    assert inbound.problems and inbound.problems[0].startswith("malformed frame")
    assert inbound.auto_reply is None
    assert inbound.answers is None


@pytest.mark.parametrize(
    "raw",
    ['[3,"other",{"currentTime":"2024-05-06T10:00:00Z"}]', '[4,"other","GenericError","",{}]'],
    ids=["CALLRESULT", "CALLERROR"],
)
def test_response_with_unknown_id_is_a_problem_and_the_call_stays_outstanding(endpoint, raw):
    out = endpoint.send_call("Heartbeat", {})
    inbound = endpoint.receive(raw)
    assert inbound.frame is not None
    assert inbound.answers is None and inbound.action is None
    assert len(inbound.problems) == 1 and "other" in inbound.problems[0]
    assert inbound.auto_reply is None
    assert endpoint.outstanding_call == out.frame
    # the real answer still clears it
    assert endpoint.receive(text(3, out.frame.message_id, HEARTBEAT_RESPONSE)).is_compliant
    assert endpoint.outstanding_call is None


def test_response_when_no_call_is_outstanding_is_a_problem(endpoint):
    inbound = endpoint.receive(text(3, "id-1", HEARTBEAT_RESPONSE))
    assert inbound.problems and "no CALL outstanding" in inbound.problems[0]
    assert inbound.answers is None


def test_schema_invalid_callresult_reports_violations_and_answers_the_call(endpoint):
    out = endpoint.send_call("BootNotification", BOOT)
    inbound = endpoint.receive(text(3, out.frame.message_id, {"status": "Maybe", "interval": "300"}))
    assert inbound.answers == out.frame
    assert inbound.action == "BootNotification"
    assert inbound.problems == ()
    assert {(v.path, v.keyword) for v in inbound.violations} == {
        ("", "required"),
        ("/status", "enum"),
        ("/interval", "type"),
    }
    assert not inbound.is_compliant
    assert inbound.auto_reply is None
    assert endpoint.outstanding_call is None


def test_callerror_answering_our_call_clears_it(endpoint):
    out = endpoint.send_call("BootNotification", BOOT)
    inbound = endpoint.receive(text(4, out.frame.message_id, "NotSupported", "nope", {"a": 1}))
    assert inbound.frame == CallError(out.frame.message_id, "NotSupported", "nope", {"a": 1})
    assert inbound.answers == out.frame
    assert inbound.action == "BootNotification"
    assert inbound.is_compliant
    assert endpoint.outstanding_call is None


def test_second_incoming_call_while_first_unanswered_is_a_synchronicity_problem(endpoint):
    first = endpoint.receive(text(2, "cs-1", "BootNotification", BOOT))
    second = endpoint.receive(text(2, "cs-2", "Heartbeat", {}))
    assert first.is_compliant
    assert len(second.problems) == 1
    assert "BootNotification" in second.problems[0] and "unanswered" in second.problems[0]
    assert second.auto_reply is None
    assert set(endpoint.unanswered_calls) == {"cs-1", "cs-2"}
    # once both are answered, a third CALL is fine
    endpoint.send_result(first.frame, BOOT_RESPONSE)
    endpoint.send_result(second.frame, HEARTBEAT_RESPONSE)
    assert endpoint.receive(text(2, "cs-3", "Heartbeat", {})).is_compliant


def test_reused_incoming_message_id_is_a_problem(endpoint):
    first = endpoint.receive(text(2, "cs-1", "Heartbeat", {}))
    endpoint.send_result(first.frame, HEARTBEAT_RESPONSE)
    again = endpoint.receive(text(2, "cs-1", "StatusNotification", STATUS))
    assert len(again.problems) == 1 and "cs-1" in again.problems[0] and "already used" in again.problems[0]
    assert again.auto_reply is None


def test_reused_message_id_of_a_rejected_call_is_still_a_problem(endpoint):
    endpoint.receive(text(2, "cs-1", "NoSuchAction", {}))
    again = endpoint.receive(text(2, "cs-1", "Heartbeat", {}))
    assert any("already used" in p for p in again.problems)


def test_receive_never_raises(endpoint):
    endpoint.send_call("Heartbeat", {})
    for raw in [
        "",
        "\x00",
        "[" * 10_000,
        '[2,"a","Heartbeat",{"x":NaN}]',
        '[4,{"a":1},"GenericError","",{}]',
        '[4,"a",{"c":1},"",{}]',
        '[2,"a",{"c":1},{}]',
        '[3,"a",[]]',
        '[9,[1],{}]',
    ]:
        inbound = endpoint.receive(raw)
        assert isinstance(inbound, Inbound)
        assert inbound.problems


def test_answering_an_auto_replied_call_raises_local_protocol_error(endpoint):
    for raw in ['[2,"cs-1","NoSuchAction",{}]', '[2,"cs-2","Heartbeat",{"x":1}]']:
        inbound = endpoint.receive(raw)
        assert inbound.auto_reply is not None
        with pytest.raises(LocalProtocolError):
            endpoint.send_result(inbound.frame, {})
        with pytest.raises(LocalProtocolError):
            endpoint.send_error(inbound.frame, RpcErrorCode.GenericError)


def test_the_call_ids_kept_to_catch_a_reuse_are_bounded(monkeypatch: pytest.MonkeyPatch) -> None:
    """A flood of fresh ids does not grow the endpoint without end; a reuse within the window is still caught."""
    monkeypatch.setattr(rpc, "SEEN_CALL_IDS", 3)
    endpoint = RpcEndpoint(ocpp201())
    for number in range(5):
        inbound = endpoint.receive(json.dumps([2, f"id{number}", "Heartbeat", {}]))
        endpoint.send_result(inbound.frame, {"currentTime": "2024-01-01T00:00:00Z"})  # type: ignore[arg-type]
    assert len(endpoint._seen_call_ids) == 3
    reused = endpoint.receive(json.dumps([2, "id4", "Heartbeat", {}]))
    assert any("already used" in p for p in reused.problems)
