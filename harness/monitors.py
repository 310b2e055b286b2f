"""The rules that hold in every case, as monitors over the trace (Part 6 §2.1 / §3.1, Part 2, Part 4).

Part 6 §2.1 lists "General tool rules/validations" for every Charging Station case, §3.1 for every CSMS
case, and Part 2 and Part 4 state rules no single case checks. A monitor is fed the case's trace records
(:mod:`harness.trace`) one by one, in the order the harness saw them, and answers each with the
violations that record reveals. It keeps what it needs of the past, does no I/O and
knows nothing of asyncio or pytest, so the same monitors judge a running case (``feed`` per frame) and a
trace file read back later (:func:`check_trace`). What can only be judged once nothing more can come (a
seqNo gap may still be filled by a queued event; a transaction may still send its Started) is answered by
``finish`` at the end of the trace.

==========================  ===================  =====  ==========================================================
rule (validation id)        requirement          SUT    the SUT breaks it when
==========================  ===================  =====  ==========================================================
§2.1 transactionId          E01.FR.08            cs     a Started reuses a transactionId, a transaction has a
                                                        second Ended or an event numbered after its Ended
§2.1 Started first          E01.FR.01-06         cs     a transaction has no Started, or an event numbered
                                                        before its Started
§2.1 seqNo                  E01.FR.07            cs     a seqNo repeats (a resend is no repeat), or is skipped
                                                        (unless dropped offline, E11.FR.04/05)
§2.1 evse                   E01.FR.16            cs     the first TransactionEvent after the EV is connected
                                                        lacks evse.id or evse.connectorId
§2.1 idToken                E03.FR.01            cs     the first TransactionEvent after an Authorize answered
                                                        Accepted lacks that idToken
Part 4 §4.1.1               FR.01                both   a CALL is sent while the SUT's previous CALL on that
                                                        connection is unanswered (and not timed out)
Part 4 §4.1.4               Part 4 §4.1.4        both   a CALLRESULT / CALLERROR answers no outstanding CALL of
                                                        the harness on that connection
Part 2 §3.1 dateTime        Part 2 §3.1          both   a date-time field (per the JSON schemas) has no UTC
                                                        offset, more than 3 decimals, or is not RFC 3339
§2.1 startPeriod            K01.FR.35            both   a chargingSchedule's periods are not ordered by increasing
                                                        startPeriod (Part 6 §2.1 and §3.1)
§3.1 phaseToUse             K01.FR.19            csms   a SetChargingProfileRequest sets phaseToUse where
                                                        numberPhases is not 1
§2.1 firmware requestId     L01.FR.10            cs     a FirmwareStatusNotification (not Idle) has not the
                                                        requestId of the accepted UpdateFirmwareRequest
B02 Pending                 B02.FR.02            cs     while Pending, a CALL other than BootNotification or a
                                                        message the CSMS asked for
B03 Rejected                B03.FR.02            cs     while Rejected, a CALL other than BootNotification
==========================  ===================  =====  ==========================================================

``FR.01`` is Part 2 §3 "Generic requirements", Table 10. The Part 4 and Part 2 §3.1 rules have no Part 2 id.

Events the monitors read: "connection closed" (ends what waited on that connection) and "manual action"
``plug_in`` / ``unplug`` (the EV connected or gone). Not here: the §2.1 bullets that need a case's context (RemoteStart after Authorized remote, stoppedReason
after StopAuthorized local, the 4 s time deviation, NoAuthorization) stay with the cases and states.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass, field
from functools import cache
from typing import Any, Iterable, Literal, Protocol

from harness.core.schemas import Kind, SchemaSet, ocpp201
from harness.trace import CS_TO_CSMS, CSMS_TO_CS

__all__ = ["RULES", "Monitor", "Rule", "Violation", "check_trace", "monitors_for"]

Record = dict[str, Any]
Role = Literal["cs", "csms"]
Registration = Literal["Accepted", "Pending", "Rejected"]

CALL, CALLRESULT, CALLERROR = "CALL", "CALLRESULT", "CALLERROR"
RESPONSES = (CALLRESULT, CALLERROR)


@dataclass(frozen=True)
class Rule:
    """One general rule: its stable id (the FAIL's validation id), the requirement it enforces and its text."""

    id: str
    requirement: str
    text: str

    def violation(self, reason: str, record: Record) -> Violation:
        return Violation(self.id, self.requirement, reason, record)


@dataclass(frozen=True)
class Violation:
    """The SUT broke ``rule`` (enforcing ``requirement``) with ``record``; ``reason`` says how."""

    rule: str
    requirement: str
    reason: str
    record: Record


RULES: dict[str, Rule] = {
    rule.id: rule
    for rule in (
        Rule(
            "§2.1 transactionId",
            "E01.FR.08",
            "The transactionId generated by the Charging Station MUST be unique for each transaction started "
            "by that Charging Station [...] it SHALL ensure that it never generates the same TransactionId twice.",
        ),
        Rule(
            "§2.1 Started first",
            "E01.FR.01, E01.FR.02, E01.FR.03, E01.FR.04, E01.FR.05, E01.FR.06",
            "The first TransactionEventRequest of a transaction MUST contain eventType Started.",
        ),
        Rule(
            "§2.1 seqNo",
            "E01.FR.07",
            "TransactionEventRequest messages don't have to be sent in chronological order. However the "
            "provided seqNo are sequentially numbered in chronological order. (Part 2 E 1.3.2.1: After each "
            "TransactionEventRequest Charging Station SHALL increase the seqNo by 1.)",
        ),
        Rule(
            "§2.1 evse",
            "E01.FR.16",
            "The first TransactionEventRequest sent after connecting the EVSE and EV MUST contain evse.id and "
            "evse.connectorId",
        ),
        Rule(
            "§2.1 idToken",
            "E03.FR.01",
            "The first TransactionEventRequest sent after presenting the idToken MUST contain idToken with "
            "value <Configured valid idToken fields>",
        ),
        Rule(
            "Part 4 §4.1.1",
            "FR.01",
            "A Charging Station or CSMS SHALL NOT send a CALL message to the other party unless all the CALL "
            "messages it sent before have been responded to or have timed out.",
        ),
        Rule(
            "Part 4 §4.1.4",
            "Part 4 §4.1.4",
            "A message ID for a CALLRESULT or CALLERROR message MUST be equal to that of the CALL message that "
            "the CALLRESULT or CALLERROR message is a response to.",
        ),
        Rule(
            "Part 2 §3.1 dateTime",
            "Part 2 §3.1",
            "All time values exchanged between CSMS and Charging Station SHALL be formatted as defined in "
            "RFC-3339. [...] The number of decimal places SHALL NOT exceed the maximum of 3.",
        ),
        Rule(
            "§2.1 startPeriod",
            "K01.FR.35",
            "The list of ChargingSchedulePeriod elements in a chargingSchedule SHALL be ordered by increasing "
            "values of ChargingSchedulePeriod.startPeriod. This means the list is in chronological order.",
        ),
        Rule(
            "§3.1 phaseToUse",
            "K01.FR.19",
            "The CSMS SHALL NOT set phaseToUse in a SetChargingProfileRequest when numberPhases is other than 1.",
        ),
        Rule(
            "§2.1 firmware requestId",
            "L01.FR.10",
            "Every FirmwareStatusNotificationRequest sent for a firmware update SHALL contain the same "
            "requestId as the UpdateFirmwareRequest that started the firmware update.",
        ),
        Rule(
            "B02 Pending",
            "B02.FR.02",
            "The Charging Station SHALL NOT send RPC Framework: CALL messages (Except BootNotificationRequest) "
            "to the CSMS, unless it has been instructed by the CSMS to do so, using one of the following "
            "messages: TriggerMessageRequest, GetBaseReportRequest, GetReportRequest.",
        ),
        Rule(
            "B03 Rejected",
            "B03.FR.02",
            "If the CSMS returns the status Rejected [...] The Charging Station SHALL NOT send any OCPP message "
            "to the CSMS until the retry interval has expired.",
        ),
    )
}


class Monitor(Protocol):
    """A stateful judge of one or more rules, fed every record of a trace in order."""

    def feed(self, record: Record) -> list[Violation]:
        """The violations this record reveals, given every record fed before."""
        ...

    def finish(self) -> list[Violation]:
        """The violations only the end of the trace reveals."""
        ...


# -- reading records -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Sides:
    """Which direction is the SUT's and which the harness's."""

    sut: str
    harness: str

    @classmethod
    def of(cls, sut_role: Role) -> Sides:
        return cls(CS_TO_CSMS, CSMS_TO_CS) if sut_role == "cs" else cls(CSMS_TO_CS, CS_TO_CSMS)

    def sut_sent(self, record: Record, *types: str) -> bool:
        return record.get("direction") == self.sut and record.get("messageType") in types

    def harness_sent(self, record: Record, *types: str) -> bool:
        return record.get("direction") == self.harness and record.get("messageType") in types


def _key(record: Record) -> tuple[Any, Any]:
    """Where a response finds its CALL: the connection and the messageId."""
    return record.get("connection"), record.get("messageId")


def _closed(record: Record) -> bool:
    return record.get("event") == "connection closed"


def _payload(record: Record) -> dict[str, Any]:
    payload = record.get("payload")
    return payload if isinstance(payload, dict) else {}


def _parse_time(value: Any) -> dt.datetime | None:
    try:
        return dt.datetime.fromisoformat(str(value))
    except ValueError:
        return None


# -- TransactionEvents: which are new, which resent ------------------------------------------------------


@dataclass(frozen=True)
class TxEvent:
    """One TransactionEventRequest of the SUT. ``kind``: "new", "resend" (the same event again, not known
    to have been delivered, see :class:`TxLedger`) or "repeat" (its seqNo again, otherwise)."""

    record: Record
    transaction_id: str
    seq_no: int
    event_type: str
    offline: bool
    kind: str


@dataclass
class _Copy:
    content: dict[str, Any]
    answered_on: set[Any] = field(default_factory=set)  # the connections a copy got a CALLRESULT on


class TxLedger:
    """Classifies the SUT's TransactionEventRequests. The station may send an event again while no copy was
    answered with a CALLRESULT (E13.FR.02 after a CALLERROR or its timeout), and on a later connection even
    when one was: a CALLRESULT the harness sent just before the connection closed may never have arrived.
    The offline flag may change between copies (E11.FR.07)."""

    def __init__(self, sides: Sides) -> None:
        self._sides = sides
        self._copies: dict[tuple[str, int], _Copy] = {}
        self._waiting: dict[tuple[Any, Any], tuple[str, int]] = {}

    def feed(self, record: Record) -> TxEvent | None:
        if self._sides.harness_sent(record, *RESPONSES):
            slot = self._waiting.pop(_key(record), None)
            if slot is not None and record["messageType"] == CALLRESULT:
                self._copies[slot].answered_on.add(record.get("connection"))
            return None
        if not self._sides.sut_sent(record, CALL) or record.get("action") != "TransactionEvent":
            return None
        payload = _payload(record)
        transaction_id = (payload.get("transactionInfo") or {}).get("transactionId")
        seq_no = payload.get("seqNo")
        if not isinstance(transaction_id, str) or not isinstance(seq_no, int):
            return None  # a schema violation, reported as such
        slot = (transaction_id, seq_no)
        self._waiting[_key(record)] = slot
        content = {k: v for k, v in payload.items() if k != "offline"}
        earlier = self._copies.get(slot)
        if earlier is None:
            self._copies[slot] = _Copy(content)
            kind = "new"
        else:
            delivered = record.get("connection") in earlier.answered_on
            kind = "resend" if earlier.content == content and not delivered else "repeat"
        offline = payload.get("offline") is True
        return TxEvent(record, transaction_id, seq_no, str(payload.get("eventType")), offline, kind)


# -- rules 1-3: transactions and seqNo ------------------------------------------------------------------


@dataclass
class _Transaction:
    started: TxEvent | None = None
    ended: TxEvent | None = None
    first: TxEvent | None = None
    events: dict[int, TxEvent] = field(default_factory=dict)
    known_up_to: int | None = None  # the last seqNo before the monitor was attached


class TransactionMonitor:
    """§2.1 transactionId, Started first and seqNo: one transactionId per transaction, opened by its Started
    (the lowest seqNo) and closed by its Ended (the highest), numbered by 1 without repeat or gap.

    Events may arrive out of chronological order (§2.1), so a gap is judged at the end of the trace, and is
    excused when the event after it was queued offline: E11.FR.04 "Offline AND The Charging Station is
    running low on memory: The Charging Station MAY drop TransactionRequest(eventType = Updated)
    messages", E11.FR.05 "drop intermediate messages first". Part 2 E 1.3.2.1 only says the first seqNo
    SHOULD be 0 ("Implementations with a continuously increasing seqNo are still allowed"): any start is
    accepted."""

    def __init__(self, sides: Sides, known_transactions: dict[str, int] | None = None) -> None:
        self._ledger = TxLedger(sides)
        self._transactions: dict[str, _Transaction] = {
            tx: _Transaction(known_up_to=last) for tx, last in (known_transactions or {}).items()
        }

    def feed(self, record: Record) -> list[Violation]:
        event = self._ledger.feed(record)
        if event is None or event.kind == "resend":
            return []
        transaction = self._transactions.setdefault(event.transaction_id, _Transaction())
        if event.kind == "repeat":
            return [RULES["§2.1 seqNo"].violation(
                f"seqNo {event.seq_no} of transaction {event.transaction_id} is used again, and not as a resend "
                "of an undelivered event", record)]
        if transaction.known_up_to is not None and event.seq_no <= transaction.known_up_to:
            return []  # numbered before the monitor was attached: a repeat and a resend look alike
        opened, closed = self._opened(transaction, event), self._closed(transaction, event)
        return opened or closed  # one fault, one violation: a second Started is also numbered after the Ended

    def _opened(self, transaction: _Transaction, event: TxEvent) -> list[Violation]:
        transaction.events[event.seq_no] = event
        transaction.first = transaction.first or event
        if event.event_type == "Started":
            if transaction.started is not None or transaction.known_up_to is not None:
                return [RULES["§2.1 transactionId"].violation(
                    f"a second Started for transactionId {event.transaction_id}", event.record)]
            transaction.started = event
            earlier = [e for n, e in transaction.events.items() if n < event.seq_no]
            return [self._before_started(transaction, e) for e in earlier[:1]]
        if transaction.started is not None and event.seq_no < transaction.started.seq_no:
            return [self._before_started(transaction, event)]
        return []

    @staticmethod
    def _before_started(transaction: _Transaction, event: TxEvent) -> Violation:
        assert transaction.started is not None
        return RULES["§2.1 Started first"].violation(
            f"{event.event_type} seqNo {event.seq_no} precedes the Started (seqNo {transaction.started.seq_no}) "
            f"of transaction {event.transaction_id}", event.record)

    @staticmethod
    def _closed(transaction: _Transaction, event: TxEvent) -> list[Violation]:
        rule = RULES["§2.1 transactionId"]
        ended = transaction.ended
        if event.event_type == "Ended":
            transaction.ended = event
            if ended is not None:
                return [rule.violation(f"a second Ended for transactionId {event.transaction_id} (seqNo "
                                       f"{ended.seq_no} and {event.seq_no})", event.record)]
            later = sorted(n for n in transaction.events if n > event.seq_no)
            return [rule.violation(f"Ended seqNo {event.seq_no} of transaction {event.transaction_id} comes "
                                   f"after seqNo {later[0]} was used", event.record)] if later else []
        if ended is not None and event.seq_no > ended.seq_no:
            return [rule.violation(f"{event.event_type} seqNo {event.seq_no} after transaction "
                                   f"{event.transaction_id} Ended with seqNo {ended.seq_no}", event.record)]
        return []

    def finish(self) -> list[Violation]:
        violations = []
        for transaction_id, transaction in self._transactions.items():
            if transaction.first is None:
                continue
            if transaction.started is None and transaction.known_up_to is None:
                violations.append(RULES["§2.1 Started first"].violation(
                    f"transaction {transaction_id} has no TransactionEvent Started", transaction.first.record))
            violations.extend(self._gaps(transaction_id, transaction))
        return violations

    @staticmethod
    def _gaps(transaction_id: str, transaction: _Transaction) -> list[Violation]:
        numbers = sorted(transaction.events)
        if transaction.known_up_to is not None:
            numbers = [transaction.known_up_to, *(n for n in numbers if n > transaction.known_up_to)]
        violations = []
        for before, after in zip(numbers, numbers[1:]):
            event = transaction.events[after]
            if after - before > 1 and not event.offline:
                violations.append(RULES["§2.1 seqNo"].violation(
                    f"transaction {transaction_id} skips seqNo {before + 1}..{after - 1} "
                    f"(the next, seqNo {after}, is not offline: no E11.FR.04 drop)", event.record))
        return violations


# -- rule 3b: evse after the EV is connected ---------------------------------------------------------------


class EvseMonitor:
    """§2.1 evse. "After the EV is connected" is known from the harness's manual action ``plug_in`` (logged
    before it is performed) and from a TransactionEvent triggered by CablePluggedIn. The obligation is for
    the transaction on that EVSE (or one whose EVSE is not known yet); events queued offline are not
    judged, since they may have been generated before the EV was connected. StatusNotification Occupied does
    not arm the rule: §2.1 lets it come after the TransactionEvent."""

    rule = RULES["§2.1 evse"]

    def __init__(self, sides: Sides) -> None:
        self._ledger = TxLedger(sides)
        self._plugged: set[Any] = set()
        self._evse_of: dict[str, Any] = {}

    def feed(self, record: Record) -> list[Violation]:
        if record.get("event") == "manual action":
            self._manual(record.get("action"), record.get("params") or {})
            return []
        event = self._ledger.feed(record)
        if event is None or event.kind != "new" or event.offline:
            return []
        payload = _payload(record)
        evse = payload.get("evse") or {}
        if "id" in evse:
            self._evse_of[event.transaction_id] = evse["id"]
        evse_id = self._evse_of.get(event.transaction_id)
        due = payload.get("triggerReason") == "CablePluggedIn" or (
            evse_id in self._plugged if evse_id is not None else bool(self._plugged)
        )
        if not due:
            return []
        self._plugged -= {evse_id} if evse_id is not None else set(self._plugged)
        if "id" in evse and "connectorId" in evse:
            return []
        return [self.rule.violation(
            f"the first TransactionEvent of transaction {event.transaction_id} after the EV was connected has "
            f"evse {evse or 'absent'}, without evse.id and evse.connectorId", record)]

    def _manual(self, action: Any, params: dict[str, Any]) -> None:
        if action == "plug_in":
            self._plugged.add(params.get("evse_id"))
        elif action == "unplug":
            self._plugged.discard(params.get("evse_id"))

    def finish(self) -> list[Violation]:
        return []


# -- rule 4: idToken after authorization -----------------------------------------------------------------


class IdTokenMonitor:
    """§2.1 idToken: after the harness answers the SUT's Authorize with idTokenInfo.status Accepted, the
    next TransactionEvent carries that idToken (idToken and type). Not judged: an event queued offline (it
    may predate the authorization), and one with triggerReason StopAuthorized, for which E07.FR.02 only
    says the station SHOULD include the idToken used to stop."""

    rule = RULES["§2.1 idToken"]

    def __init__(self, sides: Sides) -> None:
        self._sides = sides
        self._ledger = TxLedger(sides)
        self._asked: dict[tuple[Any, Any], dict[str, Any]] = {}
        self._expected: dict[str, Any] | None = None

    def feed(self, record: Record) -> list[Violation]:
        if self._sides.sut_sent(record, CALL) and record.get("action") == "Authorize":
            self._asked[_key(record)] = _payload(record).get("idToken") or {}
        elif self._sides.harness_sent(record, *RESPONSES) and _key(record) in self._asked:
            token = self._asked.pop(_key(record))
            if record["messageType"] == CALLRESULT and _status(_payload(record).get("idTokenInfo")) == "Accepted":
                self._expected = token
        event = self._ledger.feed(record)
        if event is None or event.kind != "new" or event.offline or self._expected is None:
            return []
        expected, self._expected = self._expected, None
        payload = _payload(record)
        if payload.get("triggerReason") == "StopAuthorized" or _same_token(payload.get("idToken"), expected):
            return []
        return [self.rule.violation(
            f"the first TransactionEvent after idToken {expected.get('idToken')!r} was authorized has idToken "
            f"{payload.get('idToken', 'absent')}", record)]

    def finish(self) -> list[Violation]:
        return []


def _status(info: Any) -> Any:
    return info.get("status") if isinstance(info, dict) else None


def _same_token(token: Any, expected: dict[str, Any]) -> bool:
    return isinstance(token, dict) and all(token.get(k) == expected.get(k) for k in ("idToken", "type"))


# -- rules 5-6: Part 4 RPC -------------------------------------------------------------------------------


class SynchronicityMonitor:
    """Part 4 §4.1.1: per connection, the SUT's CALL waits for the harness's CALLRESULT / CALLERROR to its
    previous CALL, judged by arrival order against the harness's own sends. A closed connection ends the
    wait; so does ``call_timeout`` seconds (the SUT's own timeout, "implementation-dependent") when given."""

    rule = RULES["Part 4 §4.1.1"]

    def __init__(self, sides: Sides, call_timeout: float | None = None) -> None:
        self._sides = sides
        self._timeout = call_timeout
        self._waiting: dict[Any, Record] = {}

    def feed(self, record: Record) -> list[Violation]:
        connection = record.get("connection")
        if _closed(record):
            self._waiting.pop(connection, None)
        elif self._sides.harness_sent(record, *RESPONSES):
            waiting = self._waiting.get(connection)
            if waiting is not None and waiting.get("messageId") == record.get("messageId"):
                del self._waiting[connection]
        elif self._sides.sut_sent(record, CALL):
            earlier, self._waiting[connection] = self._waiting.get(connection), record
            if earlier is not None and not self._timed_out(earlier, record):
                return [self.rule.violation(
                    f"CALL {record.get('action')} sent while its CALL {earlier.get('action')} "
                    f"({earlier.get('messageId')}) was still unanswered", record)]
        return []

    def _timed_out(self, earlier: Record, record: Record) -> bool:
        if self._timeout is None:
            return False
        sent, now = _parse_time(earlier.get("timestamp")), _parse_time(record.get("timestamp"))
        return sent is not None and now is not None and (now - sent).total_seconds() >= self._timeout

    def finish(self) -> list[Violation]:
        return []


class ResponseIdMonitor:
    """Part 4 §4.1.4: each CALLRESULT / CALLERROR of the SUT answers a CALL the harness sent on the same
    connection and that is not answered yet. A late answer (after the harness gave up waiting) still
    answers its CALL; a second answer, or one after the connection closed, answers none."""

    rule = RULES["Part 4 §4.1.4"]

    def __init__(self, sides: Sides) -> None:
        self._sides = sides
        self._open: dict[tuple[Any, Any], Record] = {}

    def feed(self, record: Record) -> list[Violation]:
        if _closed(record):
            self._open = {k: v for k, v in self._open.items() if k[0] != record.get("connection")}
        elif self._sides.harness_sent(record, CALL):
            self._open[_key(record)] = record
        elif self._sides.sut_sent(record, *RESPONSES) and self._open.pop(_key(record), None) is None:
            return [self.rule.violation(
                f"{record['messageType']} with messageId {record.get('messageId')!r} answers no outstanding CALL "
                f"of the harness on connection {record.get('connection')}", record)]
        return []

    def finish(self) -> list[Violation]:
        return []


# -- rule 7: date-times ------------------------------------------------------------------------------------

_RFC3339 = re.compile(
    r"\d{4}-\d{2}-\d{2}[Tt]\d{2}:\d{2}:\d{2}(?:\.(?P<fraction>\d+))?(?P<offset>[Zz]|[+-]\d{2}:\d{2})?", re.ASCII
)
MAX_DECIMALS = 3
Path = tuple[str, ...]  # property names, "*" for every item of an array


@cache
def date_time_paths(schemas: SchemaSet, action: str, kind: Kind) -> tuple[Path, ...]:
    """Every location of a ``"format": "date-time"`` property in the action's schema."""
    return tuple(path for path, node in _nodes(schemas, action, kind) if node.get("format") == "date-time")


@cache
def schedule_period_paths(schemas: SchemaSet, action: str, kind: Kind) -> tuple[Path, ...]:
    """Every location of a chargingSchedule's list of chargingSchedulePeriod in the action's schema (a
    composite schedule's list is not "in a chargingSchedule")."""
    return tuple(
        path for path, node in _nodes(schemas, action, kind)
        if path[-1:] == ("chargingSchedulePeriod",) and "chargingSchedule" in path and node.get("type") == "array"
    )


def _nodes(schemas: SchemaSet, action: str, kind: Kind) -> list[tuple[Path, dict[str, Any]]]:
    schema = schemas.schema(action, kind)
    return list(_walk(schema, schema.get("definitions", {}), (), frozenset()))


def _walk(
    node: dict[str, Any], definitions: dict[str, Any], path: Path, seen: frozenset[str]
) -> Iterable[tuple[Path, dict[str, Any]]]:
    ref = node.get("$ref", "")
    if ref:
        name = ref.rsplit("/", 1)[-1]
        if name not in seen:
            yield from _walk(definitions[name], definitions, path, seen | {name})
        return
    yield path, node
    for name, child in node.get("properties", {}).items():
        yield from _walk(child, definitions, (*path, name), seen)
    if isinstance(node.get("items"), dict):
        yield from _walk(node["items"], definitions, (*path, "*"), seen)


def _values_at(data: Any, path: Path, where: str = "") -> Iterable[tuple[str, Any]]:
    if not path:
        yield where, data
    elif path[0] == "*" and isinstance(data, list):
        for index, item in enumerate(data):
            yield from _values_at(item, path[1:], f"{where}[{index}]")
    elif isinstance(data, dict) and path[0] in data:
        yield from _values_at(data[path[0]], path[1:], f"{where}.{path[0]}" if where else path[0])


def date_time_problem(value: str) -> str | None:
    """What is wrong with an OCPP dateTime (Part 2 §3.1), or None."""
    match = _RFC3339.fullmatch(value)
    if match is None:
        return "is not an RFC 3339 date-time"
    if match["offset"] is None:
        return "has no UTC offset (RFC 3339 requires 'Z' or ±hh:mm)"
    if match["fraction"] is not None and len(match["fraction"]) > MAX_DECIMALS:
        return f"has more than {MAX_DECIMALS} decimal places"
    return None


class DateTimeMonitor:
    """Part 2 §3.1 dateTime: every date-time field of the SUT's CALL and CALLRESULT payloads, found through
    the JSON schemas, is RFC 3339 (with its mandatory offset) with at most 3 decimals."""

    rule = RULES["Part 2 §3.1 dateTime"]

    def __init__(self, sides: Sides, schemas: SchemaSet | None = None) -> None:
        self._sides = sides
        self._schemas = schemas or ocpp201()

    def feed(self, record: Record) -> list[Violation]:
        kind = _kind_of(self._sides, record)
        action = record.get("action")
        if kind is None or action not in self._schemas.actions:
            return []
        bad = [
            f"{where} {value!r} {problem}"
            for path in date_time_paths(self._schemas, action, kind)
            for where, value in _values_at(record.get("payload"), path)
            if isinstance(value, str) and (problem := date_time_problem(value))
        ]
        return [self.rule.violation(f"{action}{kind.value}: " + "; ".join(bad), record)] if bad else []

    def finish(self) -> list[Violation]:
        return []


# -- charging schedules and firmware (the other §2.1 / §3.1 bullets a trace can judge alone) -----------

DEFAULT_NUMBER_PHASES = 3
"""ChargingSchedulePeriodType.numberPhases: "When omitted, numberPhases=3 will be assumed." (Part 2)"""


class ScheduleMonitor:
    """§2.1 / §3.1 startPeriod for either SUT, and for a CSMS §3.1 phaseToUse, over every chargingSchedule
    of the SUT's CALL and CALLRESULT payloads (found through the JSON schemas)."""

    def __init__(self, sides: Sides, sut_role: Role, schemas: SchemaSet | None = None) -> None:
        self._sides = sides
        self._phases = sut_role == "csms"
        self._schemas = schemas or ocpp201()

    def feed(self, record: Record) -> list[Violation]:
        kind = _kind_of(self._sides, record)
        action = record.get("action")
        if kind is None or action not in self._schemas.actions:
            return []
        violations = []
        for path in schedule_period_paths(self._schemas, action, kind):
            for where, periods in _values_at(record.get("payload"), path):
                if isinstance(periods, list):
                    violations.extend(self._judge(record, action, where, [p for p in periods if isinstance(p, dict)]))
        return violations

    def _judge(self, record: Record, action: str, where: str, periods: list[dict[str, Any]]) -> list[Violation]:
        starts = [p.get("startPeriod") for p in periods]
        violations = []
        if any(not isinstance(a, int) or not isinstance(b, int) or a >= b for a, b in zip(starts, starts[1:])):
            violations.append(RULES["§2.1 startPeriod"].violation(f"{where} startPeriod values {starts}", record))
        phased = [
            p for p in periods if "phaseToUse" in p and p.get("numberPhases", DEFAULT_NUMBER_PHASES) != 1
        ]
        if self._phases and action == "SetChargingProfile" and phased:
            violations.append(RULES["§3.1 phaseToUse"].violation(
                f"{where}: phaseToUse {phased[0]['phaseToUse']} with numberPhases "
                f"{phased[0].get('numberPhases', f'omitted ({DEFAULT_NUMBER_PHASES})')}", record))
        return violations

    def finish(self) -> list[Violation]:
        return []


FIRMWARE_UPDATE_STARTED = ("Accepted", "AcceptedCanceled")
"""UpdateFirmwareResponse statuses with which the station starts the requested update (L01)."""


class FirmwareMonitor:
    """§2.1 firmware requestId: once the station accepts the harness's UpdateFirmwareRequest, its
    FirmwareStatusNotifications carry that requestId; status Idle may omit it (L01.FR.20), so is not judged.
    An update started before the monitor was attached is unknown and not judged."""

    rule = RULES["§2.1 firmware requestId"]

    def __init__(self, sides: Sides) -> None:
        self._sides = sides
        self._asked: dict[tuple[Any, Any], Any] = {}
        self._request_id: Any = None

    def feed(self, record: Record) -> list[Violation]:
        action = record.get("action")
        if self._sides.harness_sent(record, CALL) and action == "UpdateFirmware":
            self._asked[_key(record)] = _payload(record).get("requestId")
        elif self._sides.sut_sent(record, CALLRESULT) and _key(record) in self._asked:
            if _payload(record).get("status") in FIRMWARE_UPDATE_STARTED:
                self._request_id = self._asked[_key(record)]
        elif self._sides.sut_sent(record, CALL) and action == "FirmwareStatusNotification":
            payload = _payload(record)
            if self._request_id is not None and payload.get("status") != "Idle":
                if payload.get("requestId") != self._request_id:
                    return [self.rule.violation(
                        f"FirmwareStatusNotification {payload.get('status')} has requestId "
                        f"{payload.get('requestId', 'absent')}, the UpdateFirmwareRequest {self._request_id}", record)]
        return []

    def finish(self) -> list[Violation]:
        return []


def _kind_of(sides: Sides, record: Record) -> Kind | None:
    """Which schema judges the SUT's frame: its CALL's request or its CALLRESULT's response."""
    if sides.sut_sent(record, CALL):
        return Kind.REQUEST
    return Kind.RESPONSE if sides.sut_sent(record, CALLRESULT) else None


# -- rule 8: registration -------------------------------------------------------------------------------

TRIGGERED_ACTION: dict[str, str] = {
    "BootNotification": "BootNotification",
    "LogStatusNotification": "LogStatusNotification",
    "FirmwareStatusNotification": "FirmwareStatusNotification",
    "Heartbeat": "Heartbeat",
    "MeterValues": "MeterValues",
    "SignChargingStationCertificate": "SignCertificate",
    "SignV2GCertificate": "SignCertificate",
    "SignCombinedCertificate": "SignCertificate",
    "StatusNotification": "StatusNotification",
    "TransactionEvent": "TransactionEvent",
    "PublishFirmwareStatusNotification": "PublishFirmwareStatusNotification",
}
"""TriggerMessageRequest.requestedMessage (MessageTriggerEnumType) → the action of the CALL it asks for."""

REPORT_REQUESTS = ("GetBaseReport", "GetReport")
"""The requests B02.FR.02 names whose results come as NotifyReportRequests (B07, B08)."""


class RegistrationMonitor:
    """B02 Pending / B03 Rejected: until the harness accepts a BootNotification, the station sends only
    BootNotification, plus while Pending what the CSMS asked for: the message of a TriggerMessage it
    Accepted (for the rest of this registration state, since one trigger may ask for every EVSE, F06.FR.11)
    and the NotifyReports of a GetBaseReport / GetReport it Accepted (that requestId, until tbc is false).
    The state changes only with a BootNotificationResponse, so a new connection keeps it. ``registration``
    is the state when the monitor is attached; None (unknown) judges nothing until a response is seen."""

    def __init__(self, sides: Sides, registration: Registration | None = None) -> None:
        self._sides = sides
        self._status: str | None = registration
        self._asked: dict[tuple[Any, Any], Record] = {}
        self._triggered: set[str] = set()
        self._reports: set[Any] = set()

    def feed(self, record: Record) -> list[Violation]:
        action = record.get("action")
        if self._sides.harness_sent(record, CALLRESULT) and action == "BootNotification":
            self._status = _payload(record).get("status")
            self._triggered.clear()
        elif self._sides.harness_sent(record, CALL) and action in ("TriggerMessage", *REPORT_REQUESTS):
            self._asked[_key(record)] = record
        elif self._sides.sut_sent(record, *RESPONSES) and _key(record) in self._asked:
            self._granted(self._asked.pop(_key(record)), record)
        elif self._sides.sut_sent(record, CALL) and self._status in ("Pending", "Rejected"):
            return self._judge(record, action)
        return []

    def _granted(self, request: Record, answer: Record) -> None:
        if answer.get("messageType") != CALLRESULT or _payload(answer).get("status") != "Accepted":
            return
        asked = _payload(request)
        if request.get("action") == "TriggerMessage":
            self._triggered.add(TRIGGERED_ACTION.get(asked.get("requestedMessage", ""), ""))
        else:
            self._reports.add(asked.get("requestId"))

    def _judge(self, record: Record, action: Any) -> list[Violation]:
        if action == "BootNotification":
            return []
        if self._status == "Rejected":
            return [RULES["B03 Rejected"].violation(f"{action} sent while the registration is Rejected", record)]
        payload = _payload(record)
        if action == "NotifyReport" and payload.get("requestId") in self._reports:
            if not payload.get("tbc"):
                self._reports.discard(payload.get("requestId"))
            return []
        if action in self._triggered:
            return []
        return [RULES["B02 Pending"].violation(
            f"{action} sent while the registration is Pending, not asked for by the CSMS", record)]

    def finish(self) -> list[Violation]:
        return []


# -- assembly --------------------------------------------------------------------------------------------


def monitors_for(
    sut_role: Role,
    *,
    known_transactions: dict[str, int] | None = None,
    registration: Registration | None = None,
    call_timeout: float | None = None,
) -> list[Monitor]:
    """Fresh monitors of every general rule that judges a SUT in ``sut_role``.

    ``known_transactions`` maps each transaction already running when attached to its last seqNo;
    ``registration`` is the station's registration state then (None: unknown); ``call_timeout`` the SUT's
    CALL timeout in seconds, if known (Part 4 §4.1.1)."""
    sides = Sides.of(sut_role)
    common: list[Monitor] = [
        SynchronicityMonitor(sides, call_timeout),
        ResponseIdMonitor(sides),
        DateTimeMonitor(sides),
        ScheduleMonitor(sides, sut_role),
    ]
    if sut_role == "csms":
        return common
    return [
        TransactionMonitor(sides, known_transactions),
        EvseMonitor(sides),
        IdTokenMonitor(sides),
        RegistrationMonitor(sides, registration),
        FirmwareMonitor(sides),
        *common,
    ]


def check_trace(records: Iterable[Record], sut_role: Role, **known: Any) -> list[Violation]:
    """Every violation of the general rules in a whole trace (offline analysis of a JSONL file).
    ``known`` takes the keyword arguments of :func:`monitors_for`."""
    monitors = monitors_for(sut_role, **known)
    violations = [v for record in records for monitor in monitors for v in monitor.feed(record)]
    return violations + [v for monitor in monitors for v in monitor.finish()]
