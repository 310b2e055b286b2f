"""The run record and the conformance summary (harness/report/summary.py): built from hand-made run folders,
and, in the slow test, from a real run whose counts must agree with its JUnit file."""

from __future__ import annotations

import hashlib
import json
import xml.etree.ElementTree as ElementTree
from collections import Counter
from datetime import date
from pathlib import Path
from typing import Any

import pytest

from harness import cli, plugin
from harness.catalog import load_catalog
from harness.config import from_dict, reference_config
from harness.part6 import case_table
from harness.pics import Pics
from harness.report import summary as run_summary
from harness.report.waivers import parse
from harness.results import read_outcome
from harness.selection import resolve
from harness.verdicts import HarnessError, Inconclusive, StepRef, SutFailure, SutTimeout

REPO = Path(__file__).resolve().parents[2]
CS_PICS = REPO / "fixtures" / "pics" / "reference_cs.toml"
CATALOG = load_catalog()
TODAY = date(2030, 1, 1)
VERDICT_KEYS = ("PASS", "FAIL", "waived", "INCONCLUSIVE", "ERROR")


def boot(timestamp: str, model: str, direction: str = "cs-to-csms", message_type: str = "CALL") -> dict[str, Any]:
    station = {"vendorName": "ACME", "model": model, "firmwareVersion": "1.4", "serialNumber": "SN-7"}
    return {
        "timestamp": timestamp, "direction": direction, "messageType": message_type, "action": "BootNotification",
        "payload": {"reason": "PowerUp", "chargingStation": station},
    }


def make_run(
    folder: Path,
    results: dict[str, dict[str, Any]],
    traces: dict[str, list[dict[str, Any]]] | None = None,
    implemented: tuple[str, ...] = ("TC_B_01_CS", "TC_B_06_CS", "TC_B_09_CS", "TC_P_01_CS"),
    **info: Any,
) -> Path:
    """A finished run folder as `run` leaves it: run.json, results/<case>.json, traces/<case>.jsonl."""
    pics = Pics.load(CS_PICS)
    record = {
        "harness_version": "0.1.0", "edition": run_summary.EDITION, "role": "cs", "profiles": ["core"],
        "sut_source": "reference", "csms_url": None, "security_profile": 0, "security_profile_basis": "ws://",
        "pics_path": str(CS_PICS), "pics_sha256": pics.sha256, "faults": [], "waivers_path": None,
        "waivers_sha256": None, "cases": list(results), "implemented": list(implemented),
        "started_at": "2030-01-01T10:00:00+00:00", "finished_at": "2030-01-01T10:01:00+00:00", **info,
    }
    run_summary.write_run_info(folder, record)
    (folder / "results").mkdir()
    for case_id, result in results.items():
        (folder / "results" / f"{case_id}.json").write_text(json.dumps({"id": case_id, **result}))
    (folder / "traces").mkdir()
    for case_id, records in (traces or {}).items():
        (folder / "traces" / f"{case_id}.jsonl").write_text("".join(json.dumps(r) + "\n" for r in records))
    return folder


def build(folder: Path, waivers: bytes | None = None, pics: Pics | None = None) -> dict[str, Any]:
    info = run_summary.read_run_info(folder)
    pics = pics if pics is not None else Pics.load(CS_PICS)
    per_profile = {p: resolve(CATALOG, "cs", p, pics, set(info["implemented"])) for p in info["profiles"]}
    waiver_set = parse(waivers, "w.toml", {case.id for case in CATALOG}) if waivers else None
    outcome = read_outcome(folder, info["cases"])
    return run_summary.build(folder, info, CATALOG, per_profile, outcome, pics, waiver_set, TODAY)


RESULTS = {
    "TC_B_06_CS": {"verdict": "INCONCLUSIVE", "reason": "Configuration State not reached"},
    "TC_B_09_CS": {"verdict": "FAIL", "reason": "attributeStatus | Rejected", "step": "step 1-2", "requirement": "B05.FR.01"},
    "TC_P_01_CS": {"verdict": "PASS"},
}


