"""OCPP-J framing (Part 4 §4): every frame rule of harness.core.frames, valid and invalid."""

from __future__ import annotations

import json

import pytest

from harness.core.frames import (
    MAX_ERROR_DESCRIPTION_LENGTH,
    MAX_MESSAGE_ID_LENGTH,
    Call,
    CallError,
    CallResult,
    FrameError,
    MessageType,
    RpcErrorCode,
    parse,
    serialize,
)

BOOT = {"reason": "PowerUp", "chargingStation": {"model": "SingleSocketCharger", "vendorName": "VendorX"}}
ID36 = "x" * 36
ID37 = "x" * 37


def frame_error(text: str) -> FrameError:
    with pytest.raises(FrameError) as info:
        parse(text)
    return info.value


def dumps(value) -> str:
    return json.dumps(value, ensure_ascii=False)


# -- constants ---------------------------------------------------------------------------------------


def test_limits_are_those_of_part4_tables_4_and_7():
    assert MAX_MESSAGE_ID_LENGTH == 36
    assert MAX_ERROR_DESCRIPTION_LENGTH == 255


def test_message_type_numbers_are_table_3():
    assert {m.name: m.value for m in MessageType} == {"CALL": 2, "CALLRESULT": 3, "CALLERROR": 4}


def test_error_codes_are_exactly_table_8():
    table_8 = {
        "FormatViolation",
        "GenericError",
        "InternalError",
        "MessageTypeNotSupported",
        "NotImplemented",
        "NotSupported",
        "OccurrenceConstraintViolation",
        "PropertyConstraintViolation",
        "ProtocolError",
        "RpcFrameworkError",
        "SecurityError",
        "TypeConstraintViolation",
    }
    assert len(RpcErrorCode) == 12
    assert {code.value for code in RpcErrorCode} == table_8
    assert all(code.name == code.value for code in RpcErrorCode)


# -- valid frames ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "frame",
    [
        Call("19223201", "BootNotification", BOOT),
        Call("1", "Heartbeat", {}),
        Call(ID36, "Heartbeat", {}),
        Call("a", "RequestStartTransaction", {"idToken": {"idToken": "x", "type": "Central"}, "remoteStartId": 1}),
        Call("dm", "SetDisplayMessage", {"message": {"message": {"format": "UTF8", "content": "Ladevorgang läuft — 充电中 ⚡"}}}),
        CallResult("19223201", {"currentTime": "2013-02-01T20:53:32.486Z", "interval": 300, "status": "Accepted"}),
        CallResult("1", {}),
        CallResult(ID36, {"nested": {"list": [1, 2.5, None, True, "ü"]}}),
        CallError("162376037", "NotSupported", "SetDisplayMessageRequest not implemented", {}),
        CallError("1", "GenericError", "", {}),
        CallError("1", "FormatViolation", "x" * 255, {"why": ["a", "b"]}),
        CallError("1", "InternalError", "Überlast – 过载", {"detail": "ñ"}),
    ],
    ids=lambda f: f"{type(f).__name__}-{serialize(f)[:40]}",
)
def test_valid_frames_round_trip(frame):
    text = serialize(frame)
    assert parse(text) == frame
    assert serialize(parse(text)) == text
    assert json.loads(text) == frame.to_list()


@pytest.mark.parametrize("code", list(RpcErrorCode))
def test_every_table_8_code_is_accepted(code):
    frame = parse(f'[4,"id","{code.value}","",{{}}]')
    assert isinstance(frame, CallError)
    assert frame.error_code == code.value


def test_serialize_keeps_non_ascii_text_unescaped():
    text = serialize(Call("1", "DataTransfer", {"vendorId": "Müller", "data": "充电 ⚡"}))
    assert "Müller" in text and "充电 ⚡" in text
    assert "\\u" not in text
    text.encode("utf-8")  # is UTF-8 encodable


def test_serialize_is_compact_and_ordered():
    assert serialize(Call("1", "Heartbeat", {})) == '[2,"1","Heartbeat",{}]'
    assert serialize(CallResult("1", {"a": 1})) == '[3,"1",{"a":1}]'
    assert serialize(CallError("1", "GenericError", "d", {"k": "v"})) == '[4,"1","GenericError","d",{"k":"v"}]'


