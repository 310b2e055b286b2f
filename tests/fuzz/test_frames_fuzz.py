"""Fuzzing the OCPP-J codec (harness.core.frames).

Whatever text a SUT sends, :func:`parse` gives a frame or a :class:`FrameError` that can be answered and
quoted; whatever the harness would send, :func:`serialize` gives UTF-8 RFC 8259 JSON or refuses with a typed
error; valid frames survive serialize∘parse.
"""

from __future__ import annotations

import json

import pytest
from hypothesis import example, given
from hypothesis import strategies as st
from ocpp_text import (
    assert_frame_error,
    assert_sendable,
    decoded,
    frame_texts,
    has_surrogate,
    hostile_texts,
    unencodable_values,
    valid_frames,
)

from harness.core.frames import (
    MAX_NESTING_DEPTH,
    Call,
    CallError,
    CallResult,
    Frame,
    FrameError,
    RpcErrorCode,
    UnencodableFrame,
    parse,
    serialize,
)


def check_parse(text: str) -> Frame | FrameError:
    try:
        frame = parse(text)
    except FrameError as error:
        assert_frame_error(error)
        return error
    assert not has_surrogate(frame.message_id)
    again = serialize(frame)
    assert_sendable(again)
    assert parse(again) == frame
    return frame


@given(frame_texts())
@example('[5,"\\ud800",{}]')
@example('[4,"\\ud800","GenericError","",{}]')
@example('[4,"1","GenericError","\\udfff",{}]')
@example('[3,"\\uDC00",{}]')
@example('[2,"\ud800","Heartbeat",{}]')  # a raw surrogate: a str can hold one even if no socket delivers it
@example('[2,"1","Heartbeat",{"n":-1E310}]')
@example('[2,"1","Heartbeat",' + "[" * 985 + "]" * 985 + "]")
@example('[[[[[[[[' * 123 + "]]]]]]]]" * 123 + ',"1","Heartbeat",{}]')
def test_a_frame_shaped_text_parses_or_is_a_broken_frame_that_can_be_answered(text: str) -> None:
    check_parse(text)


@given(hostile_texts)
def test_any_text_parses_or_is_a_broken_frame_that_can_be_answered(text: str) -> None:
    check_parse(text)


@given(st.binary())
@example(b'[2,"\xed\xa0\x80","Heartbeat",{}]')  # a surrogate encoded in UTF-8 (CESU-8): not UTF-8
def test_a_binary_message_decoded_as_the_session_does_parses_or_is_broken(data: bytes) -> None:
    check_parse(decoded(data))


@given(valid_frames, st.booleans())
def test_valid_frames_round_trip(frame: Frame, ascii_only: bool) -> None:
    text = serialize(frame)
    assert_sendable(text)
    assert parse(text) == frame
    assert serialize(parse(text)) == text
    assert parse(json.dumps(frame.to_list(), ensure_ascii=ascii_only)) == frame  # as a SUT may escape it


@given(valid_frames, unencodable_values, st.sampled_from(["payload", "id", "description"]))
def test_serialize_refuses_what_no_ocpp_j_text_can_carry(frame: Frame, value: object, where: str) -> None:
    """The harness's own mistake (a lone surrogate, NaN, a set, nesting deeper than JSON encoders go) is a
    typed error before anything is sent, never a text the peer cannot read or a crash in the socket layer."""
    if where == "id" and isinstance(value, str):
        frame = Call(value, "Heartbeat", {})
    elif where == "description" and isinstance(value, str):
        frame = CallError("1", RpcErrorCode.GenericError.value, value, {})
    else:
        frame = CallResult(frame.message_id, {"x": value})
    with pytest.raises(UnencodableFrame):
        serialize(frame)


@pytest.mark.parametrize("depth", [MAX_NESTING_DEPTH - 1, MAX_NESTING_DEPTH])
def test_a_frame_nested_up_to_the_limit_is_read(depth: int) -> None:
    """The limit counts the frame's own array: a payload of depth - 2 nested arrays fills it exactly."""
    data = "[" * (depth - 2) + "]" * (depth - 2)
    frame = parse(f'[2,"1","DataTransfer",{{"vendorId":"V","data":{data}}}]')
    assert isinstance(frame, Call)
    assert_sendable(serialize(frame))


@pytest.mark.parametrize(
    "text",
    [
        '[2,"1","DataTransfer",{"vendorId":"V","data":' + "[" * MAX_NESTING_DEPTH + "]" * MAX_NESTING_DEPTH + "}]",
        '[2,"1","Heartbeat",' + '{"a":' * 985 + "1" + "}" * 985 + "]",
        "[" * 100_000 + "]" * 100_000,
    ],
    ids=["one-too-deep", "985-objects", "100000-arrays"],
)
def test_a_frame_nested_deeper_than_the_limit_is_a_broken_frame_that_says_so(text: str) -> None:
    """JSON this deep is legal, but no OCPP 2.0.1 message nests deeper than 14 levels, and every recursive
    step after parsing (schema validation, the trace, a report) would risk Python's recursion limit."""
    with pytest.raises(FrameError) as broken:
        parse(text)
    assert broken.value.error_code is RpcErrorCode.RpcFrameworkError
    assert broken.value.message_id == "-1"
    assert f"deeper than {MAX_NESTING_DEPTH}" in broken.value.reason


def test_many_shallow_arrays_are_not_deep() -> None:
    data = ",".join(["[[1],{}]"] * 1_000)
    assert isinstance(parse(f'[2,"1","DataTransfer",{{"vendorId":"V","data":[{data}]}}]'), Call)


def test_brackets_inside_strings_do_not_count_as_nesting() -> None:
    frame = parse('[2,"1","DataTransfer",{"vendorId":"V","data":"' + "[{" * 500 + '\\"]"}]')
    assert isinstance(frame, Call) and frame.payload["data"].startswith("[{[{")


def test_a_raw_lone_surrogate_is_a_broken_frame_with_an_unreadable_id() -> None:
    """Only a str handed to the core directly can hold one (a WebSocket text frame is UTF-8), but the core must
    not accept what it could never answer."""
    with pytest.raises(FrameError) as broken:
        parse('[2,"\ud800","Heartbeat",{}]')
    assert broken.value.message_id == "-1" and "lone surrogate" in broken.value.reason


@pytest.mark.parametrize(
    "text",
    [
        '[2,"1","BootNotification",' + '"' + "x" * 100_000 + '"]',
        '[2,"1","' + "A" * 100_000 + 'Request",{}]',
        '[4,"1","' + "E" * 100_000 + '","",{}]',
        '[' + "9" * 4000 + ',"1",{}]',
    ],
    ids=["payload", "action", "error-code", "message-type"],
)
def test_a_broken_frame_quotes_the_offending_member_not_all_of_it(text: str) -> None:
    with pytest.raises(FrameError) as broken:
        parse(text)
    assert len(broken.value.reason) < 300
