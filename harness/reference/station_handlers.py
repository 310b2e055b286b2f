"""The reference station's answers to CSMS-initiated messages, on `ocpp.v201.ChargePoint`.

Handlers only decide the response; whatever must be sent afterwards (NotifyReport, a triggered BootNotification, the
reboot after a Reset) is started from an `@after` hook, so it can never overtake the response on the wire.
"""

from __future__ import annotations

import asyncio

from typing import TYPE_CHECKING, Any

from ocpp.exceptions import OccurrenceConstraintViolationError, SecurityError
from ocpp.routing import after, on
from ocpp.v201 import ChargePoint, call_result
from ocpp.v201.enums import (
    Action,
    BootReasonEnumType,
    CancelReservationStatusEnumType,
    ChangeAvailabilityStatusEnumType,
    DataTransferStatusEnumType,
    GenericDeviceModelStatusEnumType,
    MessageTriggerEnumType,
    OperationalStatusEnumType,
    ReasonEnumType,
    RegistrationStatusEnumType,
    RequestStartStopStatusEnumType,
    ReserveNowStatusEnumType,
    ResetEnumType,
    ResetStatusEnumType,
    TriggerMessageStatusEnumType,
    TriggerReasonEnumType,
    UpdateFirmwareStatusEnumType,
)

if TYPE_CHECKING:
    from harness.reference.station import ReferenceStation


