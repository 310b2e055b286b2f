"""What a hostile SUT can put in a WebSocket message, as hypothesis strategies, and what the harness may send.

Hostile text is built from JSON *literals* (strings of JSON text), not from Python values, so that it can hold
what Python's json module would never write: escaped lone surrogates, ``1E310``, ``NaN``, 5,000-digit
integers, invalid escapes, nesting far deeper than the recursion limit.
"""

from __future__ import annotations

import json
from typing import Any

from hypothesis import strategies as st

from harness.core.frames import (
    MAX_ERROR_DESCRIPTION_LENGTH,
    MAX_MESSAGE_ID_LENGTH,
    Call,
    CallError,
    CallResult,
    FrameError,
    RpcErrorCode,
    parse,
)

BOOT = {"reason": "PowerUp", "chargingStation": {"model": "SingleSocketCharger", "vendorName": "VendorX"}}
STATUS = {"timestamp": "2024-05-06T10:00:00Z", "connectorStatus": "Available", "evseId": 1, "connectorId": 1}
NOW = "2024-05-06T10:00:00Z"

REQUESTS: dict[str, dict[str, Any]] = {
    "Heartbeat": {},
    "BootNotification": BOOT,
    "StatusNotification": STATUS,
    "DataTransfer": {"vendorId": "VendorX", "messageId": "m", "data": [1, {"k": "v"}]},
    "Authorize": {"idToken": {"idToken": "04A2B3C4", "type": "ISO14443"}},
    "Reset": {"type": "Immediate"},
}
"""A schema-valid request per action: the seeds that hostile payloads mutate, so schema validation runs."""

RESPONSES: dict[str, dict[str, Any]] = {
    "Heartbeat": {"currentTime": NOW},
    "BootNotification": {"currentTime": NOW, "interval": 300, "status": "Accepted"},
    "StatusNotification": {},
    "DataTransfer": {"status": "Accepted", "data": {"k": [1, 2.5, None]}},
    "Authorize": {"idTokenInfo": {"status": "Accepted"}},
    "Reset": {"status": "Accepted"},
}

MAX_REASON_LENGTH = 1_000
"""What a problem or a broken frame's reason may hold at most: evidence quotes the frame, it does not copy it."""


