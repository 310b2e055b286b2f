"""The CSMS-side Reusable and Memory States (harness.states.csms) against the reference CSMS, through the
pytest plugin: every state is reached and PASSes; a mutation of the reference CSMS's frames makes each
state's tool validation FAIL under its own id; the restore ends a transaction a case left open."""

pytest_plugins = ["pytester"]

import json
import textwrap
from pathlib import Path

import pytest

RUN_TIMEOUT = 240

INI = """
[pytest]
asyncio_mode = auto
asyncio_default_fixture_loop_scope = function
"""

PREAMBLE = '''
from harness.reference.csms import certificate_authority
from harness.states import csms as states
from harness.testcase import testcase

PEM = certificate_authority().pem
'''

REACH = '''

@testcase("{case_id}", "Reach {names}")
async def test_{slug}(case):
    await states.ensure_booted(case)
    for name in {names!r}:
        await states.reach(case, name, **{options})
'''

PEM_OPTIONS = '{"certificate": PEM, "csms_root_certificate": PEM}'

REACHED = [
    ("TC_X_10_CSMS", ["Booted"]),
    ("TC_X_11_CSMS", ["Authorized"]),
    ("TC_X_12_CSMS", ["EVConnectedPreSession"]),
    ("TC_X_13_CSMS", ["EVConnectedPreSession", "Authorized"]),
    ("TC_X_14_CSMS", ["EnergyTransferStarted"]),
    ("TC_X_15_CSMS", ["EnergyTransferSuspended"]),
    ("TC_X_16_CSMS", ["StopAuthorized"]),
    ("TC_X_17_CSMS", ["EVConnectedPostSession"]),
    ("TC_X_18_CSMS", ["EVDisconnected"]),
    ("TC_X_19_CSMS", ["Unavailable"]),
    ("TC_X_20_CSMS", ["Reserved"]),
    ("TC_X_21_CSMS", ["GetInstalledCertificates"]),
    ("TC_X_22_CSMS", ["CertificateInstalled"]),
    ("TC_X_23_CSMS", ["EVConnectedPreSession", "ISO15118SmartCharging"]),
    ("TC_X_24_CSMS", ["RenewChargingStationCertificate"]),
]

RESTORED = '''

@testcase("TC_X_30_CSMS", "Leave a transaction open and a connector Occupied")
async def test_leave_open(case):
    await states.ensure_booted(case)
    await states.reach(case, "EnergyTransferStarted")


@testcase("TC_X_31_CSMS", "The restore ended it")
async def test_restored(case):
    station = states.station_of(case.link)
    assert not station.transactions, station.transactions
    assert not station.not_available(), station.not_available()
'''

BROKEN = {
    # case id: (states reached, the validation that must FAIL, mutation of the reference CSMS's frames)
    "TC_X_40_CSMS": (["Authorized"], "Authorized step 2",
                     ("CALLRESULT", "Authorize", 1, "idTokenInfo.status", "Blocked")),
    "TC_X_41_CSMS": (["Authorized"], "Authorized step 4",
                     ("CALLRESULT", "TransactionEvent", 1, "idTokenInfo.status", "Invalid")),
    "TC_X_42_CSMS": (["StopAuthorized"], "StopAuthorized step 2",
                     ("CALLRESULT", "TransactionEvent", 4, "idTokenInfo.status", "Invalid")),
    "TC_X_43_CSMS": (["Unavailable"], "Unavailable step 1", ("CALL", "ChangeAvailability", 1, "evse.connectorId", 1)),
    "TC_X_44_CSMS": (["Reserved"], "Reserved step 1", ("CALL", "ReserveNow", 1, "connectorType", "cType2")),
    "TC_X_45_CSMS": (["GetInstalledCertificates"], "GetInstalledCertificates step 1",
                     ("CALL", "GetInstalledCertificateIds", 1, "certificateType", ["V2GRootCertificate"])),
    "TC_X_46_CSMS": (["CertificateInstalled"], "CertificateInstalled step 1",
                     ("CALL", "InstallCertificate", 1, "certificateType", "MORootCertificate")),
    "TC_X_47_CSMS": (["EVConnectedPreSession", "ISO15118SmartCharging"], "ISO15118SmartCharging step 2",
                     ("CALLRESULT", "NotifyEVChargingNeeds", 1, "status", "Rejected")),
    "TC_X_48_CSMS": (["EVConnectedPreSession", "ISO15118SmartCharging"], "ISO15118SmartCharging step 3",
                     ("CALL", "SetChargingProfile", 1, "chargingProfile.chargingProfilePurpose", "TxDefaultProfile")),
    "TC_X_49_CSMS": (["EVConnectedPreSession", "ISO15118SmartCharging"], "ISO15118SmartCharging step 4",
                     ("CALLRESULT", "NotifyEVChargingSchedule", 1, "status", "Rejected")),
    "TC_X_50_CSMS": (["RenewChargingStationCertificate"], "RenewChargingStationCertificate step 1",
                     ("CALL", "TriggerMessage", 1, "requestedMessage", "Heartbeat")),
    "TC_X_51_CSMS": (["RenewChargingStationCertificate"], "RenewChargingStationCertificate step 4",
                     ("CALLRESULT", "SignCertificate", 1, "status", "Rejected")),
    "TC_X_52_CSMS": (["RenewChargingStationCertificate"], "RenewChargingStationCertificate step 5",
                     ("CALL", "CertificateSigned", 1, "certificateType", "V2GCertificate")),
}


