"""The ocpp-conformance command line (harness/cli.py) and the run-result reader (harness/results.py)."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest

from harness import cli
from harness.catalog import load_catalog
from harness.results import NO_RESULT, RunOutcome, exit_code, junit_errors, read_outcome, summarize
from harness.selection import resolve

REPO = Path(__file__).resolve().parent.parent
CS_PICS = REPO / "fixtures" / "pics" / "reference_cs.toml"


def run_cli(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = cli.main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def listed(capsys: pytest.CaptureFixture[str], *argv: str) -> dict[str, dict]:
    code, out, _ = run_cli(capsys, "list", "--json", *argv)
    assert code == 0
    return {entry["id"]: entry for entry in json.loads(out)}


# --- finding implemented cases -----------------------------------------------------------------------

def test_scan_finds_decorated_functions_without_importing(tmp_path: Path) -> None:
    folder = tmp_path / "testcases" / "cs"
    folder.mkdir(parents=True)
    (folder / "test_x.py").write_text(
        "import harness.does_not_exist\n"  # never imported: the scan only parses
        "@testcase('TC_X_01_CS', 'title')\nasync def test_one(case): ...\n"
        "@harness.testcase.testcase('TC_X_02_CS', 'title')\nasync def test_two(case): ...\n"
        "@other('TC_X_03_CS')\nasync def test_three(case): ...\n"
        "async def test_plain(case): ...\n"
    )
    found = cli.scan_testcases(tmp_path)
    assert sorted(found) == ["TC_X_01_CS", "TC_X_02_CS"]
    assert found["TC_X_01_CS"].node_id == "testcases/cs/test_x.py::test_one"


def test_the_repository_implements_tc_b_01_cs() -> None:
    assert cli.scan_testcases()["TC_B_01_CS"].node_id == "testcases/cs/test_b_provisioning.py::test_tc_b_01_cs"


# --- list --------------------------------------------------------------------------------------------

def test_list_json_has_every_case_of_the_edition(capsys: pytest.CaptureFixture[str]) -> None:
    entries = listed(capsys)
    catalog = load_catalog()
    assert list(entries) == [case.id for case in catalog]
    assert len(entries) == len(catalog) > 600
    keys = {"id", "role", "block", "title", "profiles", "condition", "implemented", "applicable", "reason"}
    assert all(keys <= entry.keys() for entry in entries.values())
    assert {entry["applicable"] for entry in entries.values()} == {None}
    implemented = {case_id for case_id, entry in entries.items() if entry["implemented"]}
    assert implemented == set(cli.scan_testcases())


def test_list_json_entry_of_a_mandatory_case(capsys: pytest.CaptureFixture[str]) -> None:
    entry = listed(capsys)["TC_B_01_CS"]
    assert (entry["role"], entry["block"], entry["profiles"], entry["condition"]) == ("cs", "B", {"core": "M"}, None)
    assert entry["implemented"] is True


def test_list_role_filter(capsys: pytest.CaptureFixture[str]) -> None:
    entries = listed(capsys, "--role", "csms")
    assert {entry["role"] for entry in entries.values()} == {"csms"}
    assert len(entries) == len(load_catalog().for_role("csms"))


def test_list_with_pics_says_what_applies_and_why(capsys: pytest.CaptureFixture[str]) -> None:
    entries = listed(capsys, "--pics", str(CS_PICS))
    assert {entry["role"] for entry in entries.values()} == {"cs"}
    assert (entries["TC_B_01_CS"]["applicable"], entries["TC_B_01_CS"]["reason"]) == (True, "mandatory (M) in core")
    conditional = entries["TC_B_14_CS"]  # core: C on C-56, which the reference station does not support
    assert conditional["applicable"] is False and "C-56" in conditional["reason"]
    outside = entries["TC_P_04_CS"]  # in no Part 5 profile
    assert outside["applicable"] is False and "not part of core" in outside["reason"]
    assert {entry["applicable"] for entry in entries.values()} <= {True, False}


def test_list_with_a_profile_and_no_pics(capsys: pytest.CaptureFixture[str]) -> None:
    entries = listed(capsys, "--role", "cs", "--profile", "advanced_device_management")
    assert entries["TC_B_14_CS"]["applicable"] is True  # M in that profile, C in core
    assert entries["TC_B_01_CS"]["applicable"] is False


def test_list_condition_names_the_profile_when_profiles_disagree(capsys: pytest.CaptureFixture[str]) -> None:
    assert listed(capsys)["TC_B_14_CS"]["condition"] == "C-56"
    assert listed(capsys, "--profile", "advanced_device_management")["TC_B_14_CS"]["condition"] is None


def test_list_table_ends_with_totals(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run_cli(capsys, "list", "--role", "cs", "--pics", str(CS_PICS))
    assert code == 0
    assert out.splitlines()[-1].startswith(f"{len(load_catalog().for_role('cs'))} cases, ")


# --- usage errors ------------------------------------------------------------------------------------

@pytest.mark.parametrize("argv", [
    ["run", "--role", "cs", "--profile", "nope"],
    ["run", "--profile", "core"],  # --role is required
    ["list", "--role", "ev"],
    [],
])
def test_argparse_errors_exit_2(argv: list[str]) -> None:
    with pytest.raises(SystemExit) as exit_info:
        cli.main(argv)
    assert exit_info.value.code == 2


def test_bad_pics_exits_2(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    pics = tmp_path / "pics.toml"
    pics.write_text("[sut]\nrole = 'cs'\n[features]\n'C-30' = 'yes'\n")
    code, _, err = run_cli(capsys, "run", "--role", "cs", "--pics", str(pics))
    assert code == 2 and "C-30" in err


@pytest.mark.parametrize("argv, message", [
    (["run", "--role", "cs", "--pics", "/nonexistent.toml"], "cannot read PICS"),
    (["run", "--role", "csms", "--pics", str(CS_PICS)], "describes a cs"),
    (["list", "--role", "csms", "--pics", str(CS_PICS)], "describes a cs"),
    (["run", "--role", "cs", "--cases", "TC_Z_99_CS"], "unknown CS case"),
    (["run", "--role", "cs", "--cases", "TC_P_04_CS"], "no implemented case selected"),
    (["run", "--role", "cs", "--sut", "/nonexistent.toml"], "cannot read SUT configuration"),
])
def test_configuration_errors_exit_2(capsys: pytest.CaptureFixture[str], argv: list[str], message: str) -> None:
    code, _, err = run_cli(capsys, *argv)
    assert code == 2 and message in err


def test_sut_file_of_the_other_role_and_faults_on_a_real_sut_exit_2(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    sut = tmp_path / "sut.toml"
    sut.write_text("[sut]\nrole = 'csms'\n")
    assert run_cli(capsys, "run", "--role", "cs", "--sut", str(sut))[0] == 2
    sut.write_text("[sut]\nrole = 'cs'\n")
    code, _, err = run_cli(capsys, "run", "--role", "cs", "--sut", str(sut), "--fault", "seqno_gap")
    assert code == 2 and "--fault only applies" in err


def test_pytest_collecting_nothing_is_a_usage_error(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setattr(cli.subprocess, "run", lambda *a, **k: subprocess.CompletedProcess(a, 5))
    function = cli.TestFunction("TC_B_01_CS", "testcases/cs/test_b_provisioning.py", "test_tc_b_01_cs")
    with pytest.raises(cli.UsageFailure, match="collected no test"):
        cli._execute("cs", "reference", [], [function], tmp_path, log=None)


def test_pytest_command_runs_exactly_the_node_ids(tmp_path: Path) -> None:
    function = cli.TestFunction("TC_B_01_CS", "testcases/cs/test_b_provisioning.py", "test_tc_b_01_cs")
    command = cli.pytest_command("cs", "reference", ["seqno_gap"], [function], tmp_path)
    assert command[3] == function.node_id
    joined = " ".join(command)
    for option in ("-p no:cacheprovider", "--ocpp-role cs", "--ocpp-fault seqno_gap", f"--ocpp-report-dir {tmp_path}"):
        assert option in joined
    assert f"--junitxml {tmp_path / 'junit.xml'}" in joined


# --- selftest ----------------------------------------------------------------------------------------

def test_selftest_without_the_reference_module_exits_3(capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(cli.REFERENCE_MODULES, "cs", "harness.reference.no_such_module")
    code, _, err = run_cli(capsys, "selftest", "--role", "cs")
    assert code == 3 and "no_such_module" in err


def test_selftest_with_nothing_implemented_exits_2(capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(cli, "scan_testcases", lambda: {})
    assert run_cli(capsys, "selftest")[0] == 2


# --- results -----------------------------------------------------------------------------------------

@pytest.mark.parametrize("verdicts, errors, expected", [
    (["PASS", "PASS"], [], 0),
    (["PASS", "INCONCLUSIVE"], [], 1),
    (["FAIL", "PASS"], [], 1),
    (["FAIL", "ERROR"], [], 3),
    (["PASS"], ["test_x: teardown failed"], 3),
])
def test_exit_code(verdicts: list[str], errors: list[str], expected: int) -> None:
    assert exit_code(verdicts, errors) == expected


def test_missing_result_is_an_error(tmp_path: Path) -> None:
    (tmp_path / "results").mkdir()
    (tmp_path / "results" / "TC_A.json").write_text(json.dumps({"id": "TC_A", "verdict": "PASS"}))
    outcome = read_outcome(tmp_path, ["TC_A", "TC_B"])
    assert outcome.verdict("TC_A") == "PASS"
    assert (outcome.verdict("TC_B"), outcome.results["TC_B"]["reason"]) == ("ERROR", NO_RESULT)


def test_junit_errors_are_setup_and_teardown_errors(tmp_path: Path) -> None:
    junit = tmp_path / "junit.xml"
    junit.write_text(
        "<testsuites><testsuite>"
        "<testcase name='test_a'><failure message='FAIL at step 1'/></testcase>"
        "<testcase name='test_b'><error message='failed on teardown'/></testcase>"
        "</testsuite></testsuites>"
    )
    assert junit_errors(junit) == ["test_b: failed on teardown"]
    assert junit_errors(tmp_path / "absent.xml") == []


def test_summary_rows_add_up() -> None:
    selections = resolve(load_catalog(), "cs", "core", None, {"TC_B_01_CS"})
    outcome = RunOutcome({"TC_B_01_CS": {"verdict": "FAIL", "reason": "late"}}, ())
    summary = summarize({"core": selections}, ["TC_B_01_CS"], outcome)
    row = summary["profiles"][0]
    assert row["FAIL"] == 1 and row["PASS"] == 0
    assert row["m_selected"] + row["c_selected"] == sum(row[k] for k in ("PASS", "FAIL", "INCONCLUSIVE", "ERROR", "not_run"))
    assert summary["cases"] == [{"id": "TC_B_01_CS", "verdict": "FAIL", "reason": "late"}]
    assert summary["exit_code"] == 1


# --- a real run --------------------------------------------------------------------------------------

@pytest.mark.slow
def test_run_one_cs_case_against_the_reference(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    code, out, _ = run_cli(capsys, "run", "--role", "cs", "--cases", "TC_B_01_CS", "--report", str(tmp_path))
    summary = json.loads((tmp_path / "summary.json").read_text())
    assert summary["cases"] == [{"id": "TC_B_01_CS", "verdict": "PASS", "reason": None}], out
    assert code == 0
    assert (tmp_path / "results" / "TC_B_01_CS.json").exists()
    assert (tmp_path / "traces" / "TC_B_01_CS.jsonl").exists()
    assert (tmp_path / "junit.xml").exists()
