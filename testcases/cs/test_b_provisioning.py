"""Part 6 §2.3 B Provisioning — Charging Station under test."""

from __future__ import annotations

from harness.case import Case
from harness.states import cs as states
from harness.testcase import testcase


@testcase("TC_B_01_CS", "Cold Boot Charging Station - Accepted", ["B01"], ["B01.FR.01", "B01.FR.05", "B01.FR.09"])
async def test_tc_b_01_cs(case: Case) -> None:
    with case.step("1", "Execute Reusable State Booted", "B01.FR.01", "B01.FR.05"):
        await states.booted(case)
