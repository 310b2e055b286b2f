"""Waivers (harness/report/waivers.py): the file is checked strictly, and a waiver only ever turns a FAIL into
"FAIL (waived)" — a waived PASS is stale and fails the run, INCONCLUSIVE and ERROR are never waived."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pytest

from harness.catalog import load_catalog
from harness.report.waivers import WAIVED, Waiver, WaiverError, judge, load, parse
from harness.results import RunOutcome, summarize
from harness.selection import resolve

REPO = Path(__file__).resolve().parents[2]
CASE_IDS = {case.id for case in load_catalog()}
VALID = b'[[waiver]]\nid = "TC_B_09_CS"\nreason = "known firmware bug"\nexpires = 2030-06-30\nticket = "ACME-1"\n'


def test_the_example_file_is_valid() -> None:
    waivers = load(REPO / "fixtures" / "waivers" / "example.toml", CASE_IDS)
    assert [waiver.id for waiver in waivers.waivers] == ["TC_B_09_CS", "TC_P_01_CS"]
    assert waivers.waivers[1].ticket is None
    assert len(waivers.sha256) == 64


def test_a_valid_waiver() -> None:
    waivers = parse(VALID, "w.toml", CASE_IDS)
    assert waivers.waivers == (Waiver("TC_B_09_CS", "known firmware bug", date(2030, 6, 30), "ACME-1"),)
    assert waivers.source == "w.toml"


@pytest.mark.parametrize("text, message", [
    ('[[waiver]]\nid = "TC_B_09_CS"\nreason = "x"\nexpires = ', "not valid TOML"),
    ('[[waiver]]\nid = "TC_Z_99_CS"\nreason = "x"\nexpires = 2030-01-01\n', "'TC_Z_99_CS' is not a case"),
    ('[[waiver]]\nreason = "x"\nexpires = 2030-01-01\n', "id None is not a case"),
    ('[[waiver]]\nid = "TC_B_09_CS"\nexpires = 2030-01-01\n', "reason is missing or empty"),
    ('[[waiver]]\nid = "TC_B_09_CS"\nreason = "  "\nexpires = 2030-01-01\n', "reason is missing or empty"),
    ('[[waiver]]\nid = "TC_B_09_CS"\nreason = "x"\n', "expires must be a TOML date"),
    ('[[waiver]]\nid = "TC_B_09_CS"\nreason = "x"\nexpires = "2030-01-01"\n', "expires must be a TOML date"),
    ('[[waiver]]\nid = "TC_B_09_CS"\nreason = "x"\nexpires = 2030-01-01T00:00:00\n', "expires must be a TOML date"),
    ('[[waiver]]\nid = "TC_B_09_CS"\nreason = "x"\nexpires = 2030-01-01\nowner = "me"\n', "unknown key(s) ['owner']"),
    ('[[waiver]]\nid = "TC_B_09_CS"\nreason = "x"\nexpires = 2030-01-01\nticket = 12\n', "ticket must be a string"),
    ('waiver = "TC_B_09_CS"\n', "must be an array of tables"),
    ('[waivers]\nid = "TC_B_09_CS"\n', "unknown key(s) ['waivers']"),
    (VALID.decode() + VALID.decode(), "two waivers for TC_B_09_CS"),
])
def test_a_mistake_in_the_file_is_rejected_with_its_place(text: str, message: str) -> None:
    with pytest.raises(WaiverError, match="w.toml") as error:
        parse(text.encode(), "w.toml", CASE_IDS)
    assert message in str(error.value)


def test_an_unreadable_file(tmp_path: Path) -> None:
    with pytest.raises(WaiverError, match="cannot read waivers"):
        load(tmp_path / "absent.toml", CASE_IDS)


def test_a_waiver_holds_through_its_expiry_day() -> None:
    waivers = parse(VALID, "w.toml", CASE_IDS)
    assert list(waivers.active(date(2030, 6, 30))) == ["TC_B_09_CS"]
    assert waivers.expired(date(2030, 6, 30)) == []
    assert waivers.active(date(2030, 7, 1)) == {}
    assert [waiver.id for waiver in waivers.expired(date(2030, 7, 1))] == ["TC_B_09_CS"]


WAIVER = Waiver("TC_B_09_CS", "known", date(2030, 1, 1))


@pytest.mark.parametrize("verdict, waiver, expected", [
    ("FAIL", WAIVER, (WAIVED, "applied")),
    ("PASS", WAIVER, ("PASS", "stale")),
    ("INCONCLUSIVE", WAIVER, ("INCONCLUSIVE", "ignored")),
    ("ERROR", WAIVER, ("ERROR", "ignored")),
    ("FAIL", None, ("FAIL", None)),
])
def test_judge(verdict: str, waiver: Waiver | None, expected: tuple[str, str | None]) -> None:
    assert judge(verdict, waiver) == expected


def _summary(verdict: str, waiver: Waiver | None) -> dict:
    selections = resolve(load_catalog(), "cs", "core", None, {"TC_B_09_CS"})
    outcome = RunOutcome({"TC_B_09_CS": {"verdict": verdict, "reason": "why"}}, ())
    return summarize({"core": selections}, ["TC_B_09_CS"], outcome, {"TC_B_09_CS": waiver} if waiver else {})


def test_a_waived_fail_does_not_fail_the_run() -> None:
    summary = _summary("FAIL", WAIVER)
    assert (summary["profiles"][0]["FAIL"], summary["profiles"][0]["waived"]) == (0, 1)
    assert summary["cases"][0]["reported"] == WAIVED and summary["cases"][0]["waiver"]["state"] == "applied"
    assert summary["exit_code"] == 0


def test_a_waived_pass_is_stale_and_fails_the_run() -> None:
    summary = _summary("PASS", WAIVER)
    assert summary["profiles"][0]["PASS"] == 1
    assert summary["stale_waivers"] == ["TC_B_09_CS"]
    assert summary["exit_code"] == 1


@pytest.mark.parametrize("verdict, code", [("INCONCLUSIVE", 1), ("ERROR", 3)])
def test_inconclusive_and_error_are_never_waived(verdict: str, code: int) -> None:
    summary = _summary(verdict, WAIVER)
    assert summary["profiles"][0][verdict] == 1 and summary["profiles"][0]["waived"] == 0
    assert summary["cases"][0]["waiver"]["state"] == "ignored"
    assert summary["exit_code"] == code
