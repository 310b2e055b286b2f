"""The trace of a case: every frame both ways and every connection event, as JSONL.

One record per line, close to the Open OCPP Trace Format (open-ocpp-trace v1.1) so other tools can read
it: ``timestamp``, ``direction`` (``cs-to-csms`` / ``csms-to-cs``), ``messageType``, ``messageId``,
``action``, ``payload``, ``raw``; plus what the harness found: ``problems`` (Part 4 rules broken),
``violations`` (schema), ``step`` (the Part 6 step running when the frame passed) and ``connection``
(which WebSocket connection of the case, counting from 1). Events (connected, closed, manual actions,
verdict) have ``event`` instead of a frame.
"""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from harness.core.frames import Call, CallError, CallResult
from harness.core.rpc import Inbound, Outbound

CS_TO_CSMS = "cs-to-csms"
CSMS_TO_CS = "csms-to-cs"


def utc_now() -> str:
    return dt.datetime.now(dt.timezone.utc).isoformat(timespec="milliseconds").replace("+00:00", "Z")


@dataclass
class Trace:
    """The records of one case, kept in memory and written as JSONL when the case ends."""

    case_id: str
    ocpp_version: str = "2.0.1"
    identity: str = ""
    records: list[dict[str, Any]] = field(default_factory=list)

    def frame(
        self, item: Inbound | Outbound, direction: str, connection: int, step: str
    ) -> dict[str, Any]:
        record = frame_record(item, direction, connection, step, self.identity, self.ocpp_version)
        self.records.append(record)
        return record

    def event(self, name: str, **details: Any) -> dict[str, Any]:
        record = {"timestamp": utc_now(), "event": name, **details}
        self.records.append(record)
        return record

    def write(self, folder: Path) -> Path:
        folder.mkdir(parents=True, exist_ok=True)
        path = folder / f"{self.case_id}.jsonl"
        path.write_text(self.to_jsonl(), encoding="utf-8")
        return path

    def to_jsonl(self) -> str:
        return "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in self.records)


def frame_record(
    item: Inbound | Outbound, direction: str, connection: int, step: str, identity: str, ocpp_version: str = "2.0.1"
) -> dict[str, Any]:
    """One frame as a trace record (the fields of the module docstring)."""
    frame = item.frame
    record: dict[str, Any] = {
        "timestamp": utc_now(),
        "ocppVersion": ocpp_version,
        "chargePointId": identity,
        "connection": connection,
        "direction": direction,
        "messageType": _message_type(frame),
        "messageId": frame.message_id if frame else None,
        "action": item.action,
        "payload": _payload(frame),
        "raw": item.text if isinstance(item, Outbound) else item.raw,
        "step": step,
    }
    if getattr(item, "binary", False):
        record["binary"] = True
    problems = getattr(item, "problems", ())
    if problems:
        record["problems"] = list(problems)
    if item.violations:
        record["violations"] = [str(v) for v in item.violations]
    return record


def _message_type(frame: Call | CallResult | CallError | None) -> str | None:
    return frame.message_type.name if frame is not None else None


def _payload(frame: Call | CallResult | CallError | None) -> Any:
    if isinstance(frame, (Call, CallResult)):
        return frame.payload
    if isinstance(frame, CallError):
        return {
            "errorCode": frame.error_code,
            "errorDescription": frame.error_description,
            "errorDetails": frame.error_details,
        }
    return None
