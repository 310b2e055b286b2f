"""Reading what a pytest run left in its report folder, and turning it into verdicts, a summary and an exit code.

The plugin writes one ``results/<case id>.json`` per case it ran; this module is the only reader. A selected
case without a result file is an ERROR ("no result recorded"): the harness never counts silence as a pass —
unless the run was interrupted (SIGINT or SIGTERM), where it is a case the run did not reach ("not run").
Errors pytest reports outside a case's body (a fixture failing on setup or teardown) appear in the JUnit file
as ``<error>`` elements; they are harness errors, so they make the run an ERROR even when every case passed.
Waivers (:mod:`harness.report.waivers`) are applied here too, so that :func:`exit_code` is the only place
that turns verdicts into the process's exit code.
"""

from __future__ import annotations

import json
import xml.etree.ElementTree as ElementTree
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from types import MappingProxyType
from typing import Any

from harness.evidence import clip
from harness.report.waivers import WAIVED, Waiver, judge
from harness.selection import Selection
from harness.verdicts import Verdict

NO_RESULT = "no result recorded"
VERDICTS = tuple(verdict.value for verdict in Verdict)
COUNT_KEYS = {
    Verdict.PASS.value: "PASS",
    Verdict.FAIL.value: "FAIL",
    WAIVED: "waived",
    Verdict.INCONCLUSIVE.value: "INCONCLUSIVE",
    Verdict.ERROR.value: "ERROR",
}
"""Reported verdict → its count's key in summary.json; a waived FAIL is counted apart from the FAILs."""

EXIT_OK = 0
EXIT_SUT_FAILURE = 1
EXIT_USAGE = 2
EXIT_HARNESS_ERROR = 3
EXIT_INTERRUPTED = 4


@dataclass(frozen=True)
class RunOutcome:
    """One pytest run: the result of every case it was asked to run, and errors outside any case."""

    results: Mapping[str, Mapping[str, Any]]
    harness_errors: tuple[str, ...]
    interrupted: bool = False
    """SIGINT or SIGTERM stopped the run: the selected cases without a result were not reached."""

    def verdict(self, case_id: str) -> str:
        return str(self.results[case_id]["verdict"])


def read_outcome(report_dir: Path, case_ids: Iterable[str], interrupted: bool = False) -> RunOutcome:
    """The results of `case_ids` found under `report_dir`, missing ones as ERROR (left out when the run was
    `interrupted`: not reached), plus JUnit-level errors."""
    folder = report_dir / "results"
    results = {case_id: _read_result(folder / f"{case_id}.json", case_id) for case_id in case_ids}
    if interrupted:
        results = {case_id: result for case_id, result in results.items() if result.get("reason") != NO_RESULT}
    return RunOutcome(results, tuple(junit_errors(report_dir / "junit.xml")), interrupted)


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


def exit_code(
    verdicts: Iterable[str], harness_errors: Sequence[str] = (), stale_waivers: Sequence[str] = (), interrupted: bool = False
) -> int:
    """The run's exit code from the reported verdicts (waivers applied); the one place that decides it.

    4 when the run was interrupted (SIGINT or SIGTERM): it judged only part of the selection, whatever it found;
    3 when anything is an ERROR (a case's or the harness's: the run proves nothing, whatever else happened);
    else 1 when a FAIL is not waived, a case is INCONCLUSIVE or a waiver is stale (the case it covers PASSes);
    else 0: every case PASSed or is a waived FAIL. Usage errors (2) stop a run before there are verdicts.
    """
    seen = set(verdicts)
    if interrupted:
        return EXIT_INTERRUPTED
    if harness_errors or Verdict.ERROR.value in seen:
        return EXIT_HARNESS_ERROR
    if stale_waivers or seen - {Verdict.PASS.value, WAIVED}:
        return EXIT_SUT_FAILURE
    return EXIT_OK


def summarize(
    per_profile: Mapping[str, Sequence[Selection]],
    ran: Sequence[str],
    outcome: RunOutcome,
    waivers: Mapping[str, Waiver] = MappingProxyType({}),
) -> dict[str, Any]:
    """The run's verdicts: one row per profile, one entry per case run, the counts of cases that did not run.

    `waivers` are the active ones by case id. A profile row counts the cases the profile requires
    (applicable: M, or C with its condition true), so PASS + FAIL + waived + INCONCLUSIVE + ERROR + not run
    always equals M + C; "not run" covers cases the harness does not implement yet and cases left out with
    --cases and, in an interrupted run, cases it did not reach. ``totals`` counts each case run once, whatever
    the number of profiles listing it.
    """
    cases = [_case_line(case_id, outcome.results[case_id], waivers.get(case_id)) for case_id in ran if case_id in outcome.results]
    reported = {case["id"]: case["reported"] for case in cases}
    stale = [case["id"] for case in cases if case["waiver"] and case["waiver"]["state"] == "stale"]
    statuses = status_per_case(per_profile)
    return {
        "profiles": [_profile_row(profile, selections, reported) for profile, selections in per_profile.items()],
        "totals": _counts(reported.values()),
        "cases": cases,
        "stale_waivers": stale,
        "not_applicable": sum(1 for status in statuses.values() if status == "not_applicable"),
        "not_implemented": sum(1 for status in statuses.values() if status == "not_implemented"),
        "harness_errors": list(outcome.harness_errors),
        "interrupted": outcome.interrupted,
        "exit_code": exit_code(reported.values(), outcome.harness_errors, stale, outcome.interrupted),
    }


def _counts(reported: Iterable[str]) -> dict[str, int]:
    """How many cases got each reported verdict, under the JSON keys of COUNT_KEYS."""
    counts = dict.fromkeys(COUNT_KEYS.values(), 0)
    for verdict in reported:
        counts[COUNT_KEYS[verdict]] += 1
    return counts


def _profile_row(profile: str, selections: Sequence[Selection], reported: Mapping[str, str]) -> dict[str, Any]:
    required = [s for s in selections if s.status in ("selected", "not_implemented")]
    row: dict[str, Any] = {
        "profile": profile,
        "m_selected": sum(1 for s in required if s.flag == "M"),
        "c_selected": sum(1 for s in required if s.flag == "C"),
    }
    row.update(_counts(reported[s.case.id] for s in required if s.case.id in reported))
    row["not_run"] = sum(1 for s in required if s.case.id not in reported)
    return row


def _case_line(case_id: str, result: Mapping[str, Any], waiver: Waiver | None) -> dict[str, Any]:
    """The case's own verdict, the verdict reported once its waiver is judged, and what the waiver did. The
    reason is kept to QUOTE_LIMIT bytes, whoever wrote the result file."""
    reported, state = judge(result["verdict"], waiver)
    reason = result.get("reason")
    return {
        "id": case_id,
        "verdict": result["verdict"],
        "reported": reported,
        "reason": clip(str(reason)) if reason is not None else None,
        "waiver": {**waiver.to_dict(), "state": state} if waiver is not None else None,
    }


def status_per_case(per_profile: Mapping[str, Sequence[Selection]]) -> dict[str, str]:
    """One status per case over all profiles of the run: the most "runnable" one wins."""
    rank = ("selected", "not_implemented", "not_applicable", "not_in_profile")
    best: dict[str, str] = {}
    for selections in per_profile.values():
        for selection in selections:
            current = best.get(selection.case.id, "not_in_profile")
            best[selection.case.id] = min(current, selection.status, key=rank.index)
    return best
