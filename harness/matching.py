"""Field expectations, written the way Part 6 "Tool validations" are:

    {"setVariableResult[0].attributeStatus": "Accepted",
     "status": one_of("Accepted", "NotImplemented"),
     "transactionInfo.remoteStartId": PRESENT,
     "evse.id": not_(0)}

A path is dotted with list indices in brackets. An expectation is a plain value (equal, of the same JSON
type), :data:`PRESENT`, :data:`ABSENT`, :func:`one_of` or :func:`not_`.
"""

from __future__ import annotations

import abc
import re
from dataclasses import dataclass
from typing import Any

_MISSING = object()
_TOKEN = re.compile(r"([^.\[\]]+)|\[(\d+)\]")


class Expectation(abc.ABC):
    """A test on one field's value (``_MISSING`` when the field is absent)."""

    @abc.abstractmethod
    def holds(self, value: Any) -> bool: ...

    @abc.abstractmethod
    def describe(self) -> str: ...

    @abc.abstractmethod
    def as_data(self) -> dict[str, Any]:
        """The expectation as JSON data ``{"op": ..., ...}``: the self-test reads it to make a frame that
        breaks exactly this expectation."""


@dataclass(frozen=True)
class _Equals(Expectation):
    expected: Any

    def holds(self, value: Any) -> bool:
        return value is not _MISSING and value == self.expected and type(value) is type(self.expected)

    def describe(self) -> str:
        return repr(self.expected)

    def as_data(self) -> dict[str, Any]:
        return {"op": "equals", "value": self.expected}


@dataclass(frozen=True)
class _OneOf(Expectation):
    options: tuple[Any, ...]

    def holds(self, value: Any) -> bool:
        return any(_as_expectation(o).holds(value) for o in self.options)

    def describe(self) -> str:
        return " or ".join(_as_expectation(o).describe() for o in self.options)

    def as_data(self) -> dict[str, Any]:
        return {"op": "one_of", "options": [_as_expectation(o).as_data() for o in self.options]}


@dataclass(frozen=True)
class _Not(Expectation):
    excluded: Any

    def holds(self, value: Any) -> bool:
        return value is not _MISSING and not _as_expectation(self.excluded).holds(value)

    def describe(self) -> str:
        return f"present and not {_as_expectation(self.excluded).describe()}"

    def as_data(self) -> dict[str, Any]:
        return {"op": "not", "excluded": _as_expectation(self.excluded).as_data()}


@dataclass(frozen=True)
class _Presence(Expectation):
    present: bool

    def holds(self, value: Any) -> bool:
        return (value is not _MISSING) == self.present

    def describe(self) -> str:
        return "present" if self.present else "absent"

    def as_data(self) -> dict[str, Any]:
        return {"op": "present" if self.present else "absent"}


PRESENT: Expectation = _Presence(True)
ABSENT: Expectation = _Presence(False)


def one_of(*options: Any) -> Expectation:
    return _OneOf(options)


def not_(excluded: Any) -> Expectation:
    return _Not(excluded)


@dataclass(frozen=True)
class Mismatch:
    path: str
    expected: str
    actual: Any

    def __str__(self) -> str:
        actual = "absent" if self.actual is _MISSING else repr(self.actual)
        return f"{self.path} must be {self.expected}, is {actual}"


def lookup(payload: Any, path: str) -> Any:
    """The value at ``path``, or ``_MISSING``."""
    value = payload
    for name, index in _TOKEN.findall(path):
        if name:
            if not isinstance(value, dict) or name not in value:
                return _MISSING
            value = value[name]
        else:
            position = int(index)
            if not isinstance(value, list) or position >= len(value):
                return _MISSING
            value = value[position]
    return value


def mismatches(payload: Any, expected: dict[str, Any]) -> list[Mismatch]:
    """Every expectation that does not hold, in the order given."""
    found = []
    for path, expectation in expected.items():
        test = _as_expectation(expectation)
        value = lookup(payload, path)
        if not test.holds(value):
            found.append(Mismatch(path, test.describe(), value))
    return found


def as_data(expected: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """Every ``path: expectation`` as JSON data (see :meth:`Expectation.as_data`)."""
    return {path: _as_expectation(expectation).as_data() for path, expectation in expected.items()}


def describe_mismatches(found: list[Mismatch]) -> str:
    return "; ".join(str(m) for m in found)


def _as_expectation(value: Any) -> Expectation:
    return value if isinstance(value, Expectation) else _Equals(value)
