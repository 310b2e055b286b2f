"""The ocpp-conformance command line (harness/cli.py), its exit codes and the run-result reader (harness/results.py)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from harness import cli
from harness.catalog import load_catalog
from harness.config import reference_config
from harness.pics import Pics
from harness.report import summary as run_summary
from harness.results import NO_RESULT, RunOutcome, exit_code, junit_errors, read_outcome, summarize
from harness.selection import resolve
from harness.verdicts import HarnessError

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
    monkeypatch.setattr(cli.Supervisor, "run", lambda *a, **k: 5)
    function = cli.TestFunction("TC_B_01_CS", "testcases/cs/test_b_provisioning.py", "test_tc_b_01_cs")
    with pytest.raises(cli.UsageFailure, match="collected no test"):
        cli._execute("cs", "reference", [], [function], tmp_path, None, cli.Supervisor())


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

@pytest.mark.parametrize("verdicts, errors, stale, expected", [
    (["PASS", "PASS"], [], [], 0),
    (["PASS", "FAIL (waived)"], [], [], 0),
    (["PASS", "INCONCLUSIVE"], [], [], 1),
    (["FAIL", "PASS"], [], [], 1),
    (["PASS"], [], ["TC_B_01_CS"], 1),
    (["FAIL", "ERROR"], [], [], 3),
    (["FAIL (waived)", "ERROR"], [], ["TC_B_01_CS"], 3),
    (["PASS"], ["test_x: teardown failed"], [], 3),
])
def test_exit_code(verdicts: list[str], errors: list[str], stale: list[str], expected: int) -> None:
    assert exit_code(verdicts, errors, stale) == expected


def test_an_interrupted_run_exits_4_whatever_its_verdicts() -> None:
    assert exit_code(["PASS", "ERROR"], ["test_x: teardown failed"], ["TC_B_01_CS"], interrupted=True) == 4


def test_a_case_an_interrupted_run_did_not_reach_is_not_run_not_an_error(tmp_path: Path) -> None:
    (tmp_path / "results").mkdir()
    (tmp_path / "results" / "TC_A.json").write_text(json.dumps({"id": "TC_A", "verdict": "ERROR", "reason": "interrupted"}))
    outcome = read_outcome(tmp_path, ["TC_A", "TC_B"], interrupted=True)
    assert list(outcome.results) == ["TC_A"] and outcome.interrupted


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
    assert row["m_selected"] + row["c_selected"] == sum(row[k] for k in ("PASS", "FAIL", "waived", "INCONCLUSIVE", "ERROR", "not_run"))
    assert summary["cases"] == [{"id": "TC_B_01_CS", "verdict": "FAIL", "reported": "FAIL", "reason": "late", "waiver": None}]
    assert summary["totals"] == {"PASS": 0, "FAIL": 1, "waived": 0, "INCONCLUSIVE": 0, "ERROR": 0}
    assert summary["exit_code"] == 1


# --- a real run --------------------------------------------------------------------------------------

@pytest.mark.slow
def test_run_one_cs_case_against_the_reference(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    code, out, _ = run_cli(capsys, "run", "--role", "cs", "--cases", "TC_B_01_CS", "--report-dir", str(tmp_path))
    summary = json.loads((tmp_path / "summary.json").read_text())
    assert summary["cases"] == [{"id": "TC_B_01_CS", "verdict": "PASS", "reported": "PASS", "reason": None, "waiver": None}], out
    assert summary["sut_identity"]["model"] and summary["sut_identity"]["trace"] == "traces/TC_B_01_CS.jsonl"
    assert json.loads((tmp_path / "run.json").read_text())["finished_at"]
    assert code == 0
    assert (tmp_path / "results" / "TC_B_01_CS.json").exists()
    assert (tmp_path / "traces" / "TC_B_01_CS.jsonl").exists()
    assert (tmp_path / "junit.xml").exists()


# --- waivers and report --------------------------------------------------------------------------------

@pytest.mark.parametrize("text, message", [
    ("[[waiver]]\nid = 'TC_Z_99_CS'\nreason = 'x'\nexpires = 2030-01-01\n", "'TC_Z_99_CS' is not a case"),
    ("[[waiver]]\nid = 'TC_B_09_CS'\nexpires = 2030-01-01\n", "reason is missing"),
    ("[[waiver]\n", "not valid TOML"),
])
def test_a_bad_waivers_file_is_a_usage_error_before_anything_runs(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, text: str, message: str
) -> None:
    waivers = tmp_path / "waivers.toml"
    waivers.write_text(text)
    report_dir = tmp_path / "report"
    code, _, err = run_cli(capsys, "run", "--role", "cs", "--waivers", str(waivers), "--report-dir", str(report_dir))
    assert code == 2 and message in err
    assert not report_dir.exists()


def test_report_dir_replaces_report_in_the_run_options() -> None:
    args = cli.build_parser().parse_args(["run", "--role", "cs", "--report-dir", "out", "--html"])
    assert (args.report_dir, args.html, args.waivers) == (Path("out"), True, None)


def finished_run(folder: Path, verdict: str = "FAIL") -> Path:
    """A run folder as `run` leaves it, with one case of the given verdict."""
    info = run_summary.new_run_info(
        role="cs", profiles=["core"], sut="reference", config=reference_config("cs"),
        pics=Pics.load(CS_PICS), waivers=None, cases=["TC_B_09_CS"], implemented=["TC_B_09_CS"],
    )
    run_summary.finish_run_info(folder, info)
    (folder / "results").mkdir()
    (folder / "results" / "TC_B_09_CS.json").write_text(json.dumps({"id": "TC_B_09_CS", "verdict": verdict, "reason": "no"}))
    return folder


@pytest.fixture
def rendered(monkeypatch: pytest.MonkeyPatch) -> list[Path]:
    """The Allure module with its two calls recorded instead of running the Allure tool."""
    allure_html = pytest.importorskip("harness.report.allure_html")
    calls: list[Path] = []
    monkeypatch.setattr(allure_html, "write_metadata", lambda run_dir: calls.append(run_dir))
    monkeypatch.setattr(allure_html, "generate", lambda run_dir: run_dir / "report" / "index.html")
    return calls


def test_report_rewrites_the_summaries_with_new_waivers(capsys: pytest.CaptureFixture[str], tmp_path: Path, rendered: list[Path]) -> None:
    folder = finished_run(tmp_path / "run")
    waivers = tmp_path / "waivers.toml"
    waivers.write_text("[[waiver]]\nid = 'TC_B_09_CS'\nreason = 'fixed in 1.5'\nexpires = 2999-01-01\n")
    code, out, _ = run_cli(capsys, "report", str(folder), "--waivers", str(waivers))
    assert code == 0, out
    summary = json.loads((folder / "summary.json").read_text())
    assert summary["cases"][0]["reported"] == "FAIL (waived)" and summary["waivers_path"] == str(waivers)
    assert "FAIL (waived)" in (folder / "summary.md").read_text()
    assert rendered == [folder] and "index.html" in out


def test_report_without_waivers_reuses_the_runs(capsys: pytest.CaptureFixture[str], tmp_path: Path, rendered: list[Path]) -> None:
    folder = finished_run(tmp_path / "run")
    assert run_cli(capsys, "report", str(folder))[0] == 1
    waivers = tmp_path / "waivers.toml"
    waivers.write_text("[[waiver]]\nid = 'TC_B_09_CS'\nreason = 'fixed in 1.5'\nexpires = 2999-01-01\n")
    info = json.loads((folder / "run.json").read_text())
    (folder / "run.json").write_text(json.dumps({**info, "waivers_path": str(waivers)}))
    assert run_cli(capsys, "report", str(folder))[0] == 0


def test_report_defaults_to_the_latest_cs_run(capsys: pytest.CaptureFixture[str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch, rendered: list[Path]) -> None:
    monkeypatch.setattr(cli, "REPO", tmp_path)
    finished_run(tmp_path / "reports" / "latest-cs", verdict="PASS")
    assert run_cli(capsys, "report")[0] == 0
    assert rendered == [tmp_path / "reports" / "latest-cs"]


def test_a_report_that_cannot_render_is_a_harness_error(capsys: pytest.CaptureFixture[str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    allure_html = pytest.importorskip("harness.report.allure_html")

    def missing_tool(run_dir: Path) -> Path:
        raise HarnessError("the Allure report tool is not installed")

    monkeypatch.setattr(allure_html, "write_metadata", lambda run_dir: None)
    monkeypatch.setattr(allure_html, "generate", missing_tool)
    folder = finished_run(tmp_path / "run", verdict="PASS")
    code, _, err = run_cli(capsys, "report", str(folder))
    assert code == 3 and "Allure report tool is not installed" in err
    assert (folder / "summary.json").exists()


def test_report_usage_errors(capsys: pytest.CaptureFixture[str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    code, _, err = run_cli(capsys, "report", str(tmp_path / "absent"))
    assert code == 2 and "no run folder" in err
    code, _, err = run_cli(capsys, "report", str(tmp_path))
    assert code == 2 and "has no run.json" in err
    monkeypatch.setattr(cli, "REPO", tmp_path)
    code, _, err = run_cli(capsys, "report")
    assert code == 2 and "no run to report on" in err


def test_report_refuses_a_pics_changed_since_the_run(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    folder = finished_run(tmp_path / "run")
    info = json.loads((folder / "run.json").read_text())
    (folder / "run.json").write_text(json.dumps({**info, "pics_sha256": "0" * 64}))
    code, _, err = run_cli(capsys, "report", str(folder))
    assert code == 2 and "changed since the run" in err


def test_install_report_tool_says_what_failed(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    from harness.report import allure_html
    from harness.verdicts import HarnessError

    def no_npm() -> Path:
        raise HarnessError("cannot install the Allure report tool: npm is not on PATH")

    monkeypatch.setattr(allure_html, "install_tool", no_npm)
    assert cli.main(["install-report-tool"]) == 3
    assert "npm is not on PATH" in capsys.readouterr().err
