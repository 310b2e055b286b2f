"""Part 6 §3.3 B Provisioning — CSMS under test."""

from __future__ import annotations

from harness.case import Case
from harness.matching import ABSENT, any_item, one_of
from harness.verdicts import Inconclusive
from harness.states import csms as states
from harness.testcase import testcase


@testcase("TC_B_01_CSMS")
async def test_tc_b_01_csms(case: Case) -> None:
    with case.step("1", "Execute Reusable State Booted", "B01.FR.02"):
        await states.booted(case)


@testcase("TC_B_02_CSMS")
async def test_tc_b_02_csms(case: Case) -> None:
    with case.step("Before", "Prerequisite: the CSMS is configured to first respond with status Pending"):
        await case.manual("csms_boot_pending", identity=case.config.identity)
        await states.connected(case)
    with case.step("1-2", "The OCTT sends a BootNotificationRequest with reason PowerUp"):
        first = await states.send_boot(case, "Pending", validation="step 2")
    with case.step("3-4", "The OCTT sends a BootNotificationRequest again, after the interval"):
        await case.honour_interval(pending_interval(case, first.payload["interval"]))
        await states.send_boot(case, "Accepted", validation="step 4")
    with case.step("5-6", "The OCTT notifies the CSMS about the current state of all connectors"):
        await states.all_connectors_available(case)


def pending_interval(case: Case, interval: int) -> float:
    """Step 2's note: interval 0 means <Configured heartbeatInterval>. An interval longer than the harness
    sits out ([limits] max_interval) cannot be waited for: the case cannot go on (INCONCLUSIVE), which is no
    fault of the CSMS (B02 sets no upper bound)."""
    seconds = float(interval or case.config.heartbeat_interval)
    longest = case.config.limits.max_interval
    if seconds > longest:
        raise Inconclusive(
            f"the CSMS asks to wait {seconds:.0f} s before the next BootNotification, longer than the harness waits "
            f"({longest:.0f} s, [limits] max_interval): configure a shorter Pending interval for the test, or raise the limit"
        )
    return seconds


@testcase("TC_B_06_CSMS")
async def test_tc_b_06_csms(case: Case) -> None:
    await states.ensure_booted(case)
    component, variable = "OCPPCommCtrlr", "OfflineThreshold"
    with case.step("1", "Manually request the CSMS to get data for OCPPCommCtrlr.OfflineThreshold"):
        request_sent = case.manual_in_background(
            "csms_get_variables", identity=case.config.identity, component=component, variable=variable
        )
        request = await case.expect("GetVariables", validation="step 1")
        await request_sent
    with case.step("1 (validation)", "GetVariablesRequest asks for OCPPCommCtrlr.OfflineThreshold (in arbitrary order)"):
        case.verify(
            request,
            {
                "getVariableData": any_item(
                    {
                        "component.name": component,
                        "variable.name": variable,
                        "attributeType": one_of(ABSENT, "Actual", "Target", "MinSet", "MaxSet"),
                    }
                )
            },
            validation="step 1",
        )
    with case.step("Post", "Manually validate that the CSMS has correctly read the requested variable"):
        value = states.device_value(case, component, variable)
        answer = await case.manual(
            "csms_confirm_variable_read", identity=case.config.identity, component=component, variable=variable, value=value
        )
        case.require(
            answer.confirmed is True,
            f"the CSMS does not hold {component}.{variable} = {value!r} it was sent",
            validation="post 1",
        )
