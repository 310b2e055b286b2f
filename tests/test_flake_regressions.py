"""Verdicts that once flipped from run to run, pinned at their cause."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest


@pytest.mark.slow
def test_a_case_after_one_that_leaves_the_station_rejected_is_judged_on_an_accepted_station(tmp_path: Path) -> None:
    """TC_B_06_CS once FAILed in 2 of 9 self-test runs under ``sends_messages_while_rejected``: TC_B_03_CS before it
    left the station Rejected, and whether the station's retry came before TC_B_06_CS's request was a race. The
    restore after every case re-registers the station (Accepted) before the next case starts, so TC_B_06_CS is
    judged on an Accepted station, and PASSes, every time."""
    run = subprocess.run(
        [sys.executable, "-m", "harness.cli", "run", "--role", "cs", "--cases", "TC_B_03_CS,TC_B_06_CS",
         "--fault", "sends_messages_while_rejected", "--report-dir", str(tmp_path)],
        capture_output=True, text=True, timeout=120,
    )
    verdicts = {case: json.loads((tmp_path / "results" / f"{case}.json").read_text())["verdict"] for case in ("TC_B_03_CS", "TC_B_06_CS")}
    assert verdicts == {"TC_B_03_CS": "FAIL", "TC_B_06_CS": "PASS"}, run.stdout[-3000:]
    records = [json.loads(line) for line in (tmp_path / "traces" / "session.jsonl").read_text().splitlines()]
    titles = [i for i, r in enumerate(records) if r.get("event") == "housekeeping"]
    start = next(i for i in titles if records[i]["title"] == "Restore after TC_B_03_CS")
    end = next((i for i in titles if i > start), len(records))
    boots = [r for r in records[start:end] if r.get("action") == "BootNotification" and r.get("messageType") == "CALLRESULT"]
    assert [b["payload"]["status"] for b in boots][-1:] == ["Accepted"]