# --- summary.json -------------------------------------------------------------------------------------

def test_the_summary_keeps_the_old_keys_and_adds_the_header(tmp_path: Path) -> None:
    summary = build(make_run(tmp_path, RESULTS))
    for key in ("profiles", "cases", "not_applicable", "not_implemented", "harness_errors", "exit_code"):
        assert key in summary
    assert (summary["edition"], summary["role"], summary["harness_version"]) == ("OCPP 2.0.1 Edition 3", "cs", "0.1.0")
    assert summary["pics_sha256"] == Pics.load(CS_PICS).sha256
    assert summary["started_at"] < summary["finished_at"]
    assert summary["exit_code"] == 1


def test_profile_rows_and_totals_count_reported_verdicts(tmp_path: Path) -> None:
    summary = build(make_run(tmp_path, RESULTS))
    [row] = summary["profiles"]
    assert (row["profile"], row["name"]) == ("core", "Core")
    assert {key: row[key] for key in VERDICT_KEYS} == {"PASS": 1, "FAIL": 1, "waived": 0, "INCONCLUSIVE": 1, "ERROR": 0}
    assert row["m_selected"] + row["c_selected"] == sum(row[key] for key in (*VERDICT_KEYS, "not_run"))
    assert summary["totals"] == {"PASS": 1, "FAIL": 1, "waived": 0, "INCONCLUSIVE": 1, "ERROR": 0}


def test_every_case_of_the_role_is_listed_with_its_verdict_or_why_it_did_not_run(tmp_path: Path) -> None:
    summary = build(make_run(tmp_path, RESULTS))
    cases = {case["id"]: case for case in summary["edition_cases"]}
    assert list(cases) == [case.id for case in CATALOG.for_role("cs")]
    assert (cases["TC_B_09_CS"]["result"], cases["TC_B_09_CS"]["reason"]) == ("FAIL", "attributeStatus | Rejected")
    assert cases["TC_P_01_CS"]["result"] == "PASS" and cases["TC_P_01_CS"]["profiles"] == "core:M"
    assert cases["TC_B_01_CS"]["reason"] == "left out with --cases"
    assert cases["TC_B_11_CS"]["reason"] == "not implemented by this harness version"
    assert cases["TC_B_14_CS"]["reason"] == "not applicable: condition `C-56` is false (C-56 is false)"
    assert cases["TC_A_07_CS"]["reason"] == "not in a claimed profile (Part 5 lists it under advanced_security)"
    assert cases["TC_P_04_CS"]["reason"] == "not in a claimed profile (in no Part 5 profile)"
    assert all(case["result"] == "not run" for case in cases.values() if case["id"] not in RESULTS)


def test_a_condition_missing_from_the_pics_is_named(tmp_path: Path) -> None:
    pics = Pics.from_bytes(b"[sut]\nrole = 'cs'\nprofiles = ['core']\n", "empty.toml")
    cases = {case["id"]: case for case in build(make_run(tmp_path, RESULTS), pics=pics)["edition_cases"]}
    assert cases["TC_B_14_CS"]["reason"] == "not applicable: condition `C-56` is false (C-56 is not in the PICS (taken as false))"


def test_a_lost_result_is_an_error(tmp_path: Path) -> None:
    folder = make_run(tmp_path, RESULTS)
    (folder / "results" / "TC_P_01_CS.json").unlink()
    summary = build(folder)
    assert summary["totals"]["ERROR"] == 1 and summary["exit_code"] == 3


# --- the SUT's identity -------------------------------------------------------------------------------

