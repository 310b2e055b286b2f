"""Wire-level mutations of the frames a reference SUT sends: the self-test's way to break one Part 6 validation.

A :class:`Mutation` names the frames it applies to (the case window, CALL or CALLRESULT, the action, the n-th such
frame since the case started, an optional payload filter) and what happens to them: a field is set or deleted, or
the frame is dropped, delayed, duplicated or held back behind the SUT's next frame. The :class:`Mutator` applies a
list of them to each frame the SUT wants to send and says which frames really go out, each with a delay. It is
pure: the websocket side (``harness.reference.wire``) runs the delays and sends.
"""

from __future__ import annotations

import copy
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any

from harness.matching import _TOKEN, mismatches

MESSAGE_TYPES = {"CALL": 2, "CALLRESULT": 3}
"""The frames a SUT sends that a mutation may aim at, with their OCPP-J MessageTypeId (Part 4 §4.1.3)."""
CALLERROR = 4
EDITS = ("set", "delete")
"""Operations that change the payload; they need a ``path``."""
OPS = (*EDITS, "drop", "delay", "duplicate", "reorder")

Entry = tuple[float, str]
"""One frame to send and the seconds to wait before sending it."""


@dataclass(frozen=True)
class Mutation:
    """One change to the SUT's outgoing frames; see the module docstring. ``occurrence`` counts, from 1, the SUT's
    frames of this type and action since the case started (None: every such frame); ``where`` maps paths to the
    values they must have (the same strict equality as a Part 6 validation) for the frame to be mutated."""

    name: str
    case: str | None
    message_type: str
    action: str
    op: str
    occurrence: int | None = None
    where: Mapping[str, Any] = field(default_factory=dict)
    path: str = ""
    value: Any = None
    seconds: float = 0.0

    def __post_init__(self) -> None:
        problems = []
        if self.message_type not in MESSAGE_TYPES:
            problems.append(f"message_type must be one of {sorted(MESSAGE_TYPES)}")
        if self.op not in OPS:
            problems.append(f"op must be one of {list(OPS)}")
        if self.op in EDITS and not _TOKEN.findall(self.path):
            problems.append(f"op {self.op!r} needs a path")
        if self.occurrence is not None and (isinstance(self.occurrence, bool) or self.occurrence < 1):
            problems.append("occurrence counts from 1")
        if self.seconds < 0 or (self.op == "delay" and self.seconds == 0):
            problems.append("a delay needs seconds > 0")
        if not self.action:
            problems.append("action is empty")
        if problems:
            raise ValueError(f"mutation {self.name!r}: {'; '.join(problems)}")

    def as_json(self) -> dict[str, Any]:
        """The mutation as JSON data, every field named (the format of a ``--ocpp-mutations`` file entry)."""
        data = {f.name: getattr(self, f.name) for f in fields(self)}
        data["where"] = dict(self.where)
        return data

    @classmethod
    def from_json(cls, data: Any) -> Mutation:
        """A mutation from JSON data; a wrong key or type is a ValueError naming it."""
        if not isinstance(data, dict):
            raise ValueError(f"a mutation is a JSON object, got {type(data).__name__}")
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(data) - known)
        missing = sorted({"name", "message_type", "action", "op"} - set(data))
        if unknown or missing:
            raise ValueError(f"mutation {data.get('name')!r}: unknown keys {unknown}, missing keys {missing}")
        for key, types in _JSON_TYPES.items():
            if key in data and not isinstance(data[key], types):
                raise ValueError(f"mutation {data.get('name')!r}: {key} has the wrong type {type(data[key]).__name__}")
        return cls(**{"case": None} | data)


_JSON_TYPES: dict[str, type | tuple[type, ...]] = {
    "name": str,
    "case": (str, type(None)),
    "message_type": str,
    "action": str,
    "op": str,
    "occurrence": (int, type(None)),
    "where": dict,
    "path": str,
    "seconds": (int, float),
}


@dataclass(frozen=True)
class Frame:
    """An OCPP-J CALL or CALLRESULT as sent: the parsed array, its type name and its action (a CALLRESULT's is
    the action of the CALL it answers, when known)."""

    array: list[Any]
    message_type: str
    action: str | None

    @property
    def message_id(self) -> str:
        return str(self.array[1])

    @property
    def payload(self) -> dict[str, Any]:
        return self.array[-1]  # type: ignore[no-any-return]


def parse(text: str | bytes, answered_action: str | None = None) -> Frame | None:
    """The frame if ``text`` is a well-formed OCPP-J CALL or CALLRESULT, else None (left alone by mutations)."""
    try:
        array = json.loads(text)
    except (ValueError, TypeError):
        return None
    if not isinstance(array, list) or len(array) < 3 or not isinstance(array[1], str) or not isinstance(array[-1], dict):
        return None
    if array[0] == MESSAGE_TYPES["CALL"] and len(array) == 4 and isinstance(array[2], str):
        return Frame(array, "CALL", array[2])
    if array[0] == MESSAGE_TYPES["CALLRESULT"] and len(array) == 3:
        return Frame(array, "CALLRESULT", answered_action)
    return None


