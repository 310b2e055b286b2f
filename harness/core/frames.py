"""OCPP-J frames (Part 4 §4): strict parsing and serialisation of CALL, CALLRESULT and CALLERROR.

Rules enforced by :func:`parse`, and the RPC error code a receiver answers with when one is broken
(Part 4 §4.2.3 and Table 8; where Part 4 leaves the code open, the table is the harness's reading):

=============================================================  ===========================  =========
rule                                                           error code                   messageId
=============================================================  ===========================  =========
the text is valid JSON (§4.1.2)                                RpcFrameworkError            "-1"
its strings are Unicode text and its numbers finite (§4.1.2)   RpcFrameworkError            "-1"
it nests at most MAX_NESTING_DEPTH arrays and objects          RpcFrameworkError            "-1"
the JSON is an array whose first element is an integer         RpcFrameworkError            "-1"
the message type number is 2, 3 or 4 (§4.1.3, §4.4)            MessageTypeNotSupported      read
the messageId is a string of 1 to 36 characters (§4.1.4)       RpcFrameworkError            "-1"
a CALL has 4 elements, a CALLRESULT 3, a CALLERROR 5           RpcFrameworkError            read
the action is a non-empty string without "Request" (§4.1.6)    RpcFrameworkError            read
the payload is a JSON object, never null (§4.1.5)              FormatViolation              read
the errorCode is one of Table 8                                 ProtocolError                read
the errorDescription is a string of at most 255 characters     ProtocolError                read
the errorDetails is a JSON object (§4.2.3)                     ProtocolError                read
=============================================================  ===========================  =========

Whether the action is known and the payload matches its schema is not a framing question: see
:mod:`harness.core.schemas` and :mod:`harness.core.rpc`.

A reason quotes the member at fault through :func:`excerpt`, never all of it: a reason is evidence that goes
into verdicts, traces and reports, and a SUT chooses how long its members are.
"""

from __future__ import annotations

import enum
import json
import math
import re
from dataclasses import dataclass, field
from itertools import accumulate
from typing import Any, Union

__all__ = [
    "MAX_MESSAGE_ID_LENGTH",
    "MAX_ERROR_DESCRIPTION_LENGTH",
    "MAX_NESTING_DEPTH",
    "MessageType",
    "RpcErrorCode",
    "Call",
    "CallResult",
    "CallError",
    "Frame",
    "FrameError",
    "UnencodableFrame",
    "excerpt",
    "parse",
    "serialize",
]

MAX_MESSAGE_ID_LENGTH = 36
"""Part 4 Table 4: messageId is string[36]."""

MAX_ERROR_DESCRIPTION_LENGTH = 255
"""Part 4 Table 7: ErrorDescription is string[255]."""

MAX_NESTING_DEPTH = 100
"""How many arrays and objects a frame may nest, its own array included. Part 4 sets no limit; no OCPP 2.0.1
message nests deeper than 14 (ReportChargingProfiles), and everything recursive after parsing (schema
validation, traces, reports) stays far from Python's recursion limit of about 1,000."""

EXCERPT_LENGTH = 80
"""How much of a member a reason quotes."""

SURROGATE_ESCAPE = re.compile(r"\\u[dD][89a-fA-F]")
RAW_SURROGATE = re.compile("[\ud800-\udfff]")
"""How a surrogate gets into a frame: an escape ``\\ud800``-``\\udfff``, or a raw one in a str handed to the
core directly (websockets never delivers one). Only a frame holding one pays for the full check."""

_JSON_STRING = re.compile(r'"[^"\\]*(?:\\.[^"\\]*)*"')
_NOT_A_BRACKET = re.compile(r"[^\[\]{}]+")
_BRACKET_STEP = {"[": 1, "{": 1, "]": -1, "}": -1}

UNREADABLE_MESSAGE_ID = "-1"
"""Part 4 §4.2.3: the messageId of a CALLERROR answering a frame whose id cannot be read."""


class MessageType(enum.IntEnum):
    """Part 4 Table 3."""

    CALL = 2
    CALLRESULT = 3
    CALLERROR = 4


