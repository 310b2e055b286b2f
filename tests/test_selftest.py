"""The bar of every case: PASS against the correct reference SUT, and every Part 6 validation of it proven by a
mutant or fault of the reference that makes the case FAIL at exactly that validation."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from typing import Any

import pytest

from harness import cli

BUDGET_S = 600


@pytest.fixture(scope="module")
def selftest() -> tuple[dict[str, Any], subprocess.CompletedProcess[str], float]:
    """One self-test of every implemented case, shared by the tests below (it takes minutes)."""
    started = time.monotonic()
    run = subprocess.run(
        [sys.executable, "-m", "harness.cli", "selftest", "--json"], capture_output=True, text=True, timeout=BUDGET_S
    )
    return json.loads(run.stdout), run, time.monotonic() - started


@pytest.mark.slow
def test_every_case_passes_the_reference_and_fails_under_some_fault_or_mutant(selftest: tuple[dict[str, Any], Any, float]) -> None:
    report, run, seconds = selftest
    weak = [c["id"] for c in report["cases"] if c["reference"] != "PASS" or not c["killed_by"]]
    assert not weak, f"cases that fail the reference or cannot fail: {weak}\n{run.stderr[-2000:]}"
    assert not report["harness_errors"] and len(report["cases"]) >= 15
    assert seconds < BUDGET_S and report["seconds"] <= seconds


@pytest.mark.slow
def test_the_report_judges_each_validation_by_the_fail_it_names(selftest: tuple[dict[str, Any], Any, float]) -> None:
    report, run, _ = selftest
    for case in report["cases"]:
        assert set(case["killed_by"]) == {name for name, verdict in case["verdicts"].items() if verdict == "FAIL"}
        for validation in case["validations"]:
            assert validation["proven"] == bool(validation["killed_by"])
            assert set(validation["killed_by"]) <= set(case["killed_by"])
            assert validation["proven"] or validation["note"]
    all_proven = all(c["validations"] and all(v["proven"] for v in c["validations"]) for c in report["cases"])
    assert report["ok"] == all_proven
    assert run.returncode == (0 if report["ok"] else 1)


@pytest.mark.slow
def test_every_validation_of_every_case_is_proven(selftest: tuple[dict[str, Any], Any, float]) -> None:
    report, _, _ = selftest
    unproven = {c["id"]: [v["id"] for v in c["validations"] if not v["proven"]] for c in report["cases"]}
    assert report["ok"], {case: ids for case, ids in unproven.items() if ids}


def test_selftest_of_a_case_the_harness_does_not_implement_is_a_usage_error(capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main(["selftest", "--cases", "TC_B_09_CS,TC_NOPE"]) == 2
    assert "TC_NOPE" in capsys.readouterr().err


def test_cases_narrow_the_selftest_to_their_roles() -> None:
    functions = cli.scan_testcases()
    plans = cli._selftest_plans(None, functions, {"TC_B_09_CS"})
    assert {role: [f.case_id for f in fs] for role, fs in plans.items()} == {"cs": ["TC_B_09_CS"]}