def test_parse_accepts_the_spec_examples_with_whitespace():
    call = parse(
        """[2,
        "19223201",
        "BootNotification",
        {
          "reason": "PowerUp",
          "chargingStation": {"model": "SingleSocketCharger", "vendorName": "VendorX"}
        }
      ]"""
    )
    assert call == Call("19223201", "BootNotification", BOOT)
    assert call.message_type is MessageType.CALL
    result = parse('[3, "19223201", {"currentTime": "2013-02-01T20:53:32.486Z", "interval": 300, "status": "Accepted"}]')
    assert isinstance(result, CallResult) and result.message_type is MessageType.CALLRESULT
    assert result.payload["interval"] == 300
    error = parse('[4, "162376037", "NotSupported", "SetDisplayMessageRequest not implemented", {}]')
    assert error == CallError("162376037", "NotSupported", "SetDisplayMessageRequest not implemented", {})
    assert error.message_type is MessageType.CALLERROR


def test_parse_preserves_non_ascii_and_escaped_text():
    frame = parse('[2,"1","DataTransfer",{"vendorId":"M\\u00fcller","data":"充电"}]')
    assert frame.payload == {"vendorId": "Müller", "data": "充电"}


@pytest.mark.parametrize("message_id", ["1", ID36, "-1", "é" * 36, "550e8400-e29b-41d4-a716-446655440000", " "])
def test_message_ids_of_1_to_36_characters_are_accepted(message_id):
    assert parse(dumps([2, message_id, "Heartbeat", {}])).message_id == message_id
    assert parse(dumps([3, message_id, {}])).message_id == message_id
    assert parse(dumps([4, message_id, "GenericError", "", {}])).message_id == message_id


# -- not a frame at all: RpcFrameworkError with "-1" -------------------------------------------------


@pytest.mark.parametrize(
    "text",
    [
        "",
        "   ",
        "not json",
        "[2, '1', 'Heartbeat', {}]",
        '[2,"1","Heartbeat",{}',
        '[2,"1","Heartbeat",{}]]',
        '[2,"1","Heartbeat",{},]',
        "[" * 100_000,
        '[2,"1","Heartbeat",{"a":NaN}]',
        '[2,"1","Heartbeat",{"a":Infinity}]',
        '[2,"1","Heartbeat",{"a":-Infinity}]',
    ],
    ids=lambda t: repr(t[:30]),
)
def test_text_that_is_not_json_is_an_rpc_framework_error_with_unreadable_id(text):
    error = frame_error(text)
    assert error.error_code is RpcErrorCode.RpcFrameworkError
    assert error.message_id == "-1"
    assert error.message_type is None
    assert "JSON" in error.reason
    assert str(error) == error.reason


@pytest.mark.parametrize(
    "text", ["{}", '{"0":2}', '"[2]"', "2", "null", "true", '"x"', "1.5"], ids=repr
)
def test_json_that_is_not_an_array_is_rejected(text):
    error = frame_error(text)
    assert error.error_code is RpcErrorCode.RpcFrameworkError
    assert error.message_id == "-1"
    assert error.message_type is None


def test_empty_array_is_rejected():
    error = frame_error("[]")
    assert error.error_code is RpcErrorCode.RpcFrameworkError
    assert error.message_id == "-1"
    assert error.message_type is None


@pytest.mark.parametrize(
    "number",
    ["2.0", "3.0", "2.5", "true", "false", '"2"', '"CALL"', "null", "[2]", "{}"],
)
def test_message_type_that_is_not_an_integer_is_rejected(number):
    error = frame_error(f'[{number},"abc","Heartbeat",{{}}]')
    assert error.error_code is RpcErrorCode.RpcFrameworkError
    assert error.message_id == "-1"
    assert error.message_type is None


# -- unknown message type: MessageTypeNotSupported (§4.1.3, §4.4) ------------------------------------


@pytest.mark.parametrize("number", [0, 1, 5, 6, 8, -2, 99])
def test_unknown_message_type_is_not_supported_and_answered_with_its_id(number):
    error = frame_error(f'[{number},"abc-123","Heartbeat",{{}}]')
    assert error.error_code is RpcErrorCode.MessageTypeNotSupported
    assert error.message_id == "abc-123"
    assert error.message_type == number


@pytest.mark.parametrize(
    "rest",
    ["", ",17", ",null", ',""', f',"{ID37}"', ',["abc"]', ',{"id":"abc"}'],
)
def test_unknown_message_type_with_unreadable_id_is_answered_with_minus_one(rest):
    error = frame_error(f"[5{rest}]")
    assert error.error_code is RpcErrorCode.MessageTypeNotSupported
    assert error.message_id == "-1"
    assert error.message_type == 5


def test_unknown_message_type_ignores_the_rest_of_the_frame():
    # §4.1.3: the payload of an unknown type is ignored, whatever its shape.
    error = frame_error('[5,"id",1,2,3,4,5,6]')
    assert error.error_code is RpcErrorCode.MessageTypeNotSupported
    assert error.message_id == "id"


