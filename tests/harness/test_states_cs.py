"""The Charging Station reusable and memory states (harness/states/cs.py) against the reference station.

Each throw-away case reaches a state through the pytest plugin (``--ocpp-sut reference --ocpp-role cs``) and
must PASS; a wire mutation of the reference's frames must make the state's own validation FAIL, named in the
case's result file. The reference station cannot perform these states (its Part 2 does not go that far),
so they have no run here: RenegotiateChargingLimits (no ISO 15118), GetInstalledCertificates and the
certificate memory states (no PKI; the CSR rules are tested alone), RebootBeforeFirmwareActivation (the
reference reboots before installing), IdTokenLocalAuthList (no SendLocalList), SetChargingProfile (no smart
charging).
"""

from __future__ import annotations

pytest_plugins = ["pytester"]

import json
import re
import textwrap
from pathlib import Path

import pytest

from harness.part6 import memory_state, reusable_state
from harness.states import cs

RUN_TIMEOUT = 240  # seconds; a hang is a failure, not a stuck suite

INI = """
[pytest]
asyncio_mode = auto
asyncio_default_fixture_loop_scope = function
"""

PARKING = '[("TxCtrlr", "TxStartPoint", "ParkingBayOccupancy"), ("TxCtrlr", "TxStopPoint", "ParkingBayOccupancy")]'

CASES = f'''
from harness.states import cs as states
from harness.testcase import testcase


@testcase("TC_X_01_CS", "A whole session with the bay sensor: the memory state IdTokenCached")
async def test_local_session_with_parking(case):
    await states.configure(case, {PARKING})
    await states.remember(case, "IdTokenCached")


@testcase("TC_X_07_CS", "A whole local session without the bay sensor: IdTokenCached")
async def test_local_session(case):
    await states.remember(case, "IdTokenCached")


@testcase("TC_X_08_CS", "Reserved, then the reserving driver comes")
async def test_reserved(case):
    await states.reach(case, "Reserved")
    await states.reach(case, "EnergyTransferStarted")


@testcase("TC_X_02_CS", "Remote start and stop, then the EV leaves")
async def test_remote_session(case):
    await states.reach(case, "EnergyTransferStarted", authorization="remote")
    await states.reach(case, "ParkingBayUnoccupied", stop="remote")


@testcase("TC_X_03_CS", "The EV suspends the energy transfer")
async def test_suspended(case):
    await states.reach(case, "EnergyTransferSuspended")


@testcase("TC_X_04_CS", "Unavailable, then Booting")
async def test_unavailable_and_booting(case):
    await states.reach(case, "Unavailable")
    await states.reach(case, "Booting")
    await case.expect("BootNotification")


@testcase("TC_X_05_CS", "Offline: a transaction started, then a whole one queued")
async def test_offline(case):
    await states.reach(case, "StartOfflineTransaction")
    await case.expect("TransactionEvent", {{"eventType": "Started", "offline": True}})
    await case.manual("unplug", evse_id=1, connector_id=1)
    await case.expect("TransactionEvent", {{"eventType": "Ended"}})
    await states.remember(case, "TransactionEventsInQueueEnded")
    await case.expect("TransactionEvent", {{"eventType": "Ended", "offline": True}})


@testcase("TC_X_06_CS", "Authorized15118 by EIM, and Booted by a Reset")
async def test_15118_and_booted(case):
    await states.reach(case, "Authorized15118")
    await states.reach(case, "Booted", power_cycle=False)


@testcase("TC_X_09_CS", "Remote start authorized first (AuthorizeRemoteStart true), remote stop, EV unplugged")
async def test_remote_with_authorize(case):
    await states.configure(case, [("AuthCtrlr", "AuthorizeRemoteStart", "true")])
    await states.reach(case, "EnergyTransferStarted", authorization="remote")
    await states.reach(case, "EVDisconnected", stop="remote")


@testcase("TC_X_11_CS", "A firmware update that reboots before installing")
async def test_firmware(case):
    firmware = {{"location": "http://127.0.0.1/firmware.bin", "retrieveDateTime": "2026-01-01T00:00:00Z"}}
    await case.call("UpdateFirmware", {{"requestId": 1, "firmware": firmware}})
    await case.expect("FirmwareStatusNotification", {{"status": "Downloading"}})
    await case.expect("FirmwareStatusNotification", {{"status": "Downloaded"}})
    await states.reach(case, "RebootBeforeFirmwareInstallation")
    await case.expect("FirmwareStatusNotification", {{"status": "Installed"}})


@testcase("TC_X_12_CS", "An action the reference cannot perform: INCONCLUSIVE, never FAIL")
async def test_renegotiation(case):
    await states.reach(case, "EnergyTransferStarted")
    await states.reach(case, "RenegotiateChargingLimits")


@testcase("TC_X_10_CS", "Last in the file: a FAIL here leaves an occupied bay the restore cannot empty")
async def test_parking_again(case):
    await states.configure(case, {PARKING})
    await states.remember(case, "IdTokenCached")
'''