class StationChargePoint(ChargePoint):
    """One connection of the reference station; the state it answers from lives in the `ReferenceStation`."""

    def __init__(self, station: ReferenceStation, connection: Any, response_timeout: float) -> None:
        super().__init__(station.settings.identity, connection, response_timeout=response_timeout)
        self._station = station

    async def _handle_call(self, msg: Any) -> Any:
        """Before the first boot answer and while Rejected, every CSMS request gets a SecurityError (B03.FR.08).

        A request that arrives right behind the BootNotificationResponse (read, queued, not yet taken in by the
        boot coroutine) is handled once it is, so that frames are processed in the order they came. One that
        arrives before the response is answered at once: waiting would hold the reader that must read it.
        """
        if self._station.registration is None and self._station.boot_in_flight and not self._response_queue.empty():
            async with asyncio.timeout(self._response_timeout):
                await self._station.boot_answered.wait()
        if self._station.registration in (None, RegistrationStatusEnumType.rejected):
            raise SecurityError(details={"cause": f"registration status is {self._station.registration}"})
        return await super()._handle_call(msg)

    @on(Action.get_variables)
    def on_get_variables(self, get_variable_data: list[dict[str, Any]], **_: Any) -> call_result.GetVariables:
        limit = self._station.device_model.integer("DeviceDataCtrlr", "ItemsPerMessage", "GetVariables")
        if len(get_variable_data) > limit:
            raise OccurrenceConstraintViolationError(details={"cause": f"more than {limit} getVariableData"})
        results = [self._station.device_model.get(data) for data in get_variable_data]
        return call_result.GetVariables(get_variable_result=results)

    @on(Action.set_variables)
    def on_set_variables(self, set_variable_data: list[dict[str, Any]], **_: Any) -> call_result.SetVariables:
        limit = self._station.device_model.integer("DeviceDataCtrlr", "ItemsPerMessage", "SetVariables")
        if len(set_variable_data) > limit:
            raise OccurrenceConstraintViolationError(details={"cause": f"more than {limit} setVariableData"})
        results = [self._station.device_model.set(data) for data in set_variable_data]
        return call_result.SetVariables(set_variable_result=results)

    @on(Action.get_base_report)
    def on_get_base_report(self, request_id: int, report_base: str, **_: Any) -> call_result.GetBaseReport:
        return call_result.GetBaseReport(status=GenericDeviceModelStatusEnumType.accepted)

    @after(Action.get_base_report)
    def after_get_base_report(self, request_id: int, report_base: str, **_: Any) -> None:
        self._station.spawn(self._station.send_report(request_id, report_base))

    @on(Action.trigger_message)
    def on_trigger_message(
        self, requested_message: str, evse: dict[str, Any] | None = None, **_: Any
    ) -> call_result.TriggerMessage:
        """F06: BootNotification only while not yet Accepted (F06.FR.17); Heartbeat and StatusNotification always."""
        supported = {MessageTriggerEnumType.heartbeat, MessageTriggerEnumType.status_notification}
        if self._station.registration != RegistrationStatusEnumType.accepted:
            supported = {MessageTriggerEnumType.boot_notification}
        elif requested_message == MessageTriggerEnumType.boot_notification:
            return call_result.TriggerMessage(status=TriggerMessageStatusEnumType.rejected)
        if requested_message not in supported:
            return call_result.TriggerMessage(status=TriggerMessageStatusEnumType.not_implemented)
        return call_result.TriggerMessage(status=TriggerMessageStatusEnumType.accepted)

    @after(Action.trigger_message)
    def after_trigger_message(self, requested_message: str, evse: dict[str, Any] | None = None, **_: Any) -> None:
        if requested_message == MessageTriggerEnumType.boot_notification:
            self._station.trigger_boot()
        elif self._station.registration == RegistrationStatusEnumType.accepted:
            self._station.spawn(self._station.send_triggered(requested_message, evse))

    @on(Action.request_start_transaction)
    def on_request_start_transaction(
        self, id_token: dict[str, Any], remote_start_id: int, evse_id: int | None = None, **_: Any
    ) -> call_result.RequestStartTransaction:
        """F01; while Pending a remote start is refused (B02.FR.05)."""
        pending = self._station.registration == RegistrationStatusEnumType.pending
        evse = self._station.engine.evses.get(evse_id if evse_id is not None else 1)
        if evse is None or evse.id_token is not None or pending:
            return call_result.RequestStartTransaction(status=RequestStartStopStatusEnumType.rejected)
        self._station.enqueue(self._station.remote_start(evse.evse_id, id_token, remote_start_id))
        transaction_id = evse.transaction.transaction_id if evse.transaction else None
        return call_result.RequestStartTransaction(
            status=RequestStartStopStatusEnumType.accepted, transaction_id=transaction_id
        )

    @on(Action.request_stop_transaction)
    def on_request_stop_transaction(self, transaction_id: str, **_: Any) -> call_result.RequestStopTransaction:
        evse = self._station.engine.find(transaction_id)
        if evse is None:
            return call_result.RequestStopTransaction(status=RequestStartStopStatusEnumType.rejected)
        self._station.enqueue(
            self._station.stop_transaction(evse.evse_id, TriggerReasonEnumType.remote_stop, ReasonEnumType.remote)
        )
        return call_result.RequestStopTransaction(status=RequestStartStopStatusEnumType.accepted)

    @on(Action.reset)
    def on_reset(self, type: str, evse_id: int | None = None, **_: Any) -> call_result.Reset:
        """B11/B12: OnIdle waits for running transactions to end (Scheduled); resetting a single EVSE is refused."""
        if evse_id is not None:
            return call_result.Reset(status=ResetStatusEnumType.rejected)
        if type == ResetEnumType.on_idle and self._station.engine.busy:
            self._station.reset_when_idle = True
            return call_result.Reset(status=ResetStatusEnumType.scheduled)
        return call_result.Reset(status=ResetStatusEnumType.accepted)

    @after(Action.reset)
    def after_reset(self, type: str, evse_id: int | None = None, **_: Any) -> None:
        if evse_id is None and not self._station.reset_when_idle:
            self._station.enqueue(self._station.reboot(BootReasonEnumType.remote_reset))

    @on(Action.change_availability)
    def on_change_availability(
        self, operational_status: str, evse: dict[str, Any] | None = None, **_: Any
    ) -> call_result.ChangeAvailability:
        """G03/G04: Accepted and applied at once, or Scheduled until the transaction on the target ends."""
        target = self._station.availability_target(evse)
        if target is None:
            status = ChangeAvailabilityStatusEnumType.rejected
        elif self._station.busy(target[0]):
            status = ChangeAvailabilityStatusEnumType.scheduled
        else:
            status = ChangeAvailabilityStatusEnumType.accepted
        return call_result.ChangeAvailability(status=status)

    @after(Action.change_availability)
    def after_change_availability(self, operational_status: str, evse: dict[str, Any] | None = None, **_: Any) -> None:
        target = self._station.availability_target(evse)
        if target is not None:
            self._station.change_availability(target, operational_status == OperationalStatusEnumType.operative)

    @on(Action.reserve_now)
    def on_reserve_now(
        self, id: int, expiry_date_time: str, id_token: dict[str, Any], evse_id: int | None = None, **_: Any
    ) -> call_result.ReserveNow:
        return call_result.ReserveNow(status=self._station.reservation_answer(evse_id))

    @after(Action.reserve_now)
    def after_reserve_now(
        self, id: int, expiry_date_time: str, id_token: dict[str, Any], evse_id: int | None = None, **_: Any
    ) -> None:
        if evse_id is not None and self._station.reservation_answer(evse_id) == ReserveNowStatusEnumType.accepted:
            self._station.reserve(id, evse_id, id_token, expiry_date_time)

    @on(Action.cancel_reservation)
    def on_cancel_reservation(self, reservation_id: int, **_: Any) -> call_result.CancelReservation:
        known = self._station.holds_reservation(reservation_id)
        status = CancelReservationStatusEnumType.accepted if known else CancelReservationStatusEnumType.rejected
        return call_result.CancelReservation(status=status)

    @after(Action.cancel_reservation)
    def after_cancel_reservation(self, reservation_id: int, **_: Any) -> None:
        self._station.cancel_reservation(reservation_id)

    @on(Action.update_firmware)
    def on_update_firmware(self, request_id: int, firmware: dict[str, Any], **_: Any) -> call_result.UpdateFirmware:
        return call_result.UpdateFirmware(status=UpdateFirmwareStatusEnumType.accepted)

    @after(Action.update_firmware)
    def after_update_firmware(self, request_id: int, firmware: dict[str, Any], **_: Any) -> None:
        self._station.update_firmware(request_id)

    @on(Action.data_transfer)
    def on_data_transfer(self, vendor_id: str, **_: Any) -> call_result.DataTransfer:
        """P01.FR.05: no vendor extension is implemented, so every vendorId is unknown."""
        return call_result.DataTransfer(status=DataTransferStatusEnumType.unknown_vendor_id)
