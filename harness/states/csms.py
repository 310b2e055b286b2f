"""Part 6 §3.18 Reusable States for a CSMS under test: the harness plays the Charging Station.

The states send what the table says the OCTT sends and check the CSMS's answers. Transaction
bookkeeping (transactionId, seqNo) lives in :class:`SimulatedTransaction` so that cases compose states
without repeating it.
"""

from __future__ import annotations

import itertools
import uuid
from dataclasses import dataclass, field
from typing import Any

from harness.case import Case
from harness.core.frames import CallResult
from harness.responders import now
from harness.roles import ConnectRefused, FakeStation
from harness.verdicts import SutFailure, SutTimeout


@dataclass
class SimulatedTransaction:
    """One transaction of the simulated station: its id and the next seqNo (from 0, Part 2 E01)."""

    evse_id: int
    connector_id: int
    transaction_id: str = field(default_factory=lambda: uuid.uuid4().hex[:20])
    _seq_no: itertools.count = field(default_factory=itertools.count)
    started: bool = False

    def event(self, trigger_reason: str, charging_state: str, **extra: Any) -> dict[str, Any]:
        """A TransactionEventRequest payload: Started for the first event, Updated after."""
        payload: dict[str, Any] = {
            "eventType": "Updated" if self.started else "Started",
            "timestamp": now(),
            "triggerReason": trigger_reason,
            "seqNo": next(self._seq_no),
            "transactionInfo": {"transactionId": self.transaction_id, "chargingState": charging_state},
        }
        if not self.started:
            payload["evse"] = {"id": self.evse_id, "connectorId": self.connector_id}
        self.started = True
        payload.update(extra)
        return payload


def boot_request(case: Case, reason: str = "PowerUp") -> dict[str, Any]:
    return {
        "reason": reason,
        "chargingStation": {"model": case.config.model, "vendorName": case.config.vendor_name},
    }


async def connected(case: Case) -> None:
    """The simulated station has an open connection to the CSMS (it connects if it has none)."""
    link = case.link
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
        answer = await send_boot(case, "Accepted")
    with case.step("Booted 3-4", "The OCTT notifies the CSMS about the current state of all connectors"):
        await all_connectors_available(case)
    return answer


async def send_boot(case: Case, expected_status: str, requirement: str = "") -> CallResult:
    """Send a BootNotificationRequest (PowerUp) and check the status; remember an accepted boot."""
    answer = await case.call("BootNotification", boot_request(case), requirement=requirement)
    case.verify(answer, {"status": expected_status}, requirement=requirement)
    if expected_status == "Accepted" and case.link.connection is not None:
        case.link.memory["booted_connection"] = case.link.connection.number
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
    if case.link.memory.get("booted_connection") != connection.number:
        with case.step("Before", "Execute Reusable State Booted (general precondition)"):
            await booted(case)


def device_value(case: Case, component: str, variable: str) -> str:
    """The value the simulated station's device model holds (and reports) for a variable."""
    model: dict[tuple[str, str], str] = case.link.memory["device_model"]
    return model[(component, variable)]


async def authorize(case: Case, id_token: dict[str, str]) -> CallResult:
    answer = await case.call("Authorize", {"idToken": id_token})
    return answer
