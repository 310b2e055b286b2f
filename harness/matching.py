"""Field expectations, written the way Part 6 "Tool validations" are:

    {"setVariableResult[0].attributeStatus": "Accepted",
     "status": one_of("Accepted", "NotImplemented"),
     "transactionInfo.remoteStartId": PRESENT,
     "evse.id": not_(0),
     "interval": at_least(300),
     "currentTime": datetime_near(sent_at, 60),
     "eventData": any_item({"component.name": "Connector", "variable.name": "AvailabilityState"})}

A path is dotted with list indices in brackets. An expectation is a plain value (equal, of the same JSON
type), :data:`PRESENT`, :data:`ABSENT`, :func:`one_of`, :func:`not_`, a numeric comparison
(:func:`at_least`, :func:`at_most`, :func:`between`, :func:`greater_than`, :func:`less_than`), a dateTime
comparison (:func:`datetime_near`, :func:`datetime_after`, :func:`datetime_before`) or a list element match
(:func:`any_item`, :func:`every_item`, whose paths are relative to the element).

Absent fields the message's JSON schema gives a ``default`` for are judged as that default when
``defaults`` (from :func:`schema_defaults`) is passed: a GetVariableResult without attributeType is an
"Actual" one. PRESENT and ABSENT still judge the frame as sent: a defaulted field is absent.

Reasons read like the tables: ``status must be 'Accepted' or 'NotImplemented', is 'Rejected'``,
``interval must be ≥ 300, is 10``, ``eventData must have an element with component.name 'Connector'``.
"""

from __future__ import annotations

import abc
import datetime as dt
import json
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import cache
from typing import Any, Literal

from harness.core.schemas import Kind, ocpp201

_MISSING = object()
_TOKEN = re.compile(r"([^.\[\]]+)|\[(\d+)\]")
_INDEX = re.compile(r"\[\d+\]")
# RFC 3339 date-time with a mandatory offset (Part 2 §2.1.6 dateTime); ASCII digits only.
_DATE_TIME = re.compile(
    r"[0-9]{4}-[0-9]{2}-[0-9]{2}[Tt][0-9]{2}:[0-9]{2}:[0-9]{2}(\.[0-9]+)?([Zz]|[+-][0-9]{2}:[0-9]{2})", re.ASCII
)
_SHOWN_CHARS = 200

Defaults = Mapping[str, Any]
"""Schema defaults by path pattern, lists as ``[]``: ``{"getVariableResult[].attributeType": "Actual"}``."""


@dataclass(frozen=True)
class _Defaulted:
    """An absent field read as its schema default: value tests see ``value``, presence tests see absence."""

    value: Any


def _effective(value: Any) -> Any:
    """The value a value test judges: the default of an absent, defaulted field."""
    return value.value if isinstance(value, _Defaulted) else value


class Expectation(abc.ABC):
    """A test on one field's value (``_MISSING`` when the field is absent).

    ``defaults`` are the schema defaults below that field (patterns relative to it); only expectations
    that look inside the value (list element matches) use them."""

    @abc.abstractmethod
    def holds(self, value: Any, defaults: Defaults | None = None) -> bool: ...

    @abc.abstractmethod
    def describe(self) -> str:
        """What the field must be, in the table's words (``'Accepted' or 'NotImplemented'``, ``≥ 300``)."""

    def predicate(self) -> str:
        """The words after "<path> must": ``be ≥ 300``, ``have an element with …``."""
        return f"be {self.describe()}"

    def condition(self) -> str:
        """The words after "<path>" inside an element's description: ``≥ 300``, ``having an element with …``."""
        return self.describe()

    @abc.abstractmethod
    def as_data(self) -> dict[str, Any]:
        """The expectation as JSON data ``{"op": ..., ...}``: the self-test reads it to make a frame that
        breaks exactly this expectation.

        Ops and their keys: ``equals`` (value), ``one_of`` (options: list of expectation data), ``not``
        (excluded: expectation data), ``present``, ``absent``, ``at_least`` / ``at_most`` / ``greater_than``
        / ``less_than`` (value: number), ``between`` (low, high: numbers, both inclusive),
        ``datetime_near`` (moment: OCPP dateTime, tolerance_s: seconds), ``datetime_after`` /
        ``datetime_before`` (moment), ``any_item`` / ``every_item`` (where: {relative path: expectation
        data})."""


