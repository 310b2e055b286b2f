"""Part 6 §3.17 P DataTransfer — CSMS under test."""

from __future__ import annotations

from harness.case import Case
from harness.matching import one_of
from harness.states import csms as states
from harness.testcase import testcase


@testcase("TC_P_02_CSMS")
async def test_tc_p_02_csms(case: Case) -> None:
    await states.ensure_booted(case)
    with case.step("1-2", "The OCTT sends a DataTransferRequest with the configured vendorId and messageId"):
        answer = await case.call(
            "DataTransfer", {"vendorId": case.config.data_transfer_vendor_id, "messageId": case.config.data_transfer_message_id}
        )
        case.verify(answer, {"status": one_of("UnknownVendorId", "UnknownMessageId", "Rejected")}, validation="step 2")
