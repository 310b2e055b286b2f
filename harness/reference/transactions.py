"""Transaction behaviour of the reference station (OCPP 2.0.1 Part 2 E01-E11), without I/O.

A transaction starts when any TxCtrlr.TxStartPoint condition becomes true and ends when any TxCtrlr.TxStopPoint
condition is no longer true (E01, E06). Every change of an EVSE produces one TransactionEventRequest, handed to
`emit` in creation order; the station queues and delivers them, so seqNo order equals delivery order.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from ocpp.v201 import call
from ocpp.v201.enums import (
    ChargingStateEnumType,
    MeasurandEnumType,
    ReadingContextEnumType,
    ReasonEnumType,
    TransactionEventEnumType,
    TriggerReasonEnumType,
)

from harness.reference.device_model import DeviceModel
from harness.reference.transport import now

CHARGING_POWER_W = 7400.0
SAMPLES: dict[str, tuple[str, Callable[[Evse], float]]] = {
    MeasurandEnumType.energy_active_import_register: ("Wh", lambda evse: round(evse.energy_wh, 1)),
    MeasurandEnumType.power_active_import: ("W", lambda evse: evse.power_w),
    MeasurandEnumType.current_import: ("A", lambda evse: round(evse.power_w / 230.0 / 3, 1)),
    MeasurandEnumType.voltage: ("V", lambda evse: 230.0),
}


@dataclass
class Transaction:
    """One transaction: its id, the next seqNo and what the next event still has to carry."""

    transaction_id: str = field(default_factory=lambda: str(uuid.uuid4()))
    next_seq_no: int = 0
    id_token_unreported: dict[str, Any] | None = None
    stopped_reason: ReasonEnumType | None = None
    remote_start_id: int | None = None


@dataclass
class Evse:
    """Physical and authorization state of one EVSE."""

    evse_id: int
    connector_id: int | None = None
    id_token: dict[str, Any] | None = None
    parked: bool = False
    reservation_unreported: int | None = None
    """The reservation this EVSE's authorization used, for the next TransactionEvent (H01.FR.17)."""
    charging_state: ChargingStateEnumType = ChargingStateEnumType.idle
    transaction: Transaction | None = None
    energy_wh: float = 0.0
    metered_at: float = field(default_factory=time.monotonic)

    @property
    def power_w(self) -> float:
        return CHARGING_POWER_W if self.charging_state == ChargingStateEnumType.charging else 0.0

    def meter(self) -> None:
        """Integrate energy up to now, so every sample shows a rising register while charging."""
        moment = time.monotonic()
        self.energy_wh += self.power_w * (moment - self.metered_at) / 3600.0
        self.metered_at = moment