@dataclass(frozen=True)
class _Equals(Expectation):
    expected: Any

    def holds(self, value: Any, defaults: Defaults | None = None) -> bool:
        value = _effective(value)
        return value is not _MISSING and value == self.expected and type(value) is type(self.expected)

    def describe(self) -> str:
        return _show(self.expected)

    def as_data(self) -> dict[str, Any]:
        return {"op": "equals", "value": self.expected}


@dataclass(frozen=True)
class _OneOf(Expectation):
    options: tuple[Any, ...]

    def holds(self, value: Any, defaults: Defaults | None = None) -> bool:
        return any(_as_expectation(o).holds(value, defaults) for o in self.options)

    def describe(self) -> str:
        return " or ".join(_as_expectation(o).describe() for o in self.options)

    def predicate(self) -> str:
        predicates = [_as_expectation(o).predicate() for o in self.options]
        if all(p.startswith("be ") for p in predicates):
            return f"be {self.describe()}"
        return " or ".join(predicates)

    def condition(self) -> str:
        return " or ".join(_as_expectation(o).condition() for o in self.options)

    def as_data(self) -> dict[str, Any]:
        return {"op": "one_of", "options": [_as_expectation(o).as_data() for o in self.options]}


@dataclass(frozen=True)
class _Not(Expectation):
    excluded: Any

    def holds(self, value: Any, defaults: Defaults | None = None) -> bool:
        return _effective(value) is not _MISSING and not _as_expectation(self.excluded).holds(value, defaults)

    def describe(self) -> str:
        return f"present and not {_as_expectation(self.excluded).describe()}"

    def predicate(self) -> str:
        inner = _as_expectation(self.excluded).predicate()
        return f"be present and not {inner.removeprefix('be ')}"

    def condition(self) -> str:
        return f"present and not {_as_expectation(self.excluded).condition()}"

    def as_data(self) -> dict[str, Any]:
        return {"op": "not", "excluded": _as_expectation(self.excluded).as_data()}


@dataclass(frozen=True)
class _Presence(Expectation):
    present: bool

    def holds(self, value: Any, defaults: Defaults | None = None) -> bool:
        sent = value is not _MISSING and not isinstance(value, _Defaulted)
        return sent == self.present

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


# -- numbers ---------------------------------------------------------------------------------------------


def _is_number(value: Any) -> bool:
    """A JSON number: int or float, never a boolean (True is not 1 on the wire)."""
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _require_number(value: Any) -> None:
    if not _is_number(value):
        raise TypeError(f"a numeric expectation needs an int or float bound, not {value!r}")


@dataclass(frozen=True)
class _Compare(Expectation):
    """A number compared with one bound: the table's "≥ 300", "> 0"."""

    op: Literal["at_least", "at_most", "greater_than", "less_than"]
    bound: int | float

    def holds(self, value: Any, defaults: Defaults | None = None) -> bool:
        value = _effective(value)
        return _is_number(value) and _COMPARISONS[self.op][1](value, self.bound)

    def describe(self) -> str:
        return f"{_COMPARISONS[self.op][0]} {_show(self.bound)}"

    def as_data(self) -> dict[str, Any]:
        return {"op": self.op, "value": self.bound}


_COMPARISONS: dict[str, tuple[str, Any]] = {
    "at_least": ("≥", lambda value, bound: value >= bound),
    "at_most": ("≤", lambda value, bound: value <= bound),
    "greater_than": (">", lambda value, bound: value > bound),
    "less_than": ("<", lambda value, bound: value < bound),
}


