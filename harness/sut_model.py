"""What the harness knows of the SUT's state, kept from the frames themselves.

The model is fed every frame of the link — during cases and between them — as a trace record (see
:mod:`harness.trace`) and updates itself; it does no I/O. It serves three purposes:

- the reusable states branch on it (TxCtrlr.TxStartPoint as last read or set, the running transaction);
- the automatic restore after each case reads what is out of Part 6 §2.1's general preconditions
  (:meth:`SutModel.departures`) and puts it back;
- a case that starts while the SUT is not Accepted, or with a transaction running, is recognised as such.

The facts are those of the *station* side of the link in both roles: with a station under test they are
the SUT's; with a CSMS under test they are the harness's simulated station as the CSMS sees it
(registration status, transactions it reported), so the same restore logic reads them.

Each fact and the frame that sets it, in the words of Part 2:

=================================  ===========================================================
fact                               set by
=================================  ===========================================================
registration                       BootNotificationResponse.status (B01-B03)
registered_on_connection           on a new connection: its BootNotificationResponse, or any other CALL of
                                   the station (a station that reconnects without rebooting is still
                                   Accepted, one that reboots is not until it boots again)
boot_interval                      BootNotificationResponse.interval
connectors[(evse, connector)]      StatusNotificationRequest.connectorStatus, NotifyEventRequest
                                   eventData[] of Connector.AvailabilityState (G01, N07)
transactions[transactionId]        TransactionEventRequest Started / Updated / Ended (E01-E16)
transaction_due                    a connector turning Occupied while TxStartPoint holds EVConnected and
                                   no transaction runs on its EVSE (E01.FR.01: a Started is on its way);
                                   cleared by the EVSE's next TransactionEventRequest
variables[(component, variable)]   GetVariablesResponse results Accepted, SetVariablesRequest
                                   values answered Accepted (B05, B06)
inoperative                        ChangeAvailabilityRequest answered Accepted / Scheduled (G03-G04)
reservations                       ReserveNowRequest answered Accepted; gone with CancelReservation
                                   Accepted, ReservationStatusUpdate Expired/Removed, or a
                                   TransactionEvent carrying the reservationId (H01-H04)
=================================  ===========================================================
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

STATION_TO_CSMS = "cs-to-csms"
CSMS_TO_STATION = "csms-to-cs"

VariableKey = tuple[str, str]
"""(component name, variable name): the EVSE/connector-less variables the general preconditions touch."""


@dataclass
class Transaction:
    """A transaction the station reported: its id, where it runs, its last seqNo and idToken."""

    transaction_id: str
    evse_id: int | None
    connector_id: int | None
    seq_no: int
    id_token: dict[str, Any] | None = None
    charging_state: str | None = None


@dataclass
class SutModel:
    """The station side's state as the frames tell it (see the module docstring for the table)."""

    registration: str | None = None
    boot_interval: int | None = None
    connection: int = 0
    connected: bool = False
    registered_on_connection: bool = False
    """Whether the registration holds on the current connection: until the station's first frame on it, a
    reconnect (still Accepted) cannot be told from a reboot (Accepted no more until its BootNotification)."""
    connectors: dict[tuple[int, int], str] = field(default_factory=dict)
    transactions: dict[str, Transaction] = field(default_factory=dict)
    variables: dict[VariableKey, str] = field(default_factory=dict)
    changed: dict[VariableKey, str | None] = field(default_factory=dict)
    """Variables set during the current case, with the value they had before (None: not known)."""
    reported_since_boot: set[tuple[int, int]] = field(default_factory=set)
    """Connectors whose state the station reported since its last accepted boot (B01.FR.05)."""
    security_event_since_boot: bool = False
    """Whether a SecurityEventNotification came since the last accepted boot (Reusable State Booted step 7)."""
    inoperative: set[int] = field(default_factory=set)
    """EVSE ids (0 = the whole station) made Inoperative by ChangeAvailability."""
    reservations: set[int] = field(default_factory=set)
    transaction_due: set[int] = field(default_factory=set)
    """EVSE ids plugged in under TxStartPoint EVConnected whose TransactionEvent Started has not come yet: the
    StatusNotification and the TransactionEvent may come in any order (Part 6 §2.1), so a restore that only saw
    the connector would declare the station idle while a transaction is about to start."""
    _pending_calls: dict[str, dict[str, Any]] = field(default_factory=dict)

    # -- feeding --------------------------------------------------------------------------------------

    def observe(self, record: dict[str, Any]) -> None:
        """Account for one trace record (a frame either way, or an event)."""
        event = record.get("event")
        if event is not None:
            self._observe_event(event, record)
            return
        kind, action, payload = record.get("messageType"), record.get("action"), record.get("payload")
        if not isinstance(payload, dict) or action is None:
            return
        if kind == "CALL":
            if record.get("direction") == STATION_TO_CSMS and action != "BootNotification":
                self.registered_on_connection = True
            self._pending_calls[str(record.get("messageId"))] = {"action": action, "payload": payload}
            handler = _CALLS.get(action)
        elif kind == "CALLRESULT":
            request = self._pending_calls.pop(str(record.get("messageId")), {}).get("payload", {})
            handler = _RESULTS.get(action)
            if handler is not None:
                handler(self, payload, request)
            return
        else:
            self._pending_calls.pop(str(record.get("messageId")), None)
            return
        if handler is not None:
            handler(self, payload)

    def _observe_event(self, event: str, record: dict[str, Any]) -> None:
        if event == "connection opened":
            self.connection = int(record.get("connection", self.connection + 1))
            self.connected = True
            self.registered_on_connection = False
            self._pending_calls.clear()
        elif event == "connection closed" and record.get("connection") == self.connection:
            self.connected = False

    def begin_case(self) -> None:
        """A case starts: what it changes from here on is its to put back."""
        self.changed.clear()

    # -- what the restore reads ---------------------------------------------------------------------

    @property
    def accepted(self) -> bool:
        return self.connected and self.registration == "Accepted" and self.registered_on_connection

    def confirm_registration(self) -> None:
        """The station showed it considers itself Accepted on this connection (F06.FR.17, or it talks without
        booting)."""
        self.registration = "Accepted"
        self.registered_on_connection = True

    def occupied(self) -> list[tuple[int, int]]:
        """Connectors last reported Occupied (an EV cable is plugged in)."""
        return sorted(key for key, status in self.connectors.items() if status == "Occupied")

    def departures(self) -> list[str]:
        """How the SUT differs from Part 6 §2.1's general preconditions, in words (empty: it meets them)."""
        found = []
        if not self.connected:
            found.append("no open connection")
        elif self.registration != "Accepted":
            found.append(f"registration {self.registration or 'not booted'}")
        elif not self.registered_on_connection:
            found.append(f"registration not yet shown on connection {self.connection} (a reconnect or a reboot)")
        found += [f"transaction {t} running" for t in self.transactions]
        found += [f"connector {e}/{c} Occupied" for e, c in self.occupied()]
        found += [f"a TransactionEvent due on EVSE {e} (plugged in under TxStartPoint EVConnected)" for e in sorted(self.transaction_due)]
        found += [f"{c}.{v} changed by the case" for c, v in self.changed]
        found += [f"EVSE {e} Inoperative" if e else "the station Inoperative" for e in sorted(self.inoperative)]
        found += [f"reservation {r} active" for r in sorted(self.reservations)]
        return found

    def tx_start_points(self) -> list[str] | None:
        """TxCtrlr.TxStartPoint as last read or set, or None when the harness has not learnt it."""
        value = self.variables.get(("TxCtrlr", "TxStartPoint"))
        return None if value is None else [point.strip() for point in value.split(",") if point.strip()]

    def running_transaction(self, evse_id: int | None = None) -> Transaction | None:
        for transaction in self.transactions.values():
            if evse_id is None or transaction.evse_id == evse_id:
                return transaction
        return None

    # -- per message --------------------------------------------------------------------------------

    def _status_notification(self, payload: dict[str, Any]) -> None:
        self._connector_now((payload["evseId"], payload["connectorId"]), payload["connectorStatus"])

    def _connector_now(self, key: tuple[int, int], status: str) -> None:
        before = self.connectors.get(key)
        self.connectors[key] = status
        self.reported_since_boot.add(key)
        plugged = status == "Occupied" and before != "Occupied"
        if plugged and "EVConnected" in (self.tx_start_points() or ()) and self.running_transaction(key[0]) is None:
            self.transaction_due.add(key[0])

    def _notify_event(self, payload: dict[str, Any]) -> None:
        for item in payload.get("eventData", []):
            component, variable = item.get("component", {}), item.get("variable", {})
            evse = component.get("evse", {})
            if (
                component.get("name") == "Connector"
                and variable.get("name") == "AvailabilityState"
                and "connectorId" in evse
            ):
                self._connector_now((evse["id"], evse["connectorId"]), item.get("actualValue", ""))

    def _transaction_event(self, payload: dict[str, Any]) -> None:
        info = payload.get("transactionInfo", {})
        self.reservations.discard(payload.get("reservationId", -1))
        transaction_id = info.get("transactionId")
        if transaction_id is None:
            return
        evse = payload.get("evse", {})
        known = self.transactions.get(transaction_id)
        self._transaction_came(evse.get("id", known.evse_id if known else None))
        if payload.get("eventType") == "Ended":
            self.transactions.pop(transaction_id, None)
            return
        if known is None:
            known = self.transactions[transaction_id] = Transaction(
                transaction_id, evse.get("id"), evse.get("connectorId"), payload.get("seqNo", 0)
            )
        known.seq_no = max(known.seq_no, payload.get("seqNo", known.seq_no))
        known.evse_id = evse.get("id", known.evse_id)
        known.connector_id = evse.get("connectorId", known.connector_id)
        known.id_token = payload.get("idToken", known.id_token)
        known.charging_state = info.get("chargingState", known.charging_state)

    def _transaction_came(self, evse_id: int | None) -> None:
        """A TransactionEvent of this EVSE arrived: the one due is here (an EVSE not said: every one due)."""
        if evse_id is None:
            self.transaction_due.clear()
        else:
            self.transaction_due.discard(evse_id)

    def _boot_result(self, payload: dict[str, Any], request: dict[str, Any]) -> None:
        self.registration = payload.get("status")
        self.registered_on_connection = True
        self.boot_interval = payload.get("interval")
        if self.registration != "Accepted":
            return
        self.reported_since_boot.clear()
        self.security_event_since_boot = False
        if request.get("reason") not in (None, "Triggered"):
            # A real boot (power-up, reset): nothing of the previous session survives but the configuration.
            self.transactions.clear()
            self.transaction_due.clear()

    def _get_variables_result(self, payload: dict[str, Any], request: dict[str, Any]) -> None:
        for result in payload.get("getVariableResult", []):
            if result.get("attributeStatus") == "Accepted" and _actual(result) and "attributeValue" in result:
                self.variables[_key(result)] = result["attributeValue"]

    def _set_variables_result(self, payload: dict[str, Any], request: dict[str, Any]) -> None:
        asked = {_key(item): item["attributeValue"] for item in request.get("setVariableData", []) if _actual(item)}
        for result in payload.get("setVariableResult", []):
            key = _key(result)
            if result.get("attributeStatus") not in ("Accepted", "RebootRequired") or key not in asked:
                continue
            if key not in self.changed:
                self.changed[key] = self.variables.get(key)
            self.variables[key] = asked[key]

    def _change_availability_result(self, payload: dict[str, Any], request: dict[str, Any]) -> None:
        if payload.get("status") not in ("Accepted", "Scheduled"):
            return
        evse_id = request.get("evse", {}).get("id", 0)
        if request.get("operationalStatus") == "Inoperative":
            self.inoperative.add(evse_id)
        else:
            self.inoperative.discard(evse_id)