class TransactionEngine:
    """Turns EV driver / CSMS events into TransactionEventRequests following TxStartPoint and TxStopPoint."""

    def __init__(
        self,
        evses: dict[int, list[int]],
        device_model: DeviceModel,
        faults: frozenset[str],
        emit: Callable[[call.TransactionEvent], None],
        offline: Callable[[], bool],
    ) -> None:
        self.evses = {evse_id: Evse(evse_id) for evse_id in evses}
        self._device_model = device_model
        self._faults = faults
        self._emit = emit
        self._offline = offline

    def find(self, transaction_id: str) -> Evse | None:
        return next((e for e in self.evses.values() if e.transaction and e.transaction.transaction_id == transaction_id), None)

    def plugged_in(self, evse_id: int, connector_id: int) -> None:
        evse = self.evses[evse_id]
        evse.connector_id = connector_id
        self._set_charging_state(evse, ChargingStateEnumType.ev_connected)
        self._changed(evse, TriggerReasonEnumType.cable_plugged_in)
        if evse.id_token is not None:
            self._energy(evse, ChargingStateEnumType.charging)

    def authorized(
        self,
        evse_id: int,
        id_token: dict[str, Any],
        trigger: TriggerReasonEnumType = TriggerReasonEnumType.authorized,
        remote_start_id: int | None = None,
        reservation_id: int | None = None,
    ) -> None:
        """The idToken was accepted: the first event after this carries idToken (general rule, Part 6 §2.1),
        and the reservation it used, if any."""
        evse = self.evses[evse_id]
        evse.id_token = id_token
        evse.reservation_unreported = reservation_id
        self._changed(evse, trigger, id_token=id_token, remote_start_id=remote_start_id)
        if evse.connector_id is not None:
            self._energy(evse, ChargingStateEnumType.charging)

    def stop_authorized(self, evse_id: int, trigger: TriggerReasonEnumType, reason: ReasonEnumType) -> None:
        """Local (StopAuthorized) or remote (RemoteStop) stop: energy stops, the stop points decide the end (E06):
        with TxStopPoint Authorized at once, with EVConnected at once when no EV is connected."""
        evse = self.evses[evse_id]
        id_token, evse.id_token = evse.id_token, None
        if evse.transaction is None:
            return
        evse.transaction.stopped_reason = reason
        self._changed(evse, trigger, id_token=id_token)
        if evse.transaction is not None and evse.connector_id is not None:
            self._energy(evse, ChargingStateEnumType.ev_connected)

    def parking_bay(self, evse_id: int, occupied: bool) -> None:
        """The parking bay sensor of the EVSE saw an EV arrive (EVDetected) or leave (EVDeparted): the
        ParkingBayOccupancy start and stop point (E01, E06)."""
        evse = self.evses[evse_id]
        evse.parked = occupied
        self._changed(evse, TriggerReasonEnumType.ev_detected if occupied else TriggerReasonEnumType.ev_departed)
        if evse.transaction is None and not occupied and evse.connector_id is None:
            evse.id_token = None

    def ev_suspended(self, evse_id: int) -> None:
        """The EV stops drawing energy while the EVSE offers it: SuspendedEV (E06 with TxStopPoint
        EnergyTransfer ends the transaction, stoppedReason StoppedByEV)."""
        evse = self.evses[evse_id]
        if evse.charging_state != ChargingStateEnumType.charging:
            return
        ends = "EnergyTransfer" in self._device_model.members("TxCtrlr", "TxStopPoint")
        if ends and evse.transaction is not None and evse.transaction.stopped_reason is None:
            evse.transaction.stopped_reason = ReasonEnumType.stopped_by_ev
        self._energy(evse, ChargingStateEnumType.suspended_ev)

    def unplugged(self, evse_id: int) -> None:
        evse = self.evses[evse_id]
        evse.connector_id = None
        self._set_charging_state(evse, ChargingStateEnumType.idle)
        if evse.transaction is not None and evse.transaction.stopped_reason is None:
            evse.transaction.stopped_reason = ReasonEnumType.ev_disconnected
        self._changed(evse, TriggerReasonEnumType.ev_communication_lost)
        if evse.transaction is None:
            evse.id_token = None

    def end_all(self, trigger: TriggerReasonEnumType, reason: ReasonEnumType) -> None:
        """End every transaction at once (reset, power loss) and forget authorizations."""
        for evse in self.evses.values():
            evse.id_token = None
            if evse.transaction is not None:
                evse.transaction.stopped_reason = reason
                self._event(evse, TransactionEventEnumType.ended, trigger)

    def sample(self) -> None:
        """MeterValuePeriodic events at SampledDataCtrlr.TxUpdatedInterval (E01.FR.14 / J02)."""
        for evse in self.evses.values():
            if evse.transaction is not None:
                self._event(
                    evse,
                    TransactionEventEnumType.updated,
                    TriggerReasonEnumType.meter_value_periodic,
                    meter=("TxUpdatedMeasurands", ReadingContextEnumType.sample_periodic),
                )

    @property
    def busy(self) -> bool:
        return any(evse.transaction is not None for evse in self.evses.values())

    def _energy(self, evse: Evse, state: ChargingStateEnumType) -> None:
        self._set_charging_state(evse, state)
        self._changed(evse, TriggerReasonEnumType.charging_state_changed)

    def _set_charging_state(self, evse: Evse, state: ChargingStateEnumType) -> None:
        evse.meter()
        evse.charging_state = state

    def _conditions(self, evse: Evse) -> dict[str, bool]:
        connected = evse.connector_id is not None
        return {
            "ParkingBayOccupancy": evse.parked,
            "EVConnected": connected,
            "Authorized": evse.id_token is not None,
            "PowerPathClosed": connected and evse.id_token is not None,
            "EnergyTransfer": evse.charging_state == ChargingStateEnumType.charging,
        }

    def _changed(self, evse: Evse, trigger: TriggerReasonEnumType, **extra: Any) -> None:
        """Started if a start point became true, Ended if a stop point became false, Updated otherwise."""
        conditions = self._conditions(evse)
        if evse.transaction is None:
            if not any(conditions.get(point, False) for point in self._device_model.members("TxCtrlr", "TxStartPoint")):
                return
            evse.transaction = Transaction()
            self._event(evse, TransactionEventEnumType.started, trigger, **extra)
            return
        stop_points = self._device_model.members("TxCtrlr", "TxStopPoint")
        ended = any(not conditions.get(point, True) for point in stop_points)
        self._event(evse, TransactionEventEnumType.ended if ended else TransactionEventEnumType.updated, trigger, **extra)

    def _event(
        self,
        evse: Evse,
        event_type: TransactionEventEnumType,
        trigger: TriggerReasonEnumType,
        id_token: dict[str, Any] | None = None,
        remote_start_id: int | None = None,
        meter: tuple[str, ReadingContextEnumType] | None = None,
    ) -> None:
        transaction = evse.transaction
        assert transaction is not None
        if id_token is not None:
            transaction.id_token_unreported = id_token
        if remote_start_id is not None:
            transaction.remote_start_id = remote_start_id
        info: dict[str, Any] = {"transaction_id": transaction.transaction_id, "charging_state": evse.charging_state}
        if transaction.remote_start_id is not None:
            info["remote_start_id"] = transaction.remote_start_id
        if event_type == TransactionEventEnumType.ended:
            info["stopped_reason"] = transaction.stopped_reason or ReasonEnumType.local
            meter = ("TxEndedMeasurands", ReadingContextEnumType.transaction_end)
            evse.transaction = None
            evse.id_token = None  # the authorization ends with its transaction: it cannot start the next one
        elif event_type == TransactionEventEnumType.started and not meter:
            meter = ("TxStartedMeasurands", ReadingContextEnumType.transaction_begin)
        seq_no = transaction.next_seq_no
        transaction.next_seq_no += 2 if "seqno_gap" in self._faults and seq_no == 0 else 1
        event = call.TransactionEvent(
            event_type=event_type,
            timestamp=now(),
            trigger_reason=trigger,
            seq_no=seq_no,
            transaction_info=info,
            meter_value=self._meter_values(evse, *meter) if meter else None,
            offline=True if self._offline() else None,
            evse={"id": evse.evse_id} | ({"connector_id": evse.connector_id} if evse.connector_id else {}),
            id_token=self._take_id_token(transaction),
            reservation_id=self._take_reservation(evse),
        )
        self._emit(event)

    @staticmethod
    def _take_reservation(evse: Evse) -> int | None:
        reservation_id, evse.reservation_unreported = evse.reservation_unreported, None
        return reservation_id

    def _take_id_token(self, transaction: Transaction) -> dict[str, Any] | None:
        id_token, transaction.id_token_unreported = transaction.id_token_unreported, None
        return id_token

    def _meter_values(self, evse: Evse, measurands: str, context: ReadingContextEnumType) -> list[dict[str, Any]] | None:
        if self._device_model.value("SampledDataCtrlr", "Enabled") != "true":
            return None
        evse.meter()
        sampled = [
            {"value": SAMPLES[m][1](evse), "context": context, "measurand": m, "unit_of_measure": {"unit": SAMPLES[m][0]}}
            for m in self._device_model.members("SampledDataCtrlr", measurands)
            if m in SAMPLES
        ]
        return [{"timestamp": now(), "sampled_value": sampled}] if sampled else None
