"""Fuzzing the RPC state of a connection (harness.core.rpc).

``receive`` never raises for anything the peer sent, reports every broken frame as a problem, and answers a
broken or refused CALL with a CALLERROR the peer can read; the bookkeeping (the harness's outstanding CALL, the
peer's unanswered CALLs) follows a model of Part 4 §4.1.1 and §4.1.4 whatever the peer and the harness do.
"""

from __future__ import annotations

import itertools
import json
import sys
from typing import Any

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st
from hypothesis.stateful import Bundle, RuleBasedStateMachine, invariant, precondition, rule
from ocpp_text import (
    REQUESTS,
    RESPONSES,
    assert_callerror_reply,
    assert_evidence,
    assert_sendable,
    frame_texts,
    hostile_texts,
    json_objects,
    message_ids,
    unencodable_values,
)

from harness.core.frames import Call, CallError, CallResult, RpcErrorCode, parse
from harness.core.rpc import Inbound, LocalProtocolError, Outbound, RpcEndpoint
from harness.core.schemas import ocpp201


def counter_ids():
    numbers = itertools.count(1)
    return lambda: f"h-{next(numbers)}"


def new_endpoint() -> RpcEndpoint:
    return RpcEndpoint(ocpp201(), new_message_id=counter_ids())


def check_inbound(inbound: Inbound, text: str) -> None:
    """What every received text gives: evidence that can be written, and a reply that can be sent."""
    assert isinstance(inbound, Inbound) and inbound.raw == text
    for problem in inbound.problems:
        assert_evidence(problem)
    for violation in inbound.violations:
        assert_evidence(str(violation))
    if inbound.frame is None:
        assert inbound.problems
    if inbound.auto_reply is not None:
        reply = inbound.auto_reply
        assert isinstance(reply.frame, CallError)
        assert_callerror_reply(reply.text, reply.frame)
        if isinstance(inbound.frame, Call):
            assert reply.frame.message_id == inbound.frame.message_id
        assert not inbound.is_compliant


@given(frame_texts(), st.booleans())
@example('[2,"1","BootNotification",{"reason":"\\ud800","chargingStation":{"model":"M","vendorName":"V"}}]', False)
@example('[2,"1","NoSuchAction\\ud800",{}]', False)
@example('[2,"\ud800","Heartbeat",{}]', False)
@example('[2,"1","BootNotification",{"reason":' + "[" * 985 + "]" * 985 + "}]", False)
@example('[2,"1","Heartbeat",' + "[" * 985 + "]" * 985 + "]", False)
def test_receive_never_raises_and_every_reply_can_be_sent(text: str, call_outstanding: bool) -> None:
    endpoint = new_endpoint()
    if call_outstanding:
        endpoint.send_call("Heartbeat", {})
    check_inbound(endpoint.receive(text), text)


@given(hostile_texts)
def test_receive_never_raises_on_any_text(text: str) -> None:
    check_inbound(new_endpoint().receive(text), text)


@pytest.mark.parametrize(
    "text",
    [
        '[2,"\\ud800","Heartbeat",{}]',
        '[2,"\\ud800","NoSuchAction",{}]',
        '[2,"\\ud800","BootNotification",{"reason":"Booted"}]',
        '[2,"1","BootNotification",{"reason":"\\ud800","chargingStation":{"model":"M","vendorName":"V"}}]',
        '[7,"\\ud800",{}]',
        '[2,"\\ud800","HeartbeatRequest",{}]',
        '[2,"1","Heartbeat",{"n":1E310}]',
        '[2,"1E310","Heartbeat",{"n":-1E310}]',
    ],
    ids=[
        "call", "not-implemented", "schema-violation", "violation-text", "type-not-supported", "bad-action",
        "1E310", "-1E310",
    ],
)
def test_a_call_with_text_no_json_can_carry_is_answered_with_id_minus_1(text: str) -> None:
    """The surrogate frame of issue 8 and the variants fuzzing shrank it to: the CALLERROR never echoes an
    unreadable id or description, so it can be sent and the connection and its traces survive."""
    inbound = new_endpoint().receive(text)
    check_inbound(inbound, text)
    assert inbound.frame is None
    assert inbound.auto_reply is not None and inbound.auto_reply.frame.message_id == "-1"
    assert inbound.auto_reply.frame.error_code == RpcErrorCode.RpcFrameworkError.value


@pytest.mark.parametrize(
    "text",
    ['[3,"\\ud800",{}]', '[3,"h-1",{"currentTime":"\\udfff"}]', '[4,"h-1","\\ud800","",{}]', '[3,"h-1",{"n":1E310}]'],
)
def test_a_response_with_text_no_json_can_carry_is_reported_and_the_call_stays_outstanding(text: str) -> None:
    endpoint = new_endpoint()
    sent = endpoint.send_call("Heartbeat", {})
    inbound = endpoint.receive(text)
    check_inbound(inbound, text)
    assert inbound.auto_reply is None and inbound.answers is None
    assert endpoint.outstanding_call == sent.frame


