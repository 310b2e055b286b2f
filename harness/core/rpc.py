"""RPC state of one OCPP-J connection, without I/O (Part 4 §4.1).

Theory of operation: the endpoint is fed every text the peer sent (:meth:`RpcEndpoint.receive`) and asked
to produce every text the harness sends (:meth:`send_call`, :meth:`send_result`, :meth:`send_error`). It
keeps the two facts Part 4 makes stateful: the harness's one outstanding CALL (§4.1.1, one per direction)
and the peer's CALLs not yet answered. It does not know which role it plays, nor anything of time: a
CALL's timeout is the caller's business (:meth:`forget_outstanding_call`).

Blame is in the type, as in h11: a mistake of the harness raises :class:`LocalProtocolError`; a mistake of
the peer never raises, it is recorded in :attr:`Inbound.problems` (and, for a CALL, answered with the
CALLERROR Part 4 prescribes in :attr:`Inbound.auto_reply`) so that the harness can keep going and the case
can give its verdict with the frame quoted.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field, replace
from typing import Any, Callable

from harness.core.frames import (
    MAX_ERROR_DESCRIPTION_LENGTH,
    Call,
    CallError,
    CallResult,
    Frame,
    FrameError,
    MessageType,
    RpcErrorCode,
    UnencodableFrame,
    excerpt,
    parse,
    serialize,
)
from harness.core.schemas import Kind, SchemaSet, SchemaViolation

__all__ = ["LocalProtocolError", "Inbound", "Outbound", "RpcEndpoint"]


SEEN_CALL_IDS = 100_000
"""How many of the peer's CALL ids are kept to catch a reused one (Part 4 §4.1.4)."""


class LocalProtocolError(RuntimeError):
    """The harness itself tried to break Part 4 (a second outstanding CALL, an invalid payload …)."""


@dataclass(frozen=True)
class Outbound:
    """A frame the harness sends, with the violations of its own payload (empty unless allowed on purpose)."""

    text: str
    frame: Frame
    action: str | None
    violations: tuple[SchemaViolation, ...] = ()


@dataclass(frozen=True)
class Inbound:
    """What the endpoint made of one text received from the peer.

    Attributes:
        raw: the text as received.
        frame: the parsed frame, or None when the text is not a valid frame.
        action: the CALL's action, or for a response the action of the CALL it answers.
        answers: for a CALLRESULT / CALLERROR, the harness's CALL it answers.
        problems: every rule of Part 4 the peer broke with this frame (framing, correlation, synchronicity).
        violations: the payload's schema violations.
        auto_reply: the CALLERROR the endpoint produced for a CALL it could not accept, already queued.
        binary: the peer sent it as a binary WebSocket message (``raw`` is then its bytes decoded as UTF-8,
            undecodable bytes replaced).
    """

    raw: str
    frame: Frame | None
    action: str | None = None
    binary: bool = False
    answers: Call | None = None
    problems: tuple[str, ...] = ()
    violations: tuple[SchemaViolation, ...] = ()
    auto_reply: Outbound | None = None

    @property
    def is_compliant(self) -> bool:
        return not self.problems and not self.violations


def _new_message_id() -> str:
    return str(uuid.uuid4())


