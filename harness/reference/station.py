"""Reference Charging Station: the SUT the harness's station-side cases (…_CS) are proven against.

It keeps one WebSocket to the CSMS at a time and reconnects after a loss with the back-off of
OCPPCommCtrlr.RetryBackOff* (never below `reconnect_backoff`). Per power cycle it boots once (B01-B03); a reconnect
without reboot does not boot again but delivers the TransactionEvents queued while offline (E11).

Three kinds of work run concurrently:
- the connection task: connect, boot, then heartbeat and deliver queued TransactionEvents until the link drops;
- the action worker: manual actions and remote starts/stops, one at a time, in the order they were requested;
- the sampler: MeterValuePeriodic events at SampledDataCtrlr.TxUpdatedInterval.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import logging
import time
from collections import deque
from datetime import datetime, timezone
from collections.abc import Awaitable, Callable, Coroutine, Iterable, Sequence
from urllib.parse import urlsplit
from dataclasses import dataclass, field
from typing import Any

from ocpp.v201 import call
from ocpp.v201.enums import (
    AuthorizationStatusEnumType,
    BootReasonEnumType,
    ConnectorStatusEnumType,
    EventNotificationEnumType,
    EventTriggerEnumType,
    FirmwareStatusEnumType,
    MessageTriggerEnumType,
    ReasonEnumType,
    RegistrationStatusEnumType,
    ReservationUpdateStatusEnumType,
    ReserveNowStatusEnumType,
    TriggerReasonEnumType,
)
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed, InvalidHandshake

from harness.reference import UnknownAction
from harness.reference.chaos import Chaos, behaviour
from harness.reference.device_model import ComponentKey, DeviceModel, VariableKey
from harness.reference.faults import STATION_FAULTS, applied
from harness.reference.mutations import Mutation, Mutator
from harness.reference.station_handlers import StationChargePoint
from harness.reference.transactions import TransactionEngine
from harness.reference.transport import MAX_MESSAGE_SIZE, SUBPROTOCOL, basic_auth_header, now
from harness.reference.wire import MutatedConnection

FAULTS = STATION_FAULTS
LOGGER = logging.getLogger(__name__)
BOOT_RETRY_FALLBACK_S = 30  # when the CSMS sends interval 0 while Pending/Rejected
STOP_TIMEOUT_S = 5.0


class Offline(Exception):
    """No accepted connection to the CSMS: the message cannot be delivered now."""


@dataclass
class StationSettings:
    csms_url: str
    identity: str = "CS001"
    basic_auth_password: str | None = None
    vendor_name: str = "OCPP Conformance"
    model: str = "Reference Station"
    firmware_version: str = "0.1.0"
    serial_number: str = "REF-0001"
    evses: dict[int, list[int]] = field(default_factory=lambda: {1: [1]})
    valid_id_tokens: frozenset[str] = frozenset()  # authorized locally only while offline (AuthCtrlr.LocalAuthorizeOffline)
    reconnect_backoff: float = 0.1


@dataclass
class _Link:
    """The current accepted connection; `closed` completes when it drops, failing calls still in flight."""

    charge_point: StationChargePoint
    closed: asyncio.Future[None]


class ReferenceStation:
    """The reference Charging Station; see the module docstring for its structure."""

    def __init__(
        self, settings: StationSettings, faults: Iterable[str] = (), mutations: Sequence[Mutation] = (), chaos: str | None = None
    ) -> None:
        self.settings = settings
        self.faults, wire_faults = applied(faults, FAULTS)
        self.mutator = Mutator((*wire_faults, *mutations))
        self.chaos = Chaos(None if chaos is None else behaviour(chaos, "cs"))
        """A chaos behaviour (harness.reference.chaos) acting within every case."""
        self._websocket: ClientConnection | None = None
        self._connections = 0
        self.current_case: str | None = None
        self._config_changed = asyncio.Event()
        self.device_model = DeviceModel(settings.evses, on_change=self._notify_config_changed)
        self.engine = TransactionEngine(
            settings.evses, self.device_model, self.faults, self._queue_transaction_event, lambda: self._link is None
        )
        self.registration: RegistrationStatusEnumType | None = None
        self.reset_when_idle = False
        self._boot_reason = BootReasonEnumType.power_up
        self._boot_trigger = asyncio.Event()
        self._connecting = asyncio.Event()
        self._stopping = asyncio.Event()
        self.boot_in_flight = False
        self.boot_answered = asyncio.Event()
        self._link: _Link | None = None
        self._current: _Link | None = None
        self._ready = False
        self._event_ids = itertools.count(1)
        self._offline_since: float | None = time.monotonic()
        self._tx_queue: deque[call.TransactionEvent] = deque()
        self._tx_queued = asyncio.Event()
        self._connector_status = {
            (evse_id, connector_id): ConnectorStatusEnumType.available
            for evse_id, connectors in settings.evses.items()
            for connector_id in connectors
        }
        self._reported_status: dict[tuple[int, int], ConnectorStatusEnumType] = {}
        self._unavailable: set[tuple[int, int]] = set()
        self._installing: int | None = None
        """The requestId of the firmware update to install after the reboot it asked for (L01)."""
        self._reservations: dict[int, tuple[int, dict[str, Any]]] = {}
        """EVSE id -> (reservationId, idToken) of the reservation it holds (H01)."""
        self._scheduled_availability: dict[tuple[int, int], bool] = {}
        self._actions: asyncio.Queue[Coroutine[Any, Any, None]] = asyncio.Queue()
        self._connection_task: asyncio.Task[None] | None = None
        self._tasks: set[asyncio.Task[Any]] = set()

    # ----------------------------------------------------------------- lifecycle

    async def start(self) -> None:
        """Start connecting and booting in the background; returns without waiting for the boot result."""
        if self._connection_task is not None:
            return
        self._connection_task = asyncio.create_task(self._connect_forever(), name=f"{self.settings.identity}-link")
        self.spawn(self._work())
        self.spawn(self._sample())
        await self._connecting.wait()

    async def stop(self) -> None:
        """Cancel everything and close the socket; idempotent and bounded by STOP_TIMEOUT_S."""
        self._stopping.set()
        tasks = [task for task in (self._connection_task, *self._tasks) if task is not None and not task.done()]
        self._connection_task = None
        for task in tasks:
            task.cancel()
        if tasks:
            await asyncio.wait(tasks, timeout=STOP_TIMEOUT_S)
        while not self._actions.empty():
            self._actions.get_nowait().close()

    def spawn(self, coroutine: Coroutine[Any, Any, Any]) -> None:
        """Run `coroutine` as a task that stop() cancels."""
        task = asyncio.create_task(coroutine)
        self._tasks.add(task)
        task.add_done_callback(self._forget)

    def _forget(self, task: asyncio.Task[Any]) -> None:
        self._tasks.discard(task)
        if not task.cancelled() and task.exception() is not None:
            LOGGER.info("%s: background task ended: %r", self.settings.identity, task.exception())

    def enqueue(self, action: Coroutine[Any, Any, None]) -> None:
        """Hand an action to the worker: actions run one at a time, in request order."""
        self._actions.put_nowait(action)

    @property
    def online(self) -> bool:
        """Connected, accepted and done with the post-boot / post-reconnect reports."""
        return self._ready

    async def wait_online(self, online: bool = True) -> None:
        """Wait until the station has (or has lost) an accepted connection; for tests that cut the link."""
        while self.online != online:
            await self._wait_config_change(None)

    # ----------------------------------------------------------------- manual actions

    def case_started(self, case_id: str) -> None:
        """The harness starts the case ``case_id``: the self-test's frame mutations count from here, and a chaos
        behaviour acts."""
        self.current_case = case_id
        self.mutator.case_started(case_id)
        self.chaos.case_started(self)

    def case_ended(self) -> None:
        """The case is over: its frame mutations and chaos no longer apply (the harness's restore after it meets a
        well-behaved station)."""
        self.mutator.case_ended()
        self.chaos.case_ended()

    # ----------------------------------------------------------------- chaos target (harness.reference.chaos)

    @property
    def websocket(self) -> ClientConnection | None:
        return self._websocket

    @property
    def connections(self) -> int:
        return self._connections

    @property
    def harness_address(self) -> tuple[str, int] | None:
        url = urlsplit(self.settings.csms_url)
        return (url.hostname or "127.0.0.1", url.port or 80)

    async def drop(self) -> None:
        if self._websocket is not None:
            await self._websocket.close()

    async def wait_connection(self, newer_than: int) -> None:
        while self._connections <= newer_than or self._websocket is None:
            await self._wait_config_change(None)

    async def perform(self, name: str, params: dict[str, object]) -> bool | None:
        """Queue a manual action of docs/design.md; returns once queued (the station acts asynchronously)."""
        try:
            action = self._manual_actions()[name]
        except KeyError:
            raise UnknownAction(f"the reference station cannot perform {name!r}") from None
        self.enqueue(action(params))
        return None

    def _manual_actions(self) -> dict[str, Callable[[dict[str, object]], Coroutine[Any, Any, None]]]:
        """What the EV driver (or the EV) can do at the reference station, by harness.actions name."""
        return {
            "reboot": lambda params: self.reboot(BootReasonEnumType.power_up),
            "plug_in": lambda params: self._plug_in(_evse(params), int(str(params.get("connector_id", 1)))),
            "unplug": lambda params: self._unplug(_evse(params)),
            "present_id_token": lambda params: self._present_id_token(
                _evse(params), {"id_token": str(params["id_token"]), "type": str(params.get("type", "ISO14443"))}
            ),
            "park": lambda params: self._parking_bay(_evse(params), occupied=True),
            "unpark": lambda params: self._parking_bay(_evse(params), occupied=False),
            "ev_suspends": lambda params: self._ev_suspends(_evse(params)),
        }

    async def _work(self) -> None:
        while True:
            action = await self._actions.get()
            try:
                await action
            except Exception:
                LOGGER.exception("action failed")

    async def _plug_in(self, evse_id: int, connector_id: int) -> None:
        await self._connector_changed(evse_id, connector_id, ConnectorStatusEnumType.occupied)
        self.engine.plugged_in(evse_id, connector_id)

    async def _unplug(self, evse_id: int) -> None:
        connector_id = self.engine.evses[evse_id].connector_id
        if connector_id is None:
            return
        await self._connector_changed(evse_id, connector_id, ConnectorStatusEnumType.available)
        self.engine.unplugged(evse_id)
        self._after_transaction()

    async def _parking_bay(self, evse_id: int, occupied: bool) -> None:
        self.engine.parking_bay(evse_id, occupied)
        self._after_transaction()

    async def _ev_suspends(self, evse_id: int) -> None:
        self.engine.ev_suspended(evse_id)
        self._after_transaction()

    async def _present_id_token(self, evse_id: int, id_token: dict[str, Any]) -> None:
        """C01: the same idToken again stops the transaction (E06); another one is authorized first."""
        evse = self.engine.evses[evse_id]
        reservation_id = self._use_reservation(evse_id, id_token)
        if evse.transaction is not None and evse.id_token == id_token:
            await self.stop_transaction(evse_id, TriggerReasonEnumType.stop_authorized, ReasonEnumType.local)
        elif await self._authorize(id_token):
            self.engine.authorized(evse_id, id_token, reservation_id=reservation_id)

    async def remote_start(self, evse_id: int, id_token: dict[str, Any], remote_start_id: int) -> None:
        """F01: authorize first only if AuthCtrlr.AuthorizeRemoteStart is true."""
        if self.device_model.value("AuthCtrlr", "AuthorizeRemoteStart") == "true" and not await self._authorize(id_token):
            return
        self.engine.authorized(evse_id, id_token, TriggerReasonEnumType.remote_start, remote_start_id)

    async def stop_transaction(self, evse_id: int, trigger: TriggerReasonEnumType, reason: ReasonEnumType) -> None:
        self.engine.stop_authorized(evse_id, trigger, reason)
        self._after_transaction()

    async def _authorize(self, id_token: dict[str, Any]) -> bool:
        """AuthorizeRequest when online; offline, the configured tokens when LocalAuthorizeOffline is true."""
        try:
            response = await self._call(call.Authorize(id_token=id_token))
        except Offline:
            local = self.device_model.value("AuthCtrlr", "LocalAuthorizeOffline") == "true"
            return local and id_token["id_token"] in self.settings.valid_id_tokens
        return response is not None and response.id_token_info["status"] == AuthorizationStatusEnumType.accepted

    async def reboot(self, reason: BootReasonEnumType) -> None:
        """Power cycle: drop the link, end transactions, forget the registration, boot again with `reason`."""
        if reason == BootReasonEnumType.remote_reset:
            self.engine.end_all(TriggerReasonEnumType.reset_command, ReasonEnumType.immediate_reset)
        else:
            self.engine.end_all(TriggerReasonEnumType.abnormal_condition, ReasonEnumType.power_loss)
        self.reset_when_idle = False
        if self._connection_task is not None:
            self._connection_task.cancel()
            await asyncio.wait([self._connection_task], timeout=STOP_TIMEOUT_S)
        self.chaos.power_cycled()
        self.registration = None
        self._boot_reason = reason
        self._reported_status.clear()
        self._connection_task = asyncio.create_task(self._connect_forever(), name=f"{self.settings.identity}-link")

    def _after_transaction(self) -> None:
        """A transaction may have ended: what waited for that happens now (B12 Reset OnIdle, G03/G04
        ChangeAvailability Scheduled)."""
        for key in [key for key in self._scheduled_availability if not self.busy(key[0])]:
            self.enqueue(self._set_availability(key, self._scheduled_availability.pop(key)))
        if self.reset_when_idle and not self.engine.busy:
            self.enqueue(self.reboot(BootReasonEnumType.remote_reset))

    # ----------------------------------------------------------------- availability (G03, G04)

    def busy(self, evse_id: int) -> bool:
        """A transaction runs on the EVSE (0: on any EVSE)."""
        if evse_id == 0:
            return self.engine.busy
        return self.engine.evses[evse_id].transaction is not None

    def availability_target(self, evse: dict[str, Any] | None) -> tuple[int, int] | None:
        """(evseId, connectorId) of a ChangeAvailabilityRequest, 0 for "all of it"; None if it names nothing here."""
        evse_id, connector_id = (evse or {}).get("id", 0), (evse or {}).get("connector_id", 0)
        if evse_id and evse_id not in self.settings.evses:
            return None
        if connector_id and (not evse_id or connector_id not in self.settings.evses[evse_id]):
            return None
        return evse_id, connector_id

    def change_availability(self, target: tuple[int, int], operative: bool) -> None:
        """Apply now, or once the transaction on the target ends (the answer was Scheduled)."""
        if self.busy(target[0]):
            self._scheduled_availability[target] = operative
            return
        self.enqueue(self._set_availability(target, operative))

    async def _set_availability(self, target: tuple[int, int], operative: bool) -> None:
        """Every connector of the target Unavailable, or back to Available / Occupied (G03.FR.04, G04.FR.03)."""
        evse_id, connector_id = target
        for key in list(self._connector_status):
            if evse_id in (0, key[0]) and connector_id in (0, key[1]):
                if operative:
                    self._unavailable.discard(key)
                else:
                    self._unavailable.add(key)
                await self._connector_changed(*key, self._physical_status(key))

    def _physical_status(self, key: tuple[int, int]) -> ConnectorStatusEnumType:
        if key in self._unavailable:
            return ConnectorStatusEnumType.unavailable
        if self.engine.evses[key[0]].connector_id == key[1]:
            return ConnectorStatusEnumType.occupied
        if key[0] in self._reservations:
            return ConnectorStatusEnumType.reserved
        return ConnectorStatusEnumType.available

    # ----------------------------------------------------------------- firmware (L01)

    def update_firmware(self, request_id: int) -> None:
        """L01 for a station that reboots before installing: Downloading, Downloaded, InstallRebooting, the reboot
        (boot reason FirmwareUpdate), then Installing and Installed once booted. Nothing is really downloaded:
        the image stays the same."""
        self.enqueue(self._update_firmware(request_id))

    async def _update_firmware(self, request_id: int) -> None:
        for status in (FirmwareStatusEnumType.downloading, FirmwareStatusEnumType.downloaded, FirmwareStatusEnumType.install_rebooting):
            with contextlib.suppress(Offline):
                await self._call(call.FirmwareStatusNotification(status=status, request_id=request_id))
        self._installing = request_id
        await self.reboot(BootReasonEnumType.firmware_update)

    async def _install_firmware(self) -> None:
        """After the boot: Installing, Installed, and the critical security event FirmwareUpdated (L01.FR.31)."""
        request_id, self._installing = self._installing, None
        for status in (FirmwareStatusEnumType.installing, FirmwareStatusEnumType.installed):
            await self._call(call.FirmwareStatusNotification(status=status, request_id=request_id))
        await self._call(call.SecurityEventNotification(type="FirmwareUpdated", timestamp=now()))

    # ----------------------------------------------------------------- reservations (H01-H04)

    def reservation_answer(self, evse_id: int | None) -> ReserveNowStatusEnumType:
        """H01: a specific EVSE only (no ReservationCtrlr.NonEvseSpecific here); Occupied while in use or reserved."""
        if evse_id is None or evse_id not in self.settings.evses:
            return ReserveNowStatusEnumType.rejected
        if any(key[0] == evse_id for key in self._unavailable):
            return ReserveNowStatusEnumType.unavailable
        if evse_id in self._reservations or self.busy(evse_id) or self.engine.evses[evse_id].connector_id is not None:
            return ReserveNowStatusEnumType.occupied
        return ReserveNowStatusEnumType.accepted

    def reserve(self, reservation_id: int, evse_id: int, id_token: dict[str, Any], expiry: str) -> None:
        """Hold the EVSE for ``id_token`` until ``expiry`` (then ReservationStatusUpdate Expired, H01.FR.08)."""
        self._reservations[evse_id] = (reservation_id, id_token)
        seconds = (datetime.fromisoformat(expiry.replace("Z", "+00:00")) - datetime.now(timezone.utc)).total_seconds()
        self.spawn(self._expire(evse_id, reservation_id, max(0.0, seconds)))
        self.enqueue(self._evse_status_changed(evse_id))

    def holds_reservation(self, reservation_id: int) -> bool:
        return any(held == reservation_id for held, _ in self._reservations.values())

    def cancel_reservation(self, reservation_id: int) -> None:
        """H02: the EVSE is free again."""
        for evse_id, (held, _) in list(self._reservations.items()):
            if held == reservation_id:
                del self._reservations[evse_id]
                self.enqueue(self._evse_status_changed(evse_id))

    def _use_reservation(self, evse_id: int, id_token: dict[str, Any]) -> int | None:
        """H01: the reserving idToken presented at the EVSE ends the reservation; its id, or None."""
        held = self._reservations.get(evse_id)
        if held is None or held[1]["id_token"] != id_token["id_token"]:
            return None
        del self._reservations[evse_id]
        return held[0]

    async def _expire(self, evse_id: int, reservation_id: int, seconds: float) -> None:
        """The reservation's expiryDateTime: a protocol timer, ended early only by stop()."""
        await self._back_off(seconds)
        if self._reservations.get(evse_id, (None,))[0] != reservation_id:
            return
        del self._reservations[evse_id]
        self.enqueue(self._evse_status_changed(evse_id))
        with contextlib.suppress(Offline):
            await self._call(
                call.ReservationStatusUpdate(
                    reservation_id=reservation_id, reservation_update_status=ReservationUpdateStatusEnumType.expired
                )
            )

    async def _evse_status_changed(self, evse_id: int) -> None:
        for key in list(self._connector_status):
            if key[0] == evse_id:
                await self._connector_changed(*key, self._physical_status(key))

    # ----------------------------------------------------------------- connection

    async def _connect_forever(self) -> None:
        attempt = 0
        self._connecting.set()
        while True:
            try:
                async with connect(
                    f"{self.settings.csms_url}/{self.settings.identity}",
                    subprotocols=list(self.chaos.switches.subprotocols or [SUBPROTOCOL]),
                    additional_headers=self._auth_headers(),
                    compression=None,
                    max_size=MAX_MESSAGE_SIZE,
                    open_timeout=10,
                    close_timeout=1,
                ) as connection:
                    attempt = 0
                    await self._session(connection)
            except (OSError, ConnectionClosed, InvalidHandshake, TimeoutError) as error:
                LOGGER.info("%s: connection lost or refused: %r", self.settings.identity, error)
            except Exception:
                LOGGER.exception("%s: session failed (invalid answer from the CSMS?); reconnecting", self.settings.identity)
            await self._back_off(self._backoff(attempt))
            attempt += 1

    async def _back_off(self, seconds: float) -> None:
        """The reconnection back-off timer of Part 4 §5.3 (RetryBackOff*): a protocol interval, ended early
        only by stop()."""
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(seconds):
                await self._stopping.wait()

    def _auth_headers(self) -> dict[str, str]:
        password = self.settings.basic_auth_password
        return {} if password is None else {"Authorization": basic_auth_header(self.settings.identity, password)}

    def _backoff(self, attempt: int) -> float:
        """RetryBackOffWaitMinimum doubled RetryBackOffRepeatTimes times at most (RandomRange is 0 here)."""
        minimum = max(self.settings.reconnect_backoff, self.device_model.integer("OCPPCommCtrlr", "RetryBackOffWaitMinimum"))
        return float(minimum * 2 ** min(attempt, self.device_model.integer("OCPPCommCtrlr", "RetryBackOffRepeatTimes")))

    async def _session(self, connection: ClientConnection) -> None:
        if connection.subprotocol != SUBPROTOCOL:
            await connection.close(1002, "ocpp2.0.1 subprotocol not agreed")
            return
        timeout = self.device_model.integer("OCPPCommCtrlr", "MessageTimeout", "Default")
        wire = MutatedConnection(connection, self.mutator, self.chaos)
        self._websocket = connection
        self._connections += 1
        charge_point = StationChargePoint(self, wire, response_timeout=timeout)
        wire.serve(charge_point)
        reader = asyncio.create_task(charge_point.start())
        closed: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        reader.add_done_callback(lambda _: _settle(closed))
        workers: list[asyncio.Task[Any]] = [reader]
        self._current = _Link(charge_point, closed)
        try:
            fresh_boot = self.registration != RegistrationStatusEnumType.accepted
            if fresh_boot:
                await self._race(self._boot(charge_point), closed)
            offline_for = time.monotonic() - (self._offline_since or time.monotonic())
            self._set_link(self._current)
            await self._flush_transactions()
            everything = fresh_boot or offline_for > self.device_model.integer("OCPPCommCtrlr", "OfflineThreshold")
            await self._report_connectors(everything)
            if fresh_boot:
                await self._call(call.SecurityEventNotification(type="StartupOfTheDevice", timestamp=now()))
            if fresh_boot and self._installing is not None:
                await self._install_firmware()
            workers += [asyncio.create_task(self._deliver_transactions()), asyncio.create_task(self._heartbeat())]
            self._ready = True
            self._notify_config_changed()
            await reader
        except Offline:
            pass
        finally:
            self._websocket = None
            self._current = None
            self._ready = False
            self._set_link(None)
            for task in workers:
                task.cancel()
            await asyncio.wait(workers, timeout=STOP_TIMEOUT_S)
            for task in workers[1:]:
                if task.done() and not task.cancelled():
                    task.exception()

    @staticmethod
    async def _race(work: Awaitable[Any], closed: asyncio.Future[None]) -> Any:
        """Await `work` unless the connection closes first (then Offline): a call in flight never waits for its
        response timeout on a dead socket."""
        task = asyncio.ensure_future(work)
        try:
            done, _ = await asyncio.wait([task, closed], return_when=asyncio.FIRST_COMPLETED)
        except asyncio.CancelledError:
            # A reboot cancels the session: the work must not outlive it (an orphaned boot would mark the
            # rebooted station as registered and skip its BootNotification).
            task.cancel()
            raise
        if task not in done:
            task.cancel()
            raise Offline
        return task.result()

    def _set_link(self, link: _Link | None) -> None:
        self._link = link
        if link is None and self._offline_since is None:
            self._offline_since = time.monotonic()
        elif link is not None:
            self._offline_since = None
        self._notify_config_changed()

    async def _boot(self, charge_point: StationChargePoint) -> None:
        """B01-B03: BootNotification until Accepted; in between only what the CSMS asks for (Pending) or nothing."""
        reason = self._boot_reason
        while True:
            self._boot_trigger.clear()
            self.boot_answered.clear()
            self.boot_in_flight = True
            try:
                response = await charge_point.call(
                    call.BootNotification(
                        charging_station={
                            "model": self.settings.model,
                            "vendor_name": self.settings.vendor_name,
                            "firmware_version": self.settings.firmware_version,
                            "serial_number": self.settings.serial_number,
                        },
                        reason=reason,
                    )
                )
                self.registration = RegistrationStatusEnumType(response.status)
            finally:
                self.boot_in_flight = False
                self.boot_answered.set()
            if self.registration == RegistrationStatusEnumType.accepted:
                self.device_model.write(
                    ComponentKey("OCPPCommCtrlr"), VariableKey("HeartbeatInterval"), str(response.interval)
                )
                return
            if self.registration == RegistrationStatusEnumType.rejected and "sends_messages_while_rejected" in self.faults:
                await charge_point.call(call.Heartbeat())
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(self._retry_interval(response.interval)):
                    await self._boot_trigger.wait()
                reason = BootReasonEnumType.triggered

    def _retry_interval(self, interval: int) -> float:
        """B03.FR.05/06: the interval the CSMS gave, or our own when it gave 0 (the fault retries at once)."""
        if self.registration == RegistrationStatusEnumType.rejected and "boot_retry_before_interval" in self.faults:
            return 0
        return interval or BOOT_RETRY_FALLBACK_S

    def trigger_boot(self) -> None:
        """TriggerMessage(BootNotification) while Pending: resend before the interval expires (B02, F06)."""
        self._boot_trigger.set()

    async def _heartbeat(self) -> None:
        """B01.FR.04 / G02: Heartbeat every OCPPCommCtrlr.HeartbeatInterval seconds (0 = off); follows changes."""
        while True:
            interval = self.device_model.integer("OCPPCommCtrlr", "HeartbeatInterval")
            if await self._wait_config_change(interval if interval > 0 else None):
                continue
            await self._call(call.Heartbeat())

    async def _wait_config_change(self, timeout: float | None) -> bool:
        """True if the configuration or the link changed before `timeout` seconds passed."""
        try:
            async with asyncio.timeout(timeout):
                await self._config_changed.wait()
        except TimeoutError:
            return False
        return True

    def _notify_config_changed(self) -> None:
        """Wake every waiter once: set the current event and give later waiters a fresh one."""
        self._config_changed.set()
        self._config_changed = asyncio.Event()

    async def _call(self, payload: Any) -> Any:
        """Send a CALL on the accepted connection; Offline if there is none or it drops before the answer."""
        link = self._link
        if link is None:
            raise Offline
        return await self._race(link.charge_point.call(payload), link.closed)

    # ----------------------------------------------------------------- transaction events

    def _queue_transaction_event(self, event: call.TransactionEvent) -> None:
        self._tx_queue.append(event)
        self._tx_queued.set()

    async def _flush_transactions(self) -> None:
        """Deliver queued TransactionEvents in creation (= seqNo) order; an event leaves the queue once answered."""
        while self._tx_queue:
            await self._call(self._tx_queue[0])
            self._tx_queue.popleft()

    async def _deliver_transactions(self) -> None:
        while True:
            self._tx_queued.clear()
            await self._flush_transactions()
            await self._tx_queued.wait()

    async def _sample(self) -> None:
        while True:
            interval = self.device_model.integer("SampledDataCtrlr", "TxUpdatedInterval")
            if not await self._wait_config_change(interval if interval > 0 else None):
                self.engine.sample()

    # ----------------------------------------------------------------- connector status

    async def _connector_changed(self, evse_id: int, connector_id: int, status: ConnectorStatusEnumType) -> None:
        if (evse_id, connector_id) in self._unavailable:
            status = ConnectorStatusEnumType.unavailable  # G03: an Inoperative connector stays Unavailable
        self._connector_status[(evse_id, connector_id)] = status
        for component in (ComponentKey("Connector", evse_id=evse_id, connector_id=connector_id), ComponentKey("EVSE", evse_id=evse_id)):
            self.device_model.write(component, VariableKey("AvailabilityState"), status)
        with contextlib.suppress(Offline):
            await self._report_connector(evse_id, connector_id)

    async def _report_connectors(self, everything: bool) -> None:
        """After boot every connector (B01.FR.05); after a reconnect only the changed ones, or all past OfflineThreshold."""
        for key, status in self._connector_status.items():
            if everything or self._reported_status.get(key) != status:
                await self._report_connector(*key)

    async def _report_connector(self, evse_id: int, connector_id: int) -> None:
        """G01 / N07: StatusNotificationRequest plus NotifyEventRequest of Connector.AvailabilityState."""
        status = self._connector_status[(evse_id, connector_id)]
        await self._call(
            call.StatusNotification(timestamp=now(), connector_status=status, evse_id=evse_id, connector_id=connector_id)
        )
        await self._call(
            call.NotifyEvent(
                generated_at=now(),
                seq_no=0,
                tbc=False,
                event_data=[
                    {
                        "event_id": next(self._event_ids),
                        "timestamp": now(),
                        "trigger": EventTriggerEnumType.delta,
                        "actual_value": status,
                        "event_notification_type": EventNotificationEnumType.hard_wired_notification,
                        "component": {"name": "Connector", "evse": {"id": evse_id, "connector_id": connector_id}},
                        "variable": {"name": "AvailabilityState"},
                    }
                ],
            )
        )
        self._reported_status[(evse_id, connector_id)] = status

    # ----------------------------------------------------------------- CSMS-requested messages

    async def send_report(self, request_id: int, report_base: str) -> None:
        """B07: NotifyReport in chunks of DeviceDataCtrlr.ItemsPerMessage[GetReport], seqNo from 0, tbc until the last.

        Sent on the current connection even while Pending: messages asked for by GetBaseReport are allowed then."""
        link = self._current
        if link is None:
            raise Offline
        entries = self.device_model.report(report_base)
        size = self.device_model.integer("DeviceDataCtrlr", "ItemsPerMessage", "GetReport")
        chunks = [entries[i : i + size] for i in range(0, len(entries), size)] or [[]]
        for seq_no, chunk in enumerate(chunks):
            last = seq_no == len(chunks) - 1
            report = call.NotifyReport(
                request_id=request_id,
                generated_at=now(),
                seq_no=seq_no,
                report_data=chunk or None,
                tbc=not last,
            )
            await self._race(link.charge_point.call(report), link.closed)

    async def send_triggered(self, requested_message: str, evse: dict[str, Any] | None) -> None:
        """F06: the message a TriggerMessageRequest asked for."""
        with contextlib.suppress(Offline):
            if requested_message == MessageTriggerEnumType.heartbeat:
                await self._call(call.Heartbeat())
            else:
                for evse_id, connector_id in self._connector_status:
                    if evse is None or evse.get("id") == evse_id and evse.get("connector_id", connector_id) == connector_id:
                        await self._report_connector(evse_id, connector_id)


def _evse(params: dict[str, object]) -> int:
    return int(str(params.get("evse_id", 1)))


def _settle(future: asyncio.Future[None]) -> None:
    """Mark the connection closed, once."""
    if not future.done():
        future.set_result(None)