def test_a_harness_call_that_cannot_be_encoded_is_refused_and_leaves_nothing_outstanding() -> None:
    endpoint = new_endpoint()
    with pytest.raises(LocalProtocolError):
        endpoint.send_call("DataTransfer", {"vendorId": "V", "data": float("nan")})
    assert endpoint.outstanding_call is None
    endpoint.send_call("Heartbeat", {})


@pytest.mark.parametrize("value", [float("inf"), "\ud800"])
def test_a_harness_answer_that_cannot_be_encoded_is_refused_and_the_call_still_waits(value: Any) -> None:
    endpoint = new_endpoint()
    call = endpoint.receive('[2,"cs-1","DataTransfer",{"vendorId":"V"}]').frame
    with pytest.raises(LocalProtocolError):
        endpoint.send_result(call, {"status": "Accepted", "data": value})
    with pytest.raises(LocalProtocolError):
        endpoint.send_error(call, RpcErrorCode.GenericError, "", {"x": value})
    assert endpoint.unanswered_calls == {"cs-1": call}
    assert_sendable(endpoint.send_result(call, {"status": "Accepted"}).text)


def test_answering_an_earlier_call_whose_id_the_peer_reused_is_refused() -> None:
    """The peer reused an id while its first CALL waited: the id now belongs to the second CALL, and the
    harness cannot answer the first one with it without answering the wrong CALL."""
    endpoint = new_endpoint()
    first = endpoint.receive('[2,"dup","Heartbeat",{}]').frame
    second = endpoint.receive('[2,"dup","DataTransfer",{"vendorId":"V"}]')
    assert any("already used" in problem for problem in second.problems)
    with pytest.raises(LocalProtocolError):
        endpoint.send_result(first, RESPONSES["Heartbeat"])
    assert endpoint.unanswered_calls == {"dup": second.frame}
    endpoint.send_result(second.frame, RESPONSES["DataTransfer"])
    assert endpoint.unanswered_calls == {}


DEEP_TEMPLATES = [
    '[2,"1","Heartbeat",{}]',
    '[{},"1","Heartbeat",{{}}]',
    '[2,{},"Heartbeat",{{}}]',
    '[2,"1",{},{{}}]',
    '[2,"1","DataTransfer",{{"vendorId":"V","data":{}}}]',
    '[2,"1","BootNotification",{{"reason":{},"chargingStation":{{"model":"M","vendorName":"V"}}}}]',
    '[3,"h-1",{}]',
    '[3,"h-1",{{"currentTime":{}}}]',
    '[4,"h-1","GenericError","",{}]',
    '[4,"h-1",{},"",{{}}]',
]


def deepest_parsable() -> int:
    """The deepest nesting Python's JSON parser accepts from here: about the recursion limit less the stack."""
    low, high = 1, sys.getrecursionlimit()
    while low < high:
        middle = (low + high + 1) // 2
        try:
            json.loads("[" * middle + "]" * middle)
        except RecursionError:
            high = middle - 1
        else:
            low = middle
    return low


@pytest.mark.parametrize("template", DEEP_TEMPLATES)
def test_a_frame_nested_as_deep_as_the_parser_goes_is_handled(template: str) -> None:
    """The frame the parser just accepts is the one the next recursive step (an error message quoting the
    member, schema validation, the trace) chokes on: every depth around that edge, at every position."""
    deepest = deepest_parsable()
    for depth in range(max(deepest - 40, 1), deepest + 3):
        endpoint = new_endpoint()
        endpoint.send_call("Heartbeat", {})
        text = template.format("[" * depth + "]" * depth)
        check_inbound(endpoint.receive(text), text)


# -- the bookkeeping against a model --------------------------------------------------------------------

requests = st.sampled_from(sorted(REQUESTS.items()))
peer_ids = st.one_of(st.sampled_from(["a", "b", "dup", "h-1", "-1"]), message_ids)