@dataclass
class RpcEndpoint:
    """One side of an OCPP-J connection."""

    schemas: SchemaSet
    new_message_id: Callable[[], str] = _new_message_id
    outstanding_call: Call | None = None
    unanswered_calls: dict[str, Call] = field(default_factory=dict)
    _seen_call_ids: dict[str, None] = field(default_factory=dict)
    """The peer's CALL ids on this connection, oldest first, at most SEEN_CALL_IDS of them (a flood of fresh ids
    must not grow the harness without end; a reuse is still caught within that many CALLs)."""

    # -- sending -------------------------------------------------------------------------------------

    def send_call(self, action: str, payload: dict[str, Any], *, invalid_on_purpose: bool = False) -> Outbound:
        """A CALL to the peer. Raises LocalProtocolError while another CALL is outstanding (§4.1.1)."""
        if self.outstanding_call is not None:
            raise LocalProtocolError(
                f"cannot send {action}: the CALL {self.outstanding_call.action} "
                f"({self.outstanding_call.message_id}) has not been answered or timed out"
            )
        if action not in self.schemas.actions:
            raise LocalProtocolError(f"{action!r} is not an OCPP 2.0.1 action")
        violations = self._check_own(action, Kind.REQUEST, payload, invalid_on_purpose)
        call = Call(self.new_message_id(), action, payload)
        text = _own_text(call)
        self.outstanding_call = call
        return Outbound(text, call, action, violations)

    def send_result(self, call: Call, payload: dict[str, Any], *, invalid_on_purpose: bool = False) -> Outbound:
        """The CALLRESULT answering one of the peer's CALLs."""
        self._require_unanswered(call)
        violations = self._check_own(call.action, Kind.RESPONSE, payload, invalid_on_purpose)
        result = CallResult(call.message_id, payload)
        text = _own_text(result)
        del self.unanswered_calls[call.message_id]  # only once the answer exists: a refused one leaves it waiting
        return Outbound(text, result, call.action, violations)

    def send_error(
        self,
        call: Call,
        error_code: RpcErrorCode,
        description: str = "",
        details: dict[str, Any] | None = None,
    ) -> Outbound:
        """The CALLERROR answering one of the peer's CALLs."""
        self._require_unanswered(call)
        error = CallError(
            call.message_id, error_code.value, description[:MAX_ERROR_DESCRIPTION_LENGTH], details or {}
        )
        text = _own_text(error)
        del self.unanswered_calls[call.message_id]
        return Outbound(text, error, call.action)

    def forget_outstanding_call(self) -> Call | None:
        """Declare the outstanding CALL timed out (§4.1.1), so another may be sent; returns it."""
        call, self.outstanding_call = self.outstanding_call, None
        return call

    # -- receiving -----------------------------------------------------------------------------------

    def receive(self, text: str) -> Inbound:
        """Account for one text from the peer. Never raises for anything the peer did."""
        try:
            frame = parse(text)
        except FrameError as error:
            return self._receive_malformed(text, error)
        if isinstance(frame, Call):
            return self._receive_call(text, frame)
        return self._receive_response(text, frame)

    def receive_binary(self, data: bytes) -> Inbound:
        """Account for a binary WebSocket message. OCPP-J messages are JSON text in UTF-8 (Part 4 §4.1.2, RFC 6455
        §5.6: text frames carry UTF-8), so a binary message is a problem in itself; what it holds is judged
        as if it were text, and recorded as binary."""
        inbound = self.receive(data.decode("utf-8", errors="replace"))
        problem = f"sent as a binary WebSocket message ({len(data)} bytes); OCPP-J messages are UTF-8 JSON text (Part 4 §4.1.2)"
        return replace(inbound, binary=True, problems=(problem, *inbound.problems))

    def _receive_malformed(self, text: str, error: FrameError) -> Inbound:
        problem = f"malformed frame: {error.reason}"
        if error.message_type in (MessageType.CALLRESULT, MessageType.CALLERROR):
            # Part 4 only answers CALLs; a broken response is reported, not answered.
            return Inbound(text, None, problems=(problem,))
        reply = CallError(error.message_id, error.error_code.value, error.reason[:MAX_ERROR_DESCRIPTION_LENGTH])
        return Inbound(text, None, problems=(problem,), auto_reply=Outbound(serialize(reply), reply, None))

    def _receive_call(self, text: str, call: Call) -> Inbound:
        problems = []
        if call.message_id in self._seen_call_ids:
            problems.append(
                f"messageId {excerpt(call.message_id)} was already used by an earlier CALL (Part 4 §4.1.4)"
            )
        self._remember_call_id(call.message_id)
        if self.unanswered_calls:
            waiting = ", ".join(excerpt(c.action) for c in self.unanswered_calls.values())
            problems.append(
                f"CALL {excerpt(call.action)} sent while the earlier CALL {waiting} was still unanswered "
                "(Part 4 §4.1.1)"
            )
        if call.action not in self.schemas.actions:
            problems.append(f"{excerpt(call.action)} is not an OCPP 2.0.1 action (Part 4 §4.1.7)")
            reply = self._auto_error(call, RpcErrorCode.NotImplemented, f"unknown action {excerpt(call.action)}")
            return Inbound(text, call, call.action, problems=tuple(problems), auto_reply=reply)
        violations = tuple(self.schemas.validate(call.action, Kind.REQUEST, call.payload))
        if violations:
            reply = self._auto_error(call, violations[0].error_code, str(violations[0]))
            return Inbound(text, call, call.action, problems=tuple(problems), violations=violations, auto_reply=reply)
        self.unanswered_calls[call.message_id] = call
        return Inbound(text, call, call.action, problems=tuple(problems))

    def _receive_response(self, text: str, frame: CallResult | CallError) -> Inbound:
        call = self.outstanding_call
        if call is None or call.message_id != frame.message_id:
            expected = f"the outstanding CALL's id {excerpt(call.message_id)}" if call else "no CALL outstanding"
            problem = (
                f"{frame.message_type.name} with messageId {excerpt(frame.message_id)} answers no CALL of the harness "
                f"({expected}; Part 4 §4.1.4)"
            )
            return Inbound(text, frame, problems=(problem,))
        self.outstanding_call = None
        violations: tuple[SchemaViolation, ...] = ()
        if isinstance(frame, CallResult):
            violations = tuple(self.schemas.validate(call.action, Kind.RESPONSE, frame.payload))
        return Inbound(text, frame, call.action, answers=call, violations=violations)

    # -- helpers -------------------------------------------------------------------------------------

    def _remember_call_id(self, message_id: str) -> None:
        self._seen_call_ids[message_id] = None
        if len(self._seen_call_ids) > SEEN_CALL_IDS:
            del self._seen_call_ids[next(iter(self._seen_call_ids))]

    def _auto_error(self, call: Call, code: RpcErrorCode, description: str) -> Outbound:
        error = CallError(call.message_id, code.value, description[:MAX_ERROR_DESCRIPTION_LENGTH])
        return Outbound(serialize(error), error, call.action)

    def _require_unanswered(self, call: Call) -> None:
        """Only a CALL still waiting may be answered, and only that very CALL: when the peer reused its id,
        the id belongs to the later CALL, and answering the earlier one with it would answer the wrong CALL."""
        if self.unanswered_calls.get(call.message_id) != call:
            raise LocalProtocolError(
                f"the peer's CALL {call.action} ({call.message_id}) is not waiting for an answer"
            )

    def _check_own(
        self, action: str, kind: Kind, payload: dict[str, Any], invalid_on_purpose: bool
    ) -> tuple[SchemaViolation, ...]:
        violations = tuple(self.schemas.validate(action, kind, payload))
        if violations and not invalid_on_purpose:
            details = "; ".join(str(v) for v in violations)
            raise LocalProtocolError(f"the harness's own {action}{kind.value} breaks its schema: {details}")
        return violations


def _own_text(frame: Frame) -> str:
    """The text of a frame the harness built; one no OCPP-J text can carry is the harness's own mistake."""
    try:
        return serialize(frame)
    except UnencodableFrame as error:
        raise LocalProtocolError(str(error)) from None
