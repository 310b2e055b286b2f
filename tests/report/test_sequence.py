"""The SVG sequence diagram of a case's trace: well-formed, self-contained, escaped, red where the SUT is at
fault, compact over idle gaps and fast on long traces. The records below are small hand-written copies of
real traces (TC_E_40_CS passing, TC_P_01_CS failing with --fault datatransfer_accepted)."""

from __future__ import annotations

import datetime as dt
import json
import re
import time
import xml.etree.ElementTree as ET
from typing import Any

from harness.evidence import DIAGRAM_BUDGET, clip
from harness.report.sequence import render_svg

SVG = "{http://www.w3.org/2000/svg}"
STEP = "step 1-2 (The OCTT sends a DataTransferRequest with vendorId org.openchargealliance.octt)"
OFFENDING_RAW = '[3,"34c512cd-144c-499a-b931-bf7e7454d102",{"status":"Accepted"}]'


def frame(
    timestamp: str,
    direction: str,
    message_type: str | None,
    message_id: str | None,
    action: str | None,
    payload: Any,
    raw: str,
    step: str = STEP,
    connection: int = 1,
    **extra: Any,
) -> dict[str, Any]:
    return {
        "timestamp": timestamp, "ocppVersion": "2.0.1", "chargePointId": "CS001", "connection": connection,
        "direction": direction, "messageType": message_type, "messageId": message_id, "action": action,
        "payload": payload, "raw": raw, "step": step, **extra,
    }


def failing_trace() -> list[dict[str, Any]]:
    """TC_P_01_CS with the CS answering Accepted, plus a StatusNotification with a schema violation."""
    return [
        {"timestamp": "2026-11-25T09:42:20.762Z", "event": "case started", "case": "TC_P_01_CS",
         "title": "Data Transfer to the Charging Station - Rejected / Unknown VendorId / Unknown MessageId"},
        frame("2026-11-25T09:42:20.765Z", "csms-to-cs", "CALL", "34c512cd-144c-499a-b931-bf7e7454d102",
              "DataTransfer", {"vendorId": "org.openchargealliance.octt", "messageId": "ocpp-conformance-unused"},
              '[2,"34c512cd-144c-499a-b931-bf7e7454d102","DataTransfer",{"vendorId":"org.openchargealliance.octt",'
              '"messageId":"ocpp-conformance-unused"}]'),
        frame("2026-11-25T09:42:20.771Z", "cs-to-csms", "CALL", "38ddc442", "StatusNotification",
              {"timestamp": "2026-11-25T09:42:20.767Z", "connectorStatus": "Sleeping", "evseId": 1, "connectorId": 1},
              '[2,"38ddc442","StatusNotification",{"timestamp":"2026-11-25T09:42:20.767Z",'
              '"connectorStatus":"Sleeping","evseId":1,"connectorId":1}]',
              violations=[("connectorStatus: 'Sleeping' is not one of ['Available', 'Occupied', 'Reserved', "
                          "'Unavailable', 'Faulted']")]),
        frame("2026-11-25T09:42:20.772Z", "csms-to-cs", "CALLRESULT", "38ddc442", "StatusNotification", {},
              '[3,"38ddc442",{}]'),
        frame("2026-11-25T09:42:20.776Z", "cs-to-csms", "CALLRESULT", "34c512cd-144c-499a-b931-bf7e7454d102",
              "DataTransfer", {"status": "Accepted"}, OFFENDING_RAW),
        {"timestamp": "2026-11-25T09:42:20.777Z", "event": "verdict", "id": "TC_P_01_CS", "role": "cs",
         "verdict": "FAIL", "step": STEP, "requirement": "P01.FR.05, P01.FR.06",
         "reason": "status must be 'UnknownVendorId' or 'UnknownMessageId' or 'Rejected', is 'Accepted'",
         "frame": OFFENDING_RAW},
    ]


