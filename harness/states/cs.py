"""Part 6 §2.18 Reusable States for a Charging Station under test, as composable functions.

Each takes the running case and plays the state's steps, numbered as in its table but prefixed with the
state's name so that a verdict says where it stopped ("Booted 5"). The configured EVSE, connector and
idToken come from the SUT configuration.
"""

from __future__ import annotations

from harness.case import Case
from harness.core.frames import Call
from harness.matching import one_of

CONNECTOR_REPORT_STEP = "A message to report the state of a connector has been received for all connectors"


def connector_status(evse_id: int, connector_id: int, status: str) -> list[tuple[str, dict[str, object]]]:
    """The two ways a station reports a connector's state (Part 6 lists both): StatusNotification or
    NotifyEvent on the AvailabilityState of the Connector component."""
    return [
        ("StatusNotification", {"evseId": evse_id, "connectorId": connector_id, "connectorStatus": status}),
        (
            "NotifyEvent",
            {
                "eventData[0].trigger": "Delta",
                "eventData[0].actualValue": status,
                "eventData[0].component.name": "Connector",
                "eventData[0].component.evse.id": evse_id,
                "eventData[0].component.evse.connectorId": connector_id,
                "eventData[0].variable.name": "AvailabilityState",
            },
        ),
    ]


async def all_connectors_report(case: Case, status: str, requirement: str = "") -> list[Call]:
    """Wait until every configured connector has reported ``status`` (Part 6: "for all connectors")."""
    reports = []
    for evse_id, connectors in sorted(case.config.connectors.items()):
        for connector_id in connectors:
            reports.append(
                await case.expect_any(connector_status(evse_id, connector_id, status), requirement=requirement)
            )
    return reports


async def booted(case: Case, *, power_cycle: bool = True) -> Call:
    """Reusable State Booted: a power cycle (manual action) or a ResetRequest, then an accepted boot."""
    case.forget_received()
    if power_cycle:
        with case.step("Booted", "Manual Action: Power cycle the Charging Station"):
            await case.manual("reboot")
    else:
        with case.step("Booted 1-2", "The OCTT sends a ResetRequest with type Immediate"):
            reset = await case.call("Reset", {"type": "Immediate"})
            case.verify(reset, {"status": "Accepted"})
    with case.step("Booted 3-4", "The Charging Station sends a BootNotificationRequest, the OCTT accepts it"):
        boot = await case.expect("BootNotification")
    with case.step("Booted 5-6", "The Charging Station notifies the CSMS about the state of all connectors"):
        await all_connectors_report(case, "Available")
    with case.step("Booted 7-8", "The Charging Station sends a SecurityEventNotificationRequest"):
        await case.expect("SecurityEventNotification", {"type": one_of("StartupOfTheDevice", "ResetOrReboot")})
    return boot
