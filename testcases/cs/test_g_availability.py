"""Part 6 §2.8 G Availability — Charging Station under test."""

from __future__ import annotations

from harness.case import Case
from harness.states import cs as states
from harness.testcase import testcase


@testcase("TC_G_01_CS")
async def test_tc_g_01_cs(case: Case) -> None:
    with case.step("1", "Execute Reusable State EVConnectedPreSession", "G01.FR.01", "N07.FR.19"):
        await states.reach(case, "EVConnectedPreSession")