class RpcErrorCode(str, enum.Enum):
    """Part 4 Table 8: the only error codes a CALLERROR may carry."""

    FormatViolation = "FormatViolation"
    GenericError = "GenericError"
    InternalError = "InternalError"
    MessageTypeNotSupported = "MessageTypeNotSupported"
    NotImplemented = "NotImplemented"
    NotSupported = "NotSupported"
    OccurrenceConstraintViolation = "OccurrenceConstraintViolation"
    PropertyConstraintViolation = "PropertyConstraintViolation"
    ProtocolError = "ProtocolError"
    RpcFrameworkError = "RpcFrameworkError"
    SecurityError = "SecurityError"
    TypeConstraintViolation = "TypeConstraintViolation"


@dataclass(frozen=True)
class Call:
    """A request: ``[2, messageId, action, payload]``."""

    message_id: str
    action: str
    payload: dict[str, Any] = field(default_factory=dict)

    message_type = MessageType.CALL

    def to_list(self) -> list[Any]:
        return [int(MessageType.CALL), self.message_id, self.action, self.payload]


@dataclass(frozen=True)
class CallResult:
    """A response: ``[3, messageId, payload]``. It names no action: the CALL it answers does."""

    message_id: str
    payload: dict[str, Any] = field(default_factory=dict)

    message_type = MessageType.CALLRESULT

    def to_list(self) -> list[Any]:
        return [int(MessageType.CALLRESULT), self.message_id, self.payload]


@dataclass(frozen=True)
class CallError:
    """An error response: ``[4, messageId, errorCode, errorDescription, errorDetails]``."""

    message_id: str
    error_code: str
    error_description: str = ""
    error_details: dict[str, Any] = field(default_factory=dict)

    message_type = MessageType.CALLERROR

    def to_list(self) -> list[Any]:
        return [
            int(MessageType.CALLERROR),
            self.message_id,
            self.error_code,
            self.error_description,
            self.error_details,
        ]


Frame = Union[Call, CallResult, CallError]


class UnencodableFrame(ValueError):
    """A frame the harness built that no OCPP-J text can carry (a lone surrogate, NaN or Infinity, a value JSON
    has no type for, nesting deeper than the encoder goes): the harness's own mistake, found before sending."""


class FrameError(ValueError):
    """A text that is not a valid OCPP-J frame.

    Attributes:
        reason: what exactly is wrong, for a verdict.
        error_code: the CALLERROR code a receiver answers with.
        message_id: the id to answer with; ``"-1"`` when it could not be read.
        message_type: the type number when it could be read, else None. A CALLRESULT or CALLERROR that
            is malformed is not answered (Part 4 only answers CALLs), so callers need to know.
    """

    def __init__(
        self,
        reason: str,
        error_code: RpcErrorCode,
        message_id: str = UNREADABLE_MESSAGE_ID,
        message_type: int | None = None,
    ) -> None:
        super().__init__(reason)
        self.reason = reason
        self.error_code = error_code
        self.message_id = message_id
        self.message_type = message_type


_EXPECTED_LENGTH = {MessageType.CALL: 4, MessageType.CALLRESULT: 3, MessageType.CALLERROR: 5}


