"""Wire mutations of the reference SUTs' outgoing frames: the pure Mutator, the websocket wrapper, the fault table,
and one run per reference SUT showing a mutation on the wire and the case failing at it."""

from __future__ import annotations

import asyncio
import json
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from harness.reference.faults import CSMS_FAULTS, FAULTS, STATION_FAULTS, applied
from harness.reference.mutations import Mutation, Mutator, load
from harness.reference.wire import MutatedConnection

REPO = Path(__file__).resolve().parents[2]
DATA_TRANSFER_ANSWER = '[3,"7",{"status":"UnknownVendorId"}]'


def mutation(op: str = "set", message_type: str = "CALLRESULT", action: str = "DataTransfer", **rest: Any) -> Mutation:
    defaults: dict[str, Any] = {"path": "status", "value": "Accepted"} if op == "set" else {}
    return Mutation("m", rest.pop("case", None), message_type, action, op, **(defaults | rest))


def status_notification(message_id: str, status: str = "Available") -> str:
    payload = {"timestamp": "2026-01-01T00:00:00Z", "connectorStatus": status, "evseId": 1, "connectorId": 1}
    return json.dumps([2, message_id, "StatusNotification", payload])


# --- the pure Mutator ----------------------------------------------------------------------------------

def test_set_changes_a_callresult_of_the_answered_action_and_reserialises_compactly() -> None:
    mutator = Mutator([mutation()])
    assert mutator.outgoing(DATA_TRANSFER_ANSWER, "DataTransfer") == [(0.0, '[3,"7",{"status":"Accepted"}]')]
    assert mutator.outgoing(DATA_TRANSFER_ANSWER, "Heartbeat") == [(0.0, DATA_TRANSFER_ANSWER)]
    assert mutator.outgoing(DATA_TRANSFER_ANSWER, None) == [(0.0, DATA_TRANSFER_ANSWER)]


def test_set_and_delete_follow_paths_with_indices() -> None:
    answer = json.dumps([3, "1", {"getVariableResult": [{"attributeStatus": "Accepted", "attributeValue": "300"}]}])
    set_value = mutation(action="GetVariables", path="getVariableResult[0].attributeValue", value="3001")
    delete = mutation("delete", action="GetVariables", path="getVariableResult[0].attributeStatus")
    [(_, text)] = Mutator([set_value, delete]).outgoing(answer, "GetVariables")
    assert json.loads(text)[2] == {"getVariableResult": [{"attributeValue": "3001"}]}


def test_set_adds_a_missing_field_but_not_under_a_missing_parent() -> None:
    adds = Mutator([mutation(path="statusInfo", value={"reasonCode": "x"})])
    assert json.loads(adds.outgoing(DATA_TRANSFER_ANSWER, "DataTransfer")[0][1])[2]["statusInfo"] == {"reasonCode": "x"}
    orphan = Mutator([mutation(path="statusInfo.reasonCode", value="x"), mutation(path="list[3]", value=1)])
    assert json.loads(orphan.outgoing(DATA_TRANSFER_ANSWER, "DataTransfer")[0][1]) == json.loads(DATA_TRANSFER_ANSWER)


def test_drop_delay_duplicate() -> None:
    frame = status_notification("1")
    call = {"message_type": "CALL", "action": "StatusNotification"}
    assert Mutator([mutation("drop", **call)]).outgoing(frame, None) == []
    assert Mutator([mutation("delay", seconds=1.5, **call)]).outgoing(frame, None) == [(1.5, frame)]
    assert Mutator([mutation("duplicate", **call)]).outgoing(frame, None) == [(0.0, frame), (0.0, frame)]


def test_reorder_holds_the_frame_until_after_the_next_one() -> None:
    mutator = Mutator([mutation("reorder", "CALL", "StatusNotification", occurrence=1)])
    first, second = status_notification("1"), status_notification("2", "Occupied")
    assert mutator.outgoing(first, None) == [] and mutator.held == (first,)
    assert mutator.outgoing(second, None) == [(0.0, second), (0.0, first)]
    assert mutator.held == ()


def test_occurrence_counts_frames_of_the_same_type_and_action_only() -> None:
    mutator = Mutator([mutation("drop", "CALL", "StatusNotification", occurrence=2)])
    assert mutator.outgoing(status_notification("1"), None) != []
    assert mutator.outgoing(DATA_TRANSFER_ANSWER, "DataTransfer") != []  # another action: not counted
    assert mutator.outgoing(status_notification("2"), None) == []
    assert mutator.outgoing(status_notification("3"), None) != []


