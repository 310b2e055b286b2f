"""The self-test: prove that every Part 6 validation of every implemented case can FAIL.

A case that PASSes a correct SUT proves little unless each of its tool validations is shown to catch a SUT that
breaks it. The self-test therefore

1. runs every case against the correct reference SUT (each must PASS); the result files list the named checks
   each case evaluated (``checks``: validation id, message type, action, occurrence, field expectations);
2. derives *mutants* from those checks: for each field expectation, one schema-valid value (or deletion) of
   that field in that frame which the expectation rejects — a wire-level fault the reference SUT injects into
   the frames it sends (:mod:`harness.reference.mutations`), scoped to one case;
3. runs the mutants, and the wire faults of the fault table (:mod:`harness.reference.faults`) windowed to each
   case they target, in *rounds*: round i carries the i-th of them for every case at once, since a mutation
   only acts inside its own case; each behaviour fault (process-wide) runs once against the cases it targets;
4. judges: a validation is proven when some mutant or fault made its case FAIL *at that validation* — a FAIL
   elsewhere, a PASS, an INCONCLUSIVE or an ERROR proves nothing about it.

Mutant generation and judgement are pure functions of the reference results, the traces and the JSON
schemas; :func:`run` does the I/O through a runner the CLI supplies (one pytest subprocess per call).
"""

from __future__ import annotations

import copy
import datetime as dt
import importlib
import json
import re
import time
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from harness.core.schemas import Kind, SchemaSet, ocpp201
from harness.matching import parse_date_time
from harness.results import RunOutcome
from harness.verdicts import Verdict

PARALLELISM = 2
"""Mutant rounds and fault runs at once (the self-test machine has 2 cores)."""

UNBREAKABLE = "cannot be broken on the wire while staying schema-valid"
KIND_BY_MESSAGE_TYPE = {"CALL": Kind.REQUEST, "CALLRESULT": Kind.RESPONSE}
SUT_DIRECTION = {"cs": "cs-to-csms", "csms": "csms-to-cs"}
"""The trace direction of the frames the SUT of each role sends (the only frames a mutation can change)."""

_TOKEN = re.compile(r"([^.\[\]]+)|\[(\d+)\]")
_MISSING = object()
_REASON_CHARS = 120
_SOME_DATE_TIMES = ("2000-01-01T00:00:00Z", "2001-02-03T04:05:06Z")


# --- mutants --------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Mutant:
    """One wire-level change to one frame the reference SUT sends, aimed at one validation of one case."""

    name: str
    case: str
    validation: str
    message_type: str
    action: str
    occurrence: int | None
    op: str  # "set" | "delete"
    path: str
    value: Any = None

    def as_mutation(self) -> dict[str, Any]:
        """The mutation as the reference SUT reads it (``--ocpp-mutations``), built by its own class."""
        mutations = importlib.import_module("harness.reference.mutations")
        mutation = mutations.Mutation(
            name=self.name, case=self.case, message_type=self.message_type, action=self.action, op=self.op,
            occurrence=self.occurrence, path=self.path, value=self.value,
        )
        return dict(mutation.as_json())

    def probe(self) -> Probe:
        return Probe(self.name, self.case, (self.validation,), (self.as_mutation(),))


@dataclass(frozen=True)
class Probe:
    """One case-scoped change of the reference's frames a round carries: a generated mutant, or a wire fault
    of the fault table windowed to one case; ``targets`` are the validation ids of that case it aims at."""

    name: str
    case: str
    targets: tuple[str, ...]
    mutations: tuple[Mapping[str, Any], ...]
    fault: bool = False


@dataclass(frozen=True)
class Unbroken:
    """A field expectation no mutant can break, and why (shown as the validation's note when unproven)."""

    case: str
    validation: str
    path: str
    reason: str

    def __str__(self) -> str:
        return f"{self.path}: {self.reason}"


@dataclass(frozen=True)
class Edit:
    op: str  # "set" | "delete"
    path: str
    value: Any = None


Validator = Callable[[Any], bool]


def field_mutants(case_id: str, check: Mapping[str, Any], payload: Any, schemas: SchemaSet | None = None) -> tuple[list[Mutant], list[Unbroken]]:
    """A mutant per field expectation of `check` (a ``checks`` entry of a result file) against `payload`, the
    frame the check looked at in the reference run; the expectations that cannot be broken, with the reason."""
    schemas = schemas or ocpp201()
    validation = str(check["validation"])
    kind = KIND_BY_MESSAGE_TYPE.get(str(check.get("messageType")))
    action = check.get("action")
    if kind is None or not action or action not in schemas.actions:
        reason = f"no schema for a {check.get('messageType')} of {action}"
        return [], [Unbroken(case_id, validation, path, reason) for path in check["fields"]]
    root = schemas.schema(action, kind)

    def valid(candidate: Any) -> bool:
        return not schemas.validate(action, kind, candidate)

    mutants: list[Mutant] = []
    unbroken: list[Unbroken] = []
    for path, data in check["fields"].items():
        edit = break_field(root, payload, path, data, valid)
        if isinstance(edit, str):
            unbroken.append(Unbroken(case_id, validation, path, edit))
            continue
        name = f"{case_id}/{validation}/{_edit_label(path, edit)}"
        mutants.append(Mutant(name, case_id, validation, str(check["messageType"]), action, check.get("occurrence"), edit.op, edit.path, edit.value))
    return mutants, unbroken


