"""Bounded evidence (harness.evidence) and the trace writer (harness.trace): a frame over the limit keeps its
record, cut, with its size and sha256; every line is JSON and UTF-8 whatever the SUT sent; a trace on a folder
is on disk record by record, so a crash leaves what was recorded."""

from __future__ import annotations

import hashlib
import json
import math
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from harness.core.frames import Call
from harness.core.rpc import Inbound
from harness.core.schemas import MAX_VIOLATIONS, MESSAGE_CHARS, Kind, ocpp201
from harness.evidence import (
    FRAME_LIMIT,
    QUOTE_LIMIT,
    SPENT_FRAME_LIMIT,
    TRACE_BUDGET,
    bound_record,
    clip,
    json_text,
    preview,
    whole_sha256,
)
from harness.trace import CS_TO_CSMS, Trace, TraceSettings
from harness.verdicts import Inconclusive, StepRef, SutFailure

MiB = 1024 * 1024


def sha256(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest()


def big_call(size: int, message_id: str = "1") -> Inbound:
    """A DataTransfer CALL whose vendorId is ``size`` characters long, as the RPC endpoint hands it over."""
    payload = {"vendorId": "V" * size}
    raw = json.dumps([2, message_id, "DataTransfer", payload])
    return Inbound(raw, Call(message_id, "DataTransfer", payload), "DataTransfer")


def lines(path: Path) -> list[dict[str, Any]]:
    data = path.read_bytes()
    data.decode("utf-8")  # strict: the file is UTF-8
    return [json.loads(line) for line in data.decode("utf-8").splitlines()]


# --- clip ----------------------------------------------------------------------------------------------

def test_a_short_text_is_kept_whole() -> None:
    assert clip("x" * QUOTE_LIMIT) == "x" * QUOTE_LIMIT


def test_a_long_text_is_cut_with_its_size_and_hash() -> None:
    text = "é" * MiB  # two bytes each
    cut = clip(text, 1000)
    assert cut.startswith("é" * 500) and len(cut.encode()) < 1000 + 128
    assert cut.endswith(f"… ({2 * MiB - 1000} bytes more, sha256 {sha256(text)})")


def test_clipping_is_idempotent_and_the_hash_names_the_whole_text() -> None:
    text = "a" * MiB
    once = clip(text)
    assert clip(once) == once and clip(clip(text, 100)) == clip(text, 100)
    assert whole_sha256(once) == whole_sha256(text) == sha256(text)


def test_a_cut_never_splits_a_character() -> None:
    text = "€" * 1000  # three bytes each
    for limit in (100, 101, 102):
        head = clip(text, limit).partition("… (")[0]
        assert head == "€" * (limit // 3)


# --- preview and JSON ----------------------------------------------------------------------------------

def test_a_preview_keeps_the_shape_and_stays_within_its_budget() -> None:
    payload = {"vendorId": "V" * (10 * MiB), "data": list(range(100_000)), "messageId": "m1"}
    kept = preview(payload, budget=4096, string_limit=100)
    assert kept["vendorId"].startswith("V" * 100) and kept["vendorId"].endswith(f"({10 * MiB - 100} characters more)")
    assert kept["data"][-1].startswith("…") and kept["data"][-1].endswith("more items")
    assert len(json.dumps(kept)) < 2 * 4096
    assert kept["…"] == "1 more members", "the budget was spent on data: messageId is counted, not shown"


def test_a_preview_is_always_json() -> None:
    deep: Any = []
    for _ in range(5000):
        deep = [deep]
    value = {"nan": math.nan, "inf": math.inf, "-inf": -math.inf, 1: b"bytes", "deep": deep, "set": {1}}
    kept = preview(value)
    text = json.dumps(kept, allow_nan=False)
    assert json.loads(text)["nan"] == "NaN" and kept["inf"] == "Infinity" and kept["-inf"] == "-Infinity"
    assert kept["1"] == "b'bytes'"


def test_results_are_valid_json_whatever_they_hold() -> None:
    text = json_text({"reason": "x", "value": math.inf, "frame": "\ud800"}, indent=2)
    assert json.loads(text)["value"] == "Infinity"
    text.encode("utf-8")


# --- trace records -------------------------------------------------------------------------------------

def test_a_frame_within_the_limit_is_recorded_whole() -> None:
    trace = Trace("TC")
    item = big_call(1000)
    whole = trace.frame(item, CS_TO_CSMS, 1, "step 1")
    [kept] = trace.records
    assert kept is whole and kept["raw"] == item.raw and "truncated" not in kept


def test_a_frame_over_the_limit_is_recorded_cut_with_its_size_and_hash() -> None:
    trace = Trace("TC")
    item = big_call(15 * MiB)
    whole = trace.frame(item, CS_TO_CSMS, 1, "step 1")
    [kept] = trace.records
    assert whole["raw"] is item.raw, "the case and the monitors judge the whole frame"
    assert kept["truncated"] == {"bytes": len(item.raw), "sha256": sha256(item.raw)}
    assert kept["raw"].startswith(item.raw[:FRAME_LIMIT]) and len(kept["raw"]) < FRAME_LIMIT + 128
    assert kept["payload"]["vendorId"].endswith("characters more)")
    assert (kept["messageType"], kept["action"], kept["messageId"], kept["step"]) == ("CALL", "DataTransfer", "1", "step 1")
    assert len(trace.to_jsonl()) < 2 * FRAME_LIMIT


def test_the_frame_limit_is_the_traces_own() -> None:
    trace = Trace("TC", frame_limit=2048)
    trace.frame(big_call(4096), CS_TO_CSMS, 1, "")
    assert trace.records[0]["truncated"]["bytes"] > 4096 and len(trace.records[0]["raw"]) < 2048 + 128


def test_past_its_budget_a_trace_cuts_large_frames_shorter_but_keeps_every_record() -> None:
    trace = Trace("TC")
    count = TRACE_BUDGET // FRAME_LIMIT + 20
    for n in range(count):
        trace.frame(big_call(MiB, str(n)), CS_TO_CSMS, 1, "")
    trace.frame(big_call(1000, "small"), CS_TO_CSMS, 1, "")
    assert len(trace.records) == count + 1
    assert len(trace.records[-2]["raw"]) < SPENT_FRAME_LIMIT + 128
    assert "truncated" not in trace.records[-1], "ordinary frames stay whole"
    assert len(trace.to_jsonl()) < TRACE_BUDGET + 20 * (3 * FRAME_LIMIT) + 40 * SPENT_FRAME_LIMIT


@pytest.mark.parametrize(
    "record",
    [
        {"event": "harness honours an interval", "seconds": math.inf},
        {"event": "manual action", "params": {"value": math.nan}},
        {"event": "x", "raw": '[2,"\ud800","Heartbeat",{}]', "payload": {"id": "\udfff"}},
        {"event": "harness error", "error": object()},
    ],
)
def test_every_line_is_json_and_utf8(tmp_path: Path, record: dict[str, Any]) -> None:
    trace = Trace("TC")
    trace.open(TraceSettings(tmp_path))
    trace.add(record)
    [read] = lines(tmp_path / "TC.jsonl")
    assert read["event"] == record["event"]
    assert json.loads(trace.to_jsonl())["event"] == record["event"]


def test_a_lone_surrogate_is_escaped_and_reads_back_the_same(tmp_path: Path) -> None:
    trace = Trace("TC")
    trace.open(TraceSettings(tmp_path))
    trace.add({"event": "x", "raw": '[2,"\ud800","Heartbeat",{}]', "payload": {"id": "\ud800"}})
    [read] = lines(tmp_path / "TC.jsonl")
    assert read["payload"]["id"] == "\ud800" and read["raw"] == '[2,"\ud800","Heartbeat",{}]'


# --- writing as records are made ----------------------------------------------------------------------

def test_an_open_trace_is_on_disk_record_by_record(tmp_path: Path) -> None:
    trace = Trace("TC")
    trace.event("before the folder is known")
    path = trace.open(TraceSettings(tmp_path))
    assert [r["event"] for r in lines(path)] == ["before the folder is known"]
    trace.event("case started")
    trace.frame(big_call(10), CS_TO_CSMS, 1, "step 1")
    assert [r.get("event", r.get("action")) for r in lines(path)] == ["before the folder is known", "case started", "DataTransfer"]
    assert trace.write(tmp_path) == path and len(lines(path)) == 3


def test_an_open_trace_replaces_an_earlier_runs_file_and_is_never_empty(tmp_path: Path) -> None:
    (tmp_path / "TC.jsonl").write_text('{"event": "an earlier run"}\n', encoding="utf-8")
    trace = Trace("TC")
    trace.open(TraceSettings(tmp_path))
    assert not (tmp_path / "TC.jsonl").exists()
    trace.event("case started")
    assert [r["event"] for r in lines(tmp_path / "TC.jsonl")] == ["case started"]


def test_a_crash_leaves_every_record_made_before_it(tmp_path: Path) -> None:
    script = (
        "import os, sys\n"
        "from pathlib import Path\n"
        "from harness.trace import Trace, TraceSettings\n"
        "trace = Trace('TC')\n"
        "trace.open(TraceSettings(Path(sys.argv[1])))\n"
        "for n in range(3):\n"
        "    trace.event('step', n=n)\n"
        "os._exit(9)\n"
    )
    done = subprocess.run([sys.executable, "-c", script, str(tmp_path)], timeout=60)
    assert done.returncode == 9
    assert [r["n"] for r in lines(tmp_path / "TC.jsonl")] == [0, 1, 2]


def test_a_housekeeping_trace_writes_into_the_session_trace(tmp_path: Path) -> None:
    session = Trace("session")
    session.open(TraceSettings(tmp_path))
    session.event("connection opened")
    housekeeping = Trace("session")
    housekeeping.share_file(session)
    housekeeping.event("housekeeping")
    session.event("connection closed")
    assert [r["event"] for r in lines(tmp_path / "session.jsonl")] == ["connection opened", "housekeeping", "connection closed"]


def test_full_frames_go_to_side_files_when_asked(tmp_path: Path) -> None:
    trace = Trace("TC")
    trace.open(TraceSettings(tmp_path, full_frames=True))
    item = big_call(2 * FRAME_LIMIT)
    trace.frame(item, CS_TO_CSMS, 1, "")
    [read] = lines(tmp_path / "TC.jsonl")
    side = tmp_path / read["truncated"]["file"]
    assert side == tmp_path / "TC.frames" / f"{sha256(item.raw)}.txt"
    assert side.read_text(encoding="utf-8") == item.raw


def test_no_side_files_by_default(tmp_path: Path) -> None:
    trace = Trace("TC")
    trace.open(TraceSettings(tmp_path))
    trace.frame(big_call(2 * FRAME_LIMIT), CS_TO_CSMS, 1, "")
    assert "file" not in lines(tmp_path / "TC.jsonl")[0]["truncated"]
    assert sorted(os.listdir(tmp_path)) == ["TC.jsonl"]


# --- verdicts and schema violations ----------------------------------------------------------------------

def test_a_verdict_quotes_a_huge_frame_and_reason_cut() -> None:
    frame = "F" * (10 * MiB)
    failure = SutFailure("R" * (10 * MiB), StepRef("1"), "B01.FR.01", frame)
    assert len(str(failure)) < 3 * QUOTE_LIMIT
    assert whole_sha256(failure.frame or "") == sha256(frame)
    assert len(Inconclusive("I" * MiB).reason) < QUOTE_LIMIT + 128


def test_a_schema_violation_does_not_quote_a_huge_value_whole() -> None:
    [violation] = ocpp201().validate("DataTransfer", Kind.REQUEST, {"vendorId": "V" * (10 * MiB)})
    assert len(str(violation)) <= MESSAGE_CHARS + 100
    assert "(a string of 10485760 characters) is too long" in violation.message
    assert violation.path == "/vendorId" and violation.keyword == "maxLength"


def test_a_payload_breaking_its_schema_a_million_times_lists_a_bounded_number() -> None:
    payload = {"vendorId": "v", "x": 1} | {f"extra{n}": n for n in range(10)}
    assert len(ocpp201().validate("DataTransfer", Kind.REQUEST, payload)) == 1
    meter = {"timestamp": "2024-01-01T00:00:00Z", "sampledValue": [{"value": "bad"}] * 1000}
    violations = ocpp201().validate("MeterValues", Kind.REQUEST, {"evseId": 1, "meterValue": [meter] * 10})
    assert len(violations) == MAX_VIOLATIONS + 1 and "more than" in violations[-1].message


def test_bound_record_keeps_a_small_record_as_it_is() -> None:
    record = {"event": "x", "payload": {"a": 1}}
    kept, line = bound_record(record)
    assert kept is record and json.loads(line) == record