@dataclass(frozen=True)
class _Between(Expectation):
    low: int | float
    high: int | float

    def holds(self, value: Any, defaults: Defaults | None = None) -> bool:
        value = _effective(value)
        return _is_number(value) and self.low <= value <= self.high

    def describe(self) -> str:
        return f"between {_show(self.low)} and {_show(self.high)}"

    def as_data(self) -> dict[str, Any]:
        return {"op": "between", "low": self.low, "high": self.high}


def _compare(op: Literal["at_least", "at_most", "greater_than", "less_than"], bound: int | float) -> Expectation:
    _require_number(bound)
    return _Compare(op, bound)


def at_least(bound: int | float) -> Expectation:
    """A number ≥ ``bound``."""
    return _compare("at_least", bound)


def at_most(bound: int | float) -> Expectation:
    """A number ≤ ``bound``."""
    return _compare("at_most", bound)


def greater_than(bound: int | float) -> Expectation:
    """A number > ``bound``."""
    return _compare("greater_than", bound)


def less_than(bound: int | float) -> Expectation:
    """A number < ``bound``."""
    return _compare("less_than", bound)


def between(low: int | float, high: int | float) -> Expectation:
    """A number from ``low`` to ``high``, both included."""
    _require_number(low)
    _require_number(high)
    if low > high:
        raise ValueError(f"between({low!r}, {high!r}): the low bound is above the high one")
    return _Between(low, high)


# -- dateTimes -------------------------------------------------------------------------------------------


def parse_date_time(value: Any) -> dt.datetime | None:
    """The aware datetime an OCPP dateTime (RFC 3339 with ``Z`` or an offset) stands for; None for anything
    else, an offsetless or date-only string included."""
    if not isinstance(value, str) or not _DATE_TIME.fullmatch(value):
        return None
    try:
        return dt.datetime.fromisoformat(value.upper())
    except ValueError:
        return None


def _show_moment(moment: dt.datetime) -> str:
    return moment.isoformat().replace("+00:00", "Z")


def _require_aware(moment: dt.datetime) -> None:
    if not isinstance(moment, dt.datetime) or moment.utcoffset() is None:
        raise ValueError(f"a dateTime expectation needs an aware datetime, not {moment!r}")


@dataclass(frozen=True)
class _DateTimeNear(Expectation):
    moment: dt.datetime
    tolerance_s: float

    def holds(self, value: Any, defaults: Defaults | None = None) -> bool:
        parsed = parse_date_time(_effective(value))
        return parsed is not None and abs((parsed - self.moment).total_seconds()) <= self.tolerance_s

    def describe(self) -> str:
        return f"a dateTime within {_show(self.tolerance_s)} s of {_show_moment(self.moment)}"

    def as_data(self) -> dict[str, Any]:
        return {"op": "datetime_near", "moment": _show_moment(self.moment), "tolerance_s": self.tolerance_s}


@dataclass(frozen=True)
class _DateTimeOrder(Expectation):
    moment: dt.datetime
    after: bool

    def holds(self, value: Any, defaults: Defaults | None = None) -> bool:
        parsed = parse_date_time(_effective(value))
        if parsed is None:
            return False
        return parsed > self.moment if self.after else parsed < self.moment

    def describe(self) -> str:
        return f"a dateTime {'after' if self.after else 'before'} {_show_moment(self.moment)}"

    def as_data(self) -> dict[str, Any]:
        return {"op": "datetime_after" if self.after else "datetime_before", "moment": _show_moment(self.moment)}


def datetime_near(moment: dt.datetime, tolerance_s: float) -> Expectation:
    """An OCPP dateTime at most ``tolerance_s`` seconds from ``moment`` (an aware datetime), either way."""
    _require_aware(moment)
    if not _is_number(tolerance_s) or tolerance_s < 0:
        raise ValueError(f"datetime_near needs a tolerance of 0 s or more, not {tolerance_s!r}")
    return _DateTimeNear(moment, tolerance_s)


