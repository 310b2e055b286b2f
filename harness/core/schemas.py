"""Validation of OCPP 2.0.1 payloads against the official JSON schemas (Part 3, draft-06).

Two validators with the same verdicts serve two needs: a compiled ``fastjsonschema`` function decides
quickly whether a payload is valid (fleets of stations come later, and jsonschema alone manages only a few
hundred frames per second here); only when it is not does ``jsonschema`` list every violation, because a
FAIL must say everything that is wrong with the SUT's frame, not just the first thing. Formats are checked
(``date-time`` is the only one the schemas use).
"""

from __future__ import annotations

import enum
import itertools
import json
from dataclasses import dataclass
from functools import cache
from importlib import resources
from typing import Any, Callable

import fastjsonschema
import jsonschema

from harness.core.frames import RpcErrorCode

__all__ = ["Kind", "SchemaViolation", "SchemaSet", "ocpp201"]

SCHEMA_PACKAGE = "harness.schemas.ocpp201"

MAX_VIOLATIONS = 100
"""Violations listed for one payload: a frame of 16 MiB can break its schema a million times, and listing them
all would take as long. More than this many is said in one last violation."""

MESSAGE_CHARS = 500
"""Characters of a violation's message: jsonschema quotes the offending value whole (a 10 MiB string "is too
long"), so a longer quote is shortened to its start and its length."""

QUOTE_CHARS = 60
"""Characters of the offending value a shortened message keeps."""


class Kind(str, enum.Enum):
    """Which half of an action a payload is: the CALL's request or the CALLRESULT's response."""

    REQUEST = "Request"
    RESPONSE = "Response"


@dataclass(frozen=True)
class SchemaViolation:
    """One way a payload breaks its schema.

    ``path`` is a JSON-pointer-like location (``/setVariableResult/0/attributeStatus``), ``keyword`` the
    schema keyword that failed (``required``, ``enum``, ``maxLength``, ``additionalProperties`` …).
    """

    path: str
    keyword: str
    message: str

    @property
    def error_code(self) -> RpcErrorCode:
        """The RPC error code a receiver answers with for this violation (Part 4 Table 8)."""
        return _ERROR_CODE_BY_KEYWORD.get(self.keyword, RpcErrorCode.FormatViolation)

    def __str__(self) -> str:
        return f"{self.path or '/'}: {self.message} [{self.keyword}]"


_ERROR_CODE_BY_KEYWORD: dict[str, RpcErrorCode] = {
    "required": RpcErrorCode.OccurrenceConstraintViolation,
    "minItems": RpcErrorCode.OccurrenceConstraintViolation,
    "maxItems": RpcErrorCode.OccurrenceConstraintViolation,
    "type": RpcErrorCode.TypeConstraintViolation,
    "enum": RpcErrorCode.PropertyConstraintViolation,
    "maxLength": RpcErrorCode.PropertyConstraintViolation,
    "minLength": RpcErrorCode.PropertyConstraintViolation,
    "minimum": RpcErrorCode.PropertyConstraintViolation,
    "maximum": RpcErrorCode.PropertyConstraintViolation,
    "format": RpcErrorCode.FormatViolation,
    "additionalProperties": RpcErrorCode.FormatViolation,
}


_FORMAT_CHECKER = jsonschema.Draft6Validator.FORMAT_CHECKER


def _is_date_time(value: str) -> bool:
    # jsonschema's RFC 3339 pattern ends in "$", which lets a trailing newline through.
    return not value.endswith("\n") and _FORMAT_CHECKER.conforms(value, "date-time")


class SchemaSet:
    """The schemas of one OCPP version, compiled on first use per (action, kind)."""

    def __init__(self, schemas: dict[str, dict[str, Any]]) -> None:
        self._schemas = schemas
        self.actions: frozenset[str] = frozenset(
            name[: -len(Kind.REQUEST.value)] for name in schemas if name.endswith(Kind.REQUEST.value)
        )

    def schema(self, action: str, kind: Kind) -> dict[str, Any]:
        """The schema of ``<action><kind>``; KeyError for an unknown action."""
        return self._schemas[f"{action}{kind.value}"]

    def validate(self, action: str, kind: Kind, payload: Any) -> list[SchemaViolation]:
        """Every violation of the payload against its schema; empty when the payload is valid."""
        try:
            self._compiled(action, kind)(payload)
        except fastjsonschema.JsonSchemaValueException:
            return self._explain(action, kind, payload)
        return []

    @cache
    def _compiled(self, action: str, kind: Kind) -> Callable[[Any], Any]:
        # fastjsonschema's own date-time regex is laxer than jsonschema's RFC 3339 check (it takes "+0100",
        # second 60, non-ASCII digits): use the same check so both validators give the same verdict.
        # use_default=False: validation judges the frame as sent and never writes schema defaults into it
        # (an absent field must stay absent for the case, the trace and the monitors).
        return fastjsonschema.compile(self.schema(action, kind), formats={"date-time": _is_date_time}, use_default=False)

    @cache
    def _full_validator(self, action: str, kind: Kind) -> jsonschema.Draft6Validator:
        return jsonschema.Draft6Validator(
            self.schema(action, kind), format_checker=jsonschema.Draft6Validator.FORMAT_CHECKER
        )

    def _explain(self, action: str, kind: Kind, payload: Any) -> list[SchemaViolation]:
        found = list(itertools.islice(self._full_validator(action, kind).iter_errors(payload), MAX_VIOLATIONS + 1))
        errors = sorted(found[:MAX_VIOLATIONS], key=lambda e: list(e.absolute_path))
        violations = [
            SchemaViolation(
                path=_short("".join(f"/{part}" for part in error.absolute_path), MESSAGE_CHARS),
                keyword=str(error.validator),
                message=_message(error),
            )
            for error in errors
        ]
        if len(found) > MAX_VIOLATIONS:
            violations.append(SchemaViolation("", "schema", f"more than {MAX_VIOLATIONS} violations: the first {MAX_VIOLATIONS} are listed"))
        # The two validators agree on every case measured; should they ever disagree, the payload
        # still failed the compiled check and must not pass silently.
        return violations or [
            SchemaViolation("", "schema", "rejected by the compiled validator; jsonschema found no detail")
        ]


def _message(error: jsonschema.ValidationError) -> str:
    """jsonschema's message, with a long quote of the offending value that opens it ("'…' is too long") shortened
    to its start and length; any other long message to its start."""
    message = error.message
    if len(message) <= MESSAGE_CHARS:
        return message
    quoted = repr(error.instance)
    if message.startswith(quoted):
        size = f"a string of {len(error.instance)} characters" if isinstance(error.instance, str) else f"{len(quoted)} characters"
        message = f"{quoted[:QUOTE_CHARS]}… ({size}){message[len(quoted):]}"
    return _short(message, MESSAGE_CHARS)


def _short(text: str, limit: int) -> str:
    return text if len(text) <= limit else f"{text[:limit]}… ({len(text)} characters)"


@cache
def ocpp201() -> SchemaSet:
    """The OCA's OCPP 2.0.1 Edition 3 schemas shipped with the harness (see schemas/ocpp201/NOTICE.md)."""
    folder = resources.files(SCHEMA_PACKAGE)
    schemas = {
        entry.name.removesuffix(".json"): json.loads(entry.read_text(encoding="utf-8"))
        for entry in folder.iterdir()
        if entry.name.endswith(".json")
    }
    return SchemaSet(schemas)