# -- messageId (§4.1.4, Table 4) ---------------------------------------------------------------------


@pytest.mark.parametrize("message_type", [2, 3, 4])
@pytest.mark.parametrize(
    "message_id",
    [17, 1.5, None, True, [], {}, ["a"], "", ID37, "é" * 37],
    ids=lambda v: "37chars" if v == ID37 else repr(v)[:12],
)
def test_unreadable_message_id_is_rpc_framework_error_with_minus_one(message_type, message_id):
    rest = {2: ["Heartbeat", {}], 3: [{}], 4: ["GenericError", "", {}]}[message_type]
    error = frame_error(dumps([message_type, message_id, *rest]))
    assert error.error_code is RpcErrorCode.RpcFrameworkError
    assert error.message_id == "-1"
    assert error.message_type == message_type


@pytest.mark.parametrize("message_type", [2, 3, 4])
def test_missing_message_id_is_rpc_framework_error_with_minus_one(message_type):
    error = frame_error(f"[{message_type}]")
    assert error.error_code is RpcErrorCode.RpcFrameworkError
    assert error.message_id == "-1"
    assert error.message_type == message_type


def test_message_id_of_36_is_accepted_and_37_rejected():
    assert parse(dumps([2, ID36, "Heartbeat", {}])).message_id == ID36
    assert frame_error(dumps([2, ID37, "Heartbeat", {}])).message_id == "-1"


# -- element count (§4.2) ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    "elements",
    [
        [2, "id"],
        [2, "id", "Heartbeat"],
        [2, "id", "Heartbeat", {}, {}],
        [2, "id", "Heartbeat", {}, None],
        [3, "id"],
        [3, "id", {}, {}],
        [3, "id", "Heartbeat", {}],
        [4, "id"],
        [4, "id", "GenericError"],
        [4, "id", "GenericError", ""],
        [4, "id", "GenericError", "", {}, {}],
    ],
    ids=lambda e: f"type{e[0]}-{len(e)}elements",
)
def test_wrong_element_count_is_rpc_framework_error_with_the_id(elements):
    error = frame_error(dumps(elements))
    assert error.error_code is RpcErrorCode.RpcFrameworkError
    assert error.message_id == "id"
    assert error.message_type == elements[0]
    assert str(len(elements)) in error.reason


# -- action (§4.1.6) ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "action", [None, 1, True, ["Heartbeat"], {"a": "Heartbeat"}, ""], ids=repr
)
def test_action_that_is_not_a_non_empty_string_is_rejected(action):
    error = frame_error(dumps([2, "id", action, {}]))
    assert error.error_code is RpcErrorCode.RpcFrameworkError
    assert error.message_id == "id"
    assert error.message_type is MessageType.CALL


@pytest.mark.parametrize("action", ["BootNotificationRequest", "HeartbeatRequest", "Request"])
def test_action_with_request_suffix_is_rejected(action):
    error = frame_error(dumps([2, "id", action, {}]))
    assert error.error_code is RpcErrorCode.RpcFrameworkError
    assert error.message_id == "id"
    assert error.message_type is MessageType.CALL
    assert "Request" in error.reason


@pytest.mark.parametrize("action", ["RequestStartTransaction", "RequestStopTransaction", "NoSuchAction", "heartbeat"])
def test_unknown_or_request_prefixed_action_is_not_a_framing_error(action):
    # Whether an action is known is decided by the RPC layer (NotImplemented), not by the framing.
    assert parse(dumps([2, "id", action, {}])).action == action


# -- payload (§4.1.5) --------------------------------------------------------------------------------


@pytest.mark.parametrize("payload", [None, [], [{}], "", "{}", 0, 1.5, True])
@pytest.mark.parametrize("message_type", [2, 3])
def test_payload_that_is_not_an_object_is_format_violation(message_type, payload):
    elements = [2, "id", "Heartbeat", payload] if message_type == 2 else [3, "id", payload]
    error = frame_error(dumps(elements))
    assert error.error_code is RpcErrorCode.FormatViolation
    assert error.message_id == "id"
    assert error.message_type == message_type


# -- CALLERROR fields (§4.2.3, Table 7) --------------------------------------------------------------


@pytest.mark.parametrize(
    "code",
    ["NoSuchCode", "", "formatviolation", "FormatViolation ", "Accepted", None, 4, True, ["GenericError"], {"c": 1}],
    ids=repr,
)
def test_callerror_with_unknown_error_code_is_protocol_error(code):
    error = frame_error(dumps([4, "id", code, "", {}]))
    assert error.error_code is RpcErrorCode.ProtocolError
    assert error.message_id == "id"
    assert error.message_type is MessageType.CALLERROR


