"""Part 6 §2.3 B Provisioning — Charging Station under test."""

from __future__ import annotations

from typing import Any

from harness.case import Case
from harness.core.frames import Call
from harness.matching import ABSENT, one_of
from harness.responders import now
from harness.states import cs as states
from harness.testcase import testcase

NO_ERROR = one_of(ABSENT, "NoError")
"""attributeStatusInfo "is absent or attributeStatusInfo.reasonCode = NoError"."""


def boot_response(case: Case, status: str) -> dict[str, Any]:
    return {"currentTime": now(), "interval": case.config.heartbeat_interval, "status": status}


async def reboot_answering(case: Case, status: str) -> Call:
    """"Manual Action: Reboot the Charging Station", then steps 1-2: its BootNotificationRequest is answered
    with ``status`` and interval <Configured heartbeatInterval>. The boot that counts comes on the
    connection the station opens after the reboot, never a retry left over from before."""
    case.respond("BootNotification", lambda call: boot_response(case, status))
    connection = case.link.connection.number if case.link.connection else 0
    case.forget_received()
    with case.step("Manual", "Manual Action: Reboot the Charging Station"):
        await case.manual("reboot")
    with case.step("1-2", f"The Charging Station sends a BootNotificationRequest; the OCTT answers {status}"):
        return await case.expect("BootNotification", newer_than=connection)


@testcase("TC_B_01_CS")
async def test_tc_b_01_cs(case: Case) -> None:
    with case.step("1", "Execute Reusable State Booted", "B01.FR.01", "B01.FR.05", "B01.FR.09"):
        await states.booted(case, connectors_validation="post 1")


@testcase("TC_B_02_CS")
async def test_tc_b_02_cs(case: Case) -> None:
    await reboot_answering(case, "Pending")
    with case.step("3-4", "OCTT sends SetVariablesRequest OCPPCommCtrlr.OfflineThreshold = 300"):
        answer = await case.call(
            "SetVariables",
            {"setVariableData": [{"component": {"name": "OCPPCommCtrlr"}, "variable": {"name": "OfflineThreshold"}, "attributeValue": "300"}]},
        )
        case.verify(answer, {"setVariableResult[0].attributeStatus": "Accepted"}, validation="step 4")
    with case.step("5-6", "OCTT sends GetVariablesRequest OCPPCommCtrlr.OfflineThreshold"):
        answer = await case.call(
            "GetVariables",
            {"getVariableData": [{"component": {"name": "OCPPCommCtrlr"}, "variable": {"name": "OfflineThreshold"}}]},
        )
        case.verify(answer, {"getVariableResult[0].attributeStatus": "Accepted"}, validation="step 6")
    with case.step("7-8", "OCTT sends GetBaseReportRequest FullInventory"):
        request_id = 1
        answer = await case.call("GetBaseReport", {"requestId": request_id, "reportBase": "FullInventory"})
        case.verify(answer, {"status": "Accepted"}, validation="step 8")
    with case.step("9-10", "The Charging Station sends NotifyReportRequests until all variables are reported"):
        await notify_reports_until_complete(case, request_id)
    with case.step("11-12", "OCTT sends RequestStartTransactionRequest; the station must reject it"):
        token = case.config.valid_id_token
        answer = await case.call(
            "RequestStartTransaction",
            {"idToken": token.as_payload(), "remoteStartId": 1, "evseId": case.config.evse_id},
        )
        case.verify(answer, {"status": "Rejected"}, validation="step 12")
    case.respond("BootNotification", lambda call: boot_response(case, "Accepted"))
    with case.step("13-14", "OCTT sends TriggerMessageRequest BootNotification"):
        trigger = await case.call("TriggerMessage", {"requestedMessage": "BootNotification"})
        case.verify(trigger, {"status": one_of("Accepted", "NotImplemented")}, validation="step 14")
    triggered = trigger.payload["status"] == "Accepted"
    with case.step("15-16", "The Charging Station sends a BootNotificationRequest; the OCTT accepts it"):
        # Without the trigger the station resends only when the Pending interval has passed.
        waiting = case.config.timeouts.message + (0 if triggered else case.config.heartbeat_interval)
        boot = await case.expect("BootNotification", timeout=waiting, validation="step 15")
        if triggered:
            case.verify(boot, {"reason": "Triggered"}, validation="step 15")
    with case.step("17-18", "The Charging Station notifies the CSMS about the current state of all connectors"):
        await states.all_connectors_report(case, "Available", validation="step 17", received_validation="post 1")