def datetime_after(moment: dt.datetime) -> Expectation:
    """An OCPP dateTime strictly later than ``moment`` (an aware datetime)."""
    _require_aware(moment)
    return _DateTimeOrder(moment, after=True)


def datetime_before(moment: dt.datetime) -> Expectation:
    """An OCPP dateTime strictly earlier than ``moment`` (an aware datetime)."""
    _require_aware(moment)
    return _DateTimeOrder(moment, after=False)


# -- list elements ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Items(Expectation):
    """Elements of a list tested against ``where`` (paths relative to the element): some (``any_item``)
    or all (``every_item``; an empty list holds, an absent one does not)."""

    where: tuple[tuple[str, Any], ...]
    every: bool

    def holds(self, value: Any, defaults: Defaults | None = None) -> bool:
        value = _effective(value)
        if not isinstance(value, list):
            return False
        element_defaults = _below(defaults or {}, "[]")
        matches = (not mismatches(element, dict(self.where), element_defaults) for element in value)
        return all(matches) if self.every else any(matches)

    def describe(self) -> str:
        clauses = " and ".join(f"{path} {_as_expectation(test).condition()}" for path, test in self.where)
        return f"{'only elements' if self.every else 'an element'} with {clauses}"

    def predicate(self) -> str:
        return f"have {self.describe()}"

    def condition(self) -> str:
        return f"having {self.describe()}"

    def as_data(self) -> dict[str, Any]:
        return {
            "op": "every_item" if self.every else "any_item",
            "where": {path: _as_expectation(test).as_data() for path, test in self.where},
        }


def any_item(where: dict[str, Any]) -> Expectation:
    """A list with at least one element for which every ``path: expectation`` of ``where`` holds."""
    return _Items(tuple(where.items()), every=False)


def every_item(where: dict[str, Any]) -> Expectation:
    """A list whose every element satisfies every ``path: expectation`` of ``where``."""
    return _Items(tuple(where.items()), every=True)


# -- looking up and judging ------------------------------------------------------------------------------


@dataclass(frozen=True)
class Mismatch:
    path: str
    expected: str
    actual: Any
    predicate: str = ""
    default: Any = field(default=_MISSING)

    def __str__(self) -> str:
        must = self.predicate or f"be {self.expected}"
        return f"{self.path} must {must}, is {self._actual()}"

    def _actual(self) -> str:
        if self.actual is not _MISSING:
            return _show(self.actual)
        if self.default is not _MISSING:
            return f"absent (so {_show(self.default)} by default)"
        return "absent"


def pattern_of(path: str) -> str:
    """The defaults pattern of a path: list indices become ``[]``."""
    return _INDEX.sub("[]", path)


def _find(payload: Any, path: str, defaults: Defaults) -> Any:
    """The value at ``path``; a :class:`_Defaulted` for an absent field of a present object that has a
    schema default; ``_MISSING`` otherwise."""
    value = payload
    tokens = _TOKEN.findall(path)
    for position, (name, index) in enumerate(tokens):
        if name:
            if not isinstance(value, dict):
                return _MISSING
            if name not in value:
                last = position == len(tokens) - 1
                pattern = pattern_of(path)
                return _Defaulted(defaults[pattern]) if last and pattern in defaults else _MISSING
            value = value[name]
        else:
            item = int(index)
            if not isinstance(value, list) or item >= len(value):
                return _MISSING
            value = value[item]
    return value


def lookup(payload: Any, path: str, defaults: Defaults | None = None) -> Any:
    """The value at ``path`` (its schema default when absent and ``defaults`` has one), or ``_MISSING``."""
    return _effective(_find(payload, path, defaults or {}))


def _below(defaults: Defaults, pattern: str) -> dict[str, Any]:
    """The defaults under ``pattern``, their patterns relative to it (``[]`` stays for a list)."""
    below = {}
    for key, value in defaults.items():
        rest = key.removeprefix(pattern)
        if key.startswith(pattern) and rest[:1] in (".", "["):
            below[rest.removeprefix(".")] = value
    return below