def _cases(cases: list[tuple[str, list[str]]]) -> str:
    return PREAMBLE + "".join(
        REACH.format(case_id=case_id, names=names, slug=case_id.lower(), options=PEM_OPTIONS) for case_id, names in cases
    )


def _run(pytester: pytest.Pytester, source: str, *args: str) -> tuple[pytest.RunResult, Path]:
    pytester.makefile(".ini", pytest=INI)
    pytester.makepyfile(test_cases=textwrap.dedent(source))
    report = pytester.path / "report"
    result = pytester.runpytest_subprocess(
        "-p", "no:cacheprovider", "--ocpp-sut", "reference", "--ocpp-role", "csms",
        "--ocpp-report-dir", str(report), *args, timeout=RUN_TIMEOUT,
    )
    return result, report


def _result(report: Path, case_id: str) -> dict:
    return json.loads((report / "results" / f"{case_id}.json").read_text(encoding="utf-8"))


@pytest.mark.slow
def test_every_state_is_reached_against_the_reference_csms(pytester: pytest.Pytester) -> None:
    result, report = _run(pytester, _cases(REACHED) + RESTORED, "-rA")
    verdicts = {case_id: _result(report, case_id) for case_id, _ in REACHED + [("TC_X_30_CSMS", []), ("TC_X_31_CSMS", [])]}
    assert {case_id: r["verdict"] for case_id, r in verdicts.items()} == dict.fromkeys(verdicts, "PASS"), (
        verdicts, result.stdout.str()[-3000:]
    )


@pytest.mark.slow
def test_the_restore_ends_the_open_transaction_as_a_bench_reset(pytester: pytest.Pytester) -> None:
    result, report = _run(pytester, _cases([]) + RESTORED)
    assert _result(report, "TC_X_31_CSMS")["verdict"] == "PASS", result.stdout.str()[-3000:]
    frames = [json.loads(line) for trace in (report / "traces").glob("*.jsonl") for line in trace.read_text().splitlines()]
    ended = [f["payload"] for f in frames if f.get("action") == "TransactionEvent" and f.get("messageType") == "CALL"
             and f.get("payload", {}).get("eventType") == "Ended"]
    assert [(e["triggerReason"], e["transactionInfo"]["stoppedReason"]) for e in ended] == [("AbnormalCondition", "Other")]


@pytest.mark.slow
def test_each_validation_fails_under_its_id(pytester: pytest.Pytester) -> None:
    mutations = [
        {"name": f"{case_id}/{validation}", "case": case_id, "message_type": kind, "action": action, "op": "set",
         "occurrence": occurrence, "path": path, "value": value}
        for case_id, (_, validation, (kind, action, occurrence, path, value)) in BROKEN.items()
    ]
    mutations_file = pytester.path / "mutations.json"
    mutations_file.write_text(json.dumps(mutations), encoding="utf-8")
    cases = [(case_id, names) for case_id, (names, _, _) in BROKEN.items()]
    result, report = _run(pytester, _cases(cases), "--ocpp-mutations", str(mutations_file))
    outcome = {case_id: (_result(report, case_id)["verdict"], _result(report, case_id).get("validation")) for case_id in BROKEN}
    assert outcome == {case_id: ("FAIL", validation) for case_id, (_, validation, _) in BROKEN.items()}, (
        outcome, result.stdout.str()[-3000:]
    )
