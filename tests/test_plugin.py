"""The pytest plugin (harness/plugin.py), exercised through pytest's own ``pytester``.

Every run is a subprocess (``runpytest_subprocess``): the plugin runs cases on a session event loop of
pytest-asyncio, which must not share a process with this test session's loop.
"""

pytest_plugins = ["pytester"]

import json
import textwrap
from pathlib import Path

import pytest

RUN_TIMEOUT = 120  # seconds; a hang is a failure, not a stuck suite

INI = """
[pytest]
asyncio_mode = auto
asyncio_default_fixture_loop_scope = function
{extra}
"""

CS_CASE = '''
from harness.testcase import testcase


@testcase("TC_X_01_CS", "A Charging Station case")
async def test_cs_case(case):
    pass
'''

CSMS_CASE = '''
from harness.testcase import testcase


@testcase("TC_X_01_CSMS", "A CSMS case")
async def test_csms_case(case):
    pass
'''

CASES_AGAINST_THE_REFERENCE_CSMS = '''
from harness.matching import one_of
from harness.states import csms as states
from harness.testcase import testcase
from harness.verdicts import Inconclusive


@testcase("TC_X_01_CSMS", "DataTransfer with an unknown vendorId is not Accepted", ["P02"], ["P02.FR.06"])
async def test_datatransfer(case):
    await states.ensure_booted(case)
    with case.step("1-2", "The OCTT sends a DataTransferRequest"):
        answer = await case.call("DataTransfer", {"vendorId": "org.example.unknown", "messageId": "nothing"})
        case.verify(answer, {"status": one_of("UnknownVendorId", "UnknownMessageId", "Rejected")})


@testcase("TC_X_02_CSMS", "A precondition that is not met")
async def test_inconclusive(case):
    raise Inconclusive("the optional feature is not supported")


@testcase("TC_X_03_CSMS", "The harness breaks")
async def test_error(case):
    raise RuntimeError("the harness broke")


@testcase("TC_X_04_CSMS", "DataTransfer must be Accepted (the reference CSMS does not)", ["P02"], ["P02.FR.99"])
async def test_fail(case):
    await states.ensure_booted(case)
    with case.step("1-2", "The OCTT sends a DataTransferRequest"):
        answer = await case.call("DataTransfer", {"vendorId": "org.example.unknown"})
        case.verify(answer, {"status": "Accepted"})
'''


def setup(pytester: pytest.Pytester, extra_ini: str = "", **files: str) -> None:
    pytester.makefile(".ini", pytest=INI.format(extra=extra_ini))
    if files:
        pytester.makepyfile(**{name: textwrap.dedent(text) for name, text in files.items()})


def run(pytester: pytest.Pytester, *args: str) -> pytest.RunResult:
    return pytester.runpytest_subprocess("-p", "no:cacheprovider", *args, timeout=RUN_TIMEOUT)


def assert_clean_usage_error(result: pytest.RunResult, *words: str) -> None:
    """Exit code 4 (usage error), the message on stderr, and no traceback nor internal error."""
    output = result.stdout.str() + result.stderr.str()
    assert result.ret == pytest.ExitCode.USAGE_ERROR, output
    assert "Traceback" not in output and "INTERNALERROR" not in output, output
    for word in words:
        assert word in result.stderr.str(), output


# --- registration: marker, options, ini keys ---------------------------------------------------------------

def test_the_marker_is_registered(pytester: pytest.Pytester) -> None:
    setup(pytester)
    result = run(pytester, "--markers")
    assert result.ret == 0
    result.stdout.fnmatch_lines(["@pytest.mark.ocpp_case(info):*Part 6 test case*"])


def test_strict_markers_accepts_a_testcase(pytester: pytest.Pytester) -> None:
    setup(pytester, test_cases=CSMS_CASE)  # a CSMS case with the default SUT (reference CS): skipped, never started
    result = run(pytester, "--strict-markers", "-rs")
    result.assert_outcomes(skipped=1)
    assert "not registered" not in result.stdout.str()


def test_options_and_ini_keys_are_in_the_help(pytester: pytest.Pytester) -> None:
    setup(pytester)
    result = run(pytester, "--help")
    assert result.ret == 0
    help_text = result.stdout.str()
    for option in ("--ocpp-sut", "--ocpp-role", "--ocpp-fault", "--ocpp-report-dir"):
        assert option in help_text
    result.stdout.fnmatch_lines(["*OCPP 2.0.1 conformance*"])
    for ini_key in ("ocpp_sut (string)", "ocpp_role (string)", "ocpp_report_dir (string)"):
        assert ini_key in help_text