def test_the_case_window_opens_at_case_started_and_resets_the_counters() -> None:
    mutator = Mutator([mutation("drop", "CALL", "StatusNotification", case="TC_B_01_CS", occurrence=1)])
    assert mutator.outgoing(status_notification("1"), None) != []  # before any case
    mutator.case_started("TC_B_01_CS")
    assert mutator.outgoing(status_notification("2"), None) == []
    assert mutator.outgoing(status_notification("3"), None) != []
    mutator.case_started("TC_B_02_CS")
    assert mutator.outgoing(status_notification("4"), None) != []  # another case
    mutator.case_started("TC_B_01_CS")
    assert mutator.outgoing(status_notification("5"), None) == []  # counted from 1 again
    mutator.case_ended()
    mutator.case_started("TC_B_01_CS")
    mutator.case_ended()
    assert mutator.outgoing(status_notification("6"), None) != []  # the restore after the case


def test_mutations_for_every_case_apply_outside_any_case_window() -> None:
    mutator = Mutator([mutation("drop", "CALL", "StatusNotification")])
    assert mutator.outgoing(status_notification("1"), None) == []
    mutator.case_started("TC_B_01_CS")
    mutator.case_ended()
    assert mutator.outgoing(status_notification("2"), None) == []


def test_where_filters_on_strictly_equal_payload_values() -> None:
    mutator = Mutator([mutation("drop", "CALL", "StatusNotification", where={"connectorStatus": "Occupied", "evseId": 1})])
    assert mutator.outgoing(status_notification("1", "Available"), None) != []
    assert mutator.outgoing(status_notification("2", "Occupied"), None) == []
    strict = Mutator([mutation("drop", "CALL", "StatusNotification", where={"evseId": True})])
    assert strict.outgoing(status_notification("3"), None) != []  # 1 is not true


@pytest.mark.parametrize("text", ["not json", '{"a": 1}', '[4,"1","GenericError","",{}]', '[2,"1",{}]', "[3]"])
def test_frames_that_are_not_a_call_or_callresult_pass_unchanged(text: str) -> None:
    everything = [mutation("drop", message_type) for message_type in ("CALL", "CALLRESULT")]
    assert Mutator(everything).outgoing(text, "DataTransfer") == [(0.0, text)]


# --- the Mutation data ---------------------------------------------------------------------------------

