"""Chaos behaviours of the reference SUTs: a hostile SUT of the project's own, to show that the harness never
crashes, hangs or lies, whatever the SUT does.

One table, :data:`BEHAVIOURS`: each row is one behaviour of one role's reference SUT, with the rule of Part 4 (or
the OCPP-J schemas) it breaks — "" when it is hostile but legal —, the verdicts a case may then give, and its act.
A behaviour that breaks a rule allows FAIL or INCONCLUSIVE only (a PASS would be a false PASS); a legal one may
also PASS. No behaviour ever allows ERROR: that is always the harness's fault.

A behaviour acts only inside the cases, like the self-test's wire mutations, and everything it switched on is
switched off when the case ends (:meth:`Chaos.case_ended`), so the prelude and the restore between cases meet a
well-behaved SUT. Every case meets the behaviour: an act on the connection (switches, dropping it) starts with the
case; an act that sends frames goes out just ahead of the SUT's first frame of the case (:meth:`Chaos.ahead`), so
that a case over in a millisecond still receives them, and a case that starts by rebooting the SUT receives them
on the connection that follows. An act works on a small interface both reference SUTs implement
(:class:`ChaosTarget`): the raw websocket to the harness, switches the wire wrapper and the connection handling read
(:class:`Switches`), and dropping the connection.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import uuid
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass, fields
from typing import Any, Protocol

LOGGER = logging.getLogger(__name__)

ROLES = ("cs", "csms")
RULE_BROKEN = frozenset({"FAIL", "INCONCLUSIVE"})
"""The verdicts a case may give when the SUT breaks a rule: a PASS would be a false PASS."""
HOSTILE_BUT_LEGAL = frozenset({"PASS", "FAIL", "INCONCLUSIVE"})
"""The verdicts a case may give under a legal behaviour (it may break what the case needs, not a rule)."""
BEYOND_A_LIMIT = frozenset({"INCONCLUSIVE"})
"""The verdict when the SUT goes past a limit of the harness's own ([limits]) that no rule sets: the case cannot
judge what lies beyond, and a FAIL would blame the SUT for the harness closing the connection."""

OWN_ACTION = {"cs": "Heartbeat", "csms": "ClearCache"}
"""A CALL the SUT of each role may send on its own whose payload is only ``customData``: the carrier of the
frame-level behaviours."""

MiB = 1024 * 1024
OVER_LONG_FIELD = 10 * MiB
HUGE_FRAME = 15 * MiB
HUGE_FRAMES = 20
OVER_MAX_MESSAGE = 100_000_000
"""Over the harness's 16 MiB maximum frame size (harness/roles.py); sent in fragments of FRAGMENT, so the
SUT itself never holds it whole."""
FRAGMENT = MiB
FLOOD_CALLS = 2000
PINGS = 1000
STORM_RECONNECTS = 20
STORM_WAIT_S = 5.0
"""How long the station's storm waits for each reconnection (its back-off is 0.1 s)."""
HUGE_INTERVAL_S = 1_000_000_000
ACT_AHEAD_S = 30.0
"""How long the SUT's first frame of a case waits for the act sending ahead of it (the case's end cancels it
sooner)."""


@dataclass
class Switches:
    """What an act switches on for the rest of its case; :meth:`reset` at the case's end."""

    silent: bool = False
    """Drop every frame the SUT sends (a CALL of its own is answered locally, so the SUT does not stall)."""
    binary: bool = False
    """Send every frame as a binary WebSocket message."""
    truncate_next: bool = False
    """Send only the first half of the next frame."""
    subprotocols: tuple[str, ...] | None = None
    """Station: the subprotocols it offers when it reconnects (None: ocpp2.0.1)."""
    no_subprotocol: bool = False
    """CSMS: complete handshakes without Sec-WebSocket-Protocol and keep talking."""
    stall_handshakes: bool = False
    """CSMS: answer no handshake until the case ends."""
    close_new_connections: int = 0
    """CSMS: close this many new connections right after their handshake."""
    boot_pending_interval: int | None = None
    """CSMS: answer every BootNotification with Pending and this interval."""

    def reset(self) -> None:
        for item in fields(self):
            setattr(self, item.name, item.default)