def parse(text: str) -> Frame:
    """Parse one WebSocket text message into a frame, or raise :class:`FrameError` saying what is wrong."""
    if _nests_too_deep(text):
        raise FrameError(
            f"the JSON nests arrays and objects deeper than {MAX_NESTING_DEPTH} levels, the most the harness reads",
            RpcErrorCode.RpcFrameworkError,
        )
    try:
        data = json.loads(text, parse_constant=_reject_non_json_constant, parse_float=_finite_number)
    except _OutOfRange as exc:
        raise FrameError(str(exc), RpcErrorCode.RpcFrameworkError, message_type=_peek_type(text)) from None
    except (ValueError, RecursionError) as exc:
        raise FrameError(f"not valid JSON: {exc}", RpcErrorCode.RpcFrameworkError) from None
    if _may_hold_surrogates(text) and not _encodable(data):
        raise FrameError(
            "a string holds a lone surrogate (\\ud800-\\udfff), which is not Unicode text",
            RpcErrorCode.RpcFrameworkError,
            message_type=_known_type(data),
        )
    message_type = _read_message_type(data)
    message_id = _read_message_id(data, message_type)
    expected = _EXPECTED_LENGTH[message_type]
    if len(data) != expected:
        raise FrameError(
            f"a {message_type.name} has {expected} elements, this frame has {len(data)}",
            RpcErrorCode.RpcFrameworkError,
            message_id,
            message_type,
        )
    if message_type is MessageType.CALL:
        return _parse_call(data, message_id)
    if message_type is MessageType.CALLRESULT:
        payload = _read_payload(data[2], message_id, message_type)
        return CallResult(message_id, payload)
    return _parse_call_error(data, message_id)


def serialize(frame: Frame) -> str:
    """The compact JSON text of a frame (non-ASCII text is kept, Part 4 §4.1.2), or :class:`UnencodableFrame`
    when no UTF-8 JSON text can carry it."""
    try:
        text = json.dumps(frame.to_list(), separators=(",", ":"), ensure_ascii=False, allow_nan=False)
        if not text.isascii():
            text.encode("utf-8")
    except (ValueError, TypeError, RecursionError) as exc:
        raise UnencodableFrame(f"the {type(frame).__name__} cannot be sent as OCPP-J text: {exc}") from None
    return text


def excerpt(value: Any) -> str:
    """The JSON of a value a SUT chose, cut to about :data:`EXCERPT_LENGTH` characters with non-ASCII text
    escaped (a lone surrogate shows as ``\\ud800``), for a reason that quotes the value without copying it."""
    if isinstance(value, str) and len(value) > EXCERPT_LENGTH:
        return f"{json.dumps(value[:EXCERPT_LENGTH])[:-1]}… ({len(value)} characters)"
    try:
        text = json.dumps(value)
    except (ValueError, TypeError, RecursionError):
        text = f"<{type(value).__name__}>"
    if len(text) > EXCERPT_LENGTH:
        return f"{text[:EXCERPT_LENGTH]}… ({len(text)} characters)"
    return text


class _OutOfRange(ValueError):
    """A JSON number no double holds: valid JSON (RFC 8259 bounds no number), but it would become infinity."""


def _finite_number(literal: str) -> float:
    """A JSON number too large for a double (``1E310``) would become infinity, which no JSON can carry on."""
    value = float(literal)
    if math.isinf(value):
        raise _OutOfRange(f"the number {literal[:40]} is out of range (no double holds it)")
    return value


def _may_hold_surrogates(text: str) -> bool:
    return bool(SURROGATE_ESCAPE.search(text) or (not text.isascii() and RAW_SURROGATE.search(text)))


def _encodable(data: Any) -> bool:
    """Every string must be Unicode text that UTF-8 can carry (Part 4 §4.1.2): an escaped lone surrogate
    (``"\\ud800"``) parses, but could be neither answered nor written to a trace."""
    try:
        json.dumps(data, ensure_ascii=False).encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def _nests_too_deep(text: str) -> bool:
    """Whether the JSON nests deeper than :data:`MAX_NESTING_DEPTH`, read from the text before parsing (a
    parser would hit the recursion limit first). Only a text with that many brackets pays for the count."""
    if text.count("[") + text.count("{") <= MAX_NESTING_DEPTH:
        return False
    brackets = _NOT_A_BRACKET.sub("", _JSON_STRING.sub("", text))
    return max(accumulate(map(_BRACKET_STEP.__getitem__, brackets)), default=0) > MAX_NESTING_DEPTH


def _known_type(data: Any) -> MessageType | None:
    """The message type of a frame that cannot be read further, so a broken CALLRESULT is still not answered."""
    if isinstance(data, list) and data and type(data[0]) is int and data[0] in MessageType._value2member_map_:
        return MessageType(data[0])
    return None