def mutation(case: str, action: str, where: dict, path: str, value: object = None, op: str = "set") -> dict:
    return {
        "name": f"{case} {path}", "case": case, "message_type": "CALL", "action": action, "op": op,
        "occurrence": None, "where": where, "path": path, "value": value, "seconds": 0.0,
    }


MUTATIONS = [
    mutation("TC_X_07_CS", "TransactionEvent", {"triggerReason": "StopAuthorized"}, "triggerReason", "Deauthorized"),
    mutation("TC_X_02_CS", "TransactionEvent", {"triggerReason": "RemoteStart"}, "transactionInfo.remoteStartId", op="delete"),
    mutation("TC_X_03_CS", "TransactionEvent", {"transactionInfo.chargingState": "SuspendedEV"}, "transactionInfo.chargingState", "Charging"),
    mutation("TC_X_04_CS", "StatusNotification", {"connectorStatus": "Unavailable"}, "connectorStatus", "Faulted"),
    mutation("TC_X_08_CS", "StatusNotification", {"connectorStatus": "Reserved"}, "connectorStatus", "Faulted"),
    mutation("TC_X_09_CS", "TransactionEvent", {"triggerReason": "RemoteStop"}, "triggerReason", "StopAuthorized"),
    mutation("TC_X_10_CS", "TransactionEvent", {"triggerReason": "EVDeparted"}, "transactionInfo.stoppedReason", "Remote"),
    mutation("TC_X_11_CS", "BootNotification", {"reason": "FirmwareUpdate"}, "reason", "PowerUp"),
    mutation("TC_X_06_CS", "SecurityEventNotification", {}, "type", "FirmwareUpdated"),
]
"""One fault per case, each aimed at a state's own validation (EXPECTED_FAILS). TC_X_01_CS has none: a FAIL
with the bay occupied and TxStopPoint ParkingBayOccupancy leaves a transaction the restore cannot end (it has
no "unpark"), so the bay's FAIL is TC_X_10_CS's, last in the file and at the session's last event."""

EXPECTED_FAILS = {
    "TC_X_07_CS": "StopAuthorized A step 1",
    "TC_X_02_CS": "Authorized B step 5",
    "TC_X_03_CS": "EnergyTransferSuspended step 1",
    "TC_X_04_CS": "Unavailable step 3",
    "TC_X_06_CS": "Booted step 7",
    "TC_X_08_CS": "Reserved step 3",
    "TC_X_09_CS": "StopAuthorized B step 3",
    "TC_X_10_CS": "ParkingBayUnoccupied step 1",
    "TC_X_11_CS": "RebootBeforeFirmwareInstallation step 3",
}


def run_cases(pytester: pytest.Pytester, *extra: str) -> Path:
    pytester.makefile(".ini", pytest=INI)
    pytester.makepyfile(test_states=textwrap.dedent(CASES))
    report_dir = pytester.path / "report"
    pytester.runpytest_subprocess(
        "-p", "no:cacheprovider", "--ocpp-sut", "reference", "--ocpp-role", "cs",
        "--ocpp-report-dir", str(report_dir), *extra, timeout=RUN_TIMEOUT,
    )
    return report_dir