class ChaosTarget(Protocol):
    """What an act can do to a reference SUT; both :class:`~harness.reference.station.ReferenceStation` and
    :class:`~harness.reference.csms.ReferenceCsms` implement it."""

    chaos: Chaos

    @property
    def websocket(self) -> Any | None:
        """The raw ``websockets`` connection to the harness now, or None."""

    @property
    def connections(self) -> int:
        """How many connections to the harness were opened so far."""

    @property
    def harness_address(self) -> tuple[str, int] | None:
        """Where the harness listens (host, port) when the SUT is the client, else None."""

    async def drop(self) -> None:
        """Close the connection to the harness; the SUT goes on as after any loss."""

    async def wait_connection(self, newer_than: int) -> None:
        """Until a connection numbered above ``newer_than`` is open (the caller bounds the wait)."""


Act = Callable[[ChaosTarget], Awaitable[None] | None]
"""What a behaviour does to the SUT: what it does at once (turn switches on) happens in the call; what takes time
is the awaitable it returns, run as a task until it is done or the case ends."""


@dataclass(frozen=True)
class Behaviour:
    """One chaos behaviour of one role's reference SUT."""

    name: str
    role: str
    description: str
    breaks: str
    """The rule broken (Part 4, the OCPP-J schemas), or "" for a hostile but legal behaviour."""
    allowed: frozenset[str]
    """The verdicts a case may give under it."""
    act: Act
    sends: bool = False
    """The act sends frames: it runs ahead of the SUT's first frame of the case, not at the case's start."""


class Chaos:
    """The behaviour switched on in one reference SUT: runs its act when a case starts, undoes it when it ends."""

    def __init__(self, behaviour: Behaviour | None) -> None:
        self.behaviour = behaviour
        self.switches = Switches()
        self.calm = asyncio.Event()
        """Set while no case runs: what a behaviour stalls waits for it."""
        self.calm.set()
        self._act: asyncio.Task[None] | None = None
        self._ahead: ChaosTarget | None = None
        """The SUT whose next frame the sending act goes ahead of (None: nothing pending)."""
        self._target: ChaosTarget | None = None
        self._kept: list[asyncio.StreamWriter] = []

    def case_started(self, target: ChaosTarget) -> None:
        if self.behaviour is None:
            return
        self.calm.clear()
        self._target = target
        if self.behaviour.sends:
            self._ahead = target
        else:
            self._start(target)

    def power_cycled(self) -> None:
        """The SUT rebooted during the case: what a sending act sent, or was sending, went with the connection the
        reboot closed, so the act goes again ahead of the first frame on the next one."""
        if self.behaviour is None or not self.behaviour.sends or self._target is None:
            return
        if self._act is not None:
            self._act.cancel()
            self._act = None
        self._ahead = self._target

    async def ahead(self) -> None:
        """Called by the wire wrapper before every frame the SUT sends: the first of the case waits until the
        sending act is done (bounded by ACT_AHEAD_S; the case's end cancels it)."""
        target, self._ahead = self._ahead, None
        task = None if target is None else self._start(target)
        if task is not None:
            await asyncio.wait([task], timeout=ACT_AHEAD_S)

    def _start(self, target: ChaosTarget) -> asyncio.Task[None] | None:
        assert self.behaviour is not None
        pending = self.behaviour.act(target)
        if pending is None:
            return None
        self._act = asyncio.ensure_future(pending)
        self._act.add_done_callback(_log_end)
        return self._act

    def case_ended(self) -> None:
        if self._act is not None:
            self._act.cancel()
            self._act = None
        self._ahead = self._target = None
        self.switches.reset()
        for writer in self._kept:
            writer.close()
        self._kept.clear()
        self.calm.set()

    def keep(self, writer: asyncio.StreamWriter) -> None:
        """A socket an act opened: closed when the case ends."""
        self._kept.append(writer)