def _edit_label(path: str, edit: Edit) -> str:
    if edit.op == "delete":
        return f"{path} deleted"
    value = edit.value if isinstance(edit.value, str) else json.dumps(edit.value, separators=(",", ":"))
    return f"{edit.path}={value}"


def break_field(root: Mapping[str, Any], payload: Any, path: str, data: Mapping[str, Any], valid: Validator) -> Edit | str:
    """The first schema-valid edit of `payload` at `path` that `data` (an expectation as data) rejects, or why
    there is none."""
    unknown = sorted(_ops(data) - HANDLED_OPS)
    if unknown:
        return f"expectation op {', '.join(unknown)} not handled by the mutant generator"
    if data["op"] == "present":
        deleted = apply_edit(payload, Edit("delete", path))
        return Edit("delete", path) if deleted is not None and valid(deleted) else f"required field; {UNBREAKABLE}"
    node = schema_at(root, path)
    original = lookup(payload, path)
    for candidate in candidates(root, node, data, original):
        if holds(data, candidate):
            continue
        edit = _set_edit(root, payload, path, candidate)
        mutated = apply_edit(payload, edit) if edit is not None else None
        if mutated is not None and valid(mutated):
            return edit  # type: ignore[return-value]
    return f"no schema-valid value breaks it; {UNBREAKABLE}"


def _ops(data: Mapping[str, Any]) -> set[str]:
    """Every op in an expectation, nested ones included."""
    found = {str(data.get("op"))}
    for option in data.get("options", ()):
        found |= _ops(option)
    if "excluded" in data:
        found |= _ops(data["excluded"])
    return found


def holds(data: Mapping[str, Any], value: Any) -> bool:
    """Whether the expectation `data` accepts `value` (``_MISSING`` for an absent field), as harness.matching
    judges a value that is on the wire (the generator only sets values, so schema defaults play no part)."""
    op = data["op"]
    if op in _VALUE_TESTS:
        return value is not _MISSING and _VALUE_TESTS[op](data, value)
    if op == "one_of":
        return any(holds(option, value) for option in data["options"])
    if op == "not":
        return value is not _MISSING and not holds(data["excluded"], value)
    if op in ("present", "absent"):
        return (value is not _MISSING) == (op == "present")
    raise ValueError(f"unknown expectation op {op!r}")


def _number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _seconds_from(data: Mapping[str, Any], value: Any) -> float | None:
    """How many seconds `value` (an OCPP dateTime) lies after the expectation's moment; None if not a dateTime."""
    moment, parsed = parse_date_time(data["moment"]), parse_date_time(value)
    return (parsed - moment).total_seconds() if moment is not None and parsed is not None else None


def _near(data: Mapping[str, Any], value: Any) -> bool:
    offset = _seconds_from(data, value)
    return offset is not None and abs(offset) <= data["tolerance_s"]


def _ordered(after: bool) -> Callable[[Mapping[str, Any], Any], bool]:
    def test(data: Mapping[str, Any], value: Any) -> bool:
        offset = _seconds_from(data, value)
        return offset is not None and (offset > 0 if after else offset < 0)

    return test


_VALUE_TESTS: dict[str, Callable[[Mapping[str, Any], Any], bool]] = {
    "equals": lambda d, v: v == d["value"] and type(v) is type(d["value"]),
    "at_least": lambda d, v: _number(v) and v >= d["value"],
    "at_most": lambda d, v: _number(v) and v <= d["value"],
    "greater_than": lambda d, v: _number(v) and v > d["value"],
    "less_than": lambda d, v: _number(v) and v < d["value"],
    "between": lambda d, v: _number(v) and d["low"] <= v <= d["high"],
    "datetime_near": _near,
    "datetime_after": _ordered(after=True),
    "datetime_before": _ordered(after=False),
}
"""Expectations on a present value, by op (the keys of each op are those of harness.matching ``as_data``)."""

HANDLED_OPS = frozenset({*_VALUE_TESTS, "one_of", "not", "present", "absent"})
"""Expectation ops the generator knows how to break; others (any_item, every_item, ...) give no mutant."""


