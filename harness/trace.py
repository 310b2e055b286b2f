"""The trace of a case: every frame both ways and every connection event, as JSONL.

One record per line, close to the Open OCPP Trace Format (open-ocpp-trace v1.1) so other tools can read
it: ``timestamp``, ``direction`` (``cs-to-csms`` / ``csms-to-cs``), ``messageType``, ``messageId``,
``action``, ``payload``, ``raw``; plus what the harness found: ``problems`` (Part 4 rules broken),
``violations`` (schema), ``step`` (the Part 6 step running when the frame passed) and ``connection``
(which WebSocket connection of the case, counting from 1). Events (connected, closed, manual actions,
verdict) have ``event`` instead of a frame.

Every frame has its record, but a frame over the trace's frame limit is kept cut (see :mod:`harness.evidence`):
``raw`` holds its first bytes and the cut marker, ``payload`` a preview, and ``truncated`` says
``{"bytes": N, "sha256": H}`` of the whole frame, plus ``"file"`` (relative to the trace) when full frames are
kept in side files. Every line is JSON (no NaN, no Infinity) and UTF-8 (a lone surrogate is escaped). Once
opened on a folder, a trace appends each record to its file as it is made, so that a crash leaves every record
made so far.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from harness.core.frames import Call, CallError, CallResult
from harness.core.rpc import Inbound, Outbound
from harness.evidence import FRAME_LIMIT, SPENT_FRAME_LIMIT, TRACE_BUDGET, bound_record, json_line, utf8

CS_TO_CSMS = "cs-to-csms"
CSMS_TO_CS = "csms-to-cs"


def utc_now() -> str:
    return dt.datetime.now(dt.timezone.utc).isoformat(timespec="milliseconds").replace("+00:00", "Z")


@dataclass(frozen=True)
class TraceSettings:
    """Where a run's traces go and how much of a frame they keep whole (``ocpp_trace_frame_limit``), and whether
    frames cut are also kept whole in side files (``ocpp_full_frames``)."""

    folder: Path
    frame_limit: int = FRAME_LIMIT
    full_frames: bool = False


@dataclass(frozen=True)
class TraceFile:
    """The JSONL file of a trace, and whether frames cut in it are also kept whole in side files
    (``<trace name>.frames/<sha256>.txt`` next to it)."""

    path: Path
    full_frames: bool = False

    def append(self, line: str) -> None:
        """One record's line, on disk when this returns (opened and closed each time: nothing to leak or lose)."""
        with self.path.open("a", encoding="utf-8") as stream:
            stream.write(line + "\n")

    def keep_frame(self, raw: str, sha256: str) -> str:
        """Write the whole frame to its side file; its path relative to the trace's folder."""
        folder = self.path.parent / f"{self.path.stem}.frames"
        folder.mkdir(parents=True, exist_ok=True)
        (folder / f"{sha256}.txt").write_bytes(utf8(raw))
        return f"{folder.name}/{sha256}.txt"


@dataclass
class Trace:
    """The records of one case, each bounded as it is made (``records`` holds what the trace keeps), and
    appended to the trace file as it is made once :meth:`open` has named the folder."""

    case_id: str
    ocpp_version: str = "2.0.1"
    identity: str = ""
    records: list[dict[str, Any]] = field(default_factory=list)
    frame_limit: int = FRAME_LIMIT
    file: TraceFile | None = None
    written: int = 0
    """Bytes of the lines made so far: past TRACE_BUDGET, large frames are cut to SPENT_FRAME_LIMIT."""

    def frame(
        self, item: Inbound | Outbound, direction: str, connection: int, step: str
    ) -> dict[str, Any]:
        return self.add(frame_record(item, direction, connection, step, self.identity, self.ocpp_version))

    def event(self, name: str, **details: Any) -> dict[str, Any]:
        return self.add({"timestamp": utc_now(), "event": name, **details})

    def add(self, record: dict[str, Any]) -> dict[str, Any]:
        """Keep the record as the trace keeps it and append it to the file; returns it whole, for judging."""
        limit = self.frame_limit if self.written < TRACE_BUDGET else min(self.frame_limit, SPENT_FRAME_LIMIT)
        kept, line = bound_record(record, limit)
        if "truncated" in kept and self.file is not None and self.file.full_frames:
            kept["truncated"]["file"] = self.file.keep_frame(record["raw"], kept["truncated"]["sha256"])
            line = _line(kept)
        self.records.append(kept)
        self.written += len(line) + 1
        if self.file is not None:
            self.file.append(line)
        return record

    def open(self, settings: TraceSettings) -> Path:
        """From now on write each record to ``<folder>/<case id>.jsonl`` as it is made (the records so far first).
        The file of an earlier run goes at once; the new one appears with the first record, so no trace file
        is ever empty."""
        settings.folder.mkdir(parents=True, exist_ok=True)
        self.frame_limit = settings.frame_limit
        self.file = TraceFile(settings.folder / f"{self.case_id}.jsonl", settings.full_frames)
        self.file.path.unlink(missing_ok=True)
        if self.records:
            self.file.path.write_text(self.to_jsonl(), encoding="utf-8")
        return self.file.path

    def share_file(self, other: Trace) -> None:
        """Append to ``other``'s file as well (the harness's housekeeping "case" writes into the session trace)."""
        self.file, self.frame_limit = other.file, other.frame_limit

    def write(self, folder: Path) -> Path:
        """The trace's file under ``folder``: the open one, complete already, or written now."""
        path = folder / f"{self.case_id}.jsonl"
        if self.file is not None and self.file.path == path:
            return path
        folder.mkdir(parents=True, exist_ok=True)
        path.write_text(self.to_jsonl(), encoding="utf-8")
        return path

    def to_jsonl(self) -> str:
        return "".join(_line(r) + "\n" for r in self.records)


def _line(record: dict[str, Any]) -> str:
    """A kept record's line (a record put in ``records`` by hand is bounded here)."""
    return json_line(record) or bound_record(record)[1]


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