def _log_end(task: asyncio.Task[None]) -> None:
    """An act that fails (the connection closed under it) just ends: the behaviour did what it could."""
    if not task.cancelled() and task.exception() is not None:
        LOGGER.info("chaos act ended: %r", task.exception())


# --- the acts ------------------------------------------------------------------------------------------


def _frame(*elements: Any) -> str:
    return json.dumps(list(elements), separators=(",", ":"))


def _message_id() -> str:
    return f"chaos-{uuid.uuid4().hex[:16]}"


def _own_call(role: str, custom: dict[str, Any] | None = None, message_id: str | None = None) -> str:
    payload = {} if custom is None else {"customData": custom}
    return _frame(2, message_id or _message_id(), OWN_ACTION[role], payload)


def _with_vendor_id(role: str, length: int) -> str:
    """A CALL of the role's own action whose customData.vendorId (maxLength 255) is ``length`` characters."""
    return _own_call(role, {"vendorId": "x" * length})


async def _websocket(target: ChaosTarget) -> Any:
    """The connection to the harness (an act sending ahead of a frame runs while there is one)."""
    websocket = target.websocket
    if websocket is None:
        raise ConnectionError("no connection to the harness")
    return websocket


async def _send(target: ChaosTarget, *messages: str | bytes) -> None:
    websocket = await _websocket(target)
    for message in messages:
        await websocket.send(message)


def send(*messages: str) -> Act:
    """An act that sends these texts, as they are, on the connection."""

    async def act(target: ChaosTarget) -> None:
        await _send(target, *messages)

    return act


def switch(**values: Any) -> Act:
    """An act that turns switches on for the case, at once (before any frame of the case)."""

    def act(target: ChaosTarget) -> None:
        for name, value in values.items():
            setattr(target.chaos.switches, name, value)

    return act


def switch_and_drop(**values: Any) -> Act:
    """Turn switches on, then close the connection: what they change meets the next connection."""

    def act(target: ChaosTarget) -> Awaitable[None]:
        switch(**values)(target)
        return target.drop()

    return act


def drop(target: ChaosTarget) -> Awaitable[None]:
    return target.drop()


def huge_interval(target: ChaosTarget) -> Awaitable[None]:
    """Every BootNotification of the case answered Pending with HUGE_INTERVAL_S, and one asked for at once with a
    TriggerMessage (F06), so that every case meets it, not only those that boot."""
    target.chaos.switches.boot_pending_interval = HUGE_INTERVAL_S
    return _send(target, _frame(2, _message_id(), "TriggerMessage", {"requestedMessage": "BootNotification"}))


def unknown_id_result(role: str) -> Act:
    async def act(target: ChaosTarget) -> None:
        await _send(target, _frame(3, _message_id(), {}))

    return act


def duplicate_id(role: str) -> Act:
    """The same CALL twice with one messageId."""

    async def act(target: ChaosTarget) -> None:
        text = _own_call(role, message_id=_message_id())
        await _send(target, text, text)

    return act


def non_finite(role: str) -> Act:
    async def act(target: ChaosTarget) -> None:
        await _send(target, f'[2,"{_message_id()}","{OWN_ACTION[role]}",{{"customData":{{"vendorId":"chaos","value":1E310}}}}]')

    return act


def over_long_field(role: str) -> Act:
    async def act(target: ChaosTarget) -> None:
        await _send(target, _with_vendor_id(role, OVER_LONG_FIELD))

    return act


def huge_frames(role: str) -> Act:
    """HUGE_FRAMES frames of HUGE_FRAME bytes each (under the harness's 16 MiB limit), one built at a time."""

    async def act(target: ChaosTarget) -> None:
        overhead = len(_with_vendor_id(role, 0))
        for _ in range(HUGE_FRAMES):
            await _send(target, _with_vendor_id(role, HUGE_FRAME - overhead))

    return act


def over_max_message(role: str) -> Act:
    async def act(target: ChaosTarget) -> None:
        await (await _websocket(target)).send(_fragments(role))

    return act


