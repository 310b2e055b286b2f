"""Part 6 §3.18 Reusable States for a CSMS under test: the harness plays the Charging Station.

The states send what the table says the OCTT sends and check the CSMS's answers. The station's own state
(its registration per connection, its connectors, its device model) lives in the link's
:class:`~harness.fake_station.SimulatedStation`, which also does on its own what it accepted (a reboot after
a Reset); transaction bookkeeping (transactionId, seqNo) lives in :class:`SimulatedTransaction`.
"""

from __future__ import annotations

from typing import Any

from harness.case import Case
from harness.core.frames import CallResult
from harness.fake_station import SimulatedStation, SimulatedTransaction
from harness.responders import now
from harness.roles import ConnectRefused, FakeStation, Link
from harness.verdicts import HarnessError, SutFailure, SutTimeout

__all__ = [
    "SimulatedTransaction",
    "all_connectors_available",
    "authorize",
    "boot_request",
    "booted",
    "connected",
    "device_value",
    "ensure_booted",
    "notify_connector",
    "send_boot",
    "station_of",
]


def station_of(link: Link) -> SimulatedStation:
    """The simulated station of a fake-station link (harness.environment puts it in the link's memory)."""
    station = link.memory.get("station")
    if not isinstance(station, SimulatedStation):
        raise HarnessError("the link has no simulated Charging Station (is the SUT a CSMS?)")
    return station


def boot_request(case: Case, reason: str = "PowerUp") -> dict[str, Any]:
    return station_of(case.link).boot_request(reason)


async def connected(case: Case) -> None:
    """The simulated station has an open connection to the CSMS (it connects if it has none). A reboot the
    station is doing on its own (after a Reset) finishes first: it opens the connection itself."""
    link = case.link
    await _settled(case)
    if link.connection is not None and not link.connection.closed.is_set():
        return
    assert isinstance(link, FakeStation)
    timeout = case.config.timeouts.response
    try:
        await link.connect(timeout)
    except ConnectRefused as error:
        raise SutFailure(f"the CSMS refused the WebSocket connection: {error.reason}", case.current_step) from None
    except TimeoutError:
        raise SutTimeout(f"the CSMS did not complete the WebSocket handshake within {timeout:.0f} s", case.current_step) from None


async def notify_connector(case: Case, evse_id: int, connector_id: int, status: str) -> CallResult:
    """"The OCTT notifies the CSMS about the status of the connector": a StatusNotificationRequest."""
    answer = await case.call(
        "StatusNotification",
        {"timestamp": now(), "connectorStatus": status, "evseId": evse_id, "connectorId": connector_id},
    )
    return answer


async def booted(case: Case) -> CallResult:
    """Reusable State Booted: BootNotification (PowerUp) accepted, then every connector Available."""
    await connected(case)
    with case.step("Booted 1-2", "The OCTT sends a BootNotificationRequest with reason PowerUp"):
        answer = await send_boot(case, "Accepted", validation="Booted step 2")
    with case.step("Booted 3-4", "The OCTT notifies the CSMS about the current state of all connectors"):
        await all_connectors_available(case)
    return answer


async def send_boot(case: Case, expected_status: str, requirement: str = "", *, validation: str = "") -> CallResult:
    """Send a BootNotificationRequest (PowerUp) and check the status (the table's ``validation``); the station
    remembers the status the CSMS gave on this connection, whichever it was."""
    connection = await case.connection()
    answer = await case.call("BootNotification", boot_request(case), requirement=requirement)
    if isinstance(answer.payload.get("status"), str):
        station_of(case.link).note_boot(connection.number, answer.payload["status"])
    case.verify(answer, {"status": expected_status}, requirement=requirement, validation=validation)
    return answer


async def all_connectors_available(case: Case) -> None:
    """"The OCTT notifies the CSMS about the current state of all connectors": each one Available."""
    for evse_id, connectors in sorted(case.config.connectors.items()):
        for connector_id in connectors:
            await notify_connector(case, evse_id, connector_id, "Available")


async def ensure_booted(case: Case) -> None:
    """The general precondition: the simulated station is connected and Accepted on this connection."""
    await connected(case)
    connection = case.link.connection
    assert connection is not None
    if not station_of(case.link).accepted_on(connection.number):
        with case.step("Before", "Execute Reusable State Booted (general precondition)"):
            await booted(case)


def device_value(case: Case, component: str, variable: str) -> str:
    """The value the simulated station's device model holds (and reports) for a variable."""
    return station_of(case.link).device_model[(component, variable)]


async def authorize(case: Case, id_token: dict[str, str]) -> CallResult:
    answer = await case.call("Authorize", {"idToken": id_token})
    return answer


async def _settled(case: Case) -> None:
    """A reboot takes at most a reconnect, the BootNotification retries within the message timeout, and their
    answers: past that bound the station's own follow-up is stuck, which is the harness's fault."""
    timeouts = case.config.timeouts
    bound = timeouts.message + 3 * timeouts.response
    try:
        await station_of(case.link).settled(bound)
    except TimeoutError:
        raise HarnessError(f"the simulated station's reboot did not finish within {bound:.0f} s") from None