def passing_trace() -> list[dict[str, Any]]:
    """A slice of TC_E_40_CS: a manual action, a connection loss and reconnection, a PASS, then clean-up."""
    step_a = "step Authorized 1-2 (The Charging Station sends an AuthorizeRequest) [C01.FR.02]"
    step_b = "step 3-4 (The Charging Station empties its queue of TransactionEventRequests) [E11.FR.01]"
    return [
        {"timestamp": "2026-11-25T09:42:15.013Z", "event": "case started", "case": "TC_E_40_CS",
         "title": "Offline Behaviour - Connection loss during transaction"},
        {"timestamp": "2026-11-25T09:42:15.116Z", "event": "manual action", "action": "present_id_token",
         "params": {"id_token": "VALID001", "type": "ISO14443", "evse_id": 1},
         "instruction": "Present idToken VALID001 (type ISO14443) at EVSE 1."},
        frame("2026-11-25T09:42:15.126Z", "cs-to-csms", "CALL", "94c2", "Authorize",
              {"idToken": {"idToken": "VALID001", "type": "ISO14443"}},
              '[2,"94c2","Authorize",{"idToken":{"idToken":"VALID001","type":"ISO14443"}}]', step=step_a),
        frame("2026-11-25T09:42:15.139Z", "csms-to-cs", "CALLRESULT", "94c2", "Authorize",
              {"idTokenInfo": {"status": "Accepted"}}, '[3,"94c2",{"idTokenInfo":{"status":"Accepted"}}]',
              step=step_a),
        {"timestamp": "2026-11-25T09:42:15.142Z", "event": "harness closes the connection", "connection": 1},
        {"timestamp": "2026-11-25T09:42:15.143Z", "event": "connection closed", "connection": 1, "code": 1001},
        frame("2026-11-25T09:42:17.148Z", "cs-to-csms", "CALL", "a481", "TransactionEvent",
              {"eventType": "Updated", "seqNo": 2, "offline": True},
              '[2,"a481","TransactionEvent",{"eventType":"Updated","seqNo":2,"offline":true}]',
              step=step_b, connection=2),
        frame("2026-11-25T09:42:17.149Z", "csms-to-cs", "CALLERROR", "a481", "TransactionEvent",
              {"errorCode": "InternalError", "errorDescription": "", "errorDetails": {}},
              '[4,"a481","InternalError","",{}]', step=step_b, connection=2),
        {"timestamp": "2026-11-25T09:42:18.154Z", "event": "verdict", "id": "TC_E_40_CS", "role": "cs",
         "verdict": "PASS"},
        {"timestamp": "2026-11-25T09:42:18.158Z", "event": "clean-up", "cleanup": "<lambda>"},
    ]


def groups(svg: str, cls: str) -> list[ET.Element]:
    root = ET.fromstring(svg)
    return [g for g in root.iter(f"{SVG}g") if cls in (g.get("class") or "").split()]


def child(element: ET.Element, tag: str) -> ET.Element:
    found = element.find(f"{SVG}{tag}")
    assert found is not None, tag
    return found


def tooltip(element: ET.Element) -> str:
    return child(element, "title").text or ""


def text_of(element: ET.Element) -> str:
    return " ".join("".join(t.itertext()) for t in element.iter(f"{SVG}text"))


def test_renders_well_formed_svg_with_every_action_and_both_lifelines() -> None:
    for trace in (failing_trace(), passing_trace()):
        svg = render_svg(trace)
        root = ET.fromstring(svg)
        assert root.tag == f"{SVG}svg"
        assert int(root.get("width", "0")) == 1000
        everything = " ".join(root.itertext())
        assert "Charging Station (SUT)" in everything and "CSMS (harness)" in everything
        frames = groups(svg, "frame")
        assert len(frames) == sum(1 for r in trace if "direction" in r)
        for record, group in zip((r for r in trace if "direction" in r), frames):
            assert record["action"] in text_of(group)
            assert record["raw"] == tooltip(group).split("\n")[0]  # full raw frame as tooltip


def test_labels_show_time_type_action_and_error_code() -> None:
    svg = render_svg(passing_trace())
    labels = [text_of(g) for g in groups(svg, "frame")]
    assert "09:42:15.126 CALL Authorize" in labels[0]
    assert "CALLRESULT Authorize" in labels[1] and '{"idTokenInfo":{"status":"Accepted"}}' in labels[1]
    assert "CALLERROR InternalError (TransactionEvent)" in labels[3]


def test_events_become_bands() -> None:
    svg = render_svg(passing_trace())
    bands = " | ".join(text_of(g) for g in groups(svg, "event"))
    assert "MANUAL ACTION present_id_token: Present idToken VALID001 (type ISO14443) at EVSE 1." in bands
    assert "connection 1 closed (code 1001)" in bands
    assert "connection 2 opened" in bands  # inferred from the frames' connection number
    assert "clean-up" in bands
    (verdict,) = groups(svg, "verdict")
    assert "verdict-pass" in verdict.get("class", "") and "VERDICT PASS" in text_of(verdict)
    assert "#2e7d32" in ET.tostring(verdict, encoding="unicode")  # green
    (summary,) = groups(svg, "verdict-summary")
    assert "Verdict: PASS" in text_of(summary)