def test_station_identity_is_the_earliest_boot_request_of_the_cases_that_ran(tmp_path: Path) -> None:
    traces = {
        "TC_B_06_CS": [{"timestamp": "2030-01-01T10:00:00Z", "event": "case started"}, boot("2030-01-01T10:00:05Z", "Late")],
        "TC_P_01_CS": [
            boot("2030-01-01T10:00:01Z", "Answer", message_type="CALLRESULT"),
            boot("2030-01-01T10:00:02Z", "Wrong way", direction="csms-to-cs"),
            boot("2030-01-01T10:00:03Z", "First"),
        ],
        "TC_B_01_CS": [boot("2029-01-01T00:00:00Z", "Older run")],  # not a case of this run
    }
    summary = build(make_run(tmp_path, RESULTS, traces))
    assert summary["sut_identity"] == {
        "vendorName": "ACME", "model": "First", "firmwareVersion": "1.4", "serialNumber": "SN-7", "trace": "traces/TC_P_01_CS.jsonl",
    }
    assert run_summary.sut_line(summary) == "vendorName ACME, model First, firmwareVersion 1.4, serialNumber SN-7 (from traces/TC_P_01_CS.jsonl)"


def test_a_huge_reason_and_a_huge_identity_are_cut_in_the_summary(tmp_path: Path) -> None:
    results = {**RESULTS, "TC_B_09_CS": {"verdict": "FAIL", "reason": "R" * 10_000_000}}
    traces = {"TC_P_01_CS": [boot("2030-01-01T10:00:03Z", "M" * 10_000_000), boot("2030-01-01T10:00:04Z", ["not", "a", "map"])]}
    folder = make_run(tmp_path, results, traces)
    summary = build(folder)
    run_summary.write(folder, summary)
    cases = {case["id"]: case for case in summary["edition_cases"]}
    assert cases["TC_B_09_CS"]["reason"].endswith("sha256 " + hashlib.sha256(b"R" * 10_000_000).hexdigest() + ")")
    assert len(summary["sut_identity"]["model"]) < 300
    assert (folder / "summary.json").stat().st_size < 200_000 and (folder / "summary.md").stat().st_size < 200_000


def test_no_boot_request_means_an_unknown_station(tmp_path: Path) -> None:
    folder = make_run(tmp_path, RESULTS, {"TC_P_01_CS": [{"timestamp": "x", "event": "case started"}]})
    (folder / "traces" / "TC_B_06_CS.jsonl").write_text("not json\n")
    summary = build(folder)
    assert summary["sut_identity"] is None
    assert run_summary.sut_line(summary).startswith("unknown: no BootNotificationRequest")


def test_a_csms_is_identified_by_its_url(tmp_path: Path) -> None:
    summary = build(make_run(tmp_path, RESULTS, csms_url="ws://csms.example:9000/ocpp"))
    summary["role"] = "csms"
    assert run_summary.sut_line(summary) == "CSMS at ws://csms.example:9000/ocpp"


# --- waivers in the summary ---------------------------------------------------------------------------

WAIVERS = (
    b'[[waiver]]\nid = "TC_B_09_CS"\nreason = "fixed in 1.5"\nexpires = 2030-06-30\nticket = "ACME-1"\n'
    b'[[waiver]]\nid = "TC_P_01_CS"\nreason = "was broken"\nexpires = 2030-06-30\n'
    b'[[waiver]]\nid = "TC_B_06_CS"\nreason = "old"\nexpires = 2029-12-31\n'
)


def test_waivers_are_judged_and_reported(tmp_path: Path) -> None:
    summary = build(make_run(tmp_path, RESULTS), waivers=WAIVERS)
    cases = {case["id"]: case for case in summary["edition_cases"]}
    assert cases["TC_B_09_CS"]["result"] == "FAIL (waived)"
    assert cases["TC_B_09_CS"]["reason"] == "waived until 2030-06-30, ACME-1: fixed in 1.5 (failure: attributeStatus | Rejected)"
    assert cases["TC_P_01_CS"]["reason"] == "the waiver for TC_P_01_CS is stale: the case PASSes; remove the waiver"
    assert summary["stale_waivers"] == ["TC_P_01_CS"]
    assert [waiver["id"] for waiver in summary["expired_waivers"]] == ["TC_B_06_CS"]
    assert summary["totals"] == {"PASS": 1, "FAIL": 0, "waived": 1, "INCONCLUSIVE": 1, "ERROR": 0}
    assert summary["waivers_sha256"] and summary["exit_code"] == 1
    assert "waiver for TC_B_06_CS expired on 2029-12-31 and is ignored (old)" in run_summary.warning_lines(summary)