def _security_event(model: SutModel, payload: dict[str, Any]) -> None:
    model.security_event_since_boot = True


def _reservation_status_update(model: SutModel, payload: dict[str, Any]) -> None:
    if payload.get("reservationUpdateStatus") in ("Expired", "Removed"):
        model.reservations.discard(payload.get("reservationId", -1))


def _reservation_result(model: SutModel, payload: dict[str, Any], request: dict[str, Any]) -> None:
    if payload.get("status") == "Accepted":
        model.reservations.add(request["id"])


def _cancel_reservation_result(model: SutModel, payload: dict[str, Any], request: dict[str, Any]) -> None:
    if payload.get("status") == "Accepted":
        model.reservations.discard(request.get("reservationId", -1))


def _key(item: dict[str, Any]) -> VariableKey:
    return (item["component"]["name"], item["variable"]["name"])


def _actual(item: dict[str, Any]) -> bool:
    """Only the Actual attribute is tracked (absent means Actual, as the schemas default it)."""
    return item.get("attributeType", "Actual") == "Actual" and "evse" not in item.get("component", {})


_CALLS = {
    "StatusNotification": SutModel._status_notification,
    "NotifyEvent": SutModel._notify_event,
    "TransactionEvent": SutModel._transaction_event,
    "ReservationStatusUpdate": _reservation_status_update,
    "SecurityEventNotification": _security_event,
}
"""The station's CALLs that change a fact by themselves."""

_RESULTS = {
    "BootNotification": SutModel._boot_result,
    "GetVariables": SutModel._get_variables_result,
    "SetVariables": SutModel._set_variables_result,
    "ChangeAvailability": SutModel._change_availability_result,
    "ReserveNow": _reservation_result,
    "CancelReservation": _cancel_reservation_result,
}
"""The CALLRESULTs that change a fact, read together with the CALL they answer."""