def test_offending_frame_and_frame_with_violations_are_red() -> None:
    svg = render_svg(failing_trace())
    (offending,) = groups(svg, "offending")
    assert "CALLRESULT DataTransfer" in text_of(offending) and "✗" in text_of(offending)
    assert tooltip(offending).split("\n")[0] == OFFENDING_RAW
    (violating,) = groups(svg, "violation")
    assert "CALL StatusNotification" in text_of(violating)
    assert "'Sleeping' is not one of" in text_of(violating)
    for group in (offending, violating):
        assert child(group, "line").get("stroke") == "#c62828"
        assert any(t.get("fill") == "#c62828" for t in group.iter(f"{SVG}text"))
    for group in groups(svg, "frame"):
        if not {"offending", "violation"} & set(group.get("class", "").split()):
            assert "#c62828" not in ET.tostring(group, encoding="unicode")
    (verdict,) = groups(svg, "verdict")
    assert "verdict-fail" in verdict.get("class", "")
    assert "requirement: P01.FR.05, P01.FR.06" in text_of(verdict)


def test_step_label_shown_when_the_step_changes() -> None:
    svg = render_svg(passing_trace())
    steps = groups(svg, "step")
    assert [tooltip(g) for g in steps] == [
        "step Authorized 1-2 (The Charging Station sends an AuthorizeRequest) [C01.FR.02]",
        "step 3-4 (The Charging Station empties its queue of TransactionEventRequests) [E11.FR.01]",
    ]


def test_hostile_text_is_escaped_and_nothing_external_is_referenced() -> None:
    nasty = "</text><script>alert('x')</script>&amp;\"'\x00\x1b]]>"
    trace = failing_trace()
    trace.append(frame("2026-11-25T09:42:20.780Z", "cs-to-csms", "CALL", "n1", "DataTransfer",
                       {"vendorId": nasty, "data": "<b>&\"'"},
                       json.dumps([2, "n1", "DataTransfer", {"vendorId": nasty}]), problems=[nasty]))
    trace.append({"timestamp": "2026-11-25T09:42:20.790Z", "event": "manual action", "action": "x",
                  "instruction": nasty})
    svg = render_svg(trace, title=nasty, sut="cs")
    root = ET.fromstring(svg)
    assert "<script" not in svg.lower()
    assert not list(root.iter(f"{SVG}script")) and not list(root.iter("script"))
    assert "&lt;script&gt;" in svg and "&amp;amp;" in svg
    assert re.findall(r"https?:[^\s\"'<>]*", svg) == ["http://www.w3.org/2000/svg"]
    for element in root.iter():
        for name, value in element.attrib.items():
            assert "href" not in name and "url(" not in value, (name, value)
    assert "<style" not in svg and "@import" not in svg and "<foreignObject" not in svg
    assert "'Accepted'" not in svg  # quotes in text are entities too


def test_empty_trace_renders() -> None:
    svg = render_svg([])
    root = ET.fromstring(svg)
    assert root.tag == f"{SVG}svg" and not groups(svg, "frame")
    assert int(root.get("height", "0")) < 400


def test_unparseable_frame_renders() -> None:
    trace = failing_trace()[:2] + [
        frame("2026-11-25T09:42:20.770Z", "cs-to-csms", None, None, None, None, "not json {<",
              problems=["the frame is not valid JSON"]),
    ]
    svg = render_svg(trace)
    (group,) = groups(svg, "unparseable")
    assert "unparseable frame" in text_of(group) and "not json {<" in text_of(group)
    assert "violation" in group.get("class", "")


def test_records_without_timestamps_and_unknown_events_render() -> None:
    trace = [{"event": "something new", "detail": {"a": 1}},
             {"direction": "cs-to-csms", "messageType": "CALL", "action": "Heartbeat", "payload": {}, "raw": "[2]"}]
    svg = render_svg(trace)
    assert "something new" in svg and "--:--:--.---" in svg and "Heartbeat" in svg
    ET.fromstring(svg)


def test_idle_gaps_are_compressed() -> None:
    start = dt.datetime(2026, 11, 25, 9, 0, tzinfo=dt.UTC)
    trace = [
        frame((start + dt.timedelta(seconds=s)).isoformat().replace("+00:00", "Z"), "cs-to-csms", "CALL",
              f"m{s}", "Heartbeat", {}, f'[2,"m{s}","Heartbeat",{{}}]')
        for s in (0, 300, 600)
    ]
    svg = render_svg(trace)
    height = int(ET.fromstring(svg).get("height", "0"))
    assert height < 1500, height
    assert "… 300.0 s (5.0 min) …" in svg
    assert len(groups(svg, "idle-gap")) == 2


