"""The bar of every case: PASS against the correct reference SUT, FAIL under at least one of its faults."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest


@pytest.mark.slow
def test_every_implemented_case_passes_the_reference_and_is_killed_by_a_fault() -> None:
    run = subprocess.run(
        [sys.executable, "-m", "harness.cli", "selftest", "--json"], capture_output=True, text=True, timeout=600
    )
    report = json.loads(run.stdout)
    weak = [c["id"] for c in report["cases"] if c["reference"] != "PASS" or not c["killed_by"]]
    assert not weak, f"cases that fail the reference or cannot fail: {weak}\n{run.stderr[-2000:]}"
    assert report["ok"] and run.returncode == 0
    assert len(report["cases"]) >= 15