async def notify_reports_until_complete(case: Case, request_id: int) -> list[Call]:
    """Every NotifyReportRequest of a report: seqNo counts from 0, the last one has tbc false or absent."""

    def complete(reports: list[Call]) -> bool:
        case.verify(reports[-1], {"seqNo": len(reports) - 1}, requirement="B07.FR.10")
        return not reports[-1].payload.get("tbc", False)

    return await case.expect_series("NotifyReport", complete, {"requestId": request_id}, requirement="B07.FR.10")


@testcase("TC_B_03_CS")
async def test_tc_b_03_cs(case: Case) -> None:
    interval = case.config.heartbeat_interval
    await reboot_answering(case, "Rejected")
    rejected_at = case.clock()
    case.respond("BootNotification", lambda call: boot_response(case, "Accepted"))
    with case.step("3-4", "The Charging Station resends the BootNotificationRequest after the interval", "B03.FR.06"):
        await case.expect("BootNotification", timeout=interval + case.config.timeouts.message)
        waited = case.clock() - rejected_at
        case.require(
            waited >= interval - case.config.timeouts.time_tolerance,
            f"the BootNotificationRequest was resent after {waited:.1f} s, before the interval of {interval} s",
            requirement="B03.FR.06",
        )
        others = case.calls_since(rejected_at, excluding="BootNotification")
        case.require(
            not others,
            f"while Rejected the Charging Station sent {', '.join(c.action for c in others)}",
            others[0] if others else None,
            requirement="B03.FR.02",
        )
    with case.step("5-6", "The Charging Station notifies the CSMS about the current state of all connectors"):
        await states.all_connectors_report(case, "Available", validation="step 5", received_validation="post 1")


@testcase("TC_B_06_CS")
async def test_tc_b_06_cs(case: Case) -> None:
    with case.step("Before", "Configuration State: OCPPCommCtrlr.OfflineThreshold is 300"):
        await states.configure(case, [("OCPPCommCtrlr", "OfflineThreshold", "300")])
    with case.step("1-2", "OCTT sends GetVariablesRequest OCPPCommCtrlr.OfflineThreshold, attributeType Actual"):
        answer = await case.call(
            "GetVariables",
            {
                "getVariableData": [
                    {"component": {"name": "OCPPCommCtrlr"}, "variable": {"name": "OfflineThreshold"}, "attributeType": "Actual"}
                ]
            },
        )
        case.verify(
            answer,
            {
                "getVariableResult[0].attributeStatus": "Accepted",
                "getVariableResult[0].attributeType": "Actual",
                "getVariableResult[0].attributeValue": "300",
                "getVariableResult[0].component.name": "OCPPCommCtrlr",
                "getVariableResult[0].variable.name": "OfflineThreshold",
                "getVariableResult[0].attributeStatusInfo.reasonCode": NO_ERROR,
            },
            validation="step 2",
        )


@testcase("TC_B_09_CS")
async def test_tc_b_09_cs(case: Case) -> None:
    with case.step("1-2", "OCTT sends SetVariablesRequest OCPPCommCtrlr.OfflineThreshold = 300, attributeType Actual"):
        answer = await case.call(
            "SetVariables",
            {
                "setVariableData": [
                    {
                        "component": {"name": "OCPPCommCtrlr"},
                        "variable": {"name": "OfflineThreshold"},
                        "attributeValue": "300",
                        "attributeType": "Actual",
                    }
                ]
            },
        )
        case.verify(
            answer,
            {
                "setVariableResult[0].attributeStatus": "Accepted",
                "setVariableResult[0].attributeType": "Actual",
                "setVariableResult[0].component.name": "OCPPCommCtrlr",
                "setVariableResult[0].variable.name": "OfflineThreshold",
                "setVariableResult[0].attributeStatusInfo.reasonCode": NO_ERROR,
            },
            validation="step 2",
        )