def _later(moment: str, seconds: float) -> list[str]:
    parsed = parse_date_time(moment)
    if parsed is None:
        return []
    return [(parsed + dt.timedelta(seconds=seconds)).astimezone(dt.UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")]


_HOUR = 3600.0

_BREAKING: dict[str, Callable[[Mapping[str, Any]], list[Any]]] = {
    "at_least": lambda d: [d["value"] - 1, d["value"] - 0.5],
    "at_most": lambda d: [d["value"] + 1, d["value"] + 0.5],
    "greater_than": lambda d: [d["value"], d["value"] - 1],
    "less_than": lambda d: [d["value"], d["value"] + 1],
    "between": lambda d: [d["low"] - 1, d["high"] + 1, d["low"] - 0.5, d["high"] + 0.5],
    "datetime_near": lambda d: _later(d["moment"], d["tolerance_s"] + _HOUR) + _later(d["moment"], -d["tolerance_s"] - _HOUR),
    "datetime_after": lambda d: _later(d["moment"], 0) + _later(d["moment"], -_HOUR),
    "datetime_before": lambda d: _later(d["moment"], 0) + _later(d["moment"], _HOUR),
    "not": lambda d: _satisfying(d["excluded"]),
}
"""Values that break an expectation, nearest its boundary first (other ops are broken by schema values)."""

_SATISFYING: dict[str, Callable[[Mapping[str, Any]], list[Any]]] = {
    "equals": lambda d: [d["value"]],
    "at_least": lambda d: [d["value"]],
    "at_most": lambda d: [d["value"]],
    "greater_than": lambda d: [d["value"] + 1],
    "less_than": lambda d: [d["value"] - 1],
    "between": lambda d: [d["low"], d["high"]],
    "datetime_near": lambda d: [d["moment"]],
    "datetime_after": lambda d: _later(d["moment"], _HOUR),
    "datetime_before": lambda d: _later(d["moment"], -_HOUR),
    "one_of": lambda d: [value for option in d["options"] for value in _satisfying(option)],
    "not": lambda d: _breaking(d["excluded"]),
}
"""Values an expectation accepts: what breaks a ``not`` of it, and seeds for values near it."""


def _breaking(data: Mapping[str, Any]) -> list[Any]:
    return _BREAKING.get(data["op"], lambda d: [])(data)


def _satisfying(data: Mapping[str, Any]) -> list[Any]:
    return _SATISFYING.get(data["op"], lambda d: [])(data)


def candidates(root: Mapping[str, Any], node: Mapping[str, Any] | None, data: Mapping[str, Any], original: Any) -> Iterator[Any]:
    """Values to try for a field, most telling first: those that break the expectation at its boundary, then
    values its schema allows near what the expectation names and the reference sent."""
    yield from _breaking(data)
    if node is None:
        return
    node = resolve(root, node)
    if "enum" in node:
        yield from node["enum"]
        return
    kind = node.get("type")
    seeds = [v for v in [*_satisfying(data), original] if v is not _MISSING]
    if kind == "boolean":
        yield from (not original if isinstance(original, bool) else True, True, False)
    elif kind in ("integer", "number"):
        yield from _numbers(node, seeds, integral=kind == "integer")
    elif kind == "string":
        yield from _strings(node, seeds)
    elif kind in ("object", "array"):
        yield minimal(root, node)


def _numbers(node: Mapping[str, Any], seeds: Sequence[Any], integral: bool) -> Iterator[Any]:
    numbers = [s for s in seeds if _number(s)]
    for number in numbers:
        yield from (number + 1, number - 1) if integral else (number + 1, number - 1, number + 0.5)
    for bound in ("minimum", "maximum"):
        if bound in node:
            yield node[bound]
    yield from (0, 1)


def _strings(node: Mapping[str, Any], seeds: Sequence[Any]) -> Iterator[str]:
    if node.get("format") == "date-time":
        for seed in seeds:
            yield from _later(str(seed), _HOUR)
        yield from _SOME_DATE_TIMES
        return
    limit = int(node.get("maxLength", 1 << 16))
    for seed in (s for s in seeds if isinstance(s, str)):
        yield (seed[: limit - 1] + "X") if seed[-1:] != "X" else (seed[: limit - 1] + "Y")
    yield from ("X"[:limit], "mutant"[:limit])


# --- JSON schema and payload paths ---------------------------------------------------------------------

def resolve(root: Mapping[str, Any], node: Mapping[str, Any]) -> Mapping[str, Any]:
    """`node` with its local ``$ref`` (``#/definitions/X``) followed."""
    while "$ref" in node:
        target: Any = root
        for part in str(node["$ref"]).removeprefix("#/").split("/"):
            target = target[part]
        node = target
    return node


def schema_at(root: Mapping[str, Any], path: str) -> Mapping[str, Any] | None:
    """The schema of the field at `path` (dotted, list indices in brackets), or None when it has none."""
    node: Mapping[str, Any] | None = root
    for name, index in _TOKEN.findall(path):
        node = _child_schema(root, node, name, bool(index))
        if node is None:
            return None
    return node


def _child_schema(root: Mapping[str, Any], node: Mapping[str, Any] | None, name: str, is_index: bool) -> Mapping[str, Any] | None:
    if node is None:
        return None
    node = resolve(root, node)
    child = node.get("items") if is_index else node.get("properties", {}).get(name)
    return child if isinstance(child, Mapping) else None


def minimal(root: Mapping[str, Any], node: Mapping[str, Any]) -> Any:
    """The smallest schema-valid value of `node`: required properties only, minimum lengths and bounds."""
    node = resolve(root, node)
    if "enum" in node:
        return node["enum"][0]
    kind = node.get("type")
    if kind == "object":
        properties = node.get("properties", {})
        return {name: minimal(root, properties[name]) for name in node.get("required", ()) if name in properties}
    if kind == "array":
        return [minimal(root, node.get("items", {})) for _ in range(int(node.get("minItems", 0)))]
    if kind == "string":
        return _SOME_DATE_TIMES[0] if node.get("format") == "date-time" else "X" * max(1, int(node.get("minLength", 1)))
    if kind in ("integer", "number"):
        return node.get("minimum", 0)
    if kind == "boolean":
        return False
    return None


def tokens(path: str) -> list[str | int]:
    return [name if name else int(index) for name, index in _TOKEN.findall(path)]


def path_of(parts: Sequence[str | int]) -> str:
    return "".join(f"[{p}]" if isinstance(p, int) else f".{p}" for p in parts).removeprefix(".")


def lookup(payload: Any, path: str) -> Any:
    """The value at `path`, or ``_MISSING``."""
    value = payload
    for part in tokens(path):
        if isinstance(part, int):
            if not isinstance(value, list) or part >= len(value):
                return _MISSING
        elif not isinstance(value, dict) or part not in value:
            return _MISSING
        value = value[part]
    return value


def _set_edit(root: Mapping[str, Any], payload: Any, path: str, value: Any) -> Edit | None:
    """The set that puts `value` at `path`; when parents are missing, a set of the first missing one, built
    as its schema's minimal value holding `value`. None when a missing parent is a list item."""
    parts = tokens(path)
    for depth in range(1, len(parts)):
        if lookup(payload, path_of(parts[:depth])) is _MISSING:
            built = _nested(root, schema_at(root, path_of(parts[:depth])), parts[depth:], value)
            return Edit("set", path_of(parts[:depth]), built) if built is not _MISSING else None
    return Edit("set", path, value)


def _nested(root: Mapping[str, Any], node: Mapping[str, Any] | None, rest: Sequence[str | int], value: Any) -> Any:
    if not rest:
        return value
    if node is None or isinstance(rest[0], int):
        return _MISSING
    built = minimal(root, node)
    inner = _nested(root, _child_schema(root, node, rest[0], False), rest[1:], value)
    if not isinstance(built, dict) or inner is _MISSING:
        return _MISSING
    return {**built, rest[0]: inner}


def apply_edit(payload: Any, edit: Edit) -> Any:
    """A copy of `payload` with `edit` applied; None when its path does not lead into the payload."""
    parts = tokens(edit.path)
    copied = copy.deepcopy(payload)
    parent = lookup(copied, path_of(parts[:-1])) if len(parts) > 1 else copied
    last = parts[-1] if parts else None
    if last is None or parent is _MISSING:
        return None
    if isinstance(last, int):
        if not isinstance(parent, list) or last >= len(parent):
            return None
    elif not isinstance(parent, dict) or (edit.op == "delete" and last not in parent):
        return None
    if edit.op == "delete":
        del parent[last]
    else:
        parent[last] = edit.value
    return copied


# --- from a reference run to mutants --------------------------------------------------------------------

def sut_payload(records: Iterable[Mapping[str, Any]], role: str, message_type: str, action: str, occurrence: int | None) -> Any:
    """The payload of the SUT's `occurrence`-th `message_type` of `action` in a case's trace (``_MISSING`` if
    there is none): the frame a check looked at, counted as the case counts it."""
    seen = 0
    for record in records:
        if record.get("direction") == SUT_DIRECTION[role] and record.get("messageType") == message_type and record.get("action") == action:
            seen += 1
            if seen == (occurrence or 1):
                return record.get("payload")
    return _MISSING


def case_mutants(case_id: str, role: str, result: Mapping[str, Any], records: Sequence[Mapping[str, Any]], schemas: SchemaSet | None = None) -> tuple[list[Mutant], list[Unbroken]]:
    """Every mutant of one case from its reference result and trace, each distinct edit once, names unique."""
    mutants: dict[tuple[Any, ...], Mutant] = {}
    unbroken: list[Unbroken] = []
    for check in result.get("checks", ()):
        if not check.get("fields") or not check.get("held", True):
            continue
        payload = sut_payload(records, role, str(check.get("messageType")), str(check.get("action")), check.get("occurrence"))
        if payload is _MISSING:
            unbroken += [Unbroken(case_id, check["validation"], p, "the frame it checked is not in the reference trace") for p in check["fields"]]
            continue
        made, missed = field_mutants(case_id, check, payload, schemas)
        unbroken += missed
        for mutant in made:
            key = (mutant.validation, mutant.message_type, mutant.action, mutant.occurrence, mutant.op, mutant.path, json.dumps(mutant.value))
            mutants.setdefault(key, mutant)
    return _unique_names(list(mutants.values())), unbroken


def _unique_names(mutants: Sequence[Mutant]) -> list[Mutant]:
    """Two mutants of one name (the same field of two occurrences) get ``@<occurrence>`` after the name."""
    counts: dict[str, int] = {}
    for mutant in mutants:
        counts[mutant.name] = counts.get(mutant.name, 0) + 1
    return [replace(mutant, name=f"{mutant.name}@{mutant.occurrence}") if counts[mutant.name] > 1 else mutant for mutant in mutants]


def rounds(probes_by_case: Mapping[str, Sequence[Probe]]) -> list[dict[str, Probe]]:
    """Round i holds the i-th probe of every case that has one: mutations act only inside their own case,
    so one pytest run can carry one probe per case."""
    depth = max((len(probes) for probes in probes_by_case.values()), default=0)
    return [{case: probes[i] for case, probes in probes_by_case.items() if i < len(probes)} for i in range(depth)]


# --- judging --------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Attempt:
    """One fault or mutant run on one case: what it aimed at and what the case's result was."""

    name: str
    case: str
    targets: tuple[str, ...]  # the validation ids it aims at; empty: a fault without declared targets
    result: Mapping[str, Any]

    @property
    def verdict(self) -> str:
        return str(self.result.get("verdict", Verdict.ERROR.value))

    @property
    def failed_at(self) -> str | None:
        """The validation the case FAILed at ("" when the failure named none); None when it did not FAIL."""
        return str(self.result.get("validation", "")) if self.verdict == Verdict.FAIL.value else None

    def outcome(self) -> str:
        """What happened, in a few words: where it FAILed, or the other verdict with its reason."""
        if self.failed_at is not None:
            return f"FAIL at {self.failed_at}" if self.failed_at else "FAIL at no named validation"
        reason = str(self.result.get("reason") or "")
        if self.verdict == Verdict.PASS.value or not reason:
            return self.verdict
        return f"{self.verdict} ({reason[:_REASON_CHARS]}{'…' if len(reason) > _REASON_CHARS else ''})"


def proves(result: Mapping[str, Any], validation: str) -> bool:
    """A run proves `validation` only when its case FAILed at exactly that validation."""
    return result.get("verdict") == Verdict.FAIL.value and result.get("validation") == validation


@dataclass(frozen=True)
class ValidationRef:
    id: str
    requirement: str = ""


def judge_case(
    case_id: str,
    role: str,
    reference: Mapping[str, Any],
    validations: Sequence[ValidationRef],
    attempts: Sequence[Attempt],
    unbroken: Sequence[Unbroken] = (),
) -> dict[str, Any]:
    """The case's self-test entry: its reference verdict, who killed it, and each validation's proof."""
    listed = list(validations) + [
        ValidationRef(v) for v in dict.fromkeys(_seen_validations(reference, attempts)) if v not in {x.id for x in validations}
    ]
    return {
        "id": case_id,
        "role": role,
        "reference": str(reference.get("verdict", Verdict.ERROR.value)),
        "killed_by": [a.name for a in attempts if a.verdict == Verdict.FAIL.value],
        "verdicts": {a.name: a.verdict for a in attempts},
        "attempts": {a.name: {"verdict": a.verdict, "validation": a.failed_at or ""} for a in attempts},
        "validations": [_judge_validation(v, attempts, unbroken) for v in listed],
    }


def _seen_validations(reference: Mapping[str, Any], attempts: Sequence[Attempt]) -> Iterator[str]:
    """Validation ids the runs named beyond the case's list: checks of the reference, FAILs of the attempts."""
    yield from (str(check["validation"]) for check in reference.get("checks", ()) if check.get("validation"))
    yield from (a.failed_at for a in attempts if a.failed_at)


def _judge_validation(validation: ValidationRef, attempts: Sequence[Attempt], unbroken: Sequence[Unbroken]) -> dict[str, Any]:
    killers = [a.name for a in attempts if proves(a.result, validation.id)]
    entry: dict[str, Any] = {"id": validation.id, "requirement": validation.requirement, "proven": bool(killers), "killed_by": killers}
    if not killers:
        entry["note"] = _why_unproven(validation.id, attempts, unbroken)
    return entry


def _why_unproven(validation: str, attempts: Sequence[Attempt], unbroken: Sequence[Unbroken]) -> str:
    aimed = [f"{a.name}: {a.outcome()}" for a in attempts if validation in a.targets]
    missed = [str(u) for u in unbroken if u.validation == validation]
    if not aimed and not missed:
        return "no mutant or fault aims at it (no named field check of it in the reference run, no fault targets it)"
    return "; ".join(aimed + missed)


# --- running ---------------------------------------------------------------------------------------------

Runner = Callable[[str, Sequence[str], Sequence[str], Path, Sequence[str]], RunOutcome]
"""(role, faults, case ids, report folder, extra pytest arguments) → the run's outcome (one pytest process)."""


@dataclass(frozen=True)
class FaultPlan:
    """A named fault and what it must break: (case, validation) pairs, none known: every case. A wire fault
    (``windowed`` gives its mutations, as data, within one case) rides in the rounds; a behaviour fault is
    process-wide and gets a run of its own."""

    name: str
    targets: tuple[tuple[str, str], ...]
    windowed: Callable[[str], tuple[Mapping[str, Any], ...]] | None = None

    def aimed(self, cases: Sequence[str]) -> list[str]:
        """The selected cases it targets, in target order; every selected case when it declares none."""
        return [c for c in dict.fromkeys(case for case, _ in self.targets) if c in cases] if self.targets else list(cases)

    def validations(self, case: str) -> tuple[str, ...]:
        return tuple(validation for target, validation in self.targets if target == case)

    def probes(self, cases: Sequence[str]) -> list[Probe]:
        if self.windowed is None:
            return []
        return [Probe(self.name, c, self.validations(c), self.windowed(c), fault=True) for c in self.aimed(cases)]


@dataclass(frozen=True)
class Job:
    role: str
    name: str
    cases: tuple[str, ...]
    fault: str | None = None
    probes: tuple[Probe, ...] = ()


@dataclass
class Report:
    ok: bool
    seconds: float
    mutants_run: int
    faults_run: int
    cases: list[dict[str, Any]]
    harness_errors: list[str]
    validations_source: str
    work: Path

    def as_json(self) -> dict[str, Any]:
        return {
            "ok": self.ok, "seconds": round(self.seconds, 1), "mutants_run": self.mutants_run, "faults_run": self.faults_run,
            "validations_source": self.validations_source, "harness_errors": self.harness_errors, "cases": self.cases,
        }


def fault_plans(faults: Mapping[str, Any]) -> list[FaultPlan]:
    """The fault table (harness.reference.faults ``Fault`` by name) as plans: ``targets`` ((case, validation),
    ...) aim a fault, its ``mutations`` make it a wire fault; an entry without targets (a plain description)
    runs against every case of its role."""
    return [_fault_plan(name, entry) for name, entry in faults.items()]


def _fault_plan(name: str, entry: Any) -> FaultPlan:
    targets = tuple((str(c), str(v)) for c, v in getattr(entry, "targets", ()) or ())
    if not (targets and getattr(entry, "mutations", ())):
        return FaultPlan(name, targets)
    return FaultPlan(name, targets, lambda case: tuple(dict(m.as_json()) for m in entry.windowed(case)))


def part6_validations(case_id: str) -> list[ValidationRef] | None:
    """The Part 6 validations of a case from harness.part6; None when that module or the case is not there."""
    try:
        part6 = importlib.import_module("harness.part6")
        table = part6.case_table(case_id)
    except (ImportError, KeyError, LookupError, ValueError):
        return None
    return [ValidationRef(str(v.id), str(getattr(v, "requirement", "") or "")) for v in table.all_validations]


def checked_validations(reference: Mapping[str, Any]) -> list[ValidationRef]:
    """The validations the reference run's checks named, in order, each once (the fallback list)."""
    found: dict[str, ValidationRef] = {}
    for check in reference.get("checks", ()):
        if check.get("validation"):
            found.setdefault(str(check["validation"]), ValidationRef(str(check["validation"]), str(check.get("requirement", ""))))
    return list(found.values())


def fault_jobs(role: str, cases: Sequence[str], plans: Sequence[FaultPlan]) -> list[Job]:
    """One process per behaviour fault, running only the selected cases it targets."""
    jobs = [Job(role, plan.name, tuple(plan.aimed(cases)), fault=plan.name) for plan in plans if plan.windowed is None]
    return [job for job in jobs if job.cases]


def probes_by_case(cases: Sequence[str], mutants_by_case: Mapping[str, Sequence[Mutant]], plans: Sequence[FaultPlan]) -> dict[str, list[Probe]]:
    """Per case, the wire faults aimed at it, then its generated mutants."""
    found: dict[str, list[Probe]] = {case: [] for case in cases}
    for plan in plans:
        for probe in plan.probes(cases):
            found[probe.case].append(probe)
    for case, mutants in mutants_by_case.items():
        found[case] += [mutant.probe() for mutant in mutants]
    return {case: probes for case, probes in found.items() if probes}


def round_jobs(role: str, probes: Mapping[str, Sequence[Probe]]) -> list[Job]:
    return [
        Job(role, f"round-{i}", tuple(chosen), probes=tuple(chosen.values()))
        for i, chosen in enumerate(rounds(probes), start=1)
    ]


def attempts_of(job: Job, outcome: RunOutcome, plans: Mapping[str, FaultPlan]) -> list[Attempt]:
    """What each case of a job's run tells: a behaviour fault's name per case, or the case's probe of the round."""
    if job.fault is not None:
        plan = plans[job.fault]
        return [Attempt(job.fault, c, plan.validations(c), outcome.results[c]) for c in job.cases]
    return [Attempt(p.name, p.case, p.targets, outcome.results[p.case]) for p in job.probes]


def run(
    cases_by_role: Mapping[str, Sequence[str]],
    faults_by_role: Mapping[str, Mapping[str, Any]],
    runner: Runner,
    work: Path,
    schemas: SchemaSet | None = None,
) -> Report:
    """The whole self-test: reference runs, mutant generation, rounds and fault runs (in parallel), judgement."""
    started = time.monotonic()
    with ThreadPoolExecutor(PARALLELISM) as pool:
        roles = list(cases_by_role)
        references = dict(zip(roles, pool.map(lambda r: runner(r, [], cases_by_role[r], work / f"{r}-reference", []), roles)))
        generated = {r: _generate(r, cases_by_role[r], references[r], work / f"{r}-reference", schemas) for r in roles}
        plans = {r: {p.name: p for p in fault_plans(faults_by_role.get(r, {}))} for r in roles}
        probes = {r: probes_by_case(cases_by_role[r], generated[r][0], list(plans[r].values())) for r in roles}
        jobs = [j for r in roles for j in round_jobs(r, probes[r]) + fault_jobs(r, cases_by_role[r], list(plans[r].values()))]
        outcomes = list(pool.map(lambda job: _run_job(job, runner, work), jobs))
    attempts = [a for job, outcome in zip(jobs, outcomes) for a in attempts_of(job, outcome, plans[job.role])]
    source, cases = _judge_all(cases_by_role, references, generated, attempts)
    errors = [f"{r} reference: {e}" for r in roles for e in references[r].harness_errors]
    errors += [f"{job.name}: {e}" for job, outcome in zip(jobs, outcomes) for e in outcome.harness_errors]
    ok = not errors and all(case_ok(c) for c in cases)
    mutants_run = sum(1 for job in jobs for probe in job.probes if not probe.fault)
    faults_run = sum(len(job.cases) for job in jobs if job.fault) + sum(1 for job in jobs for probe in job.probes if probe.fault)
    return Report(ok, time.monotonic() - started, mutants_run, faults_run, cases, errors, source, work)


def case_ok(case: Mapping[str, Any]) -> bool:
    """PASS on the reference and every validation proven; a case with no validation to prove proves nothing."""
    validations = case["validations"]
    return case["reference"] == Verdict.PASS.value and bool(validations) and all(v["proven"] for v in validations)


def _generate(role: str, cases: Sequence[str], reference: RunOutcome, folder: Path, schemas: SchemaSet | None) -> tuple[dict[str, list[Mutant]], list[Unbroken]]:
    """Mutants per case (only of cases that PASSed the reference: a mutant of a failing case proves nothing)."""
    by_case: dict[str, list[Mutant]] = {}
    unbroken: list[Unbroken] = []
    for case in cases:
        result = reference.results[case]
        if result.get("verdict") != Verdict.PASS.value:
            continue
        made, missed = case_mutants(case, role, result, read_trace(folder / "traces" / f"{case}.jsonl"), schemas)
        if made:
            by_case[case] = made
        unbroken += missed
    return by_case, unbroken


def read_trace(path: Path) -> list[dict[str, Any]]:
    try:
        return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
    except (OSError, ValueError):
        return []


def _run_job(job: Job, runner: Runner, work: Path) -> RunOutcome:
    """One behaviour fault or round; a harness failure of the run becomes ERROR results, so the others still count."""
    folder = work / f"{job.role}-{job.name}"
    folder.mkdir(parents=True, exist_ok=True)
    extra: list[str] = []
    try:
        if job.probes:
            mutations = folder / "mutations.json"
            mutations.write_text(json.dumps([m for p in job.probes for m in p.mutations], indent=2), encoding="utf-8")
            extra = ["--ocpp-mutations", str(mutations)]
        return runner(job.role, [job.fault] if job.fault else [], job.cases, folder, extra)
    except Exception as error:  # any failure to run is the harness's, reported with the job it hit
        reason = f"{type(error).__name__}: {error}"
        return RunOutcome({c: {"id": c, "verdict": Verdict.ERROR.value, "reason": reason} for c in job.cases}, (reason,))


def _judge_all(
    cases_by_role: Mapping[str, Sequence[str]],
    references: Mapping[str, RunOutcome],
    generated: Mapping[str, tuple[dict[str, list[Mutant]], list[Unbroken]]],
    attempts: Sequence[Attempt],
) -> tuple[str, list[dict[str, Any]]]:
    """Every case's entry, and where the validation lists came from (Part 6 tables or the reference checks)."""
    cases: list[dict[str, Any]] = []
    sources: set[str] = set()
    for role, ids in cases_by_role.items():
        for case in ids:
            reference = references[role].results[case]
            listed = part6_validations(case)
            sources.add("part6" if listed is not None else "reference checks")
            unbroken = [u for u in generated[role][1] if u.case == case]
            cases.append(judge_case(case, role, reference, listed if listed is not None else checked_validations(reference), [a for a in attempts if a.case == case], unbroken))
    return ", ".join(sorted(sources)), cases


def text(report: Report) -> str:
    """Per case: reference verdict, proven/total validations and the unproven ids; then counts and time."""
    lines = []
    for case in report.cases:
        validations = case["validations"]
        proven = sum(1 for v in validations if v["proven"])
        unproven = [v["id"] for v in validations if not v["proven"]]
        tail = f"  unproven: {', '.join(unproven)}" if unproven else "" if validations else "  (no validation to prove)"
        killed = f"killed by {len(case['killed_by'])}/{len(case['verdicts'])}"
        lines.append(f"{case['id']:<20} ref {case['reference']:<12} {killed:<14} proven {proven}/{len(validations)}{tail}")
    source = {"part6": "Part 6 tables", "reference checks": "the reference run's checks (harness.part6 not available)"}
    lines.append(f"validations from: {', '.join(source.get(s, s) for s in report.validations_source.split(', '))}")
    lines += [f"harness error: {error}" for error in report.harness_errors]
    lines.append(f"{report.mutants_run} mutant(s) and {report.faults_run} fault run(s) in {report.seconds:.1f} s; {'ok' if report.ok else 'NOT ok'}")
    return "\n".join(lines)


# --- flake hunting -------------------------------------------------------------------------------------------

def outcomes(report: Mapping[str, Any]) -> dict[str, str]:
    """Everything a self-test decided, keyed so that two runs compare cell by cell: each case's reference verdict,
    each mutant's or fault's outcome on it (the verdict, and for a FAIL the validation it named), and whether
    each validation was proven."""
    found: dict[str, str] = {}
    for case in report["cases"]:
        found[f"{case['id']} reference"] = str(case["reference"])
        attempts = case.get("attempts") or {name: {"verdict": verdict} for name, verdict in case["verdicts"].items()}
        for name, attempt in attempts.items():
            at = attempt.get("validation")
            found[f"{case['id']} {name}"] = f"{attempt['verdict']} at {at}" if at else str(attempt["verdict"])
        for validation in case["validations"]:
            found[f"{case['id']} validation {validation['id']}"] = "proven" if validation["proven"] else "unproven"
    found["harness errors"] = str(len(report.get("harness_errors", ())))
    return found


def changes(runs: Sequence[Mapping[str, str]]) -> list[dict[str, Any]]:
    """The cells whose outcome is not the same in every run (a missing cell counts as a change), with the value
    of each run in order: a verdict that changes from run to run is a flake of the harness or the reference."""
    keys = dict.fromkeys(key for run in runs for key in run)
    return [
        {"cell": key, "values": [run.get(key, "absent") for run in runs]}
        for key in keys
        if len({run.get(key, "absent") for run in runs}) > 1
    ]


def differing_runs(found: Sequence[Mapping[str, Any]]) -> list[int]:
    """The runs (0-based) whose logs explain the changes: the first run, and every run that differs from it."""
    if not found:
        return []
    return sorted({0} | {i for change in found for i, value in enumerate(change["values"]) if value != change["values"][0]})
