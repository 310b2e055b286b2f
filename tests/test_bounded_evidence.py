"""Huge frames from a misbehaving SUT give their verdict within the step's deadline (plus the frame in hand when
it passes), with bounded memory and bounded report files: one 10 MiB over-long field, and 20 frames of 15 MiB
(websockets lets frames up to 16 MiB through). The SUT is a CSMS of the tests' own (tests/misbehaving_csms.py) on 127.0.0.1; the harness runs as
``ocpp-conformance run`` in a process of its own, whose peak memory is measured."""

from __future__ import annotations

import datetime as dt
import json
import re
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from misbehaving_csms import MiB, MisbehavingCsms, huge_calls, long_field

pytestmark = pytest.mark.slow

CASE = "TC_B_01_CSMS"
DEADLINE_S = 5.0
"""The SUT file's [timeouts] response: the deadline of the step that receives the huge frames."""
MARGIN_S = 1.0
"""Past the deadline, the harness finishes the frame in hand (a 15 MiB frame takes about 0.3 s here) and writes
the evidence."""
MEMORY_CEILING_KB = 500 * 1000
REPORTS_CEILING_BYTES = 10 * 1000 * 1000

MEASURE = (
    "import json, resource, subprocess, sys\n"
    "code = subprocess.run(sys.argv[1:], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, timeout=600).returncode\n"
    "print(json.dumps({'code': code, 'maxrss_kb': resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss}))\n"
)
"""Runs a command in a fresh process, so that the peak memory of its children is the command's alone."""


@dataclass(frozen=True)
class Measured:
    verdict: str
    reason: str = field(repr=False)
    frame: str = field(repr=False)
    seconds_to_verdict: float
    maxrss_kb: int
    report_bytes: int


def sut_file(folder: Path, url: str) -> Path:
    path = folder / "csms.toml"
    path.write_text(
        f"""
[sut]
role = "csms"
kind = "external"

[csms]
url = "{url}"

[station]
identity = "CS001"

[station.connectors]
"1" = [1]

[id_tokens]
valid = {{ id_token = "VALID001", type = "ISO14443" }}
invalid = {{ id_token = "INVALID001", type = "ISO14443" }}
blocked = {{ id_token = "BLOCKED001", type = "ISO14443" }}

[timeouts]
response = {DEADLINE_S}
message = {DEADLINE_S}
manual_action = 10.0
silence = 1.0

[actions]
driver = "hook"
""",
        encoding="utf-8",
    )
    return path


def run_case(tmp_path: Path, csms: MisbehavingCsms) -> Measured:
    """Run the case against ``csms`` with the CLI; the verdict, the time from the case's start to its result
    file, the harness's peak memory and the size of every file of the report folder."""
    reports = tmp_path / "reports"
    with csms.running():
        command = [
            sys.executable, "-m", "harness.cli", "run", "--role", "csms", "--sut", str(sut_file(tmp_path, csms.url)),
            "--cases", CASE, "--report-dir", str(reports),
        ]
        done = subprocess.run([sys.executable, "-c", MEASURE, *command], capture_output=True, text=True, timeout=660)
    measured = json.loads(done.stdout)
    result_file = reports / "results" / f"{CASE}.json"
    result = json.loads(result_file.read_text(encoding="utf-8"))
    started = next(
        json.loads(line)["timestamp"]
        for line in (reports / "traces" / f"{CASE}.jsonl").read_text(encoding="utf-8").splitlines()
        if json.loads(line).get("event") == "case started"
    )
    seconds = result_file.stat().st_mtime - dt.datetime.fromisoformat(started).timestamp()
    sizes = sum(path.stat().st_size for path in reports.rglob("*") if path.is_file())
    return Measured(result["verdict"], result.get("reason") or "", result.get("frame") or "", seconds, measured["maxrss_kb"], sizes)


def assert_bounded(measured: Measured) -> None:
    assert measured.verdict in ("FAIL", "INCONCLUSIVE"), measured
    assert measured.seconds_to_verdict < DEADLINE_S + MARGIN_S, measured
    assert measured.maxrss_kb < MEMORY_CEILING_KB, measured
    assert measured.report_bytes < REPORTS_CEILING_BYTES, measured


def test_a_10_mib_over_long_field_gives_its_verdict_in_time_with_bounded_evidence(tmp_path: Path) -> None:
    measured = run_case(tmp_path, MisbehavingCsms(long_field(10 * MiB)))
    print(measured)
    assert_bounded(measured)
    assert "/statusInfo/reasonCode: 'RRRR" in measured.reason and "(a string of 10485760 characters) is too long" in measured.reason
    assert measured.frame.startswith('[3, "') and re.search(r"… \(\d+ bytes more, sha256 [0-9a-f]{64}\)$", measured.frame)


def test_20_frames_of_15_mib_give_their_verdict_in_time_with_bounded_evidence(tmp_path: Path) -> None:
    measured = run_case(tmp_path, MisbehavingCsms(huge_calls(20, 15 * MiB)))
    print(measured)
    assert_bounded(measured)
    assert "/vendorId: 'VVVV" in measured.reason
