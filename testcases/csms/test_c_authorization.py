"""Part 6 §3.4 C Authorization — CSMS under test."""

from __future__ import annotations

from harness.case import Case
from harness.matching import one_of
from harness.states import csms as states
from harness.testcase import testcase


@testcase("TC_C_06_CSMS")
async def test_tc_c_06_csms(case: Case) -> None:
    await states.ensure_booted(case)
    blocked = case.config.blocked_id_token
    with case.step("1-2", "The OCTT sends an AuthorizeRequest with the configured blocked idToken", "C01.FR.07"):
        answer = await states.authorize(case, blocked.as_payload())
        case.verify(answer, {"idTokenInfo.status": one_of("Blocked", "Invalid")}, validation="step 2")
