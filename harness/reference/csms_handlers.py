"""The reference CSMS's answers to station-initiated messages, on `ocpp.v201.ChargePoint`."""

from __future__ import annotations

import asyncio
from collections.abc import Coroutine
from typing import TYPE_CHECKING, Any

from ocpp.exceptions import SecurityError
from ocpp.routing import after, on
from ocpp.v201 import ChargePoint, call, call_result
from ocpp.v201.enums import (
    Action,
    AuthorizationStatusEnumType,
    DataTransferStatusEnumType,
    RegistrationStatusEnumType,
)
from harness.reference.transport import now
from harness.reference.wire import MutatedConnection

if TYPE_CHECKING:
    from harness.reference.csms import ReferenceCsms

PENDING_INTERVAL_S = 1  # short on purpose: the station retries the boot after it
ALLOWED_WHILE_PENDING = {Action.boot_notification, Action.notify_report, Action.notify_monitoring_report}


class CsmsChargePoint(ChargePoint):
    """The CSMS side of one station connection; shared state lives in the `ReferenceCsms`."""

    def __init__(self, identity: str, connection: MutatedConnection, csms: ReferenceCsms) -> None:
        super().__init__(identity, connection)
        self._csms = csms
        self._transactions: dict[int, str] = {}
        """The running transaction per EVSE (from the TransactionEvents), for the TxProfile of K15.FR.07."""
        self._requests: set[asyncio.Task[Any]] = set()

    def _later(self, request: Coroutine[Any, Any, Any]) -> None:
        """A request of the CSMS's own after an answer: a task, so the message loop stays free for its answer."""
        task = asyncio.create_task(request)
        self._requests.add(task)
        task.add_done_callback(self._requests.discard)

    @property
    def connection(self) -> MutatedConnection:
        return self._connection  # type: ignore[no-any-return]

    async def _handle_call(self, msg: Any) -> Any:
        """B02.FR.09 / B03.FR.07: while Pending or Rejected, other requests get a SecurityError. A station this CSMS
        has not seen boot yet is let through: it may have been accepted before the CSMS restarted."""
        self._csms.record(self.id, msg.action, msg.payload)
        status = self._csms.registration.get(self.id)
        if status == RegistrationStatusEnumType.rejected and msg.action != Action.boot_notification:
            raise SecurityError(details={"cause": "BootNotification was rejected"})
        if status == RegistrationStatusEnumType.pending and msg.action not in ALLOWED_WHILE_PENDING:
            raise SecurityError(details={"cause": "BootNotification is pending"})
        return await super()._handle_call(msg)

    def _token_status(self, id_token: dict[str, Any]) -> str:
        return self._csms.settings.id_tokens.get(id_token["id_token"], AuthorizationStatusEnumType.unknown)

    @on(Action.boot_notification)
    def on_boot_notification(self, charging_station: dict[str, Any], reason: str, **_: Any) -> call_result.BootNotification:
        """B01/B02: Accepted with the heartbeat interval, or Pending first when so configured."""
        csms = self._csms
        interval: Any = csms.settings.heartbeat_interval
        if csms.chaos.switches.boot_pending_interval is not None:
            status, interval = RegistrationStatusEnumType.pending, csms.chaos.switches.boot_pending_interval
        elif csms.boot_pending and self.id not in csms.pending_answered:
            status, interval = RegistrationStatusEnumType.pending, PENDING_INTERVAL_S
            csms.pending_answered.add(self.id)
        else:
            status = RegistrationStatusEnumType.accepted
        csms.registration[self.id] = status
        return call_result.BootNotification(current_time=now(), interval=interval, status=status)

    @on(Action.heartbeat)
    def on_heartbeat(self, **_: Any) -> call_result.Heartbeat:
        return call_result.Heartbeat(current_time=now())

    @on(Action.status_notification)
    def on_status_notification(self, **_: Any) -> call_result.StatusNotification:
        return call_result.StatusNotification()

    @on(Action.notify_event)
    def on_notify_event(self, **_: Any) -> call_result.NotifyEvent:
        return call_result.NotifyEvent()

    @on(Action.notify_report)
    def on_notify_report(self, **_: Any) -> call_result.NotifyReport:
        return call_result.NotifyReport()

    @on(Action.security_event_notification)
    def on_security_event_notification(self, **_: Any) -> call_result.SecurityEventNotification:
        return call_result.SecurityEventNotification()

    @on(Action.meter_values)
    def on_meter_values(self, **_: Any) -> call_result.MeterValues:
        return call_result.MeterValues()

    @on(Action.firmware_status_notification)
    def on_firmware_status_notification(self, **_: Any) -> call_result.FirmwareStatusNotification:
        return call_result.FirmwareStatusNotification()

    @on(Action.authorize)
    def on_authorize(self, id_token: dict[str, Any], **_: Any) -> call_result.Authorize:
        """C01.FR.07: the status configured for the idToken; an unknown idToken is Unknown."""
        return call_result.Authorize(id_token_info={"status": self._token_status(id_token)})

    @on(Action.transaction_event)
    def on_transaction_event(
        self,
        event_type: str,
        transaction_info: dict[str, Any],
        id_token: dict[str, Any] | None = None,
        evse: dict[str, Any] | None = None,
        **_: Any,
    ) -> call_result.TransactionEvent:
        """E01/E02: idTokenInfo whenever the request carries an idToken (E02.FR.09)."""
        self._track(event_type, transaction_info["transaction_id"], evse)
        if id_token is None:
            return call_result.TransactionEvent()
        return call_result.TransactionEvent(id_token_info={"status": self._token_status(id_token)})

    @on(Action.data_transfer)
    def on_data_transfer(self, vendor_id: str, **_: Any) -> call_result.DataTransfer:
        """P02.FR.06: no vendor extension is implemented, so every vendorId is unknown."""
        return call_result.DataTransfer(status=DataTransferStatusEnumType.unknown_vendor_id)

    def _track(self, event_type: str, transaction_id: str, evse: dict[str, Any] | None) -> None:
        if event_type == "Ended":
            self._transactions = {e: t for e, t in self._transactions.items() if t != transaction_id}
        elif evse is not None:
            self._transactions[evse["id"]] = transaction_id

    @on(Action.notify_ev_charging_needs)
    def on_notify_ev_charging_needs(self, evse_id: int, **_: Any) -> call_result.NotifyEVChargingNeeds:
        """K15.FR.02/03: Accepted when a transaction runs on the EVSE (a schedule can be given), else Rejected
        (K15.FR.04)."""
        status = "Accepted" if evse_id in self._transactions else "Rejected"
        return call_result.NotifyEVChargingNeeds(status=status)

    @after(Action.notify_ev_charging_needs)
    def after_notify_ev_charging_needs(self, evse_id: int, **_: Any) -> None:
        """K15.FR.07/08: a TxProfile for the EVSE's transaction with one chargingSchedule (K15.FR.18)."""
        if evse_id in self._transactions:
            self._later(self.call(call.SetChargingProfile(evse_id=evse_id, charging_profile=self._tx_profile(evse_id))))

    def _tx_profile(self, evse_id: int) -> dict[str, Any]:
        return {
            "id": self._csms.next_id(),
            "stack_level": 0,
            "charging_profile_purpose": "TxProfile",
            "charging_profile_kind": "Relative",
            "transaction_id": self._transactions[evse_id],
            "charging_schedule": [
                {
                    "id": self._csms.next_id(),
                    "charging_rate_unit": "A",
                    "charging_schedule_period": [{"start_period": 0, "limit": 16.0}],
                }
            ],
        }

    @on(Action.notify_ev_charging_schedule)
    def on_notify_ev_charging_schedule(self, **_: Any) -> call_result.NotifyEVChargingSchedule:
        """K15.FR.11: the EV's schedule is the one the CSMS gave, within its limits."""
        return call_result.NotifyEVChargingSchedule(status="Accepted")

    @on(Action.sign_certificate)
    def on_sign_certificate(self, csr: str, **_: Any) -> call_result.SignCertificate:
        """A02/A03: Accepted; the signed certificate follows in a CertificateSignedRequest."""
        return call_result.SignCertificate(status="Accepted")

    @after(Action.sign_certificate)
    def after_sign_certificate(self, csr: str, certificate_type: str = "ChargingStationCertificate", **_: Any) -> None:
        """The reference CSMS is its own certificate authority (A02.FR.04 is only a SHOULD NOT): it signs the CSR."""
        chain = self._csms.sign(csr)
        self._later(self.call(call.CertificateSigned(certificate_chain=chain, certificate_type=certificate_type)))