def mismatches(payload: Any, expected: dict[str, Any], defaults: Defaults | None = None) -> list[Mismatch]:
    """Every expectation that does not hold, in the order given; absent fields with an entry in
    ``defaults`` (see :func:`schema_defaults`) are judged as that default."""
    defaults = defaults or {}
    found = []
    for path, expectation in expected.items():
        test = _as_expectation(expectation)
        value = _find(payload, path, defaults)
        if not test.holds(value, _below(defaults, pattern_of(path))):
            actual, default = (_MISSING, value.value) if isinstance(value, _Defaulted) else (value, _MISSING)
            found.append(Mismatch(path, test.describe(), actual, test.predicate(), default))
    return found


def as_data(expected: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """Every ``path: expectation`` as JSON data (see :meth:`Expectation.as_data`)."""
    return {path: _as_expectation(expectation).as_data() for path, expectation in expected.items()}


def describe_mismatches(found: list[Mismatch]) -> str:
    return "; ".join(str(m) for m in found)


# -- schema defaults -------------------------------------------------------------------------------------


def schema_defaults(action: str, kind: Literal["request", "response"]) -> dict[str, Any]:
    """Every property the JSON schema of ``<action><Kind>`` gives a ``default``, by path pattern (lists as
    ``[]``): ``schema_defaults("GetVariables", "response")["getVariableResult[].attributeType"] == "Actual"``.
    KeyError for an unknown action."""
    return dict(_schema_defaults(action, Kind.REQUEST if kind == "request" else Kind.RESPONSE))


@cache
def _schema_defaults(action: str, kind: Kind) -> tuple[tuple[str, Any], ...]:
    schema = ocpp201().schema(action, kind)
    found: dict[str, Any] = {}
    _collect_defaults(schema, schema, "", found, frozenset())
    return tuple(found.items())


def _resolve(root: dict[str, Any], node: dict[str, Any]) -> tuple[dict[str, Any], str]:
    """The node a local ``$ref`` (``#/definitions/X``) points to, and the reference ("" for none)."""
    reference = node.get("$ref", "")
    if not reference:
        return node, ""
    target: Any = root
    for part in reference.removeprefix("#/").split("/"):
        target = target[part]
    return target, reference


def _collect_defaults(
    root: dict[str, Any], node: dict[str, Any], prefix: str, found: dict[str, Any], seen: frozenset[str]
) -> None:
    """Walk ``node``'s properties (through ``$ref`` and array items) adding ``prefix + name: default``;
    ``seen`` stops a recursive definition from looping."""
    for name, prop in node.get("properties", {}).items():
        target, reference = _resolve(root, prop)
        if reference in seen:
            continue
        inner = seen | {reference} if reference else seen
        if "default" in prop or "default" in target:
            found[prefix + name] = prop.get("default", target.get("default"))
        if target.get("type") == "array":
            items, item_reference = _resolve(root, target.get("items", {}))
            if item_reference not in seen:
                item_seen = inner | {item_reference} if item_reference else inner
                _collect_defaults(root, items, f"{prefix}{name}[].", found, item_seen)
        else:
            _collect_defaults(root, target, f"{prefix}{name}.", found, inner)


# -- showing values --------------------------------------------------------------------------------------


def _show(value: Any) -> str:
    """A JSON value as a reason shows it: strings quoted once, numbers and booleans bare, null, and
    objects and lists as compact JSON (cut after a few hundred characters)."""
    if value is None:
        return "null"
    if isinstance(value, (dict, list)):
        text = json.dumps(value, ensure_ascii=False, separators=(",", ":"))
        return text if len(text) <= _SHOWN_CHARS else text[:_SHOWN_CHARS] + "…"
    return repr(value)


def _as_expectation(value: Any) -> Expectation:
    return value if isinstance(value, Expectation) else _Equals(value)