def _reject_constant(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")


def assert_sendable(text: str) -> Any:
    """Text the harness sends must be UTF-8 and RFC 8259 JSON: no lone surrogate, no NaN or Infinity."""
    text.encode("utf-8")
    return json.loads(text, parse_constant=_reject_constant)


def has_surrogate(text: str) -> bool:
    return any("\ud800" <= character <= "\udfff" for character in text)


def assert_evidence(text: str) -> None:
    """A reason or a problem: Unicode text a trace and a report can carry, bounded in size."""
    assert isinstance(text, str) and text
    text.encode("utf-8")
    assert len(text) <= MAX_REASON_LENGTH, f"{len(text)} characters of evidence"


def assert_readable_id(message_id: str) -> None:
    assert isinstance(message_id, str) and 0 < len(message_id) <= MAX_MESSAGE_ID_LENGTH
    assert not has_surrogate(message_id)


def assert_frame_error(error: FrameError) -> None:
    """A broken frame is described fully enough to answer it (Part 4 §4.2.3) and to quote it in a verdict."""
    assert isinstance(error.error_code, RpcErrorCode)
    assert_readable_id(error.message_id)
    assert error.message_type is None or isinstance(error.message_type, int)
    assert_evidence(error.reason)
    assert str(error) == error.reason


def assert_callerror_reply(text: str, frame: CallError) -> None:
    """An auto reply is a well-formed CALLERROR that parses back to itself."""
    assert_sendable(text)
    assert parse(text) == frame
    assert frame.error_code in RpcErrorCode._value2member_map_
    assert len(frame.error_description) <= MAX_ERROR_DESCRIPTION_LENGTH
    assert_readable_id(frame.message_id)


# -- JSON literals -------------------------------------------------------------------------------------

SURROGATE_ESCAPES = ["\\ud800", "\\uDBFF", "\\udc00", "\\uDFFF", "\\ud83d", "\\ude00", "\\uD800\\uD800"]
OTHER_ESCAPES = ['\\"', "\\\\", "\\/", "\\b", "\\n", "\\t", "\\u0000", "\\u00e9", "\\ud83d\\ude00"]

raw_characters = st.one_of(
    st.characters(exclude_characters='"\\', exclude_categories=("Cc", "Cs")),
    st.characters(min_codepoint=0xD800, max_codepoint=0xDFFF),  # raw surrogates: only a str can hold them
    st.sampled_from(["\x00", "\x1f", "\u2028", "\ufeff", "é", "⚡", "\U0001F600"]),
)


def raw_text(min_size: int = 0, max_size: int | None = None) -> st.SearchStrategy[str]:
    """Text that may hold raw surrogates (``st.text`` filters them out of any alphabet)."""
    return st.lists(raw_characters, min_size=min_size, max_size=max_size).map("".join)


tricky_string_literals = st.lists(
    st.one_of(
        raw_text(max_size=6),
        st.sampled_from(SURROGATE_ESCAPES),
        st.sampled_from(OTHER_ESCAPES),
    ),
    max_size=5,
).map(lambda pieces: '"' + "".join(pieces) + '"')
string_literals = st.one_of(
    st.text(st.characters(codec="utf-8"), max_size=12).map(lambda text: json.dumps(text, ensure_ascii=False)),
    tricky_string_literals,
)

NUMBER_LITERALS = [
    "0", "-0", "1", "-1", "2", "3", "4", "5", "2.0", "0.5", "1e2", "1E310", "-1E310", "1e-400", "2e308",
    "1.7976931348623157e308", "NaN", "Infinity", "-Infinity", "01", "1.", ".5", "+1", "0x10",
    "9" * 4300, "9" * 4301, "-" + "9" * 5000, str(2**64), str(2**1023), "1" + "0" * 400 + ".5",
]

number_literals = st.one_of(
    st.sampled_from(NUMBER_LITERALS),
    st.integers().map(str),
    st.floats(allow_nan=False, allow_infinity=False).map(repr),
)

scalar_literals = st.one_of(
    st.sampled_from(["null", "true", "false", "nul", "True", '"\\x"', '"\\u12"', '"unterminated', "'single'"]),
    number_literals,
    string_literals,
)


def _array(members: list[str]) -> str:
    return "[" + ",".join(members) + "]"


def _object(pairs: list[tuple[str, str]]) -> str:
    return "{" + ",".join(f"{key}:{value}" for key, value in pairs) + "}"


value_literals = st.recursive(
    scalar_literals,
    lambda children: st.one_of(
        st.lists(children, max_size=4).map(_array),
        st.lists(st.tuples(string_literals, children), max_size=4).map(_object),
    ),
    max_leaves=8,
)

nesting_depths = st.one_of(
    st.integers(0, 130),
    st.integers(900, 1100),
    st.sampled_from([99, 100, 101, 10_000, 100_000]),
)


@st.composite
def nested(draw: st.DrawFn, inner: st.SearchStrategy[str] = scalar_literals) -> str:
    """A literal wrapped in ``depth`` arrays or objects, or a mix of both."""
    depth = draw(nesting_depths)
    kind = draw(st.sampled_from(["array", "object", "mixed"]))
    core = draw(inner)
    if kind == "array":
        return "[" * depth + core + "]" * depth
    if kind == "object":
        return '{"a":' * depth + core + "}" * depth
    pattern = [('{"a":', "}"), ("[", "]")]
    openers = [pattern[i % 2] for i in range(depth)]
    return "".join(o for o, _ in openers) + core + "".join(c for _, c in reversed(openers))


def _rendered(value: Any) -> st.SearchStrategy[str]:
    """The JSON of a value, with non-ASCII text escaped or not, as a SUT may write it."""
    return st.booleans().map(lambda ascii_only: json.dumps(value, ensure_ascii=ascii_only))


# -- frame members -------------------------------------------------------------------------------------
# Each member of a frame has a valid form and a hostile one; a frame breaks at most two members, so that most
# texts get past the JSON parser and exercise the checks behind it.

valid_message_ids = st.one_of(
    st.sampled_from(['"a"', '"dup"', '"h-1"', '"-1"', '"' + "x" * MAX_MESSAGE_ID_LENGTH + '"']),
    st.text(st.characters(codec="utf-8"), min_size=1, max_size=MAX_MESSAGE_ID_LENGTH).flatmap(_rendered),
)
hostile_message_ids = st.one_of(
    st.sampled_from(['""', '"' + "x" * 37 + '"', '"' + "x" * 10_000 + '"', '"\\ud800"', '"a\\udfff"']),
    raw_text(1, MAX_MESSAGE_ID_LENGTH).map(lambda text: '"' + text + '"'),
    string_literals,
    value_literals,
)

valid_actions = st.sampled_from(sorted(REQUESTS)).map(json.dumps)
hostile_actions = st.one_of(
    st.sampled_from(['"HeartbeatRequest"', '""', '"NoSuchAction"', '"heartbeat"', '"' + "A" * 10_000 + '"']),
    string_literals,
    value_literals,
)


@st.composite
def payload_literals(draw: st.DrawFn, seeds: dict[str, dict[str, Any]] = REQUESTS) -> str:
    """A schema-valid payload of some action, or one with a field broken or added, so validation runs."""
    choice = draw(st.sampled_from(["valid", "field", "extra"]))
    seed = seeds[draw(st.sampled_from(sorted(seeds)))]
    pairs = [(json.dumps(key), json.dumps(value)) for key, value in seed.items()]
    if choice == "field" and pairs:
        index = draw(st.integers(0, len(pairs) - 1))
        pairs[index] = (pairs[index][0], draw(st.one_of(value_literals, nested())))
    elif choice == "extra":
        pairs.append((draw(string_literals), draw(value_literals)))
    return _object(pairs)


hostile_payloads = st.one_of(
    st.lists(st.tuples(string_literals, value_literals), max_size=4).map(_object),
    value_literals,
    nested(payload_literals()),
)

hostile_types = st.sampled_from(
    ["0", "1", "5", "-1", "2.0", '"2"', "true", "null", "[2]", "1E310", "9" * 5000, str(2**70)]
)

valid_error_codes = st.sampled_from([json.dumps(code.value) for code in RpcErrorCode])
hostile_error_codes = st.one_of(st.sampled_from(['"NoSuchCode"', '""', '"formatviolation"']), value_literals)

valid_descriptions = st.text(st.characters(codec="utf-8"), max_size=MAX_ERROR_DESCRIPTION_LENGTH).flatmap(_rendered)
hostile_descriptions = st.one_of(
    st.text(st.characters(codec="utf-8"), min_size=MAX_ERROR_DESCRIPTION_LENGTH + 1).flatmap(_rendered),
    string_literals,
    value_literals,
)

_MEMBERS: dict[str, list[tuple[st.SearchStrategy[str], st.SearchStrategy[str]]]] = {
    "call": [
        (st.just("2"), hostile_types),
        (valid_message_ids, hostile_message_ids),
        (valid_actions, hostile_actions),
        (payload_literals(), hostile_payloads),
    ],
    "result": [
        (st.just("3"), hostile_types),
        (valid_message_ids, hostile_message_ids),
        (payload_literals(RESPONSES), hostile_payloads),
    ],
    "error": [
        (st.just("4"), hostile_types),
        (valid_message_ids, hostile_message_ids),
        (valid_error_codes, hostile_error_codes),
        (valid_descriptions, hostile_descriptions),
        (st.lists(st.tuples(string_literals, value_literals), max_size=3).map(_object), hostile_payloads),
    ],
}


@st.composite
def frame_texts(draw: st.DrawFn) -> str:
    """``[2,id,action,payload]``, ``[3,id,payload]``, ``[4,id,code,description,details]`` with up to two
    members hostile, sometimes one member too few or too many; or an array of anything."""
    shape = draw(st.sampled_from(["call", "result", "error", "random"]))
    if shape == "random":
        members = [draw(st.one_of(hostile_types, st.sampled_from(["2", "3", "4"])))]
        members += draw(st.lists(value_literals, max_size=5))
    else:
        forms = _MEMBERS[shape]
        broken = draw(st.sets(st.integers(0, len(forms) - 1), max_size=2))
        members = [draw(hostile if index in broken else valid) for index, (valid, hostile) in enumerate(forms)]
    change = draw(st.sampled_from(["none", "none", "none", "drop", "append"]))
    if change == "drop":
        members.pop()
    elif change == "append":
        members.append(draw(value_literals))
    separator = draw(st.sampled_from([",", ", ", " ,\n\t"]))
    return "[" + separator.join(members) + "]"


def decoded(data: bytes) -> str:
    """What harness.session makes of a binary WebSocket message."""
    return data.decode("utf-8", errors="replace")


@st.composite
def corrupted_bytes(draw: st.DrawFn) -> bytes:
    """A frame's UTF-8 bytes with a few bytes overwritten: truncated sequences, stray continuation bytes."""
    data = bytearray(draw(frame_texts()).encode("utf-8", errors="surrogatepass"))
    for _ in range(draw(st.integers(1, 3))):
        if not data:
            break
        data[draw(st.integers(0, len(data) - 1))] = draw(st.integers(0, 255))
    return bytes(data)


hostile_texts = st.one_of(
    frame_texts(),
    nested(),
    nested(frame_texts()),
    value_literals,
    raw_text(),
    st.binary().map(decoded),
    corrupted_bytes().map(decoded),
)
"""Every kind of text a SUT can make the harness read."""


# -- valid frames --------------------------------------------------------------------------------------

unicode_text = st.text(st.characters(codec="utf-8"))

json_values = st.recursive(
    st.one_of(
        st.none(),
        st.booleans(),
        st.integers(),
        st.floats(allow_nan=False, allow_infinity=False),
        unicode_text,
    ),
    lambda children: st.one_of(
        st.lists(children, max_size=4), st.dictionaries(unicode_text, children, max_size=4)
    ),
    max_leaves=20,
)
json_objects = st.dictionaries(unicode_text, json_values, max_size=5)
message_ids = st.text(st.characters(codec="utf-8"), min_size=1, max_size=MAX_MESSAGE_ID_LENGTH)
actions = st.text(st.characters(codec="utf-8"), min_size=1).filter(lambda action: not action.endswith("Request"))

valid_frames = st.one_of(
    st.builds(Call, message_ids, actions, json_objects),
    st.builds(CallResult, message_ids, json_objects),
    st.builds(
        CallError,
        message_ids,
        st.sampled_from([code.value for code in RpcErrorCode]),
        st.text(st.characters(codec="utf-8"), max_size=MAX_ERROR_DESCRIPTION_LENGTH),
        json_objects,
    ),
)
"""Frames Part 4 allows, with payloads of any JSON (RFC 8259) value."""


def _deep_list(depth: int) -> list[Any]:
    value: list[Any] = []
    for _ in range(depth):
        value = [value]
    return value


unencodable_values = st.one_of(
    st.sampled_from([float("nan"), float("inf"), float("-inf"), "\ud800", "a\udfffb", {"\udc00": 1}, {1, 2}, b"x"]),
    st.integers(2_000, 5_000).map(_deep_list),
)
"""Values no OCPP-J text can carry: what a bug of the harness could put in a frame it sends."""