def call_action(text: str | bytes) -> tuple[str, str] | None:
    """(messageId, action) of a CALL, for remembering which action a later CALLRESULT answers."""
    frame = parse(text)
    return (frame.message_id, frame.action or "") if frame is not None and frame.message_type == "CALL" else None


def reply_to(text: str | bytes) -> str | None:
    """The messageId a CALLRESULT or CALLERROR answers, else None."""
    try:
        array = json.loads(text)
    except (ValueError, TypeError):
        return None
    if not isinstance(array, list) or len(array) < 3 or not isinstance(array[1], str):
        return None
    return array[1] if array[0] in (MESSAGE_TYPES["CALLRESULT"], CALLERROR) else None


class Mutator:
    """Applies mutations to the SUT's outgoing frames, counting occurrences from the start of the current case."""

    def __init__(self, mutations: Sequence[Mutation]) -> None:
        self.mutations = tuple(mutations)
        self.case: str | None = None
        self._seen: dict[tuple[str, str | None], int] = {}
        self._held: list[Entry] = []

    def case_started(self, case_id: str) -> None:
        """The window of ``case_id`` opens: occurrences count from 1 again."""
        self.case = case_id
        self._seen.clear()

    def case_ended(self) -> None:
        """The window closes: mutations of a case leave the restore after it alone; those for every case
        (``case`` None) go on applying."""
        self.case = None

    @property
    def held(self) -> tuple[str, ...]:
        """Frames held back by a reorder, sent after the SUT's next frame."""
        return tuple(text for _, text in self._held)

    def outgoing(self, text: str, answered_action: str | None) -> list[Entry]:
        """The frames to really send for one frame the SUT wanted to send: [] drops it, two entries duplicate it;
        frames held back by an earlier reorder follow it."""
        released, self._held = self._held, []
        frame = parse(text, answered_action)
        entries = [(0.0, text)] if frame is None else self._mutated(frame, text)
        return entries + released

    def _mutated(self, frame: Frame, text: str) -> list[Entry]:
        key = (frame.message_type, frame.action)
        self._seen[key] = self._seen.get(key, 0) + 1
        chosen = [m for m in self.mutations if self._applies(m, frame, self._seen[key])]
        if not chosen:
            return [(0.0, text)]
        ops = {m.op for m in chosen}
        if "drop" in ops:
            return []
        edits = [m for m in chosen if m.op in EDITS]
        out = _edited(frame.array, edits) if edits else text
        delay = max((m.seconds for m in chosen if m.op == "delay"), default=0.0)
        entries = [(delay, out)] * (2 if "duplicate" in ops else 1)
        if "reorder" in ops:
            self._held.extend(entries)
            return []
        return entries

    def _applies(self, mutation: Mutation, frame: Frame, occurrence: int) -> bool:
        return (
            (mutation.case is None or mutation.case == self.case)
            and mutation.message_type == frame.message_type
            and mutation.action == frame.action
            and mutation.occurrence in (None, occurrence)
            and not mismatches(frame.payload, dict(mutation.where))
        )


def _edited(array: list[Any], edits: Sequence[Mutation]) -> str:
    """The frame with every set/delete applied in order, re-serialised compactly."""
    mutated = copy.deepcopy(array)
    for mutation in edits:
        _edit(mutated[-1], mutation)
    return json.dumps(mutated, separators=(",", ":"), ensure_ascii=False)


def _edit(payload: dict[str, Any], mutation: Mutation) -> None:
    """Set or delete the value at ``mutation.path``; a path whose parent is absent leaves the payload as it is."""
    *parents, last = [name or int(index) for name, index in _TOKEN.findall(mutation.path)]
    container: Any = payload
    for step in parents:
        if not _holds(container, step):
            return
        container = container[step]
    addable = isinstance(container, dict) and isinstance(last, str)
    if mutation.op == "set" and (addable or _holds(container, last)):
        container[last] = copy.deepcopy(mutation.value)
    elif mutation.op == "delete" and _holds(container, last):
        del container[last]


def _holds(container: Any, step: str | int) -> bool:
    """Whether ``container[step]`` exists (a key of an object, an index of an array)."""
    if isinstance(step, str):
        return isinstance(container, dict) and step in container
    return isinstance(container, list) and step < len(container)


def load(path: Path) -> tuple[Mutation, ...]:
    """The mutations of a JSON file holding a list of :meth:`Mutation.as_json` objects; a file that cannot be read
    or holds anything else is a ValueError naming the file."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        if not isinstance(data, list):
            raise ValueError("the file must hold a JSON list of mutations")
        return tuple(Mutation.from_json(item) for item in data)
    except (OSError, ValueError) as error:
        raise ValueError(f"bad mutations file {path}: {error}") from None