def test_json_round_trip_and_file(tmp_path: Path) -> None:
    original = Mutation("x", "TC_P_01_CS", "CALLRESULT", "DataTransfer", "set", 2, {"status": "Rejected"}, "status", "Accepted")
    assert Mutation.from_json(json.loads(json.dumps(original.as_json()))) == original
    minimal = Mutation.from_json({"name": "y", "message_type": "CALL", "action": "Heartbeat", "op": "drop"})
    assert minimal.case is None and minimal.occurrence is None
    path = tmp_path / "mutations.json"
    path.write_text(json.dumps([original.as_json(), minimal.as_json()]))
    assert load(path) == (original, minimal)


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"name": "x", "message_type": "CALLERROR", "action": "A", "op": "drop"}, "message_type"),
        ({"name": "x", "message_type": "CALL", "action": "A", "op": "explode"}, "op must be"),
        ({"name": "x", "message_type": "CALL", "action": "A", "op": "set"}, "needs a path"),
        ({"name": "x", "message_type": "CALL", "action": "A", "op": "delay"}, "seconds"),
        ({"name": "x", "message_type": "CALL", "action": "A", "op": "drop", "occurrence": 0}, "from 1"),
        ({"name": "x", "message_type": "CALL", "action": "A", "op": "drop", "colour": 1}, "unknown keys \\['colour'\\]"),
        ({"name": "x", "message_type": "CALL", "op": "drop"}, "missing keys \\['action'\\]"),
        ({"name": "x", "message_type": "CALL", "action": "A", "op": "drop", "where": []}, "where has the wrong type"),
        (["not", "an", "object"], "JSON object"),
    ],
)
def test_bad_mutations_are_value_errors_naming_the_problem(data: Any, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        Mutation.from_json(data)


@pytest.mark.parametrize("content", ["{not json", '{"a": 1}', '[{"name": "x"}]'])
def test_a_bad_file_names_the_file(tmp_path: Path, content: str) -> None:
    path = tmp_path / "bad.json"
    path.write_text(content)
    with pytest.raises(ValueError, match="bad mutations file .*bad.json"):
        load(path)


# --- the fault table -----------------------------------------------------------------------------------

IMPLEMENTED = {
    "cs": {"TC_B_01_CS", "TC_B_02_CS", "TC_B_03_CS", "TC_B_06_CS", "TC_B_09_CS", "TC_E_03_CS", "TC_E_40_CS", "TC_G_01_CS", "TC_P_01_CS"},
    "csms": {"TC_B_01_CSMS", "TC_B_02_CSMS", "TC_B_06_CSMS", "TC_C_06_CSMS", "TC_E_01_CSMS", "TC_P_02_CSMS"},
}


def test_every_fault_targets_validations_of_implemented_cases_of_its_role() -> None:
    assert len({(f.role, f.name) for f in FAULTS}) == len(FAULTS)
    for fault in FAULTS:
        assert fault.targets and fault.requirement and fault.breaks, fault.name
        for case_id, validation in fault.targets:
            assert case_id in IMPLEMENTED[fault.role], (fault.name, case_id)
            assert re.fullmatch(r"step \d+|post \d+|before", validation), (fault.name, validation)
        assert all(m.case is None for m in fault.mutations)
    covered = {case for fault in FAULTS for case, _ in fault.targets}
    assert covered == IMPLEMENTED["cs"] | IMPLEMENTED["csms"]


def test_most_faults_are_wire_mutations_and_windowing_narrows_them() -> None:
    behaviour = {f.name for f in FAULTS if f.behaviour}
    assert behaviour == {"sends_messages_while_rejected", "boot_retry_before_interval", "seqno_gap", "does_not_store_variable"}
    occupied = STATION_FAULTS["occupied_not_reported"]
    assert {m.action for m in occupied.mutations} == {"StatusNotification", "NotifyEvent"}
    assert {m.case for m in occupied.windowed("TC_G_01_CS")} == {"TC_G_01_CS"}
    names, mutations = applied(["seqno_gap", "datatransfer_accepted"], STATION_FAULTS)
    assert names == {"seqno_gap"} and mutations == STATION_FAULTS["datatransfer_accepted"].mutations
    with pytest.raises(ValueError, match="no_such_fault"):
        applied(["no_such_fault"], CSMS_FAULTS)


# --- the websocket wrapper -----------------------------------------------------------------------------

class FakeSocket:
    """A websocket double: frames to receive are queued; sent frames are recorded and announced."""

    def __init__(self, incoming: list[str]) -> None:
        self.incoming = incoming
        self.sent: list[str] = []
        self.changed = asyncio.Event()
        self.subprotocol = "ocpp2.0.1"

    async def recv(self) -> str:
        return self.incoming.pop(0)

    async def send(self, text: str) -> None:
        self.sent.append(text)
        self.changed.set()


class FakeChargePoint:
    def __init__(self) -> None:
        self._response_queue: asyncio.Queue[Any] = asyncio.Queue()


async def test_the_wrapper_knows_the_action_a_callresult_answers_and_forwards_the_rest() -> None:
    socket = FakeSocket(['[2,"7","DataTransfer",{"vendorId":"x"}]'])
    wire = MutatedConnection(socket, Mutator([mutation()]))
    await wire.recv()
    await wire.send(DATA_TRANSFER_ANSWER)
    await wire.send(DATA_TRANSFER_ANSWER)  # the CALL is answered already: its action is forgotten
    assert socket.sent == ['[3,"7",{"status":"Accepted"}]', DATA_TRANSFER_ANSWER]
    assert wire.subprotocol == "ocpp2.0.1"


async def test_a_dropped_call_is_answered_locally_and_a_delayed_frame_sent_later() -> None:
    socket = FakeSocket([])
    wire = MutatedConnection(socket, Mutator([mutation("drop", "CALL", "StatusNotification", occurrence=1),
                                               mutation("delay", "CALL", "StatusNotification", occurrence=2, seconds=0.05)]))
    charge_point = FakeChargePoint()
    wire.serve(charge_point)  # type: ignore[arg-type]
    await wire.send(status_notification("1"))
    answer = charge_point._response_queue.get_nowait()
    assert (answer.unique_id, answer.error_code, socket.sent) == ("1", "GenericError", [])
    await wire.send(status_notification("2"))
    assert socket.sent == [] and charge_point._response_queue.empty()
    async with asyncio.timeout(5):
        await socket.changed.wait()
    assert socket.sent == [status_notification("2")]


# --- on the wire, end to end ---------------------------------------------------------------------------

def run_case(tmp_path: Path, role: str, node: str, mutations: list[Mutation]) -> tuple[subprocess.CompletedProcess[str], list[dict[str, Any]]]:
    """Run one case against the reference SUT with a --ocpp-mutations file; its JSONL trace records."""
    file = tmp_path / "mutations.json"
    file.write_text(json.dumps([m.as_json() for m in mutations]))
    report = tmp_path / "report"
    command = [
        sys.executable, "-m", "pytest", node, "-p", "no:cacheprovider", "-o", "asyncio_mode=auto",
        "--rootdir", str(REPO), "-c", str(REPO / "pyproject.toml"),
        "--ocpp-role", role, "--ocpp-mutations", str(file), "--ocpp-report-dir", str(report),
    ]
    run = subprocess.run(command, cwd=REPO, capture_output=True, text=True, timeout=300)
    case_id = node.rsplit("::test_", 1)[1].upper()
    trace = report / "traces" / f"{case_id}.jsonl"
    assert trace.exists(), run.stdout[-2000:] + run.stderr[-2000:]
    return run, [json.loads(line) for line in trace.read_text().splitlines()]


def verdict_of(trace: list[dict[str, Any]]) -> dict[str, Any]:
    return next(r for r in trace if r.get("event") == "verdict")


@pytest.mark.slow
def test_the_reference_station_answers_accepted_on_the_wire_and_tc_p_01_cs_fails(tmp_path: Path) -> None:
    mutant = Mutation("accepted", "TC_P_01_CS", "CALLRESULT", "DataTransfer", "set", 1, path="status", value="Accepted")
    run, trace = run_case(tmp_path, "cs", "testcases/cs/test_p_datatransfer.py::test_tc_p_01_cs", [mutant])
    answer = next(r for r in trace if r.get("messageType") == "CALLRESULT" and r.get("action") == "DataTransfer")
    assert json.loads(answer["raw"])[2] == {"status": "Accepted"}
    assert verdict_of(trace)["verdict"] == "FAIL" and run.returncode == 1, run.stdout[-2000:]


@pytest.mark.slow
def test_the_reference_csms_answers_accepted_on_the_wire_and_tc_p_02_csms_fails(tmp_path: Path) -> None:
    mutant = Mutation("accepted", "TC_P_02_CSMS", "CALLRESULT", "DataTransfer", "set", 1, path="status", value="Accepted")
    run, trace = run_case(tmp_path, "csms", "testcases/csms/test_p_datatransfer.py::test_tc_p_02_csms", [mutant])
    answer = next(r for r in trace if r.get("messageType") == "CALLRESULT" and r.get("action") == "DataTransfer")
    assert json.loads(answer["raw"])[2] == {"status": "Accepted"}
    assert verdict_of(trace)["verdict"] == "FAIL" and run.returncode == 1, run.stdout[-2000:]


def test_mutations_of_another_case_leave_the_run_passing(tmp_path: Path) -> None:
    mutant = Mutation("elsewhere", "TC_B_01_CS", "CALLRESULT", "DataTransfer", "set", path="status", value="Accepted")
    run, trace = run_case(tmp_path, "cs", "testcases/cs/test_p_datatransfer.py::test_tc_p_01_cs", [mutant])
    assert verdict_of(trace)["verdict"] == "PASS" and run.returncode == 0, run.stdout[-2000:]


def test_a_bad_mutations_file_is_a_usage_error(tmp_path: Path) -> None:
    file = tmp_path / "bad.json"
    file.write_text('[{"name": "x"}]')
    command = [sys.executable, "-m", "pytest", "--co", "-q", "-p", "no:cacheprovider", "--rootdir", str(REPO),
               "-c", str(REPO / "pyproject.toml"), "--ocpp-mutations", str(file), str(REPO / "testcases" / "cs")]
    run = subprocess.run(command, cwd=REPO, capture_output=True, text=True, timeout=120)
    assert run.returncode == 4 and "bad mutations file" in run.stderr, run.stderr
