"""Flake hunting: the self-test repeated, every outcome that changes between runs reported, the logs of the
differing runs kept."""

from __future__ import annotations

import json
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import pytest

from harness import cli, selftest


def _case(reference: str = "PASS", fault: str = "FAIL", at: str = "step 3", proven: bool = True) -> dict[str, Any]:
    return {
        "id": "TC_B_03_CS",
        "reference": reference,
        "verdicts": {"sends_messages_while_rejected": fault},
        "attempts": {"sends_messages_while_rejected": {"verdict": fault, "validation": at if fault == "FAIL" else ""}},
        "validations": [{"id": "step 3", "proven": proven}],
    }


def test_identical_runs_have_no_change() -> None:
    runs = [selftest.outcomes({"cases": [_case()]}) for _ in range(3)]
    assert selftest.changes(runs) == []
    assert selftest.differing_runs([]) == []


def test_a_fault_that_fails_elsewhere_in_one_run_is_a_change_with_every_runs_value() -> None:
    runs = [selftest.outcomes({"cases": [case]}) for case in (_case(), _case(at="step 5", proven=False), _case())]
    found = {change["cell"]: change["values"] for change in selftest.changes(runs)}
    assert found == {
        "TC_B_03_CS sends_messages_while_rejected": ["FAIL at step 3", "FAIL at step 5", "FAIL at step 3"],
        "TC_B_03_CS validation step 3": ["proven", "unproven", "proven"],
    }
    assert selftest.differing_runs(selftest.changes(runs)) == [0, 1]


def test_a_cell_missing_from_one_run_is_a_change() -> None:
    runs = [selftest.outcomes({"cases": [_case()]}), selftest.outcomes({"cases": []})]
    assert {c["cell"] for c in selftest.changes(runs)} >= {"TC_B_03_CS reference"}


class _Canned:
    """selftest.run replaced by canned reports, one per call, each with a real work folder."""

    def __init__(self, cases: Sequence[dict[str, Any]]) -> None:
        self.cases: Iterator[dict[str, Any]] = iter(cases)
        self.works: list[Path] = []

    def __call__(self, cases: Any, faults: Any, runner: Any, work: Path, schemas: Any = None) -> selftest.Report:
        self.works.append(work)
        (work / "pytest.log").write_text("log", encoding="utf-8")
        case = next(self.cases)
        return selftest.Report(case["validations"][0]["proven"], 1.0, 1, 1, [case], [], "part6", work)


def test_repeat_reports_changes_and_keeps_only_the_differing_runs_logs(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    canned = _Canned([_case(), _case(), _case(fault="PASS", proven=False)])
    monkeypatch.setattr(selftest, "run", canned)
    code = cli.main(["selftest", "--role", "cs", "--cases", "TC_B_03_CS", "--repeat", "3", "--json"])
    out = json.loads(capsys.readouterr().out)
    assert code == 1 and not out["ok"]
    assert {c["cell"] for c in out["changes"]} == {"TC_B_03_CS sends_messages_while_rejected", "TC_B_03_CS validation step 3"}
    assert [run["work"] is not None for run in out["runs"]] == [True, False, True]
    assert [w.exists() for w in canned.works] == [True, False, True]
    for work in canned.works:
        if work.exists():
            for child in work.iterdir():
                child.unlink()
            work.rmdir()


def test_repeat_with_no_change_exits_0_and_keeps_nothing(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    canned = _Canned([_case(), _case()])
    monkeypatch.setattr(selftest, "run", canned)
    assert cli.main(["selftest", "--role", "cs", "--cases", "TC_B_03_CS", "--repeat", "2"]) == 0
    captured = capsys.readouterr()
    assert "2 self-test runs: 2 ok, 0 verdict change(s)" in captured.out
    assert "[2/2] selftest ok" in captured.err
    assert not any(w.exists() for w in canned.works)


def test_repeat_below_one_is_a_usage_error() -> None:
    assert cli.main(["selftest", "--cases", "TC_B_03_CS", "--repeat", "0"]) == 2
