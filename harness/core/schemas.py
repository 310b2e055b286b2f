"""Validation of OCPP 2.0.1 payloads against the official JSON schemas (Part 3, draft-06).

Two validators with the same verdicts serve two needs: a compiled ``fastjsonschema`` function decides
quickly whether a payload is valid (fleets of stations come later, and jsonschema alone manages only a few
hundred frames per second here); only when it is not does ``jsonschema`` list every violation, because a
FAIL must say everything that is wrong with the SUT's frame, not just the first thing. Formats are checked
(``date-time`` is the only one the schemas use).
"""

from __future__ import annotations

import enum
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

MAX_MESSAGE_LENGTH = 300
"""How much of jsonschema's message a violation keeps: it quotes the offending value whole, and the SUT chooses
how long that is."""


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
        errors = sorted(
            self._full_validator(action, kind).iter_errors(payload), key=lambda e: list(e.absolute_path)
        )
        violations = [
            SchemaViolation(
                path="".join(f"/{part}" for part in error.absolute_path),
                keyword=str(error.validator),
                message=_shortened(error.message),
            )
            for error in errors
        ]
        # The two validators agree on every case measured; should they ever disagree, the payload
        # still failed the compiled check and must not pass silently.
        return violations or [
            SchemaViolation("", "schema", "rejected by the compiled validator; jsonschema found no detail")
        ]


def _shortened(message: str) -> str:
    if len(message) <= MAX_MESSAGE_LENGTH:
        return message
    return f"{message[:MAX_MESSAGE_LENGTH]}… ({len(message)} characters)"


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