def _fragments(role: str) -> Iterator[str]:
    """One OVER_MAX_MESSAGE-byte CALL (vendorId of x's), FRAGMENT at a time."""
    head, tail = _with_vendor_id(role, 0).split('""', 1)
    head, tail = head + '"', '"' + tail
    body = OVER_MAX_MESSAGE - len(head) - len(tail)
    yield head
    chunk = "x" * FRAGMENT
    for _ in range(body // FRAGMENT):
        yield chunk
    yield "x" * (body % FRAGMENT) + tail


def flood(role: str) -> Act:
    async def act(target: ChaosTarget) -> None:
        for _ in range(FLOOD_CALLS):
            await _send(target, _own_call(role))

    return act


async def ping_flood(target: ChaosTarget) -> None:
    websocket = await _websocket(target)
    for _ in range(PINGS):
        await websocket.ping()


async def station_storm(target: ChaosTarget) -> None:
    """Close the link STORM_RECONNECTS times, each time once the station has reconnected."""
    for _ in range(STORM_RECONNECTS):
        opened = target.connections
        await target.drop()
        async with asyncio.timeout(STORM_WAIT_S):
            await target.wait_connection(opened)


async def half_handshake(target: ChaosTarget) -> None:
    """A second TCP connection to the harness carrying the first half of an HTTP upgrade, then nothing."""
    address = target.harness_address
    if address is None:
        return
    _, writer = await asyncio.open_connection(*address)
    target.chaos.keep(writer)
    request = (
        "GET /ocpp/CS001 HTTP/1.1\r\nHost: {0}:{1}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
        "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n"
        "Sec-WebSocket-Protocol: ocpp2.0.1\r\n\r\n"
    ).format(*address)
    writer.write(request[: len(request) // 2].encode("ascii"))
    with contextlib.suppress(ConnectionError):
        await writer.drain()


# --- the table -----------------------------------------------------------------------------------------

JSON_TEXT = "Part 4 §4.1.2: a frame is a JSON text"
SCHEMA = "OCPP-J JSON schema: customData.vendorId is at most 255 characters"


def _both(
    name: str, description: str, breaks: str, act: Callable[[str], Act], sends: bool = False, allowed: frozenset[str] | None = None
) -> tuple[Behaviour, ...]:
    """The same behaviour for the SUT of each role; ``act`` builds its act for the role."""
    return tuple(_one(name, role, description, breaks, act(role), sends, allowed) for role in ROLES)


def _one(
    name: str, role: str, description: str, breaks: str, act: Act, sends: bool = False, allowed: frozenset[str] | None = None
) -> Behaviour:
    verdicts = allowed if allowed is not None else RULE_BROKEN if breaks else HOSTILE_BUT_LEGAL
    return Behaviour(name, role, description, breaks, verdicts, act, sends)


BEHAVIOURS: tuple[Behaviour, ...] = (
    *_both("garbage_text", "sends a text frame that is not JSON", JSON_TEXT, lambda role: send("chaos: this frame is no JSON {"), sends=True),
    *_both(
        "truncated_frame", "sends only the first half of its next frame", JSON_TEXT,
        lambda role: switch(truncate_next=True),
    ),
    *_both(
        "misshaped_frames", 'sends [2,123,"Heartbeat"], [9,"x"], {"a":1} and []',
        "Part 4 §4.1.3-§4.1.4: an array of message type, messageId and the type's elements",
        lambda role: send('[2,123,"Heartbeat"]', '[9,"x"]', '{"a":1}', "[]"), sends=True,
    ),
    *_both(
        "unknown_id_result", "sends a CALLRESULT whose messageId answers no CALL",
        "Part 4 §4.1.4: a CALLRESULT carries the messageId of the CALL it answers", unknown_id_result, sends=True,
    ),
    *_both(
        "duplicate_id", "sends one CALL twice with the same messageId",
        "Part 4 §4.1.4: a messageId is used by one CALL only", duplicate_id, sends=True,
    ),
    *_both(
        "lone_surrogate", 'sends the 27-byte frame [2,"\\ud800","Heartbeat",{}] (an escaped lone surrogate)',
        "Part 4 §4.1.2: a frame is Unicode text (a lone surrogate is no character)",
        lambda role: send('[2,"\\ud800","Heartbeat",{}]'), sends=True,
    ),
    *_both(
        "non_finite_number", "sends a CALL with the number 1E310 (beyond a double) in its payload",
        "Part 4 §4.1.2: a JSON number (RFC 8259 §6) is finite", non_finite, sends=True,
    ),
    *_both("over_long_field", "sends a CALL whose customData.vendorId is 10 MiB long", SCHEMA, over_long_field, sends=True),
    *_both("huge_frames", "sends 20 CALLs of 15 MiB each (customData.vendorId)", SCHEMA, huge_frames, sends=True),
    *_both(
        "over_max_frame", "sends one 100 MB message (in 1 MiB fragments), over the harness's 16 MiB maximum",
        "the receiver's maximum message size (Part 4 leaves it to the implementation)", over_max_message, sends=True,
        allowed=BEYOND_A_LIMIT,
    ),
    *_both(
        "flood", "sends 2,000 CALLs without waiting for their answers",
        "",  # Part 4 §4.1.1 asks to wait, but the harness answers each CALL as it arrives: nothing to see
        flood, sends=True,
    ),
    *_both(
        "silence", "drops everything it would send during the case",
        "Part 4 §4.1.1: every CALL is answered", lambda role: switch(silent=True),
    ),
    *_both("disconnect", "closes the connection at the case's start", "", lambda role: drop),
    _one(
        "reconnect_storm", "cs", "closes the connection and reconnects, 20 times in a row", "", station_storm,
    ),
    _one(
        "reconnect_storm", "csms", "closes the connection, then each of the next 19 right after their handshake", "",
        switch_and_drop(close_new_connections=STORM_RECONNECTS - 1),
    ),
    _one(
        "stalled_handshake", "cs", "opens a second TCP connection and sends half an HTTP upgrade, then nothing", "",
        half_handshake,
    ),
    _one(
        "stalled_handshake", "csms", "closes the connection and answers no new handshake during the case",
        "Part 4 §3: the CSMS completes the WebSocket handshake", switch_and_drop(stall_handshakes=True),
    ),
    *_both(
        "binary_frames", "sends its frames as binary WebSocket messages during the case",
        "Part 4 §4: OCPP-J messages are WebSocket text frames", lambda role: switch(binary=True),
    ),
    *_both("ping_flood", "sends 1,000 WebSocket pings", "", lambda role: ping_flood, sends=True),
    _one(
        "wrong_subprotocol", "cs", 'closes the connection and reconnects offering only "ocpp1.6"',
        "Part 4 §3.2: the ocpp2.0.1 subprotocol is agreed", switch_and_drop(subprotocols=("ocpp1.6",)),
    ),
    _one(
        "wrong_subprotocol", "csms",
        "closes the connection, then completes handshakes without Sec-WebSocket-Protocol and keeps talking",
        "Part 4 §3.2: a CSMS that agrees no ocpp2.0.1 subprotocol closes the connection",
        switch_and_drop(no_subprotocol=True),
    ),
    _one(
        "huge_interval", "csms",
        "triggers a BootNotification (F06) and answers every BootNotification with Pending and interval 1000000000",
        "",  # B02 sets no upper bound on the interval
        huge_interval,
    ),
)


def names(role: str | None = None) -> tuple[str, ...]:
    """The behaviours' names in table order (of one role's SUT when given), each once."""
    return tuple(dict.fromkeys(b.name for b in BEHAVIOURS if role is None or b.role == role))


def behaviour(name: str, role: str) -> Behaviour:
    """The behaviour ``name`` of the reference SUT of ``role``; a LookupError naming the known ones otherwise."""
    for row in BEHAVIOURS:
        if row.name == name and row.role == role:
            return row
    raise LookupError(f"no chaos behaviour {name!r} for the reference {role.upper()}; known: {', '.join(names(role))}")
