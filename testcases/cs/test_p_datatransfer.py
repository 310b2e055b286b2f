"""Part 6 §2.17 P DataTransfer — Charging Station under test."""

from __future__ import annotations

from harness.case import Case
from harness.matching import one_of
from harness.testcase import testcase


@testcase("TC_P_01_CS")
async def test_tc_p_01_cs(case: Case) -> None:
    with case.step("1-2", "The OCTT sends a DataTransferRequest with vendorId org.openchargealliance.octt"):
        answer = await case.call(
            "DataTransfer",
            {"vendorId": "org.openchargealliance.octt", "messageId": case.config.data_transfer_message_id},
        )
        case.verify(answer, {"status": one_of("UnknownVendorId", "UnknownMessageId", "Rejected")}, validation="step 2")
