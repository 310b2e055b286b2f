"""Reading what a pytest run left in its report folder, and turning it into verdicts, a summary and an exit code.

The plugin writes one ``results/<case id>.json`` per case it ran; this module is the only reader. A selected
case without a result file is an ERROR ("no result recorded"): the harness never counts silence as a pass.
Errors pytest reports outside a case's body (a fixture failing on setup or teardown) appear in the JUnit file
as ``<error>`` elements; they are harness errors, so they make the run an ERROR even when every case passed.
"""

from __future__ import annotations

import json
import xml.etree.ElementTree as ElementTree
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from harness.selection import Selection
from harness.verdicts import Verdict

NO_RESULT = "no result recorded"
VERDICTS = tuple(verdict.value for verdict in Verdict)


@dataclass(frozen=True)
class RunOutcome:
    """One pytest run: the result of every case it was asked to run, and errors outside any case."""

    results: Mapping[str, Mapping[str, Any]]
    harness_errors: tuple[str, ...]

    def verdict(self, case_id: str) -> str:
        return str(self.results[case_id]["verdict"])


def read_outcome(report_dir: Path, case_ids: Iterable[str]) -> RunOutcome:
    """The results of `case_ids` found under `report_dir`, missing ones as ERROR, plus JUnit-level errors."""
    folder = report_dir / "results"
    results = {case_id: _read_result(folder / f"{case_id}.json", case_id) for case_id in case_ids}
    return RunOutcome(results, tuple(junit_errors(report_dir / "junit.xml")))


def _read_result(path: Path, case_id: str) -> Mapping[str, Any]:
    """One result file; absent or unreadable means the harness lost the verdict, which is an ERROR."""
    try:
        result = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return {"id": case_id, "verdict": Verdict.ERROR.value, "reason": NO_RESULT}
    except (OSError, ValueError) as error:
        return {"id": case_id, "verdict": Verdict.ERROR.value, "reason": f"unreadable result file {path}: {error}"}
    if result.get("verdict") not in VERDICTS:
        return {"id": case_id, "verdict": Verdict.ERROR.value, "reason": f"{path} has no valid verdict"}
    return result


def junit_errors(path: Path) -> list[str]:
    """Setup/teardown errors pytest recorded (a case's own exception is a <failure>, not an <error>)."""
    try:
        root = ElementTree.parse(path).getroot()
    except (OSError, ElementTree.ParseError):
        return []
    return [
        f"{testcase.get('name', '?')}: {error.get('message', '').strip() or 'error'}"
        for testcase in root.iter("testcase")
        for error in testcase.findall("error")
    ]


def exit_code(verdicts: Iterable[str], harness_errors: Sequence[str] = ()) -> int:
    """0 all PASS; 3 any ERROR (a case's or the harness's); 1 otherwise (some FAIL or INCONCLUSIVE)."""
    seen = set(verdicts)
    if harness_errors or Verdict.ERROR.value in seen:
        return 3
    if seen - {Verdict.PASS.value}:
        return 1
    return 0


def summarize(per_profile: Mapping[str, Sequence[Selection]], ran: Sequence[str], outcome: RunOutcome) -> dict[str, Any]:
    """The run's summary: one row per profile, one entry per case run, the counts of cases that did not run.

    A profile row counts the cases the profile requires (applicable: M, or C with its condition true), so
    PASS + FAIL + INCONCLUSIVE + ERROR + not run always equals M + C; "not run" covers cases the harness does
    not implement yet and cases left out with --cases.
    """
    rows = [_profile_row(profile, selections, outcome) for profile, selections in per_profile.items()]
    cases = [{"id": case_id, **_case_line(outcome.results[case_id])} for case_id in ran]
    statuses = _status_per_case(per_profile)
    return {
        "profiles": rows,
        "cases": cases,
        "not_applicable": sum(1 for status in statuses.values() if status == "not_applicable"),
        "not_implemented": sum(1 for status in statuses.values() if status == "not_implemented"),
        "harness_errors": list(outcome.harness_errors),
        "exit_code": exit_code((case["verdict"] for case in cases), outcome.harness_errors),
    }


def _profile_row(profile: str, selections: Sequence[Selection], outcome: RunOutcome) -> dict[str, Any]:
    required = [s for s in selections if s.status in ("selected", "not_implemented")]
    row: dict[str, Any] = {
        "profile": profile,
        "m_selected": sum(1 for s in required if s.flag == "M"),
        "c_selected": sum(1 for s in required if s.flag == "C"),
    }
    row.update({verdict: 0 for verdict in VERDICTS})
    row["not_run"] = 0
    for selection in required:
        key = outcome.verdict(selection.case.id) if selection.case.id in outcome.results else "not_run"
        row[key] += 1
    return row


def _case_line(result: Mapping[str, Any]) -> dict[str, Any]:
    return {"verdict": result["verdict"], "reason": result.get("reason")}


def _status_per_case(per_profile: Mapping[str, Sequence[Selection]]) -> dict[str, str]:
    """One status per case over all profiles of the run: the most "runnable" one wins."""
    rank = ("selected", "not_implemented", "not_applicable", "not_in_profile")
    best: dict[str, str] = {}
    for selections in per_profile.values():
        for selection in selections:
            current = best.get(selection.case.id, "not_in_profile")
            best[selection.case.id] = min(current, selection.status, key=rank.index)
    return best