def test_help_works_even_with_a_bad_sut_file(pytester: pytest.Pytester) -> None:
    setup(pytester)
    result = run(pytester, "--help", "--ocpp-sut", "does-not-exist.toml")
    assert result.ret == 0 and "--ocpp-sut" in result.stdout.str()


# --- report header -------------------------------------------------------------------------------------------

def test_header_shows_the_default_role(pytester: pytest.Pytester) -> None:
    setup(pytester, test_nothing="def test_nothing():\n    pass\n")
    result = run(pytester)
    result.stdout.fnmatch_lines(["ocpp-conformance: OCPP 2.0.1, SUT CS (reference)"])
    result.assert_outcomes(passed=1)


def test_header_shows_role_and_faults(pytester: pytest.Pytester) -> None:
    setup(pytester, test_nothing="def test_nothing():\n    pass\n")
    result = run(pytester, "--ocpp-sut", "reference", "--ocpp-role", "csms",
                 "--ocpp-fault", "rejects_boot", "--ocpp-fault", "datatransfer_accepted")
    result.stdout.fnmatch_lines(["ocpp-conformance: OCPP 2.0.1, SUT CSMS (reference), faults: rejects_boot, datatransfer_accepted"])
    result.assert_outcomes(passed=1)


def test_ini_keys_work_without_the_options(pytester: pytest.Pytester) -> None:
    setup(
        pytester,
        extra_ini="ocpp_role = csms\nocpp_report_dir = reports-from-ini",
        test_report_dir="def test_report_dir(ocpp_report_dir):\n    print('REPORT DIR', ocpp_report_dir)\n",
    )
    result = run(pytester, "-s")
    result.stdout.fnmatch_lines(["ocpp-conformance: OCPP 2.0.1, SUT CSMS (reference)", "*REPORT DIR reports-from-ini*"])
    result.assert_outcomes(passed=1)
    assert (pytester.path / "reports-from-ini").is_dir()
    # The command line wins over the ini file.
    result = run(pytester, "--ocpp-role", "cs")
    result.stdout.fnmatch_lines(["ocpp-conformance: OCPP 2.0.1, SUT CS (reference)"])


def test_ini_key_ocpp_sut_names_a_sut_file(pytester: pytest.Pytester) -> None:
    setup(pytester, extra_ini="ocpp_sut = my_sut.toml", test_nothing="def test_nothing():\n    pass\n")
    (pytester.path / "my_sut.toml").write_text("[sut]\nrole = 'csms'\n[csms]\nurl = 'ws://127.0.0.1:9/ocpp'\n")
    result = run(pytester)
    result.stdout.fnmatch_lines(["ocpp-conformance: OCPP 2.0.1, SUT CSMS (my_sut.toml)"])
    result.assert_outcomes(passed=1)


# --- applicability -------------------------------------------------------------------------------------------

@pytest.mark.parametrize("role, skipped_id, sut_role", [("cs", "TC_X_01_CSMS", "CS"), ("csms", "TC_X_01_CS", "CSMS")])
def test_a_case_of_the_other_role_is_not_applicable(
    pytester: pytest.Pytester, role: str, skipped_id: str, sut_role: str
) -> None:
    # Only the case of the other role is collected: the SUT is never started, so this needs no network.
    test_file = {"test_csms_case": CSMS_CASE} if role == "cs" else {"test_cs_case": CS_CASE}
    setup(pytester, **test_file)
    result = run(pytester, "--ocpp-role", role, "-rs")
    result.assert_outcomes(skipped=1)
    result.stdout.fnmatch_lines([f"SKIPPED*not applicable: {skipped_id} tests a *, the SUT is a {sut_role}"])


# --- configuration mistakes are usage errors ------------------------------------------------------------------

def test_a_missing_sut_file_is_a_usage_error(pytester: pytest.Pytester) -> None:
    setup(pytester, test_cases=CS_CASE)
    result = run(pytester, "--ocpp-sut", "no-such-file.toml")
    assert_clean_usage_error(result, "cannot read SUT configuration no-such-file.toml")


def test_a_missing_sut_file_named_in_the_ini_is_a_usage_error(pytester: pytest.Pytester) -> None:
    setup(pytester, extra_ini="ocpp_sut = no-such-file.toml", test_cases=CS_CASE)
    assert_clean_usage_error(run(pytester), "cannot read SUT configuration no-such-file.toml")


