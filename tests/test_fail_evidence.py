"""A FAIL carries its evidence: the Allure result and the JSONL trace quote the offending frame and name the
step and the requirement, so an auditor can check the verdict from the frames alone."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest


@pytest.mark.slow
def test_a_fail_quotes_the_frame_and_names_step_and_requirement(tmp_path: Path) -> None:
    command = [
        sys.executable, "-m", "harness.cli", "run", "--role", "cs", "--cases", "TC_P_01_CS",
        "--fault", "datatransfer_accepted", "--report-dir", str(tmp_path),
    ]
    run = subprocess.run(command, capture_output=True, text=True, timeout=300)
    assert run.returncode == 1, run.stdout + run.stderr

    trace = [json.loads(line) for line in (tmp_path / "traces" / "TC_P_01_CS.jsonl").read_text().splitlines()]
    offending = next(r for r in trace if r.get("messageType") == "CALLRESULT" and r.get("action") == "DataTransfer")
    verdict = next(r for r in trace if r.get("event") == "verdict")
    assert verdict["verdict"] == "FAIL"
    assert verdict["frame"] == offending["raw"]
    assert verdict["step"].startswith("step 1-2") and verdict["requirement"] == "P01.FR.05, P01.FR.06"

    results = [json.loads(p.read_text()) for p in (tmp_path / "allure-results").glob("*-result.json")]
    [result] = [r for r in results if r["name"].startswith("TC_P_01_CS")]
    assert result["status"] == "failed"
    message = result["statusDetails"]["message"]
    assert offending["raw"] in message and "step 1-2" in message and "P01.FR.05" in message
    labels = {(label["name"], label["value"]) for label in result["labels"]}
    assert {("as_id", "TC_P_01_CS"), ("verdict", "FAIL"), ("ocpp_version", "2.0.1"), ("feature", "Core")} <= labels
    assert any(a["name"] == "trace TC_P_01_CS.jsonl" for a in result["attachments"])
