"""Part 6 §3.6 E Transactions — CSMS under test."""

from __future__ import annotations

from harness.case import Case
from harness.states import csms as states
from harness.testcase import testcase


@testcase("TC_E_01_CSMS")
async def test_tc_e_01_csms(case: Case) -> None:
    await states.ensure_booted(case)
    token = case.config.valid_id_token.as_payload()
    evse_id, connector_id = case.config.evse_id, case.config.connector_id
    transaction = states.station_of(case.link).open_transaction(evse_id, connector_id)
    with case.step("1-2", "The OCTT sends an AuthorizeRequest with the configured valid idToken"):
        answer = await states.authorize(case, token)
        case.verify(answer, {"idTokenInfo.status": "Accepted"}, validation="step 2")
    with case.step("3-4", "The OCTT notifies the CSMS that the connector is Occupied"):
        await states.notify_connector(case, evse_id, connector_id, "Occupied")
    with case.step("5-6", "The OCTT sends a TransactionEventRequest Started, ChargingStateChanged, SuspendedEVSE", "E01.FR.05"):
        answer = await case.call(
            "TransactionEvent", transaction.event("ChargingStateChanged", "SuspendedEVSE", idToken=token)
        )
        case.verify(answer, {"idTokenInfo.status": "Accepted"}, validation="step 6")
    with case.step("7-8", "The OCTT sends a TransactionEventRequest Updated, ChargingStateChanged, Charging"):
        await case.call("TransactionEvent", transaction.event("ChargingStateChanged", "Charging"))