def _peek_type(text: str) -> MessageType | None:
    """The message type of a JSON text whose numbers no double holds, read again without converting them."""
    try:
        return _known_type(json.loads(text, parse_float=str, parse_constant=str))
    except (ValueError, RecursionError):
        return None


def _reject_non_json_constant(name: str) -> Any:
    # Python's json module accepts NaN, Infinity and -Infinity; RFC 8259 JSON has no such tokens.
    raise ValueError(f"{name} is not a JSON value")


def _read_message_type(data: Any) -> MessageType:
    if not isinstance(data, list) or not data:
        raise FrameError(
            "a frame is a non-empty JSON array", RpcErrorCode.RpcFrameworkError
        )
    number = data[0]
    if not isinstance(number, int) or isinstance(number, bool):
        raise FrameError(
            f"the message type must be an integer, got {excerpt(number)}",
            RpcErrorCode.RpcFrameworkError,
        )
    try:
        return MessageType(number)
    except ValueError:
        message_id = data[1] if len(data) > 1 and _is_valid_message_id(data[1]) else UNREADABLE_MESSAGE_ID
        raise FrameError(
            f"unknown message type number {excerpt(number)} (only 2, 3 and 4 exist)",
            RpcErrorCode.MessageTypeNotSupported,
            message_id,
            number,
        ) from None


def _is_valid_message_id(value: Any) -> bool:
    return isinstance(value, str) and 0 < len(value) <= MAX_MESSAGE_ID_LENGTH


def _read_message_id(data: list[Any], message_type: MessageType) -> str:
    if len(data) < 2:
        raise FrameError(
            "the frame has no messageId", RpcErrorCode.RpcFrameworkError, message_type=message_type
        )
    value = data[1]
    if not isinstance(value, str):
        reason = f"the messageId must be a string, got {excerpt(value)}"
    elif not value:
        reason = "the messageId is empty"
    elif len(value) > MAX_MESSAGE_ID_LENGTH:
        reason = f"the messageId has {len(value)} characters, at most {MAX_MESSAGE_ID_LENGTH} are allowed"
    else:
        return value
    raise FrameError(reason, RpcErrorCode.RpcFrameworkError, message_type=message_type)


def _read_payload(value: Any, message_id: str, message_type: MessageType) -> dict[str, Any]:
    if isinstance(value, dict):
        return value
    raise FrameError(
        f"the payload must be a JSON object, got {excerpt(value)}",
        RpcErrorCode.FormatViolation,
        message_id,
        message_type,
    )


def _parse_call(data: list[Any], message_id: str) -> Call:
    action = data[2]
    if not isinstance(action, str) or not action:
        raise FrameError(
            f"the action must be a non-empty string, got {excerpt(action)}",
            RpcErrorCode.RpcFrameworkError,
            message_id,
            MessageType.CALL,
        )
    if action.endswith("Request"):
        raise FrameError(
            f"the action {excerpt(action)} must be the message name without the 'Request' suffix",
            RpcErrorCode.RpcFrameworkError,
            message_id,
            MessageType.CALL,
        )
    return Call(message_id, action, _read_payload(data[3], message_id, MessageType.CALL))


def _parse_call_error(data: list[Any], message_id: str) -> CallError:
    _, _, code, description, details = data

    def broken(reason: str) -> FrameError:
        return FrameError(reason, RpcErrorCode.ProtocolError, message_id, MessageType.CALLERROR)

    if not isinstance(code, str) or code not in RpcErrorCode._value2member_map_:
        raise broken(f"errorCode {excerpt(code)} is not one of the RPC framework error codes")
    if not isinstance(description, str):
        raise broken(f"errorDescription must be a string, got {excerpt(description)}")
    if len(description) > MAX_ERROR_DESCRIPTION_LENGTH:
        raise broken(
            f"errorDescription has {len(description)} characters, at most {MAX_ERROR_DESCRIPTION_LENGTH} are allowed"
        )
    if not isinstance(details, dict):
        raise broken(f"errorDetails must be a JSON object, got {excerpt(details)}")
    return CallError(message_id, code, description, details)