def test_time_is_proportional_below_the_idle_threshold() -> None:
    def arrow_ys(svg: str) -> list[float]:
        return [float(child(g, "line").get("y1", "nan")) for g in groups(svg, "frame")]

    def two(seconds: float) -> list[dict[str, Any]]:
        return [frame("2026-11-25T09:00:00.000Z", "cs-to-csms", "CALL", "a", "Heartbeat", {}, "[2]"),
                frame(f"2026-11-25T09:00:0{seconds}Z", "csms-to-cs", "CALLRESULT", "a", "Heartbeat", {}, "[3]")]

    close, apart = arrow_ys(render_svg(two(0.001))), arrow_ys(render_svg(two(2.5)))
    assert close[1] - close[0] >= 30  # minimum gap: labels never overlap
    assert apart[1] - apart[0] > close[1] - close[0] + 40


def test_output_is_deterministic() -> None:
    assert render_svg(failing_trace()) == render_svg(failing_trace())
    assert render_svg(passing_trace(), sut="csms") == render_svg(passing_trace(), sut="csms")
    assert "CSMS (SUT)" in render_svg(passing_trace(), sut="csms")


def test_two_thousand_frames_render_in_under_a_second() -> None:
    start = dt.datetime(2026, 11, 25, 9, 0, tzinfo=dt.UTC)
    payload = {"eventType": "Updated", "timestamp": "2026-11-25T09:00:00Z", "seqNo": 1,
               "transactionInfo": {"transactionId": "30485568-bb48-474f-8dd6-192664b870a6"}}
    trace: list[dict[str, Any]] = []
    for i in range(2000):
        moment = (start + dt.timedelta(milliseconds=50 * i)).isoformat(timespec="milliseconds")
        call = i % 2 == 0
        trace.append(frame(moment.replace("+00:00", "Z"), "cs-to-csms" if call else "csms-to-cs",
                           "CALL" if call else "CALLRESULT", f"id{i // 2}", "TransactionEvent",
                           payload if call else {}, json.dumps([2, f"id{i // 2}", "TransactionEvent", payload]),
                           step=f"step {i // 100}", violations=["seqNo: bad"] if i % 97 == 0 else None))
    begin = time.perf_counter()
    svg = render_svg(trace)
    elapsed = time.perf_counter() - begin
    print(f"\nrender_svg: 2000 frames in {elapsed * 1000:.0f} ms, {len(svg) / 1e6:.2f} MB")
    assert elapsed < 1.0
    assert len(groups(svg, "frame")) == 2000


def test_a_huge_frame_and_a_huge_verdict_render_quickly_and_small() -> None:
    """A 10 MiB field in a frame, its schema violation and the verdict quoting both: the diagram shows a few
    hundred characters of each, and finds the offending frame although the verdict quotes it cut."""
    raw = json.dumps([3, "b1", {"status": "Accepted", "statusInfo": {"reasonCode": "R" * (10 * 1024 * 1024)}}])
    trace = failing_trace()[:1] + [
        frame("2026-11-25T09:42:20.771Z", "cs-to-csms", "CALLRESULT", "b1", "BootNotification", json.loads(raw), raw,
              violations=["/statusInfo/reasonCode: " + raw + " is too long"] * 50),
        {"timestamp": "2026-11-25T09:42:20.777Z", "event": "verdict", "id": "TC_B_01_CS", "role": "cs",
         "verdict": "FAIL", "step": "R" * 10_000_000, "reason": "R" * 10_000_000, "frame": clip(raw)},
    ]
    begin = time.perf_counter()
    svg = render_svg(trace)
    elapsed = time.perf_counter() - begin
    assert elapsed < 1.0 and len(svg) < 100_000, (elapsed, len(svg))
    (offending,) = groups(svg, "offending")
    assert "bytes more, sha256" in tooltip(offending) and "… and 48 more (see tooltip)" in text_of(offending)
    ET.fromstring(svg)


def test_records_past_the_diagram_budget_are_counted_not_drawn() -> None:
    step = "step 1 (" + "x" * 500 + ")"
    trace = [frame(f"2026-11-25T09:00:00.{i % 1000:03d}Z", "cs-to-csms", "CALL", f"m{i}", "DataTransfer",
                   {"vendorId": "v" * 900}, json.dumps([2, f"m{i}", "DataTransfer", {"vendorId": "v" * 900}]),
                   step=step + str(i)) for i in range(3_000)]
    svg = render_svg(trace)
    assert len(svg) < DIAGRAM_BUDGET + 20_000
    (band,) = groups(svg, "records-not-drawn")
    drawn = len(groups(svg, "frame"))
    assert f"count={3_000 - drawn}" in text_of(band) and 100 < drawn < 3_000