# --- summary.md ---------------------------------------------------------------------------------------

def markdown_counts(markdown: str) -> dict[str, dict[str, int]]:
    """The per-profile table of summary.md, by profile name."""
    lines = markdown.split("## Profiles\n\n", 1)[1].split("\n\n", 1)[0].splitlines()
    header = [cell.strip() for cell in lines[0].strip("|").split("|")]
    rows = [[cell.strip() for cell in line.strip("|").split("|")] for line in lines[2:]]
    return {row[0]: {title: int(value) for title, value in zip(header[1:], row[1:])} for row in rows}


def test_markdown_has_the_header_the_counts_and_every_case(tmp_path: Path) -> None:
    summary = build(make_run(tmp_path, RESULTS), waivers=WAIVERS)
    markdown = run_summary.to_markdown(summary)
    assert "| Edition | OCPP 2.0.1 Edition 3 |" in markdown
    assert f"sha256 `{summary['pics_sha256']}`" in markdown
    assert "| Security profile | 0 — ws:// |" in markdown
    counts = markdown_counts(markdown)["Core"]
    row = summary["profiles"][0]
    assert counts == {"M": row["m_selected"], "C": row["c_selected"], **{run_summary.COLUMNS[k]: row[k] for k in run_summary.COLUMNS}}
    assert "- the waiver for TC_P_01_CS is stale: the case PASSes; remove the waiver" in markdown
    case_rows = [line for line in markdown.splitlines() if line.startswith("| TC_")]
    assert len(case_rows) == len(CATALOG.for_role("cs"))
    assert "attributeStatus \\| Rejected" in markdown  # a pipe in a reason does not split the cell


def test_write_produces_both_files(tmp_path: Path) -> None:
    folder = make_run(tmp_path, RESULTS)
    summary = build(folder)
    run_summary.write(folder, summary)
    assert json.loads((folder / "summary.json").read_text()) == summary
    assert (folder / "summary.md").read_text() == run_summary.to_markdown(summary)


# --- run.json -----------------------------------------------------------------------------------------

def test_security_profile_is_derived_from_the_sut_file() -> None:
    assert run_summary.security_profile(reference_config("cs"))[0] == 0
    station = from_dict({"sut": {"role": "cs"}, "station": {"basic_auth_password": "secret-secret-16"}}, "s.toml")
    assert run_summary.security_profile(station)[0] == 1
    with pytest.raises(HarnessError, match=r"\[tls\]"):  # wss:// needs the CSMS root to verify: see test_environment_tls
        from_dict({"sut": {"role": "csms"}, "csms": {"url": "wss://x/ocpp"}, "station": {"basic_auth_password": "p"}}, "s.toml")


def test_new_run_info_records_what_runs_against_what() -> None:
    pics = Pics.load(CS_PICS)
    info = run_summary.new_run_info(
        role="csms", profiles=["core"], sut="reference", config=reference_config("csms", ("rejects_boot",)),
        pics=pics, waivers=None, cases=["TC_B_01_CSMS"], implemented=["TC_B_01_CSMS"],
    )
    assert info["harness_version"] == run_summary.harness_version()
    assert (info["edition"], info["csms_url"], info["faults"]) == ("OCPP 2.0.1 Edition 3", "reference CSMS (in-process)", ["rejects_boot"])
    assert (info["pics_path"], info["pics_sha256"]) == (str(CS_PICS), pics.sha256)
    assert info["started_at"] and info["finished_at"] is None