def result(report_dir: Path, case_id: str) -> dict:
    return json.loads((report_dir / "results" / f"{case_id}.json").read_text(encoding="utf-8"))


@pytest.mark.slow
def test_every_state_the_reference_can_perform_passes(pytester: pytest.Pytester) -> None:
    report_dir = run_cases(pytester)
    verdicts = {case: result(report_dir, case) for case in [f"TC_X_{n:02}_CS" for n in range(1, 12)]}
    assert all(r["verdict"] == "PASS" for r in verdicts.values()), verdicts
    renegotiation = result(report_dir, "TC_X_12_CS")
    assert renegotiation["verdict"] == "INCONCLUSIVE" and "renegotiate_charging_limits" in renegotiation["reason"]


@pytest.mark.slow
def test_a_broken_frame_fails_the_states_own_validation(pytester: pytest.Pytester) -> None:
    mutations = pytester.path / "mutations.json"
    mutations.write_text(json.dumps(MUTATIONS), encoding="utf-8")
    report_dir = run_cases(pytester, "--ocpp-mutations", str(mutations))
    found = {case: result(report_dir, case) for case in EXPECTED_FAILS}
    assert {case: (r["verdict"], r.get("validation")) for case, r in found.items()} == {
        case: ("FAIL", validation) for case, validation in EXPECTED_FAILS.items()
    }, found


TEMPLATED_VALIDATIONS = {
    "RebootBeforeFirmwareInstallation step 3", "RebootBeforeFirmwareActivation step 3",
    *(f"{state} step {n}" for state in ("RenewChargingStationCertificate", "RenewV2GChargingStationCertificate")
      for n in (2, 3, 6)),
}
"""The validations cs.py names through an f-string (shared steps of two states)."""


def test_every_validation_named_in_the_states_is_one_of_part_6() -> None:
    """A validation id the Part 6 data does not have would be a HarnessError in a real case."""
    source = Path(cs.__file__).read_text(encoding="utf-8")
    named = set(re.findall(r'validation="([^"]+)"', source)) | TEMPLATED_VALIDATIONS
    for validation in sorted(named):
        state, _, inner = validation.partition(" ")
        try:
            reusable_state(state, "cs").validation(inner)
        except KeyError:
            memory_state(state, "cs").validation(inner)


def test_every_part_6_state_is_in_a_table() -> None:
    from harness.part6 import _load
    from harness.catalog import catalog_dir

    part6 = _load(catalog_dir())
    assert set(part6.reusable_states["cs"]) <= set(cs.STATES)
    assert set(part6.memory_states["cs"]) == set(cs.MEMORY_STATES)
    for state in cs.STATES.values():
        assert set(state.needs) <= set(cs.STATES)


def csr(key) -> str:
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.x509.oid import NameOID

    request = x509.CertificateSigningRequestBuilder().subject_name(
        x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "CS001")])
    ).sign(key, hashes.SHA256())
    return request.public_bytes(serialization.Encoding.PEM).decode()


def test_the_csr_rules_of_the_renew_memory_states() -> None:
    from cryptography.hazmat.primitives.asymmetric import ec, rsa

    station, v2g = cs.CSR_RULES["ChargingStationCertificate"], cs.CSR_RULES["V2GCertificate"]
    small_rsa, rsa_2048 = rsa.generate_private_key(65537, 1024), rsa.generate_private_key(65537, 2048)
    p256, p192 = ec.generate_private_key(ec.SECP256R1()), ec.generate_private_key(ec.SECP192R1())
    assert cs.csr_problem(csr(rsa_2048), station) is None and cs.csr_problem(csr(p256), station) is None
    assert "1024 bits" in cs.csr_problem(csr(small_rsa), station)
    assert "192 bits" in cs.csr_problem(csr(p192), station)
    assert "ECDSA" in cs.csr_problem(csr(rsa_2048), v2g) and cs.csr_problem(csr(p256), v2g) is None
    assert "PEM" in cs.csr_problem("not a csr", station)
