"""The reference station as an *external* SUT: its own process, started after the harness, driven through the
webhook hook. The harness must wait for it to connect and boot before the first case, and give the station
the general preconditions back after every case, so that a FAILed boot case does not fail the cases after it.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow

CS_CASES = ("TC_B_01_CS", "TC_B_02_CS", "TC_B_03_CS", "TC_B_06_CS", "TC_B_09_CS", "TC_E_03_CS", "TC_E_40_CS", "TC_G_01_CS", "TC_P_01_CS")
RUN_TIMEOUT_S = 420
PICS = Path(__file__).resolve().parent.parent / "fixtures" / "pics" / "reference_cs.toml"


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def sut_file(folder: Path, listen_port: int, control_port: int) -> Path:
    path = folder / "station.toml"
    path.write_text(
        f"""
[sut]
role = "cs"
kind = "external"

[station]
identity = "CS001"
heartbeat_interval = 2
tx_updated_interval = 1
retry_back_off_wait_minimum = 2

[station.connectors]
"1" = [1]

[csms]
listen_host = "127.0.0.1"
listen_port = {listen_port}

[id_tokens]
valid = {{ id_token = "VALID001", type = "ISO14443" }}
invalid = {{ id_token = "INVALID001", type = "ISO14443" }}
blocked = {{ id_token = "BLOCKED001", type = "ISO14443" }}

[timeouts]
response = 5.0
message = 10.0
manual_action = 30.0
time_tolerance = 0.5
silence = 1.0

[actions]
driver = "hook"
webhook = "http://127.0.0.1:{control_port}/"
""",
        encoding="utf-8",
    )
    return path


@pytest.fixture
def ports() -> tuple[int, int]:
    return free_port(), free_port()


def run_against_station(tmp_path: Path, ports: tuple[int, int], faults: Sequence[str] = ()) -> dict[str, str]:
    """Start the harness, then the station process; the verdict of every CS case."""
    listen_port, control_port = ports
    sut = sut_file(tmp_path, listen_port, control_port)
    report = tmp_path / "report"
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    harness = subprocess.Popen(
        [sys.executable, "-m", "harness.cli", "run", "--role", "cs", "--sut", str(sut), "--report-dir", str(report),
         "--cases", ",".join(CS_CASES), "--pics", str(PICS)],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env,
    )
    station_command = [
        sys.executable, "-m", "harness.reference.run_station", "--csms-url", f"ws://127.0.0.1:{listen_port}/ocpp",
        "--identity", "CS001", "--control-port", str(control_port), *(f"--fault={f}" for f in faults),
    ]
    with _process(station_command, env) as _station:
        try:
            output, _ = harness.communicate(timeout=RUN_TIMEOUT_S)
        finally:
            harness.kill()
    results = {case: json.loads((report / "results" / f"{case}.json").read_text())["verdict"] for case in CS_CASES}
    assert (report / "traces" / "session.jsonl").exists(), output
    return results


class _process:
    """A child process that is always terminated and reaped."""

    def __init__(self, command: list[str], env: dict[str, str]) -> None:
        self.command, self.env = command, env

    def __enter__(self) -> subprocess.Popen[bytes]:
        self.process = subprocess.Popen(self.command, env=self.env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        return self.process

    def __exit__(self, *_: object) -> None:
        self.process.terminate()
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()


def test_the_cs_cases_pass_against_the_station_started_after_the_harness(tmp_path: Path, ports: tuple[int, int]) -> None:
    """The station connects and boots only after the harness listens: the first case waits for it."""
    assert run_against_station(tmp_path, ports) == {case: "PASS" for case in CS_CASES}


def test_failed_boot_cases_leave_no_trace_on_the_cases_after_them(tmp_path: Path, ports: tuple[int, int]) -> None:
    """TC_B_02_CS FAILs (a remote start accepted while Pending) and TC_B_03_CS FAILs (a message while Rejected);
    the restore brings the station back to Accepted and idle, so every other case still PASSes."""
    verdicts = run_against_station(tmp_path, ports, ["accepts_start_while_pending", "sends_messages_while_rejected"])
    assert verdicts == {case: "FAIL" if case in ("TC_B_02_CS", "TC_B_03_CS") else "PASS" for case in CS_CASES}