@pytest.mark.parametrize("content, message", [(None, "has no run.json"), ("{", "cannot read"), ("{}", "lacks role")])
def test_a_folder_without_a_readable_run_json_is_rejected(tmp_path: Path, content: str | None, message: str) -> None:
    if content is not None:
        (tmp_path / "run.json").write_text(content)
    with pytest.raises(run_summary.RunRecordError, match=message):
        run_summary.read_run_info(tmp_path)


# --- a real run: summary.json == junit.xml == summary.md ----------------------------------------------

def junit_counts(path: Path) -> tuple[Counter[str], dict[str, dict[str, str]]]:
    """Verdicts per the JUnit elements (skipped = INCONCLUSIVE, failure = FAIL or ERROR, told apart by the
    `verdict` property), and every case's properties."""
    counts: Counter[str] = Counter()
    properties = {}
    for testcase in ElementTree.parse(path).getroot().iter("testcase"):
        props = {p.get("name"): p.get("value") for p in testcase.iter("property")}
        properties[props["case_id"]] = props
        if testcase.find("skipped") is not None:
            counts["INCONCLUSIVE"] += 1
        elif testcase.find("failure") is not None or testcase.find("error") is not None:
            counts["ERROR" if props["verdict"] == "ERROR" else "FAIL"] += 1
        else:
            counts["PASS"] += 1
    return counts, properties


@pytest.mark.parametrize("error, expected", [
    (None, "pass"),
    (SutFailure("wrong", StepRef("1")), "sut-failure"),
    (SutTimeout("silent", StepRef("1")), "sut-timeout"),
    (Inconclusive("no RFID"), "inconclusive"),
    (HarnessError("bad config"), "harness-error"),
    (KeyError("bug"), "harness-error"),
])
def test_junit_verdict_class(error: BaseException | None, expected: str) -> None:
    assert plugin._verdict_class(error) == expected


def test_junit_profiles_property() -> None:
    assert plugin._profile_flags("TC_B_14_CS") == "core:C, advanced_device_management:M"
    assert plugin._profile_flags("TC_X_01_CS") == ""


@pytest.mark.slow
def test_a_real_run_counts_the_same_in_summary_junit_and_markdown(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    code = cli.main([
        "run", "--role", "cs", "--cases", "TC_P_01_CS,TC_B_06_CS,TC_B_09_CS", "--fault", "setvariables_rejected",
        "--report-dir", str(tmp_path),
    ])
    out = capsys.readouterr().out
    assert code == 1, out
    summary = json.loads((tmp_path / "summary.json").read_text())
    junit, properties = junit_counts(tmp_path / "junit.xml")
    totals = {key: value for key, value in summary["totals"].items() if value}
    assert totals == dict(junit) == {"PASS": 1, "FAIL": 1, "INCONCLUSIVE": 1}
    core = markdown_counts((tmp_path / "summary.md").read_text())["Core"]
    assert {key: core[run_summary.COLUMNS[key]] for key in VERDICT_KEYS} == {key: summary["profiles"][0][key] for key in VERDICT_KEYS}
    assert {key: core[run_summary.COLUMNS[key]] for key in VERDICT_KEYS if core[run_summary.COLUMNS[key]]} == dict(junit)

    failed = properties["TC_B_09_CS"]
    assert (failed["verdict"], failed["verdict_class"], failed["profiles"]) == ("FAIL", "sut-failure", "core:M")
    assert failed["step"].startswith("step 1-2") and failed["validation"] == "step 2"
    assert failed["requirement"] == case_table("TC_B_09_CS").validation("step 2").requirement
    assert properties["TC_B_06_CS"]["verdict_class"] == "inconclusive" and "step" not in properties["TC_B_06_CS"]
    assert properties["TC_P_01_CS"]["verdict_class"] == "pass"

    run = json.loads((tmp_path / "run.json").read_text())
    assert (run["sut_source"], run["faults"], run["security_profile"]) == ("reference", ["setvariables_rejected"], 0)
    assert run["cases"] == ["TC_B_06_CS", "TC_B_09_CS", "TC_P_01_CS"] and run["finished_at"] >= run["started_at"]