@pytest.mark.parametrize("description", [None, 1, True, [], {}, ["x"]], ids=repr)
def test_callerror_with_non_string_description_is_protocol_error(description):
    error = frame_error(dumps([4, "id", "GenericError", description, {}]))
    assert error.error_code is RpcErrorCode.ProtocolError
    assert error.message_id == "id"
    assert error.message_type is MessageType.CALLERROR


@pytest.mark.parametrize("length,ok", [(0, True), (1, True), (254, True), (255, True), (256, False), (1000, False)])
def test_callerror_description_is_at_most_255_characters(length, ok):
    text = dumps([4, "id", "GenericError", "ü" * length, {}])
    if ok:
        assert parse(text).error_description == "ü" * length
    else:
        error = frame_error(text)
        assert error.error_code is RpcErrorCode.ProtocolError
        assert error.message_id == "id"
        assert "256" in error.reason or str(length) in error.reason


@pytest.mark.parametrize("details", [None, [], [{}], "", "{}", 0, True], ids=repr)
def test_callerror_with_details_not_an_object_is_protocol_error(details):
    error = frame_error(dumps([4, "id", "GenericError", "", details]))
    assert error.error_code is RpcErrorCode.ProtocolError
    assert error.message_id == "id"
    assert error.message_type is MessageType.CALLERROR


# -- FrameError tells malformed requests from malformed responses ------------------------------------


@pytest.mark.parametrize(
    "text,message_type",
    [
        ('[2,"id","Heartbeat",null]', MessageType.CALL),
        ('[2,"id","HeartbeatRequest",{}]', MessageType.CALL),
        ('[3,"id",null]', MessageType.CALLRESULT),
        ('[3,"id"]', MessageType.CALLRESULT),
        (f'[3,"{ID37}",{{}}]', MessageType.CALLRESULT),
        ('[4,"id","Nope","",{}]', MessageType.CALLERROR),
        ('[4,"id","GenericError","",null]', MessageType.CALLERROR),
        ('[4,"id","GenericError"]', MessageType.CALLERROR),
        ('[4,17,"GenericError","",{}]', MessageType.CALLERROR),
        ('[7,"id"]', 7),
        ("not json", None),
        ("[]", None),
        ('["3","id",{}]', None),
    ],
)
def test_frame_error_carries_the_message_type_when_readable(text, message_type):
    error = frame_error(text)
    assert error.message_type == message_type
    assert isinstance(error, ValueError)
    assert error.reason


def test_parse_never_raises_anything_but_frame_error_on_odd_inputs():
    odd = [
        '[4,"id",{"a":1},"",{}]',
        '[4,"id",[1],"",{}]',
        '[2,"id",{"a":1},{}]',
        '[5,{"a":1}]',
        '[[2],"id","Heartbeat",{}]',
        '[{"t":2},"id","Heartbeat",{}]',
        '[2,{"a":[]},"Heartbeat",{}]',
        "[1e400]",
        "[" + "9" * 5000 + "]",
    ]
    for text in odd:
        with pytest.raises(FrameError):
            parse(text)


def test_serialize_refuses_nan_because_it_is_not_json() -> None:
    with pytest.raises(ValueError):
        serialize(Call("1", "Heartbeat", {"x": float("nan")}))


@pytest.mark.parametrize(
    "text, why",
    [
        ('[2,"\\ud800","Heartbeat",{}]', "lone surrogate"),
        ('[2,"1","Heartbeat",{"note":"a\\udfffb"}]', "lone surrogate"),
        ('[3,"1",{"currentTime":"\\uDC00"}]', "lone surrogate"),
        ('[2,"1","Heartbeat",{"n":1E310}]', "out of range"),
    ],
)
def test_text_no_json_could_carry_on_is_a_broken_frame_with_an_unreadable_id(text: str, why: str) -> None:
    """Valid JSON to Python's parser, but neither Unicode text (a lone surrogate) nor a finite number: the
    harness could neither answer it nor write it to a trace, so it is a broken frame answered with id "-1"."""
    with pytest.raises(FrameError) as broken:
        parse(text)
    assert why in broken.value.reason and broken.value.message_id == "-1"


def test_a_surrogate_pair_is_ordinary_text() -> None:
    assert parse('[2,"1","DataTransfer",{"vendorId":"\\ud83d\\ude00"}]').payload == {"vendorId": "\U0001F600"}
