"""The test-case API: what a Part 6 case talks to. It reads like the table.

    with case.step("1", "The Charging Station sends a BootNotificationRequest", "B01.FR.01"):
        boot = await case.expect("BootNotification")
    case.verify(boot, {"reason": "PowerUp"})

Every SUT CALL is answered at once by the case's responders (``case.respond``), recorded, and kept until
a step consumes it with ``expect``, so messages that Part 6 §2.1 lets arrive in any order are all accepted.
Every wait is bounded by a timeout of the SUT configuration and wakes on events, never on a clock tick.
A frame that breaks Part 4 or its schema fails the case at the next wait, quoting the frame and naming
the step it arrived in.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from dataclasses import dataclass, field
from typing import Any, Callable, Iterator

from harness.actions import Action, ActionDriver, ActionResult, ActionUnavailable
from harness.config import SutConfig
from harness.core.frames import Call, CallError, CallResult
from harness.core.rpc import Inbound, LocalProtocolError, Outbound
from harness.evidence import clip
from harness.roles import Link
from harness.session import Connection, ConnectionClosedDuringCall, Reply, Responder, answer
from harness.trace import CS_TO_CSMS, CSMS_TO_CS, Trace
from harness.monitors import Violation, monitors_for
from harness.part6 import CaseTable, case_table, memory_state, reusable_state
from harness.matching import Expectation, as_data, describe_mismatches, mismatches, schema_defaults
from harness.verdicts import HarnessError, Inconclusive, StepRef, SutFailure, SutTimeout

SESSION = "session"
"""The id of the harness's own housekeeping "case" (prelude, restore): no Part 6 table, no monitors."""

Expected = tuple[str, dict[str, Any]]
"""A CALL a step waits for: its action and the field expectations it must meet."""


@dataclass(frozen=True)
class CaseInfo:
    """The Part 6 header of a case."""

    id: str
    title: str
    role: str
    use_cases: tuple[str, ...] = ()
    requirements: tuple[str, ...] = ()


@dataclass
class Received:
    """A CALL the SUT sent during the case; ``raw`` is its text as a verdict quotes it (cut to QUOTE_LIMIT)."""

    call: Call
    raw: str
    step: StepRef
    connection: int
    at: float
    consumed: bool = False


class StepObserver:
    """Where step starts and ends are reported (the pytest plugin forwards them to Allure)."""

    def step_started(self, step: StepRef) -> None:
        return None

    def step_finished(self, step: StepRef, error: BaseException | None) -> None:
        return None


