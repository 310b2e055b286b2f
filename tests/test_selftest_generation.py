"""The self-test's pure parts (harness/selftest.py): mutants from recorded checks and the real OCPP schemas, rounds,
fault jobs, and the judgement of which validations a run proves."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import pytest

from harness import selftest
from harness.core.schemas import Kind, ocpp201
from harness.results import RunOutcome
from harness.selftest import Attempt, Edit, FaultPlan, Job, Mutant, Probe, Unbroken, ValidationRef

SET_VARIABLES = {
    "setVariableResult": [
        {"attributeStatus": "Accepted", "component": {"name": "OCPPCommCtrlr"}, "variable": {"name": "HeartbeatInterval"}}
    ]
}
BOOT = {"reason": "PowerUp", "chargingStation": {"vendorName": "V", "model": "M"}}
EVENT = {
    "eventType": "Updated", "timestamp": "2026-01-01T00:00:10.000Z", "triggerReason": "Authorized", "seqNo": 1,
    "offline": True, "transactionInfo": {"transactionId": "t-1"},
}
BOOT_RESPONSE = {"currentTime": "2026-01-01T00:00:00.000Z", "interval": 300, "status": "Accepted"}


def check(action: str, message_type: str, fields: Mapping[str, Any], validation: str = "step 2", occurrence: int = 1) -> dict[str, Any]:
    return {
        "validation": validation, "requirement": "X.FR.01", "step": "1-2", "held": True, "messageType": message_type,
        "action": action, "occurrence": occurrence, "connection": 1, "fields": dict(fields),
    }


def only(case: str, chk: Mapping[str, Any], payload: Any) -> Mutant:
    mutants, unbroken = selftest.field_mutants(case, chk, payload)
    assert len(mutants) == 1 and not unbroken, (mutants, unbroken)
    return mutants[0]


def mutated(mutant: Mutant, payload: Any) -> Any:
    return selftest.apply_edit(payload, Edit(mutant.op, mutant.path, mutant.value))


def assert_schema_valid(mutant: Mutant, payload: Any) -> None:
    kind = selftest.KIND_BY_MESSAGE_TYPE[mutant.message_type]
    assert ocpp201().validate(mutant.action, kind, mutated(mutant, payload)) == []


# --- one mutant per field expectation ---------------------------------------------------------------------

def test_an_enum_expectation_gets_another_enum_value_and_a_readable_name() -> None:
    chk = check("SetVariables", "CALLRESULT", {"setVariableResult[0].attributeStatus": {"op": "equals", "value": "Accepted"}})
    mutant = only("TC_B_09_CS", chk, SET_VARIABLES)
    assert mutant.name == "TC_B_09_CS/step 2/setVariableResult[0].attributeStatus=Rejected"
    assert (mutant.op, mutant.message_type, mutant.action, mutant.occurrence) == ("set", "CALLRESULT", "SetVariables", 1)
    assert_schema_valid(mutant, SET_VARIABLES)


@pytest.mark.parametrize(
    ("path", "data", "payload", "action", "message_type"),
    [
        ("reason", {"op": "one_of", "options": [{"op": "equals", "value": "PowerUp"}, {"op": "equals", "value": "Triggered"}]}, BOOT, "BootNotification", "CALL"),
        ("chargingStation.vendorName", {"op": "not", "excluded": {"op": "equals", "value": ""}}, BOOT, "BootNotification", "CALL"),
        ("chargingStation.model", {"op": "equals", "value": "M"}, BOOT, "BootNotification", "CALL"),
        ("seqNo", {"op": "equals", "value": 1}, EVENT, "TransactionEvent", "CALL"),
        ("offline", {"op": "equals", "value": True}, EVENT, "TransactionEvent", "CALL"),
        ("timestamp", {"op": "datetime_near", "moment": "2026-01-01T00:00:00Z", "tolerance_s": 60}, EVENT, "TransactionEvent", "CALL"),
        ("interval", {"op": "at_least", "value": 300}, BOOT_RESPONSE, "BootNotification", "CALLRESULT"),
        ("interval", {"op": "between", "low": 1, "high": 300}, BOOT_RESPONSE, "BootNotification", "CALLRESULT"),
        ("currentTime", {"op": "datetime_before", "moment": "2026-01-01T00:00:01Z"}, BOOT_RESPONSE, "BootNotification", "CALLRESULT"),
        ("chargingStation.firmwareVersion", {"op": "absent"}, BOOT, "BootNotification", "CALL"),
        ("chargingStation.modem.iccid", {"op": "absent"}, BOOT, "BootNotification", "CALL"),
        ("transactionInfo.chargingState", {"op": "one_of", "options": [{"op": "absent"}, {"op": "equals", "value": "Charging"}]}, EVENT, "TransactionEvent", "CALL"),
    ],
)
def test_each_mutant_breaks_its_expectation_and_stays_schema_valid(path: str, data: dict[str, Any], payload: Any, action: str, message_type: str) -> None:
    mutant = only("TC_X", check(action, message_type, {path: data}), payload)
    assert selftest.holds(data, selftest.lookup(payload, path))
    assert not selftest.holds(data, selftest.lookup(mutated(mutant, payload), path))
    assert_schema_valid(mutant, payload)


def test_a_string_stays_within_max_length() -> None:
    payload = {"reason": "PowerUp", "chargingStation": {"vendorName": "V" * 50, "model": "M"}}
    mutant = only("TC_X", check("BootNotification", "CALL", {"chargingStation.vendorName": {"op": "equals", "value": "V" * 50}}), payload)
    assert len(mutant.value) == 50 and mutant.value != "V" * 50


def test_a_missing_parent_is_set_whole_with_its_required_fields() -> None:
    mutant = only("TC_X", check("BootNotification", "CALL", {"chargingStation.modem.iccid": {"op": "absent"}}), BOOT)
    assert mutant.path == "chargingStation.modem" and mutant.value == {"iccid": "X"}


def test_present_deletes_an_optional_field() -> None:
    mutant = only("TC_X", check("TransactionEvent", "CALL", {"offline": {"op": "present"}}), EVENT)
    assert (mutant.op, mutant.path, mutant.name) == ("delete", "offline", "TC_X/step 2/offline deleted")
    assert "offline" not in mutated(mutant, EVENT)


def test_present_on_a_required_field_cannot_be_broken_while_schema_valid() -> None:
    mutants, unbroken = selftest.field_mutants("TC_X", check("TransactionEvent", "CALL", {"seqNo": {"op": "present"}}), EVENT)
    assert mutants == [] and len(unbroken) == 1
    assert selftest.UNBREAKABLE in unbroken[0].reason and unbroken[0].validation == "step 2"


def test_an_unknown_op_gives_no_mutant_and_says_so() -> None:
    data = {"op": "any_item", "where": {"name": {"op": "equals", "value": "x"}}}
    mutants, unbroken = selftest.field_mutants("TC_X", check("SetVariables", "CALLRESULT", {"setVariableResult": data}), SET_VARIABLES)
    assert mutants == [] and "any_item not handled" in unbroken[0].reason


def test_an_unknown_op_nested_in_one_of_is_unknown_too() -> None:
    data = {"op": "one_of", "options": [{"op": "equals", "value": 1}, {"op": "shiny_new_op"}]}
    assert selftest.field_mutants("TC_X", check("TransactionEvent", "CALL", {"seqNo": data}), EVENT)[0] == []


def test_no_schema_valid_value_means_no_mutant() -> None:
    data = {"op": "not", "excluded": {"op": "equals", "value": "Nonsense"}}  # only an out-of-enum value breaks it
    mutants, unbroken = selftest.field_mutants("TC_X", check("BootNotification", "CALL", {"reason": data}), BOOT)
    assert mutants == [] and selftest.UNBREAKABLE in unbroken[0].reason


def test_a_field_outside_the_schema_gives_no_mutant() -> None:
    mutants, unbroken = selftest.field_mutants("TC_X", check("BootNotification", "CALL", {"noSuchField": {"op": "absent"}}), BOOT)
    assert mutants == [] and len(unbroken) == 1


@pytest.mark.parametrize("action", ["BootNotification", "TransactionEvent", "SetVariables", "StatusNotification", "Authorize"])
def test_no_schema_invalid_mutant_over_every_field_of_real_schemas(action: str) -> None:
    """Every property path of the request and response schemas, every op on it: a mutant is always valid."""
    for kind, message_type in ((Kind.REQUEST, "CALL"), (Kind.RESPONSE, "CALLRESULT")):
        root = ocpp201().schema(action, kind)
        payload = selftest.minimal(root, root)
        assert ocpp201().validate(action, kind, payload) == []
        for path in _leaf_paths(root, root, ""):
            for data in ({"op": "absent"}, {"op": "present"}, {"op": "equals", "value": selftest.lookup(payload, path)}):
                if data["op"] == "equals" and data["value"] is selftest._MISSING:
                    continue
                for mutant in selftest.field_mutants("TC_X", check(action, message_type, {path: data}), payload)[0]:
                    assert ocpp201().validate(action, kind, mutated(mutant, payload)) == [], mutant


def _leaf_paths(root: Mapping[str, Any], node: Mapping[str, Any], prefix: str, depth: int = 0) -> list[str]:
    node = selftest.resolve(root, node)
    if depth > 3:
        return []
    if node.get("type") == "array":
        return _leaf_paths(root, node.get("items", {}), f"{prefix}[0]", depth + 1)
    if node.get("type") != "object":
        return [prefix] if prefix else []
    paths = []
    for name, child in node.get("properties", {}).items():
        paths += _leaf_paths(root, child, f"{prefix}.{name}".removeprefix("."), depth + 1)
    return paths


# --- from result files and traces ---------------------------------------------------------------------------

def trace_record(direction: str, message_type: str, action: str, payload: Any) -> dict[str, Any]:
    return {"direction": direction, "messageType": message_type, "action": action, "payload": payload}


def test_the_payload_is_the_sut_frame_of_that_occurrence() -> None:
    first, second = dict(EVENT, seqNo=0), dict(EVENT, seqNo=1)
    records = [
        trace_record("csms-to-cs", "CALL", "TransactionEvent", {"ignored": True}),
        trace_record("cs-to-csms", "CALL", "TransactionEvent", first),
        trace_record("cs-to-csms", "CALL", "TransactionEvent", second),
    ]
    assert selftest.sut_payload(records, "cs", "CALL", "TransactionEvent", 2) == second
    assert selftest.sut_payload(records, "csms", "CALL", "TransactionEvent", 1) == {"ignored": True}
    assert selftest.sut_payload(records, "cs", "CALL", "TransactionEvent", 3) is selftest._MISSING


def test_case_mutants_skip_checks_without_fields_dedupe_and_name_occurrences_apart() -> None:
    seq = {"seqNo": {"op": "equals", "value": 1}}
    result = {
        "verdict": "PASS",
        "checks": [
            {"validation": "step 1", "requirement": "", "step": "1", "held": True},
            check("TransactionEvent", "CALL", seq, "step 5", occurrence=1),
            check("TransactionEvent", "CALL", seq, "step 5", occurrence=1),
            check("TransactionEvent", "CALL", seq, "step 5", occurrence=2),
            check("TransactionEvent", "CALL", seq, "step 7", occurrence=3),
        ],
    }
    records = [trace_record("cs-to-csms", "CALL", "TransactionEvent", EVENT)] * 2
    mutants, unbroken = selftest.case_mutants("TC_E_03_CS", "cs", result, records)
    assert [m.name for m in mutants] == ["TC_E_03_CS/step 5/seqNo=2@1", "TC_E_03_CS/step 5/seqNo=2@2"]
    assert [u.validation for u in unbroken] == ["step 7"] and "not in the reference trace" in unbroken[0].reason


def probe(name: str, case: str, fault: bool = False) -> Probe:
    return Probe(name, case, ("step 1",), ({"name": name, "case": case},), fault)


def test_rounds_carry_one_probe_per_case() -> None:
    a = [probe(f"a{i}", "A") for i in range(3)]
    made = selftest.rounds({"A": a, "B": [probe("b0", "B")]})
    assert [sorted(r) for r in made] == [["A", "B"], ["A"], ["A"]]
    assert made[0]["B"].name == "b0" and made[2]["A"].name == "a2"
    jobs = selftest.round_jobs("cs", {"A": a, "B": [probe("b0", "B")]})
    assert [(job.name, job.cases) for job in jobs] == [("round-1", ("A", "B")), ("round-2", ("A",)), ("round-3", ("A",))]


class _Fault:
    """A fault table entry as harness.reference.faults has it (targets, wire mutations windowed to a case)."""

    def __init__(self, targets: tuple[tuple[str, str], ...], mutations: tuple[str, ...] = ()) -> None:
        self.targets = targets
        self.mutations = mutations

    def windowed(self, case: str) -> tuple[Any, ...]:
        return tuple(_Wire({"name": m, "case": case}) for m in self.mutations)


class _Wire:
    def __init__(self, data: dict[str, Any]) -> None:
        self.data = data

    def as_json(self) -> dict[str, Any]:
        return self.data


def test_a_behaviour_fault_runs_alone_against_the_selected_cases_it_targets() -> None:
    plans = selftest.fault_plans({
        "aimed": _Fault((("A", "step 2"), ("B", "post 1"), ("Z", "step 1"))),
        "elsewhere": _Fault((("Z", "step 1"),)),
        "wire": _Fault((("A", "step 2"),), ("wire:Heartbeat",)),
        "old style": "B01.FR.02: a description without targets",
    })
    jobs = selftest.fault_jobs("cs", ["A", "B", "C"], plans)
    assert [(j.name, j.cases, j.fault) for j in jobs] == [("aimed", ("A", "B"), "aimed"), ("old style", ("A", "B", "C"), "old style")]


def test_a_wire_fault_rides_in_the_rounds_windowed_to_each_case_it_targets() -> None:
    plans = selftest.fault_plans({"wire": _Fault((("A", "step 2"), ("B", "post 1"), ("A", "step 3")), ("w:Heartbeat", "w:StatusNotification"))})
    mutant = Mutant("A/step 9/x=1", "A", "step 9", "CALL", "Heartbeat", 1, "set", "x", 1)
    by_case = selftest.probes_by_case(["A", "B", "C"], {}, plans)
    assert list(by_case) == ["A", "B"]
    (wire_a,) = by_case["A"]
    assert wire_a.fault and wire_a.targets == ("step 2", "step 3")
    assert wire_a.mutations == ({"name": "w:Heartbeat", "case": "A"}, {"name": "w:StatusNotification", "case": "A"})
    assert selftest.fault_jobs("cs", ["A", "B"], plans) == []
    assert mutant.probe().targets == ("step 9",) and mutant.probe().mutations[0]["path"] == "x"


def test_attempts_give_each_case_of_a_fault_run_its_own_targets() -> None:
    plan = FaultPlan("aimed", (("A", "step 2"), ("B", "post 1")))
    outcome = RunOutcome({"A": {"verdict": "FAIL", "validation": "step 2"}, "B": {"verdict": "PASS"}}, ())
    attempts = selftest.attempts_of(Job("cs", "aimed", ("A", "B"), fault="aimed"), outcome, {"aimed": plan})
    assert [(a.case, a.targets, a.outcome()) for a in attempts] == [("A", ("step 2",), "FAIL at step 2"), ("B", ("post 1",), "PASS")]


# --- judgement --------------------------------------------------------------------------------------------

def attempt(name: str, target: str, result: dict[str, Any]) -> Attempt:
    return Attempt(name, "TC_X", (target,), result)


@pytest.mark.parametrize(
    ("result", "proven"),
    [
        ({"verdict": "FAIL", "validation": "step 4"}, True),
        ({"verdict": "FAIL", "validation": "step 6"}, False),
        ({"verdict": "FAIL", "validation": ""}, False),
        ({"verdict": "FAIL"}, False),
        ({"verdict": "PASS"}, False),
        ({"verdict": "INCONCLUSIVE", "validation": "step 4"}, False),
        ({"verdict": "ERROR", "validation": "step 4"}, False),
    ],
)
def test_only_a_fail_at_that_validation_proves_it(result: dict[str, Any], proven: bool) -> None:
    assert selftest.proves(result, "step 4") is proven


def test_judge_case_credits_killers_per_validation_and_explains_the_rest() -> None:
    reference = {"verdict": "PASS", "checks": [{"validation": "step 4"}, {"validation": "step 6"}, {"validation": "§2.1 seqNo"}]}
    attempts = [
        attempt("m1", "step 4", {"verdict": "FAIL", "validation": "step 4"}),
        attempt("m2", "step 6", {"verdict": "FAIL", "validation": "step 4"}),
        attempt("m3", "step 6", {"verdict": "PASS"}),
        Attempt("fault", "TC_X", (), {"verdict": "FAIL", "validation": "post 1"}),
    ]
    listed = [ValidationRef("step 4", "B05.FR.02"), ValidationRef("step 6"), ValidationRef("step 8")]
    unbroken = [Unbroken("TC_X", "step 8", "seqNo", "required field; cannot be broken")]
    entry = selftest.judge_case("TC_X", "cs", reference, listed, attempts, unbroken)
    assert entry["reference"] == "PASS" and entry["killed_by"] == ["m1", "m2", "fault"]
    assert entry["verdicts"] == {"m1": "FAIL", "m2": "FAIL", "m3": "PASS", "fault": "FAIL"}
    by_id = {v["id"]: v for v in entry["validations"]}
    assert list(by_id) == ["step 4", "step 6", "step 8", "§2.1 seqNo", "post 1"]
    assert by_id["step 4"] == {"id": "step 4", "requirement": "B05.FR.02", "proven": True, "killed_by": ["m1", "m2"]}
    assert by_id["step 6"]["note"] == "m2: FAIL at step 4; m3: PASS" and not by_id["step 6"]["proven"]
    assert "seqNo: required field" in by_id["step 8"]["note"]
    assert "no mutant or fault aims at it" in by_id["§2.1 seqNo"]["note"]
    assert by_id["post 1"]["killed_by"] == ["fault"]


def test_a_case_is_ok_only_with_validations_all_proven_and_a_passing_reference() -> None:
    proven = {"id": "step 1", "proven": True}
    assert selftest.case_ok({"reference": "PASS", "validations": [proven]})
    assert not selftest.case_ok({"reference": "PASS", "validations": []})
    assert not selftest.case_ok({"reference": "FAIL", "validations": [proven]})
    assert not selftest.case_ok({"reference": "PASS", "validations": [proven, {"id": "step 2", "proven": False}]})


def test_the_fallback_validation_list_is_the_checks_named_in_order() -> None:
    reference = {"checks": [{"validation": "step 2", "requirement": "R1"}, {"validation": ""}, {"validation": "step 2"}, {"validation": "post 1"}]}
    assert selftest.checked_validations(reference) == [ValidationRef("step 2", "R1"), ValidationRef("post 1", "")]


def test_an_outcome_other_than_fail_says_why_briefly() -> None:
    assert attempt("m", "step 4", {"verdict": "PASS", "reason": "ignored"}).outcome() == "PASS"
    long_reason = "no result recorded " * 20
    shown = attempt("m", "step 4", {"verdict": "ERROR", "reason": long_reason}).outcome()
    assert shown.startswith("ERROR (no result recorded") and shown.endswith("…)") and len(shown) < 140


# --- the whole run, with a fake pytest runner ----------------------------------------------------------------

def test_run_proves_through_rounds_and_faults_with_a_fake_runner(tmp_path: Path) -> None:
    """The reference run's checks and trace become mutants; each round's mutations file reaches the runner;
    the fake SUT FAILs at step 2 only under the step-2 mutant, and the fault FAILs at post 1."""
    calls: list[tuple[str, tuple[str, ...], tuple[str, ...], tuple[str, ...]]] = []
    reference = {
        "verdict": "PASS",
        "checks": [
            check("BootNotification", "CALL", {"reason": {"op": "equals", "value": "PowerUp"}}, "step 2"),
            check("BootNotification", "CALL", {"chargingStation.model": {"op": "equals", "value": "M"}}, "step 3"),
            {"validation": "post 1", "requirement": "", "step": "post", "held": True},
        ],
    }

    def runner(role: str, faults: Sequence[str], cases: Sequence[str], report_dir: Path, extra: Sequence[str]) -> RunOutcome:
        calls.append((role, tuple(faults), tuple(cases), tuple(extra)))
        if faults:
            return RunOutcome({c: {"verdict": "FAIL", "validation": "post 1"} for c in cases}, ())
        if not extra:
            (report_dir / "traces").mkdir(parents=True)
            line = json.dumps({"direction": "cs-to-csms", "messageType": "CALL", "action": "BootNotification", "payload": BOOT})
            (report_dir / "traces" / "TC_FAKE_CS.jsonl").write_text(line + "\n", encoding="utf-8")
            return RunOutcome({c: reference for c in cases}, ())
        mutations = json.loads(Path(extra[1]).read_text(encoding="utf-8"))
        aimed = {m["case"]: m.get("path") for m in mutations}
        return RunOutcome({c: {"verdict": "FAIL", "validation": "step 2"} if aimed[c] == "reason" else {"verdict": "PASS"} for c in cases}, ())

    faults = {"fault": _Fault((("TC_FAKE_CS", "post 1"),)), "wire": _Fault((("TC_FAKE_CS", "step 3"),), ("wire:Boot",))}
    report = selftest.run({"cs": ["TC_FAKE_CS"]}, {"cs": faults}, runner, tmp_path)
    assert report.mutants_run == 2 and report.faults_run == 2 and not report.ok
    assert sorted(call[1] for call in calls) == [(), (), (), (), ("fault",)]
    assert all(call[3][:1] == ("--ocpp-mutations",) for call in calls if not call[1] and call[3])
    (case,) = report.cases
    by_id = {v["id"]: v for v in case["validations"]}
    assert by_id["step 2"]["killed_by"] == ["TC_FAKE_CS/step 2/reason=ApplicationReset"]
    assert by_id["post 1"]["killed_by"] == ["fault"] and not by_id["step 3"]["proven"]
    assert by_id["step 3"]["note"] == "wire: PASS; TC_FAKE_CS/step 3/chargingStation.model=MX: PASS"
    assert report.validations_source == "reference checks"
    assert report.as_json()["cases"][0]["reference"] == "PASS"
    assert "proven 2/3  unproven: step 3" in selftest.text(report)
