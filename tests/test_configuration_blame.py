"""A configuration mistake is an ERROR that says what to check, never a FAIL blamed on the SUT: a CSMS URL with
nothing listening, credentials or an identity the CSMS refuses, a station that never connects or connects
with the wrong identity or password."""

from __future__ import annotations

import asyncio
import json
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from harness.reference.csms import CsmsSettings, ReferenceCsms
from harness.restore import connection_refused, nothing_connected
from harness.roles import ConnectRefused, CsmsEndpoint, FakeCsms, HandshakeRejection

pytestmark = pytest.mark.slow

PICS = {"cs": "reference_cs.toml", "csms": "reference_csms.toml"}
FIXTURES = Path(__file__).resolve().parent.parent / "fixtures" / "pics"
TIMEOUTS = "[timeouts]\nresponse = 3.0\nmessage = 3.0\nmanual_action = 3.0\ntime_tolerance = 0.5\nsilence = 0.5\n"


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def station_file(folder: Path, port: int, password: str | None = None) -> Path:
    secret = f'basic_auth_password = "{password}"\n' if password else ""
    path = folder / "station.toml"
    path.write_text(
        f'[sut]\nrole = "cs"\nkind = "external"\n[station]\nidentity = "CS001"\n{secret}'
        f'[csms]\nlisten_host = "127.0.0.1"\nlisten_port = {port}\n{TIMEOUTS}'
        '[actions]\ndriver = "hook"\nwebhook = "http://127.0.0.1:9/"\n',
        encoding="utf-8",
    )
    return path


def csms_file(folder: Path, url: str, identity: str = "CS001", password: str | None = None) -> Path:
    secret = f'basic_auth_password = "{password}"\n' if password else ""
    path = folder / "csms.toml"
    path.write_text(
        f'[sut]\nrole = "csms"\nkind = "external"\n[csms]\nurl = "{url}"\n[station]\nidentity = "{identity}"\n{secret}'
        f'{TIMEOUTS}[actions]\ndriver = "hook"\nwebhook = "http://127.0.0.1:9/"\n',
        encoding="utf-8",
    )
    return path


def run_command(role: str, sut: Path, case: str, report: Path) -> list[str]:
    return [
        sys.executable, "-m", "harness.cli", "run", "--role", role, "--sut", str(sut), "--cases", case,
        "--pics", str(FIXTURES / PICS[role]), "--report-dir", str(report),
    ]


def result(report: Path, case: str) -> dict[str, str]:
    return json.loads((report / "results" / f"{case}.json").read_text(encoding="utf-8"))


def test_a_station_that_never_connects_is_an_error_naming_the_url(tmp_path: Path) -> None:
    port = free_port()
    run = subprocess.run(run_command("cs", station_file(tmp_path, port), "TC_P_01_CS", tmp_path / "r"), capture_output=True, text=True, timeout=120)
    verdict = result(tmp_path / "r", "TC_P_01_CS")
    assert verdict["verdict"] == "ERROR" and run.returncode == 3
    assert f"no Charging Station connected to ws://127.0.0.1:{port}/ocpp/CS001" in verdict["reason"]


def test_a_station_with_the_wrong_password_is_an_error_naming_the_refused_handshake(tmp_path: Path) -> None:
    port, control = free_port(), free_port()
    sut = station_file(tmp_path, port, password="the-right-password-16")
    station = subprocess.Popen(
        [sys.executable, "-m", "harness.reference.run_station", "--csms-url", f"ws://127.0.0.1:{port}/ocpp",
         "--identity", "CS001", "--password", "a-wrong-password-0016", "--control-port", str(control)],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )
    try:
        run = subprocess.run(run_command("cs", sut, "TC_P_01_CS", tmp_path / "r"), capture_output=True, text=True, timeout=120)
    finally:
        station.terminate()
        station.wait(timeout=10)
    verdict = result(tmp_path / "r", "TC_P_01_CS")
    assert verdict["verdict"] == "ERROR" and run.returncode == 3
    assert "HTTP 401" in verdict["reason"] and "basic_auth_password" in verdict["reason"]


def test_a_csms_url_with_nothing_listening_is_an_error(tmp_path: Path) -> None:
    url = f"ws://127.0.0.1:{free_port()}/ocpp"
    run = subprocess.run(run_command("csms", csms_file(tmp_path, url), "TC_P_02_CSMS", tmp_path / "r"), capture_output=True, text=True, timeout=120)
    verdict = result(tmp_path / "r", "TC_P_02_CSMS")
    assert verdict["verdict"] == "ERROR" and run.returncode == 3
    assert f"cannot connect to the CSMS at {url}/CS001" in verdict["reason"] and "[csms] url" in verdict["reason"]


@pytest.mark.parametrize(
    "identity, password, says",
    [("CS001", "a-wrong-password-0016", "HTTP 401"), ("UNKNOWN", "the-right-password-16", "HTTP 404")],
)
async def test_a_csms_that_refuses_the_station_is_an_error_saying_what_to_check(
    tmp_path: Path, identity: str, password: str, says: str
) -> None:
    csms = ReferenceCsms(CsmsSettings(known_identities={"CS001"}, basic_auth_password="the-right-password-16"))
    await csms.start()
    try:
        sut = csms_file(tmp_path, csms.url, identity=identity, password=password)
        process = await asyncio.create_subprocess_exec(
            *run_command("csms", sut, "TC_P_02_CSMS", tmp_path / "r"), stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.DEVNULL
        )
        code = await asyncio.wait_for(process.wait(), 120)
    finally:
        await csms.stop()
    verdict = result(tmp_path / "r", "TC_P_02_CSMS")
    assert verdict["verdict"] == "ERROR" and code == 3
    assert says in verdict["reason"] and "[station] identity" in verdict["reason"]


@pytest.mark.parametrize(
    "status, advice",
    [(401, "basic_auth_password"), (404, "[station] identity"), (None, "[csms] url")],
)
def test_each_refusal_says_what_to_check(status: int | None, advice: str) -> None:
    assert advice in connection_refused("ws://csms/ocpp/CS001", ConnectRefused("refused", status))


def test_a_station_nobody_saw_is_told_apart_from_one_that_was_refused() -> None:
    csms = FakeCsms(CsmsEndpoint(), idle=None)  # type: ignore[arg-type]
    assert "powered" in nothing_connected(csms, "ws://h/ocpp/CS001", 5)
    csms.rejections.append(HandshakeRejection("/ocpp/CS002", 404, "unknown Charging Station identity"))
    assert "/ocpp/CS002 → HTTP 404" in nothing_connected(csms, "ws://h/ocpp/CS001", 5)