def test_a_pics_file_as_sut_file_is_a_usage_error(pytester: pytest.Pytester) -> None:
    setup(pytester, test_cases=CS_CASE)
    pics = pytester.path / "pics.toml"
    pics.write_text("[sut]\nrole = 'cs'\nprofiles = ['core']\n[features]\n'C-01' = true\n")
    assert_clean_usage_error(run(pytester, "--ocpp-sut", str(pics)), str(pics), "[features]", "PICS file")


def test_a_typo_in_the_sut_file_is_a_usage_error(pytester: pytest.Pytester) -> None:
    setup(pytester, test_cases=CS_CASE)
    sut = pytester.path / "sut.toml"
    sut.write_text("[sut]\nrole = 'cs'\n[station]\nidentiy = 'CS001'\n")
    assert_clean_usage_error(run(pytester, "--ocpp-sut", str(sut)), str(sut), "'identiy'", "[station]")


def test_fault_with_a_sut_file_is_a_usage_error(pytester: pytest.Pytester) -> None:
    setup(pytester, test_cases=CS_CASE)
    sut = pytester.path / "sut.toml"
    sut.write_text("[sut]\nrole = 'cs'\n")
    result = run(pytester, "--ocpp-sut", str(sut), "--ocpp-fault", "seqno_gap")
    assert_clean_usage_error(result, "--ocpp-fault only applies to the reference SUT")


def test_role_option_contradicting_the_sut_file_is_a_usage_error(pytester: pytest.Pytester) -> None:
    setup(pytester, test_cases=CS_CASE)
    sut = pytester.path / "sut.toml"
    sut.write_text("[sut]\nrole = 'cs'\n")
    assert_clean_usage_error(run(pytester, "--ocpp-sut", str(sut), "--ocpp-role", "csms"), "describes a cs")


@pytest.mark.parametrize("args, words", [
    (["--ocpp-role", "station"], ["role must be one of"]),
    (["--ocpp-role", "csms", "--ocpp-fault", "no_such_fault"], ["no_such_fault"]),
])
def test_bad_reference_options_are_usage_errors(pytester: pytest.Pytester, args: list[str], words: list[str]) -> None:
    setup(pytester, test_cases=CS_CASE)
    assert_clean_usage_error(run(pytester, *args), *words)


# --- end to end against the reference CSMS --------------------------------------------------------------------

def read_result(report_dir: Path, case_id: str) -> dict:
    assert (report_dir / "traces" / f"{case_id}.jsonl").is_file(), f"no trace for {case_id}"
    return json.loads((report_dir / "results" / f"{case_id}.json").read_text(encoding="utf-8"))


@pytest.mark.slow
def test_cases_against_the_reference_csms_get_their_verdicts(pytester: pytest.Pytester) -> None:
    setup(pytester, test_cases=CASES_AGAINST_THE_REFERENCE_CSMS)
    report_dir = pytester.path / "report"
    result = run(pytester, "--ocpp-sut", "reference", "--ocpp-role", "csms", "--ocpp-report-dir", str(report_dir), "-rA")
    output = result.stdout.str()
    result.assert_outcomes(passed=1, skipped=1, failed=2)
    assert "SUT CSMS (reference)" in output

    passed = read_result(report_dir, "TC_X_01_CSMS")
    assert {key: passed[key] for key in ("id", "role", "verdict")} == {"id": "TC_X_01_CSMS", "role": "csms", "verdict": "PASS"}
    assert set(passed) == {"id", "role", "verdict", "checks", "duration"}
    trace = [json.loads(line) for line in (report_dir / "traces" / "TC_X_01_CSMS.jsonl").read_text().splitlines()]
    answers = [r for r in trace if r.get("action") == "DataTransfer" and r.get("messageType") == "CALLRESULT"]
    assert [r["payload"] for r in answers] == [{"status": "UnknownVendorId"}]
    assert trace[-1] == {**trace[-1], "event": "verdict", "verdict": "PASS"}

    inconclusive = read_result(report_dir, "TC_X_02_CSMS")
    assert inconclusive["verdict"] == "INCONCLUSIVE"
    assert inconclusive["reason"] == "the optional feature is not supported"
    result.stdout.fnmatch_lines(["SKIPPED*INCONCLUSIVE: the optional feature is not supported*"])

    error = read_result(report_dir, "TC_X_03_CSMS")
    assert error["verdict"] == "ERROR"
    assert error["reason"] == "RuntimeError: the harness broke"

    failed = read_result(report_dir, "TC_X_04_CSMS")
    assert failed["verdict"] == "FAIL"
    assert failed["requirement"] == "P02.FR.99" and "1-2" in failed["step"]