@dataclass
class Case:
    """One running test case against one SUT."""

    info: CaseInfo
    link: Link
    config: SutConfig
    actions: ActionDriver
    responders: dict[str, Responder]
    observer: StepObserver = field(default_factory=StepObserver)

    def __post_init__(self) -> None:
        self.trace = Trace(self.info.id, identity=self.config.identity)
        self.received: list[Received] = []
        self.blocked: BaseException | None = None
        """Set before the case runs when it must not (a configuration ERROR, an unrestored SUT)."""
        self.table = _table_of(self.info.id)
        """The case's Part 6 table as data (None for a case Part 6 does not have, e.g. the session's)."""
        model = self.link.model
        self.monitors = [] if self.info.id == SESSION else monitors_for(
            self.info.role,  # type: ignore[arg-type]
            known_transactions={t.transaction_id: t.seq_no for t in model.transactions.values()},
            registration=model.registration,  # type: ignore[arg-type]
        )
        """Part 6 §2.1's general rules, judging every frame of the case (harness.monitors)."""
        self.checks: list[dict[str, Any]] = []
        """Every named validation evaluated, in order (see :meth:`verify`)."""
        self.current_step = StepRef()
        self._changed = asyncio.Event()
        self._cursor = 0
        self._raw: dict[tuple[int, str], str] = {}
        self._sut_failures: list[SutFailure] = []
        self._monitor_failures: list[SutFailure] = []
        self._harness_errors: list[Exception] = []
        self._action_errors: list[BaseException] = []
        self._limits_reached: list[Inconclusive] = []
        """A limit of the harness's own the SUT went over ([limits]): the case cannot judge what lies beyond."""
        self._frames_from_sut = 0
        self._background: set[asyncio.Task[ActionResult]] = set()
        self._inbound_direction = CS_TO_CSMS if self.info.role == "cs" else CSMS_TO_CS
        self._outbound_direction = CSMS_TO_CS if self.info.role == "cs" else CS_TO_CSMS

    # -- steps ---------------------------------------------------------------------------------------

    @contextlib.contextmanager
    def step(self, number: str, title: str, *requirements: str) -> Iterator[StepRef]:
        """A numbered Part 6 step; failures inside it name it and its requirement ids."""
        ref = StepRef(number, title, requirements)
        previous, self.current_step = self.current_step, ref
        self.observer.step_started(ref)
        error: BaseException | None = None
        try:
            yield ref
        except BaseException as exc:
            error = exc
            raise
        finally:
            self.observer.step_finished(ref, error)
            self.current_step = previous

    # -- answering the SUT ---------------------------------------------------------------------------

    def respond(self, action: str, reply: Responder) -> None:
        """From now on, answer the SUT's ``action`` CALLs with ``reply`` (a payload, an ErrorReply, or a function)."""
        self.responders[action] = reply

    # -- waiting for the SUT -------------------------------------------------------------------------

    async def expect(
        self,
        action: str,
        where: dict[str, Any] | None = None,
        timeout: float | None = None,
        requirement: str = "",
        *,
        newer_than: int = 0,
        since: int | None = None,
        validation: str = "",
    ) -> Call:
        """The next CALL ``action`` from the SUT matching ``where``, after the last one a step took; FAIL
        when none comes. ``newer_than``: only on a connection numbered above it (after a reboot).
        ``since``: look from a :meth:`mark` instead (a message the table lets come before the previous
        step's). ``validation``: the Part 6 validation a missing message breaks."""
        return await self.expect_any(
            [(action, where or {})], timeout, requirement, newer_than=newer_than, since=since, validation=validation
        )

    async def expect_any(
        self,
        options: list[Expected],
        timeout: float | None = None,
        requirement: str = "",
        *,
        newer_than: int = 0,
        since: int | None = None,
        validation: str = "",
    ) -> Call:
        """The next CALL that matches one of ``(action, where)`` — for steps Part 6 lets the SUT do with one
        message or another (StatusNotification or NotifyEvent)."""
        [call] = await self.expect_in_any_order(
            [options], timeout, requirement, newer_than=newer_than, since=since, validation=validation
        )
        return call

    async def expect_in_any_order(
        self,
        wanted: list[list[Expected]],
        timeout: float | None = None,
        requirement: str = "",
        *,
        newer_than: int = 0,
        since: int | None = None,
        validation: str = "",
    ) -> list[Call]:
        """One CALL for each item of ``wanted`` (each a list of alternatives), in whatever order they come:
        for the messages Part 6 §2.1 or a table lets the SUT send in any order ("report the new status of
        its connector and any queued TransactionEventRequest"). Outside such a group, expects are ordered:
        a step only takes a CALL that arrived after the CALL the previous step took, so a SUT that sends
        "Downloaded" before "Downloading" FAILs. Returns the calls in the order of ``wanted``."""
        timeout = self.config.timeouts.message if timeout is None else timeout
        try:
            async with asyncio.timeout(timeout):
                while True:
                    changed = self._changed
                    self._raise_pending(monitors=False)
                    start = self._cursor if since is None else since
                    found = self._find_all(wanted, newer_than, start)
                    if found is None:
                        self._raise_pending()
                    else:
                        for item in found:
                            item.consumed = True
                        self._cursor = max(self._cursor, max(self.received.index(item) for item in found) + 1)
                        return [item.call for item in found]
                    await changed.wait()
        except TimeoutError:
            raise SutTimeout(
                self._timeout_reason(wanted, timeout),
                self.current_step,
                self.requirement_for(requirement, validation),
                validation=validation,
            ) from None

    def mark(self) -> int:
        """Where the ordered expects stand now; ``expect(..., since=mark)`` looks from here again."""
        return self._cursor

    async def expect_series(
        self,
        action: str,
        complete: Callable[[list[Call]], bool],
        where: dict[str, Any] | None = None,
        timeout: float | None = None,
        requirement: str = "",
        *,
        validation: str = "",
    ) -> list[Call]:
        """CALLs ``action`` until ``complete(received so far)`` holds (a report in several NotifyReports, a
        queue being emptied), all within ONE deadline: a SUT that keeps sending never holds a case forever."""
        timeout = self.config.timeouts.message if timeout is None else timeout
        deadline = self.clock() + timeout
        calls: list[Call] = []
        while not calls or not complete(calls):
            left = max(0.0, deadline - self.clock())
            try:
                calls.append(await self.expect(action, where, timeout=left, requirement=requirement, validation=validation))
            except SutTimeout as silence:
                raise SutTimeout(
                    f"the SUT's {action} series was not complete within {timeout:.0f} s ({len(calls)} received)",
                    self.current_step,
                    silence.requirement,
                    self._quote(calls[-1]) if calls else None,
                    validation=validation,
                ) from None
        return calls

    async def wait_until(self, condition: Callable[[], bool], what: str, timeout: float | None = None, requirement: str = "") -> None:
        """Until ``condition()`` holds — re-checked at every frame and connection event; FAIL (SutTimeout)
        saying ``what`` did not happen when the deadline passes."""
        timeout = self.config.timeouts.message if timeout is None else timeout
        try:
            async with asyncio.timeout(timeout):
                while True:
                    changed = self._changed
                    self._raise_pending()
                    if condition():
                        return
                    await changed.wait()
        except TimeoutError:
            raise SutTimeout(f"{what} did not happen within {timeout:.0f} s", self.current_step, self.requirement_for(requirement)) from None

    def clock(self) -> float:
        """Seconds on the event loop's monotonic clock, to measure the SUT's timing."""
        return asyncio.get_running_loop().time()

    def calls_since(self, moment: float, excluding: str = "") -> list[Call]:
        """The SUT's CALLs received after ``moment`` (a :meth:`clock` value), optionally but one action."""
        return [r.call for r in self.received if r.at > moment and r.call.action != excluding]

    def forget_received(self) -> None:
        """Set aside every SUT CALL received so far: what a later step expects must come after this point."""
        for item in self.received:
            item.consumed = True
        self._cursor = len(self.received)

    async def expect_none(
        self, action: str, where: dict[str, Any] | None = None, within: float | None = None, requirement: str = ""
    ) -> None:
        """FAIL if the SUT sends ``action`` (matching ``where``) within ``within`` seconds, counting from now."""
        within = self.config.timeouts.silence if within is None else within
        start = len(self.received)
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(within):
                while True:
                    changed = self._changed
                    self._raise_pending()
                    for item in self.received[start:]:
                        if item.call.action == action and not mismatches(item.call.payload, where or {}):
                            raise SutFailure(
                                f"the SUT sent {action} although it must not",
                                self.current_step,
                                self.requirement_for(requirement),
                                item.raw,
                            )
                    await changed.wait()
        self._raise_pending()

    async def connection(self, timeout: float | None = None, newer_than: int = 0) -> Connection:
        """The open connection to the SUT (the next one, with ``newer_than``); FAIL if the SUT does not connect."""
        timeout = self.config.timeouts.message if timeout is None else timeout
        try:
            return await self.link.wait_for_connection(timeout, newer_than)
        except TimeoutError:
            raise SutTimeout(
                f"the SUT did not open a WebSocket connection within {timeout:.0f} s", self.current_step
            ) from None

    # -- calling the SUT -----------------------------------------------------------------------------

    async def call(
        self,
        action: str,
        payload: dict[str, Any],
        *,
        timeout: float | None = None,
        requirement: str = "",
        invalid_on_purpose: bool = False,
    ) -> CallResult:
        """Send a CALL and return the SUT's CALLRESULT; a CALLERROR is a FAIL."""
        answer = await self.call_answer(
            action, payload, timeout=timeout, requirement=requirement, invalid_on_purpose=invalid_on_purpose
        )
        if isinstance(answer, CallError):
            raise SutFailure(
                f"the SUT answered {action} with CALLERROR {answer.error_code}",
                self.current_step,
                self.requirement_for(requirement),
                self._quote(answer),
            )
        return answer

    async def call_answer(
        self,
        action: str,
        payload: dict[str, Any],
        *,
        timeout: float | None = None,
        requirement: str = "",
        invalid_on_purpose: bool = False,
    ) -> CallResult | CallError:
        """Send a CALL and return whatever the SUT answered, CALLERROR included, for steps that expect one."""
        self._raise_pending()
        if action == "SetVariables" and self.info.role == "cs":
            await self._read_before_write(payload)
        timeout = self.config.timeouts.response if timeout is None else timeout
        connection = await self.connection()
        try:
            answer = await connection.call(action, payload, timeout, invalid_on_purpose=invalid_on_purpose)
        except LocalProtocolError as error:
            raise HarnessError(str(error)) from None
        except TimeoutError:
            self._raise_pending(monitors=False)  # a frame the SUT broke meanwhile is the first thing it did wrong
            raise SutTimeout(
                f"no answer to {action} within {timeout:.0f} s", self.current_step, self.requirement_for(requirement)
            ) from None
        except ConnectionClosedDuringCall as error:
            if self._limits_reached:
                # The harness closed the connection at a limit of its own: not the SUT's doing.
                raise self._limits_reached[0] from None
            raise SutFailure(f"{error} ({action})", self.current_step, self.requirement_for(requirement)) from None
        self._raise_pending(monitors=False)
        assert isinstance(answer.frame, (CallResult, CallError)), "the RPC endpoint resolves a CALL with its answer"
        return answer.frame

    async def _read_before_write(self, payload: dict[str, Any]) -> None:
        """Read the variables a SetVariables is about to change (unless the case read them), so that the
        restore after the case can put them back (Part 6 §2.1: the next case starts from the station's own
        configuration). Read every time, not only when the model lacks them: a case's frames must not depend
        on which cases ran before it."""
        known = set(self.link.model.changed) | self._read_in_case()
        unknown = [
            {"component": item["component"], "variable": item["variable"]}
            for item in payload.get("setVariableData", [])
            if item.get("attributeType", "Actual") == "Actual"
            and (item["component"]["name"], item["variable"]["name"]) not in known
        ]
        if unknown:
            self.trace.event("harness reads the values it is about to change, to put them back after the case")
            await self.call_answer("GetVariables", {"getVariableData": unknown})

    def _read_in_case(self) -> set[tuple[str, str]]:
        """The variables this case has read (GetVariables answered Accepted)."""
        return {
            (result["component"]["name"], result["variable"]["name"])
            for record in self.trace.records
            if record.get("messageType") == "CALLRESULT" and record.get("action") == "GetVariables"
            for result in (record.get("payload") or {}).get("getVariableResult", [])
            if result.get("attributeStatus") == "Accepted"
        }

    async def drop_connection(self) -> Connection:
        """Close the WebSocket from the harness's side (a connection loss, as the SUT sees it)."""
        connection = await self.connection()
        self.trace.event("harness closes the connection", connection=connection.number)
        await connection.close(1001, "connection loss simulated by the harness")
        return connection

    # -- checking --------------------------------------------------------------------------------------

    def verify(
        self, message: Call | CallResult, expected: dict[str, Any], requirement: str = "", *, validation: str = ""
    ) -> None:
        """FAIL unless every ``path: expectation`` holds for the message's payload (see harness.matching).

        ``validation`` names the Part 6 tool validation this is ("step 6", "post 1"): the FAIL names it, and
        the check is recorded in the case's result so the self-test can aim a fault at exactly it."""
        problems = mismatches(message.payload, expected, defaults=self._defaults(message))
        self._record_check(validation, requirement, not problems, message, fields=as_data(expected))
        if problems:
            raise self._failure(describe_mismatches(problems), requirement, validation, self._quote(message))

    def require(
        self,
        condition: bool,
        reason: str,
        message: Call | CallResult | None = None,
        requirement: str = "",
        *,
        validation: str = "",
    ) -> None:
        """FAIL with ``reason`` unless ``condition`` holds."""
        self._record_check(validation, requirement, condition, message)
        if not condition:
            raise self._failure(reason, requirement, validation, self._quote(message) if message else None)

    def _defaults(self, message: Call | CallResult) -> dict[str, Any]:
        """What the message's schema defaults an absent field to (GetVariableResult.attributeType: Actual)."""
        action = self._action_of(message)
        try:
            return schema_defaults(action or "", "request" if isinstance(message, Call) else "response")
        except KeyError:
            return {}

    def _failure(self, reason: str, requirement: str, validation: str, frame: str | None) -> SutFailure:
        return SutFailure(
            reason, self.current_step, self.requirement_for(requirement, validation), frame, validation=validation
        )

    def _record_check(
        self,
        validation: str,
        requirement: str,
        held: bool,
        message: Call | CallResult | None,
        fields: dict[str, Any] | None = None,
    ) -> None:
        """Keep what a named validation looked at: the message (type, action, its occurrence in the case)
        and the field expectations, for the self-test's mutants."""
        if not validation:
            return
        check: dict[str, Any] = {
            "validation": validation,
            "requirement": self.requirement_for(requirement, validation),
            "step": self.current_step.number,
            "held": held,
        }
        if message is not None:
            check.update(self._whereabouts(message))
        if fields is not None:
            check["fields"] = fields
        self.checks.append(check)

    def _whereabouts(self, message: Call | CallResult) -> dict[str, Any]:
        """Which of the SUT's frames ``message`` is: its type, action, connection and its 1-based
        occurrence among the SUT's frames of that type and action in this case."""
        occurrence = 0
        for record in self.trace.records:
            if record.get("direction") != self._inbound_direction:
                continue
            if record.get("messageType") == message.message_type.name and record.get("action") == self._action_of(message):
                occurrence += 1
                if record.get("messageId") == message.message_id:
                    return {
                        "messageType": message.message_type.name,
                        "action": record.get("action"),
                        "occurrence": occurrence,
                        "connection": record.get("connection"),
                    }
        return {"messageType": message.message_type.name, "action": self._action_of(message)}

    def _action_of(self, message: Call | CallResult) -> str | None:
        if isinstance(message, Call):
            return message.action
        for record in reversed(self.trace.records):
            if record.get("messageId") == message.message_id and record.get("messageType") == "CALL":
                return record.get("action")
        return None

    # -- manual actions --------------------------------------------------------------------------------

    async def manual(self, name: str, **params: Any) -> ActionResult:
        """A Part 6 "Manual Action". INCONCLUSIVE when the configured driver cannot perform it."""
        action = Action(name, params)
        self._monitor(self.trace.event("manual action", action=name, params=params, instruction=action.instruction))
        try:
            async with asyncio.timeout(self.config.timeouts.manual_action):
                return await self.actions.perform(action)
        except ActionUnavailable as error:
            raise Inconclusive(str(error)) from None
        except TimeoutError:
            raise Inconclusive(
                f"the manual action {name!r} was not done within {self.config.timeouts.manual_action:.0f} s"
            ) from None

    def manual_in_background(self, name: str, **params: Any) -> asyncio.Task[ActionResult]:
        """Start a manual action and go on: for actions whose effect the next step waits for (the CSMS
        sends a request while the action runs). Await the task to learn how the action ended.

        If the action cannot be performed (INCONCLUSIVE) or the harness fails at it (ERROR), the case's next
        wait raises that at once: the SUT is not to be blamed for not reacting to an action nobody did."""
        task = asyncio.create_task(self.manual(name, **params))
        self._background.add(task)
        task.add_done_callback(self._action_done)
        return task

    def _action_done(self, task: asyncio.Task[ActionResult]) -> None:
        self._background.discard(task)
        if not task.cancelled() and task.exception() is not None:
            self._action_errors.append(task.exception())  # type: ignore[arg-type]
            self._wake()

    async def stop_actions(self) -> None:
        """Cancel the manual actions still running in the background and wait until each has unwound (a hook
        stops its process group within a bounded grace): nothing the case started outlives it."""
        running = [task for task in self._background if not task.done()]
        for task in running:
            task.cancel()
        await asyncio.gather(*running, return_exceptions=True)

    async def honour_interval(self, seconds: float) -> None:
        """Let a protocol interval the SUT set pass (e.g. the BootNotification retry interval), answering
        whatever the SUT sends meanwhile. This is the protocol's timer, not a wait for things to settle."""
        self.trace.event("harness honours an interval", seconds=seconds)
        elapsed = asyncio.Event()
        handle = asyncio.get_running_loop().call_later(seconds, elapsed.set)
        try:
            await elapsed.wait()
        finally:
            handle.cancel()
        self._raise_pending()

    # -- the link calls these ----------------------------------------------------------------------------

    def on_frame(self, connection: Connection, item: Inbound | Outbound, inbound: bool) -> None:
        if inbound and not self._count_frame_from_sut():
            return
        direction = self._inbound_direction if inbound else self._outbound_direction
        record = self.trace.frame(item, direction, connection.number, str(self.current_step))
        quote = clip(item.raw if isinstance(item, Inbound) else item.text)
        if item.frame is not None:
            self._raw[(item.frame.message_type, item.frame.message_id)] = quote
        if isinstance(item, Inbound):
            self._account(connection, item, quote)
        self._monitor(record)
        self._wake()

    def reply_to(self, connection: Connection, call: Call) -> Reply:
        return answer(self.responders, call)

    def on_closed(self, connection: Connection) -> None:
        details: dict[str, Any] = {"connection": connection.number, "code": connection.close_code}
        if connection.limit_exceeded:
            details["limit"] = connection.limit_exceeded
            self._limit_reached(f"{connection.limit_exceeded}; the harness closed the connection (1009). Part 4 sets no "
                                "maximum: raise [limits] max_frame_bytes to judge such frames")
        self._monitor(self.trace.event("connection closed", **details))
        self._wake()

    def on_event(self, name: str, details: dict[str, Any]) -> None:
        self.trace.event(name, **details)
        self._wake()

    def _count_frame_from_sut(self) -> bool:
        """Count the SUT's frames; past [limits] max_frames_per_case they are answered but no longer traced or
        judged, and the case ends INCONCLUSIVE at its next wait (a flood must not exhaust the harness)."""
        self._frames_from_sut += 1
        limit = self.config.limits.max_frames_per_case
        if self._frames_from_sut <= limit:
            return True
        if self._frames_from_sut == limit + 1:
            reason = (f"the SUT sent more than {limit} frames within the case ([limits] max_frames_per_case); "
                      "the frames after it are answered but neither traced nor judged")
            self.trace.event("limit reached", reason=reason)
            self._limit_reached(reason)
        return False

    def _limit_reached(self, reason: str) -> None:
        self._limits_reached.append(Inconclusive(reason))
        self._wake()

    def on_harness_error(self, connection: Connection, error: Exception) -> None:
        self._harness_errors.append(error)
        self.trace.event("harness error", error=repr(error))
        self._wake()

    # -- internals -------------------------------------------------------------------------------------

    def _account(self, connection: Connection, inbound: Inbound, quote: str) -> None:
        """A broken frame is a FAIL at the next wait; a CALL is kept for the steps (``quote``: its text as a
        verdict quotes it, cut to QUOTE_LIMIT)."""
        if not inbound.is_compliant:
            reasons = list(inbound.problems) + [f"schema: {v}" for v in inbound.violations]
            what = f"{inbound.action} " if inbound.action else ""
            self._sut_failures.append(
                SutFailure(
                    f"the SUT's {what}frame breaks OCPP 2.0.1: " + "; ".join(reasons),
                    self.current_step,
                    "Part 4 §4 / JSON schema",
                    quote,
                )
            )
        if isinstance(inbound.frame, Call) and inbound.auto_reply is None:
            self.received.append(Received(inbound.frame, quote, self.current_step, connection.number, self.clock()))

    def _wake(self) -> None:
        self._changed.set()
        self._changed = asyncio.Event()

    def requirement_for(self, requirement: str, validation: str = "") -> str:
        """The requirement a failure names: the one given, the validation's (Part 6 data), the step's, or
        else the case's list."""
        return (
            requirement
            or self._validation_requirement(validation)
            or ", ".join(self.current_step.requirements)
            or ", ".join(self.info.requirements)
        )

    def _validation_requirement(self, validation: str) -> str:
        """The requirement Part 6 data gives the validation: the case's own ("step 6"), a reusable state's
        ("Booted step 5"), or a monitor rule's (named by the monitor itself)."""
        if not validation or self.table is None:
            return ""
        if validation in {v.id for v in self.table.all_validations}:
            return self.table.validation(validation).requirement
        state, _, inner = validation.partition(" ")
        for table_of_state in (reusable_state, memory_state):
            try:
                return table_of_state(state, self.info.role).validation(inner).requirement  # type: ignore[arg-type]
            except KeyError:
                continue
        raise HarnessError(f"{self.info.id}: no Part 6 validation {validation!r}")

    def _raise_pending(self, monitors: bool = True) -> None:
        """Raise what went wrong since the last wait. Without ``monitors``, the §2.1 monitors' findings wait
        one more turn: a step that has just received its message checks it first, so a FAIL names the
        table's own validation rather than the general rule that saw the same frame."""
        if self._action_errors:
            raise self._action_errors[0]
        if self._harness_errors:
            raise HarnessError(f"the harness failed while answering the SUT: {self._harness_errors[0]!r}")
        if self._sut_failures:
            raise self._sut_failures[0]
        if monitors and self._monitor_failures:
            raise self._monitor_failures[0]
        if self._limits_reached:
            raise self._limits_reached[0]

    def _find_all(self, wanted: list[list[Expected]], newer_than: int, start: int) -> list[Received] | None:
        """A distinct not yet consumed CALL from ``start`` on for each item of ``wanted``, or None."""
        taken: list[Received] = []
        for options in wanted:
            item = self._find(options, newer_than, taken, start)
            if item is None:
                return None
            taken.append(item)
        return taken

    def _find(self, options: list[Expected], newer_than: int, taken: list[Received], start: int) -> Received | None:
        for item in self.received[start:]:
            if item.consumed or item.connection <= newer_than or any(item is t for t in taken):
                continue
            for action, where in options:
                if item.call.action == action and not mismatches(item.call.payload, where):
                    return item
        return None

    def _timeout_reason(self, wanted: list[list[Expected]], timeout: float) -> str:
        options = [option for alternatives in wanted for option in alternatives]
        described = [
            " or ".join(action + (f" with {_describe_where(where)}" if where else "") for action, where in alternatives)
            for alternatives in wanted
        ]
        reason = f"the SUT did not send {', and '.join(described)} within {timeout:.0f} s"
        for action, where in options:
            near = [item for item in self.received[self._cursor :] if item.call.action == action and not item.consumed]
            if near and where:
                detail = describe_mismatches(mismatches(near[-1].call.payload, where))
                reason += f"; the last {action} received did not match: {detail}; frame: {near[-1].raw}"
        early = [
            item
            for item in self.received[: self._cursor]
            if not item.consumed
            and any(item.call.action == action and not mismatches(item.call.payload, where) for action, where in options)
        ]
        if early:
            reason += f"; a matching {early[0].call.action} came earlier, before the previous step's message: {early[0].raw}"
        closed = [r for r in self.trace.records if r.get("event") == "connection closed"]
        if closed:
            reason += f"; the connection closed at {closed[-1]['timestamp']}"
        refused = [r for r in self.trace.records if r.get("event") == "handshake refused"]
        if refused:
            last = refused[-1]
            why = last.get("reason") or f"HTTP {last.get('status')}"
            reason += f"; {len(refused)} WebSocket handshake(s) refused, the last at {last['timestamp']}: {why}"
        return reason

    def _quote(self, message: Call | CallResult | CallError | None) -> str | None:
        """The frame as it went over the wire, for a verdict."""
        if message is None:
            return None
        raw = self._raw.get((message.message_type, message.message_id))
        return raw or json.dumps(message.to_list(), ensure_ascii=False)

    def finish(self) -> None:
        """Raise what is still pending: a frame that broke the rules after the last wait is still a FAIL, and
        so is what the monitors can only judge once the case is over (a seqNo gap never filled)."""
        for monitor in self.monitors:
            self._monitor_failures += [self._violation(v) for v in monitor.finish()]
        self._raise_pending()

    def _monitor(self, record: dict[str, Any]) -> None:
        """Feed the Part 6 §2.1 monitors; what they find FAILs the case at its next wait."""
        for monitor in self.monitors:
            self._monitor_failures += [self._violation(v) for v in monitor.feed(record)]

    def _violation(self, violation: Violation) -> SutFailure:
        raw = violation.record.get("raw")
        return SutFailure(
            f"{violation.reason} ({violation.rule})",
            self.current_step,
            violation.requirement,
            raw if isinstance(raw, str) else None,
            validation=violation.rule,
        )


def _table_of(case_id: str) -> CaseTable | None:
    try:
        return case_table(case_id)
    except KeyError:
        return None


def _describe_where(where: dict[str, Any]) -> str:
    """``{"connectorStatus": "Occupied"}`` as "connectorStatus 'Occupied'", in the table's words."""
    return ", ".join(
        f"{path} {expectation.describe() if isinstance(expectation, Expectation) else repr(expectation)}"
        for path, expectation in where.items()
    )