class RpcBookkeeping(RuleBasedStateMachine):
    """Part 4 §4.1.1 and §4.1.4 as a model: one outstanding CALL of the harness, answered only by its id; the
    peer's CALLs wait until the harness answers them, an id reused is a problem, a refused CALL waits for
    nothing."""

    peer_calls = Bundle("peer_calls")

    def __init__(self) -> None:
        super().__init__()
        self.endpoint = new_endpoint()
        self.outstanding: Call | None = None
        self.unanswered: dict[str, Call] = {}
        self.seen_ids: set[str] = set()

    # -- the harness sends -----------------------------------------------------------------------------

    @rule(request=requests)
    def send_call(self, request: tuple[str, dict[str, Any]]) -> None:
        action, payload = request
        if self.outstanding is not None:
            with pytest.raises(LocalProtocolError):
                self.endpoint.send_call(action, payload)
            return
        sent = self.endpoint.send_call(action, payload)
        assert_sendable(sent.text)
        assert parse(sent.text) == sent.frame
        self.outstanding = sent.frame

    @rule(value=unencodable_values)
    def send_call_that_cannot_be_encoded(self, value: Any) -> None:
        with pytest.raises(LocalProtocolError):
            self.endpoint.send_call("DataTransfer", {"vendorId": "V", "data": value}, invalid_on_purpose=True)

    @rule()
    def forget_outstanding_call(self) -> None:
        assert self.endpoint.forget_outstanding_call() == self.outstanding
        self.outstanding = None

    @rule(call=peer_calls, as_error=st.booleans())
    def answer_peer_call(self, call: Call, as_error: bool) -> None:
        if self.unanswered.get(call.message_id) != call:
            with pytest.raises(LocalProtocolError):
                self._answer(call, as_error)
            return
        sent = self._answer(call, as_error)
        assert_sendable(sent.text)
        assert parse(sent.text) == sent.frame and sent.frame.message_id == call.message_id
        del self.unanswered[call.message_id]

    @rule(call=peer_calls, value=unencodable_values)
    def answer_peer_call_with_what_cannot_be_encoded(self, call: Call, value: Any) -> None:
        with pytest.raises(LocalProtocolError):
            self.endpoint.send_error(call, RpcErrorCode.GenericError, "", {"x": value})

    def _answer(self, call: Call, as_error: bool) -> Outbound:
        if as_error:
            return self.endpoint.send_error(call, RpcErrorCode.GenericError, "no")
        return self.endpoint.send_result(call, RESPONSES[call.action])

    # -- the peer sends --------------------------------------------------------------------------------

    @rule(target=peer_calls, message_id=peer_ids, request=requests, valid=st.booleans())
    def peer_call(self, message_id: str, request: tuple[str, dict[str, Any]], valid: bool) -> Call:
        action, payload = request
        if not valid:
            payload = {**payload, "notInTheSchema": 1}
        text = json.dumps([2, message_id, action, payload])
        inbound = self.endpoint.receive(text)
        check_inbound(inbound, text)
        call = Call(message_id, action, payload)
        assert inbound.frame == call
        assert any("already used" in p for p in inbound.problems) == (message_id in self.seen_ids)
        assert any("unanswered" in p for p in inbound.problems) == bool(self.unanswered)
        self.seen_ids.add(message_id)
        assert (inbound.auto_reply is None) == valid
        if valid:  # a refused CALL was answered at once: it waits for nothing, and an earlier one still waits
            self.unanswered[message_id] = call
        return call

    @precondition(lambda self: self.outstanding is not None)
    @rule(as_error=st.booleans())
    def peer_answers(self, as_error: bool) -> None:
        call = self.outstanding
        assert call is not None
        frame = (
            CallError(call.message_id, RpcErrorCode.NotSupported.value, "no", {})
            if as_error
            else CallResult(call.message_id, RESPONSES[call.action])
        )
        text = json.dumps(frame.to_list())
        inbound = self.endpoint.receive(text)
        check_inbound(inbound, text)
        assert inbound.answers == call and inbound.action == call.action and inbound.is_compliant
        self.outstanding = None

    @rule(message_id=peer_ids, payload=json_objects, as_error=st.booleans())
    def peer_answers_an_unknown_id(self, message_id: str, payload: dict[str, Any], as_error: bool) -> None:
        if self.outstanding is not None and message_id == self.outstanding.message_id:
            return
        frame = CallError(message_id, "GenericError", "", payload) if as_error else CallResult(message_id, payload)
        text = json.dumps(frame.to_list())
        inbound = self.endpoint.receive(text)
        check_inbound(inbound, text)
        assert inbound.answers is None and inbound.auto_reply is None
        assert len(inbound.problems) == 1 and "answers no CALL" in inbound.problems[0]

    @rule(text=st.one_of(frame_texts(), hostile_texts))
    def peer_sends_anything(self, text: str) -> None:
        inbound = self.endpoint.receive(text)
        check_inbound(inbound, text)
        frame = inbound.frame
        if inbound.answers is not None:
            assert self.outstanding is not None and frame is not None
            assert inbound.answers == self.outstanding and frame.message_id == self.outstanding.message_id
            self.outstanding = None
        elif isinstance(frame, Call):
            self.seen_ids.add(frame.message_id)
            if inbound.auto_reply is None:
                self.unanswered[frame.message_id] = frame

    @invariant()
    def bookkeeping_matches_the_model(self) -> None:
        assert self.endpoint.outstanding_call == self.outstanding
        assert self.endpoint.unanswered_calls == self.unanswered


TestRpcBookkeeping = RpcBookkeeping.TestCase
TestRpcBookkeeping.settings = settings(stateful_step_count=25)  # the profile's examples, shorter runs
