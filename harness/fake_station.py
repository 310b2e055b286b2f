"""The fake Charging Station the harness plays when a CSMS is under test: its own state and what it does.

A CSMS under test judges the station by what it does after answering, not by the answer alone: a correct CSMS
keeps a Pending station waiting for the NotifyReport it asked for. So what :class:`SimulatedStation` accepts
it does, as Part 2 says, in a follow-up that starts once the CALLRESULT went out (``session.FollowUp``):
GetBaseReport (B07) → NotifyReports; TriggerMessage (F06) → the requested message; Reset (B11/B12) → end the
transactions, reconnect, BootNotification RemoteReset, connector statuses; RequestStart/StopTransaction
(F01-F03) → TransactionEvent Started/Ended; ChangeAvailability (G03/G04) → StatusNotifications.

Its state: the registration per connection (the status of the last BootNotificationResponse on it), the
connectors, the transactions, and the device model (what GetVariables, SetVariables and the reports read).
Follow-ups talk to the CSMS through the link's current connection, so every frame is traced by whichever
listener is attached. What the CSMS does with them (a CALLERROR, silence) is recorded in :attr:`outcomes`
for the case to judge; only the harness's own mistakes reach ``listener.on_harness_error``.
"""

from __future__ import annotations

import asyncio
import itertools
import uuid
from dataclasses import dataclass, field
from typing import Any, Awaitable, Callable

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa
from cryptography.x509.oid import NameOID

from harness.config import SutConfig
from harness.core.frames import CallError, CallResult
from harness.responders import now
from harness.roles import ConnectRefused, FakeStation
from harness.session import Connection, ConnectionClosedDuringCall, FollowUp, Reply

ITEMS_PER_REPORT = 8
"""reportData items per NotifyReportRequest: a full inventory then spans several messages (seqNo, tbc), as it
does on a station whose DeviceDataCtrlr.ItemsPerMessage bounds them."""

SUPPORTED_REPORTS = frozenset({"FullInventory", "ConfigurationInventory"})
"""B07.FR.12: the two base reports every station supports; SummaryInventory is NotSupported (B07.FR.02)."""


@dataclass(frozen=True)
class Variable:
    """One variable of the fake station's device model, with the characteristics its reports carry."""

    component: str
    variable: str
    value: str
    data_type: str
    mutability: str = "ReadWrite"


def fake_station_variables(config: SutConfig) -> tuple[Variable, ...]:
    """The fake station's device model: the required variables of the controllers the CSMS cases touch
    (appendices dm_components_vars.csv), plus the ones the cases read."""
    return (
        Variable("OCPPCommCtrlr", "OfflineThreshold", "300", "integer"),
        Variable("OCPPCommCtrlr", "HeartbeatInterval", str(config.heartbeat_interval), "integer"),
        Variable("OCPPCommCtrlr", "RetryBackOffWaitMinimum", "10", "integer"),
        Variable("OCPPCommCtrlr", "ResetRetries", "1", "integer"),
        Variable("OCPPCommCtrlr", "NetworkConfigurationPriority", "0", "string"),
        Variable("OCPPCommCtrlr", "NetworkProfileConnectionAttempts", "3", "integer"),
        Variable("OCPPCommCtrlr", "UnlockOnEVSideDisconnect", "true", "boolean"),
        Variable("OCPPCommCtrlr", "FileTransferProtocols", "HTTPS", "MemberList", "ReadOnly"),
        Variable("AuthCtrlr", "AuthorizeRemoteStart", "false", "boolean"),
        Variable("AuthCtrlr", "LocalAuthorizeOffline", "false", "boolean"),
        Variable("AuthCtrlr", "LocalPreAuthorize", "false", "boolean"),
        Variable("TxCtrlr", "TxStartPoint", "EVConnected,Authorized", "MemberList"),
        Variable("TxCtrlr", "TxStopPoint", "EVConnected", "MemberList"),
        Variable("TxCtrlr", "EVConnectionTimeOut", "60", "integer"),
        Variable("ClockCtrlr", "DateTime", now(), "dateTime", "ReadOnly"),
        Variable("ClockCtrlr", "TimeSource", "Heartbeat", "SequenceList"),
        Variable("SampledDataCtrlr", "TxUpdatedMeasurands", config.tx_updated_measurands, "MemberList"),
        Variable("SampledDataCtrlr", "TxUpdatedInterval", str(config.tx_updated_interval), "integer"),
        Variable("SampledDataCtrlr", "TxEndedMeasurands", config.tx_updated_measurands, "MemberList"),
        Variable("SampledDataCtrlr", "TxEndedInterval", "0", "integer"),
        Variable("AlignedDataCtrlr", "Measurands", config.tx_updated_measurands, "MemberList"),
        Variable("AlignedDataCtrlr", "Interval", "0", "integer"),
        Variable("SecurityCtrlr", "SecurityProfile", "1", "integer", "ReadOnly"),
        Variable("SecurityCtrlr", "OrganizationName", config.vendor_name, "string"),
        Variable("ChargingStation", "SupplyPhases", "3", "integer", "ReadOnly"),
    )


def fake_station_device_model(config: SutConfig) -> dict[tuple[str, str], str]:
    """The values of the fake station's device model by (component, variable)."""
    return {(v.component, v.variable): v.value for v in fake_station_variables(config)}


@dataclass
class SimulatedConnector:
    """One connector: its availability (ChangeAvailability), a plugged-in EV and a reservation, which
    together give the connectorStatus StatusNotification reports (Unavailable wins, then Occupied)."""

    evse_id: int
    connector_id: int
    operative: bool = True
    occupied: bool = False
    reserved: bool = False

    @property
    def status(self) -> str:
        if not self.operative:
            return "Unavailable"
        if self.occupied:
            return "Occupied"
        return "Reserved" if self.reserved else "Available"


@dataclass
class SimulatedTransaction:
    """One transaction of the simulated station: its id and the next seqNo (from 0, Part 2 E01)."""

    evse_id: int
    connector_id: int
    transaction_id: str = field(default_factory=lambda: uuid.uuid4().hex[:20])
    _seq_no: itertools.count = field(default_factory=itertools.count)
    started: bool = False
    remote_start_id: int | None = None
    authorized: bool = False
    charging_state: str = "Idle"
    stop_authorized: bool = False
    id_token: dict[str, str] | None = None
    """The idToken that authorized the transaction; the first event after the authorization carries it."""
    _id_token_pending: bool = False

    def authorize(self, id_token: dict[str, str]) -> None:
        """The EV driver presented ``id_token``: the next event carries it (Part 6 §2.1)."""
        self.id_token = id_token
        self.authorized = True
        self._id_token_pending = True

    def event(self, trigger_reason: str, charging_state: str, **extra: Any) -> dict[str, Any]:
        """A TransactionEventRequest payload: Started for the first event, Updated after; evse on the first
        event and idToken on the first event after the authorization, unless ``extra`` gives them."""
        self.charging_state = charging_state
        if self._id_token_pending and self.id_token is not None:
            extra = {"idToken": self.id_token, **extra}
        self._id_token_pending = False
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

    def ended(self, trigger_reason: str, stopped_reason: str) -> dict[str, Any]:
        """The TransactionEventRequest Ended payload (E06; stoppedReason in transactionInfo)."""
        self.charging_state = "Idle"
        return {
            "eventType": "Ended",
            "timestamp": now(),
            "triggerReason": trigger_reason,
            "seqNo": next(self._seq_no),
            "transactionInfo": {"transactionId": self.transaction_id, "stoppedReason": stopped_reason, "chargingState": "Idle"},
        }


@dataclass(frozen=True)
class Outcome:
    """What the CSMS did with one CALL the station sent on its own: ``answer`` is its CALLRESULT payload, or
    None with ``problem`` saying why (CALLERROR, no answer, connection gone)."""

    action: str
    answer: dict[str, Any] | None
    problem: str = ""


def _status(status: str, **extra: Any) -> dict[str, Any]:
    """A fresh response payload each time: the schema check fills in defaults, so no reply object is shared."""
    return {"status": status, **extra}


def _not_accepted_yet() -> dict[str, Any]:
    """B02.FR.05: while Pending, RequestStart/StopTransaction are Rejected (reason code from the appendix)."""
    return _status("Rejected", statusInfo={"reasonCode": "CSNotAccepted"})


class SimulatedStation:
    """The fake Charging Station's state and behaviours. Attach it to its link before it sends anything."""

    def __init__(self, config: SutConfig) -> None:
        self.config = config
        self.link: FakeStation | None = None
        self.variables = {(v.component, v.variable): v for v in fake_station_variables(config)}
        self.device_model: dict[tuple[str, str], str] = {key: v.value for key, v in self.variables.items()}
        self.connectors = {
            (evse_id, connector_id): SimulatedConnector(evse_id, connector_id)
            for evse_id, connector_ids in sorted(config.connectors.items())
            for connector_id in connector_ids
        }
        self.transactions: dict[str, SimulatedTransaction] = {}
        self.registration: dict[int, str] = {}
        """The status of the last BootNotificationResponse on each connection, by connection number."""
        self.last_boot_status: str | None = None
        self.reset_scheduled = False
        self.scheduled_availability: dict[tuple[int, int], bool] = {}
        self.outcomes: list[Outcome] = []
        self.installed_certificates: dict[str, str] = {}
        """PEM of the certificates a CSMS installed (InstallCertificate), by certificateType."""
        self._csr_key: ec.EllipticCurvePrivateKey | None = None
        self._busy = asyncio.Lock()
        """One behaviour at a time, so a RequestStop's Ended never overtakes the Started of its transaction."""
        self._accepted = asyncio.Event()
        self._settled = asyncio.Event()
        self._settled.set()

    def attach(self, link: FakeStation) -> None:
        self.link = link

    # -- registration (B01-B03) ------------------------------------------------------------------------

    def boot_request(self, reason: str) -> dict[str, Any]:
        return {"reason": reason, "chargingStation": {"model": self.config.model, "vendorName": self.config.vendor_name}}

    def note_boot(self, connection: int, status: str) -> None:
        """Remember the CSMS's answer to a BootNotification sent on ``connection`` (by a case or a follow-up)."""
        self.registration[connection] = status
        self.last_boot_status = status
        if status == "Accepted":
            self._accepted.set()
        else:
            self._accepted.clear()

    def accepted_on(self, connection: int) -> bool:
        return self.registration.get(connection) == "Accepted"

    @property
    def accepted(self) -> bool:
        """Connected and Accepted on this connection: the only state in which the station acts on its own."""
        connection = self._open_connection()
        return connection is not None and self.accepted_on(connection.number)

    async def settled(self, timeout: float) -> None:
        """Until no reboot nor other behaviour is under way: a case must not open a second connection meanwhile,
        nor start while a follow-up's CALL is unanswered (its answer would be the case's). Bounded."""
        async with asyncio.timeout(timeout):
            await self._settled.wait()
            async with self._busy:
                return

    # -- transactions and connectors as the cases drive them (Part 6 §3.18 Reusable States) --------------

    def connector(self, evse_id: int, connector_id: int) -> SimulatedConnector:
        return self.connectors[(evse_id, connector_id)]

    def transaction_on(self, evse_id: int) -> SimulatedTransaction | None:
        """The transaction running on the EVSE, if any (one per EVSE)."""
        return next((t for t in self.transactions.values() if t.evse_id == evse_id), None)

    def open_transaction(self, evse_id: int, connector_id: int) -> SimulatedTransaction:
        """The transaction on the EVSE, a new one (its first event will be Started, seqNo 0) when none runs."""
        transaction = self.transaction_on(evse_id)
        if transaction is None:
            transaction = SimulatedTransaction(evse_id, connector_id)
            self.transactions[transaction.transaction_id] = transaction
        return transaction

    def end_transaction(self, transaction: SimulatedTransaction, trigger_reason: str, stopped_reason: str) -> dict[str, Any]:
        """The Ended event of a transaction the case ends itself; the station forgets the transaction."""
        self.transactions.pop(transaction.transaction_id, None)
        return transaction.ended(trigger_reason, stopped_reason)

    def not_available(self) -> list[SimulatedConnector]:
        """The connectors whose status is not Available (Part 6 §2.1: every case starts with them Available)."""
        return [c for c in self.connectors.values() if c.status != "Available"]

    def make_available(self, connector: SimulatedConnector) -> None:
        """The test bench's reset of one connector: no EV, no reservation, Operative."""
        connector.operative, connector.occupied, connector.reserved = True, False, False
        self.scheduled_availability.pop((connector.evse_id, connector.connector_id), None)

    # -- the Charging Station certificate (A02/A03) ----------------------------------------------------

    def new_csr(self) -> str:
        """A02.FR.02/03: a new key pair and the PEM CSR for it, subject CN the identity and O the
        SecurityCtrlr.OrganizationName."""
        self._csr_key = ec.generate_private_key(ec.SECP256R1())
        subject = x509.Name(
            [
                x509.NameAttribute(NameOID.COMMON_NAME, self.config.identity),
                x509.NameAttribute(NameOID.ORGANIZATION_NAME, self.device_model[("SecurityCtrlr", "OrganizationName")]),
            ]
        )
        csr = x509.CertificateSigningRequestBuilder().subject_name(subject).sign(self._csr_key, hashes.SHA256())
        return csr.public_bytes(serialization.Encoding.PEM).decode("ascii")

    def signed_certificate_problem(self, chain_pem: str, root_pem: str) -> str:
        """Why ``chain_pem`` is not a certificate for the key of the last CSR signed (through the chain) by
        ``root_pem``; empty when it is."""
        if self._csr_key is None:
            return "the station sent no CSR"
        try:
            chain = x509.load_pem_x509_certificates(chain_pem.encode("ascii"))
            root = x509.load_pem_x509_certificate(root_pem.encode("ascii"))
        except ValueError as error:
            return f"not a PEM certificate chain ({error})"
        if _public_der(chain[0].public_key()) != _public_der(self._csr_key.public_key()):
            return "the leaf certificate is not for the key of the CSR"
        for certificate, issuer in zip(chain, [*chain[1:], root]):
            if not _signed_by(certificate, issuer):
                return f"{certificate.subject.rfc4514_string()} is not signed by {issuer.subject.rfc4514_string()}"
        if chain[-1] != root and not _signed_by(chain[-1], root):
            return "the chain does not lead to the CSMS Root certificate"
        return ""

    def certificate_signed(self, payload: dict[str, Any]) -> dict[str, Any]:
        """A02.FR.06/07: Accepted for a certificate for the key of the last CSR, Rejected otherwise (the
        simulated station keeps its connection: it does not switch certificates)."""
        try:
            chain = x509.load_pem_x509_certificates(payload["certificateChain"].encode("ascii"))
        except ValueError:
            return _status("Rejected")
        if self._csr_key is None or _public_der(chain[0].public_key()) != _public_der(self._csr_key.public_key()):
            return _status("Rejected")
        return _status("Accepted")

    # -- answers (the responders call these; each returns the reply and, if any, its follow-up) ---------

    def get_base_report(self, payload: dict[str, Any]) -> Reply:
        """B07: Accepted for the two supported reports, then the NotifyReport series."""
        if payload["reportBase"] not in SUPPORTED_REPORTS:
            return _status("NotSupported")
        items = self.report_data(payload["reportBase"])
        return self._accept_then(lambda: self._report(payload["requestId"], items))

    def trigger_message(self, payload: dict[str, Any]) -> Reply:
        """F06: the requested message after the answer, NotImplemented for what the fake station does not model."""
        decide = _TRIGGERS.get(payload["requestedMessage"])
        if decide is None:
            return _status("NotImplemented")
        return decide(self, payload.get("evse"))

    def reset(self, payload: dict[str, Any]) -> Reply:
        """B11/B12: no per-EVSE reset (B11.FR.09); OnIdle during a transaction is Scheduled (B12.FR.01)."""
        if "evseId" in payload:
            return _status("Rejected")
        if payload["type"] == "OnIdle" and self.transactions:
            self.reset_scheduled = True
            return _status("Scheduled")
        return FollowUp(_status("Accepted"), self._reset_now)

    def change_availability(self, payload: dict[str, Any]) -> Reply:
        """G03/G04: Accepted and reported, Accepted without change when already so (G03.FR.03), Scheduled
        while a transaction runs on what it affects (G03.FR.05, G04.FR.06)."""
        targets = self._connectors_of(payload.get("evse"))
        if not targets:
            return _status("Rejected")
        operative = payload["operationalStatus"] == "Operative"
        if all(c.operative == operative for c in targets):
            return _status("Accepted")
        busy = {t.evse_id for t in self.transactions.values()}
        if any(c.evse_id in busy for c in targets):
            for connector in targets:
                self.scheduled_availability[(connector.evse_id, connector.connector_id)] = operative
            return _status("Scheduled")
        changed = [c for c in targets if c.operative != operative]
        for connector in changed:
            connector.operative = operative
        return self._accept_then(lambda: self._notify_statuses(changed))

    def request_start_transaction(self, payload: dict[str, Any]) -> Reply:
        """F01/F02: Rejected while not Accepted (B02.FR.05) or when no operative connector is free (F02.FR.25,
        F02.FR.26); a transaction not yet authorized on the EVSE is taken over and its id returned (F01.FR.13)."""
        if not self.accepted:
            return _not_accepted_yet()
        evse_id = payload.get("evseId")
        running = [t for t in self.transactions.values() if evse_id is None or t.evse_id == evse_id]
        waiting = next((t for t in running if not t.authorized), None)
        if waiting is not None:
            reply = {"status": "Accepted", "transactionId": waiting.transaction_id}
            return self._accept_then(lambda: self._remote_start(waiting, payload), reply)
        connector = self._free_connector(evse_id)
        if connector is None:
            return _status("Rejected")
        transaction = SimulatedTransaction(connector.evse_id, connector.connector_id, remote_start_id=payload["remoteStartId"])
        self.transactions[transaction.transaction_id] = transaction
        return self._accept_then(lambda: self._remote_start(transaction, payload))

    def request_stop_transaction(self, payload: dict[str, Any]) -> Reply:
        """F03: Accepted for a running transaction (F03.FR.07), Rejected for an unknown one (F03.FR.08)."""
        transaction = self.transactions.get(payload["transactionId"])
        if not self.accepted or transaction is None:
            return _status("Rejected")
        return FollowUp(_status("Accepted"), lambda: self._stop(transaction, "RemoteStop", "Remote"))

    def reserve_now(self, payload: dict[str, Any]) -> Reply:
        """H01: Accepted for an EVSE whose connectors are all Available, which then report Reserved (H01.FR.03);
        Rejected without evseId (H01.FR.19: not ReservationNonEvseSpecific), Unavailable / Occupied for a
        targeted EVSE in that state (H01.FR.14, H01.FR.11)."""
        if "evseId" not in payload:
            return _status("Rejected")
        targets = self._connectors_of({"id": payload["evseId"]})
        statuses = {c.status for c in targets}
        if not targets or statuses != {"Available"}:
            return _status("Unavailable" if "Unavailable" in statuses or not targets else "Occupied")
        for connector in targets:
            connector.reserved = True
        return self._accept_then(lambda: self._notify_statuses(targets))

    # -- the device model ------------------------------------------------------------------------------

    def report_data(self, report_base: str) -> list[dict[str, Any]]:
        """B07.FR.07/08: every variable with its characteristics; ConfigurationInventory only the settable ones."""
        variables = [v for v in self.variables.values() if report_base == "FullInventory" or v.mutability != "ReadOnly"]
        items = [_report_item({"name": v.component}, v, self.device_model[(v.component, v.variable)]) for v in variables]
        if report_base == "FullInventory":
            items.extend(self._availability_items())
        return items

    def _availability_items(self) -> list[dict[str, Any]]:
        """AvailabilityState of the station, each EVSE and each connector (required, ReadOnly)."""
        def state(connectors: list[SimulatedConnector]) -> str:
            return "Available" if any(c.operative for c in connectors) else "Unavailable"

        every = list(self.connectors.values())
        items = [_report_item({"name": "ChargingStation"}, _AVAILABILITY, state(every))]
        for evse_id in sorted({c.evse_id for c in every}):
            of_evse = [c for c in every if c.evse_id == evse_id]
            items.append(_report_item({"name": "EVSE", "evse": {"id": evse_id}}, _AVAILABILITY, state(of_evse)))
            for c in of_evse:
                component = {"name": "Connector", "evse": {"id": evse_id, "connectorId": c.connector_id}}
                items.append(_report_item(component, _AVAILABILITY, c.status))
        return items

    # -- behaviours (follow-ups) -----------------------------------------------------------------------

    async def send(self, action: str, payload: dict[str, Any]) -> dict[str, Any] | None:
        """CALL the CSMS on the current connection: its CALLRESULT payload, or None (recorded in outcomes)."""
        connection = self._open_connection()
        if connection is None:
            return self._record(action, None, "no open connection to the CSMS")
        try:
            inbound = await connection.call(action, payload, self.config.timeouts.response)
        except TimeoutError:
            return self._record(action, None, f"no answer within {self.config.timeouts.response:.0f} s")
        except ConnectionClosedDuringCall as error:
            return self._record(action, None, str(error))
        if isinstance(inbound.frame, CallError):
            return self._record(action, None, f"CALLERROR {inbound.frame.error_code}")
        assert isinstance(inbound.frame, CallResult), "the RPC endpoint resolves a CALL with its answer"
        return self._record(action, inbound.frame.payload)

    async def reboot(self, reason: str) -> None:
        """Close the connection, reconnect and register again (B11.FR.04: as in B01 Cold Boot)."""
        self._settled.clear()
        try:
            async with self._busy:
                if not await self._reconnect():
                    return
            await self._register(reason)
        finally:
            self._settled.set()

    def _accept_then(self, behaviour: Callable[[], Awaitable[Any]], reply: dict[str, Any] | None = None) -> FollowUp:
        """Accepted (or ``reply``), then ``behaviour`` once no other behaviour of the station runs."""
        return FollowUp(reply or _status("Accepted"), lambda: self._serialized(behaviour))

    async def _serialized(self, behaviour: Callable[[], Awaitable[Any]]) -> None:
        async with self._busy:
            await behaviour()

    async def _report(self, request_id: int, items: list[dict[str, Any]]) -> None:
        """B07.FR.03/04/10: the report in NotifyReports with the same requestId, seqNo from 0, tbc but the last."""
        parts = [items[i : i + ITEMS_PER_REPORT] for i in range(0, len(items), ITEMS_PER_REPORT)] or [[]]
        for seq_no, part in enumerate(parts):
            payload: dict[str, Any] = {
                "requestId": request_id,
                "generatedAt": now(),
                "seqNo": seq_no,
                "tbc": seq_no < len(parts) - 1,
            }
            if part:
                payload["reportData"] = part
            await self.send("NotifyReport", payload)

    async def _boot(self, reason: str) -> dict[str, Any] | None:
        """One BootNotification; once Accepted, the status of every connector (B01.FR.05)."""
        connection = self._open_connection()
        answer = await self.send("BootNotification", self.boot_request(reason))
        if answer is None or connection is None:
            return None
        self.note_boot(connection.number, answer["status"])
        if answer["status"] == "Accepted":
            await self._notify_statuses(list(self.connectors.values()))
        return answer

    async def _register(self, reason: str) -> None:
        """BootNotification until Accepted: after a Pending or Rejected, again after the interval (B02.FR.08),
        or done when a triggered boot got Accepted meanwhile. Bounded by the message timeout."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self.config.timeouts.message
        while True:
            async with self._busy:
                answer = await self._boot(reason)
            if answer is None or answer["status"] == "Accepted":
                return
            interval = answer["interval"] or self.config.heartbeat_interval  # B02.FR.07: 0 → our own choice
            if loop.time() + interval > deadline:
                self._record("BootNotification", answer, f"still {answer['status']}; the fake station stops retrying")
                return
            try:
                async with asyncio.timeout(interval):
                    await self._accepted.wait()
                return
            except TimeoutError:
                continue

    async def _reconnect(self) -> bool:
        """Close the connection the way a rebooting station does and open a new one; False if the CSMS refuses."""
        assert self.link is not None, "attach the simulated station to its link first"
        connection = self._open_connection()
        if connection is not None:
            await connection.close(1000, "rebooting")
        self._accepted.clear()
        self.last_boot_status = None
        try:
            await self.link.connect(self.config.timeouts.response)
        except (ConnectRefused, TimeoutError) as error:
            self._record("BootNotification", None, f"could not reconnect after the reset: {error!r}")
            return False
        return True

    async def _reset_now(self) -> None:
        """B12.FR.04: end every transaction (ResetCommand, ImmediateReset), then reboot."""
        async with self._busy:
            for transaction in list(self.transactions.values()):
                await self._end(transaction, "ResetCommand", "ImmediateReset")
        self.reset_scheduled = False
        await self.reboot("RemoteReset")

    async def _remote_start(self, transaction: SimulatedTransaction, payload: dict[str, Any]) -> None:
        """F01/F02: Authorize first when AuthorizeRemoteStart is true; then the TransactionEvent with
        triggerReason RemoteStart, the remoteStartId and the idToken (F02.FR.21, F01.FR.04)."""
        id_token = payload["idToken"]
        if self.device_model.get(("AuthCtrlr", "AuthorizeRemoteStart")) == "true":
            answer = await self.send("Authorize", {"idToken": id_token})
            if answer is None or answer["idTokenInfo"]["status"] != "Accepted":
                self.transactions.pop(transaction.transaction_id, None)
                return
        transaction.authorize(id_token)
        event = transaction.event("RemoteStart", transaction.charging_state)
        event["transactionInfo"]["remoteStartId"] = payload["remoteStartId"]
        await self.send("TransactionEvent", event)

    async def _stop(self, transaction: SimulatedTransaction, trigger_reason: str, stopped_reason: str) -> None:
        """End a transaction; then a reset scheduled for when the station is idle happens (B12.FR.03)."""
        async with self._busy:
            await self._end(transaction, trigger_reason, stopped_reason)
        if self.reset_scheduled and not self.transactions:
            await self._reset_now()

    async def _end(self, transaction: SimulatedTransaction, trigger_reason: str, stopped_reason: str) -> None:
        """TransactionEvent Ended, then an availability change scheduled during it takes effect (G03.FR.05)."""
        if self.transactions.pop(transaction.transaction_id, None) is None:
            return
        await self.send("TransactionEvent", transaction.ended(trigger_reason, stopped_reason))
        changed = []
        for key, operative in list(self.scheduled_availability.items()):
            connector = self.connectors[key]
            if connector.evse_id in {t.evse_id for t in self.transactions.values()}:
                continue
            del self.scheduled_availability[key]
            if connector.operative != operative:
                connector.operative = operative
                changed.append(connector)
        await self._notify_statuses(changed)

    async def _notify_statuses(self, connectors: list[SimulatedConnector]) -> None:
        """StatusNotification per connector; held while not Accepted (B02.FR.02), the boot reports them later."""
        for connector in connectors:
            if not self.accepted:
                self._record("StatusNotification", None, "not sent: the station is not Accepted (B02.FR.02)")
                return
            await self._status_notification(connector)

    async def _status_notification(self, connector: SimulatedConnector) -> None:
        payload = {
            "timestamp": now(),
            "connectorStatus": connector.status,
            "evseId": connector.evse_id,
            "connectorId": connector.connector_id,
        }
        await self.send("StatusNotification", payload)

    # -- TriggerMessage (F06), one decision per requestedMessage ----------------------------------------

    def _trigger_boot(self, evse: dict[str, Any] | None) -> Reply:
        """F06.FR.17: Rejected once the last BootNotification was Accepted."""
        if self.last_boot_status == "Accepted":
            return _status("Rejected")
        return self._accept_then(lambda: self._boot("Triggered"))

    def _trigger_status(self, evse: dict[str, Any] | None) -> Reply:
        """F06.FR.11: the connector asked for, or every connector (of the EVSE) when it is not given."""
        targets = self._connectors_of(evse)
        if not targets:
            return _status("Rejected")
        return self._accept_then(lambda: self._each(targets, self._status_notification))

    def _trigger_heartbeat(self, evse: dict[str, Any] | None) -> Reply:
        return self._accept_then(lambda: self.send("Heartbeat", {}))

    def _trigger_meter_values(self, evse: dict[str, Any] | None) -> Reply:
        """F06.FR.06: the most recent measurement per EVSE (the fake station delivers no energy)."""
        evse_ids = sorted({c.evse_id for c in self._connectors_of(evse)})
        if not evse_ids:
            return _status("Rejected")

        async def send_all() -> None:
            for evse_id in evse_ids:
                await self.send("MeterValues", {"evseId": evse_id, "meterValue": [_meter_value("Trigger")]})

        return self._accept_then(send_all)

    def _trigger_transaction_event(self, evse: dict[str, Any] | None) -> Reply:
        """F06.FR.07: an Updated event (triggerReason Trigger) per running transaction; Rejected if none runs."""
        evse_ids = {c.evse_id for c in self._connectors_of(evse)}
        running = [t for t in self.transactions.values() if t.started and t.evse_id in evse_ids]
        if not running:
            return _status("Rejected")

        async def send_all() -> None:
            for t in running:
                await self.send("TransactionEvent", t.event("Trigger", t.charging_state, meterValue=[_meter_value("Trigger")]))

        return self._accept_then(send_all)

    def _trigger_log_status(self, evse: dict[str, Any] | None) -> Reply:
        """F06.FR.15: no log upload runs, so Idle."""
        return self._accept_then(lambda: self.send("LogStatusNotification", {"status": "Idle"}))

    def _trigger_firmware_status(self, evse: dict[str, Any] | None) -> Reply:
        """F06.FR.16: no firmware update runs, so Idle."""
        return self._accept_then(lambda: self.send("FirmwareStatusNotification", {"status": "Idle"}))

    # -- helpers ---------------------------------------------------------------------------------------

    async def _each(self, connectors: list[SimulatedConnector], notify: Callable[[SimulatedConnector], Awaitable[None]]) -> None:
        for connector in connectors:
            await notify(connector)

    def _connectors_of(self, evse: dict[str, Any] | None) -> list[SimulatedConnector]:
        """The connectors an ``evse`` field names: all without it (or evse id 0, the whole station)."""
        if evse is None or evse["id"] == 0:
            return list(self.connectors.values())
        return [
            c
            for c in self.connectors.values()
            if c.evse_id == evse["id"] and evse.get("connectorId", c.connector_id) == c.connector_id
        ]

    def _free_connector(self, evse_id: int | None) -> SimulatedConnector | None:
        """An operative connector of an EVSE without a transaction (F01.FR.20: our choice when none is given)."""
        busy = {t.evse_id for t in self.transactions.values()}
        for connector in self.connectors.values():
            if connector.operative and connector.evse_id not in busy and evse_id in (None, connector.evse_id):
                return connector
        return None

    def _open_connection(self) -> Connection | None:
        connection = self.link.connection if self.link is not None else None
        return connection if connection is not None and not connection.closed.is_set() else None

    def _record(self, action: str, answer: dict[str, Any] | None, problem: str = "") -> dict[str, Any] | None:
        self.outcomes.append(Outcome(action, answer, problem))
        return answer if not problem else None


_AVAILABILITY = Variable("", "AvailabilityState", "", "OptionList", "ReadOnly")

_TRIGGERS: dict[str, Callable[[SimulatedStation, dict[str, Any] | None], Reply]] = {
    "BootNotification": SimulatedStation._trigger_boot,
    "StatusNotification": SimulatedStation._trigger_status,
    "Heartbeat": SimulatedStation._trigger_heartbeat,
    "MeterValues": SimulatedStation._trigger_meter_values,
    "TransactionEvent": SimulatedStation._trigger_transaction_event,
    "LogStatusNotification": SimulatedStation._trigger_log_status,
    "FirmwareStatusNotification": SimulatedStation._trigger_firmware_status,
}
"""F06: the requested messages the fake station sends; the others are NotImplemented (F06.FR.08)."""


def _report_item(component: dict[str, Any], variable: Variable, value: str) -> dict[str, Any]:
    attribute: dict[str, Any] = {"type": "Actual", "mutability": variable.mutability}
    if variable.mutability != "WriteOnly":
        attribute["value"] = value
    return {
        "component": component,
        "variable": {"name": variable.variable},
        "variableAttribute": [attribute],
        "variableCharacteristics": {"dataType": variable.data_type, "supportsMonitoring": False},
    }


def _meter_value(context: str) -> dict[str, Any]:
    return {
        "timestamp": now(),
        "sampledValue": [{"value": 0.0, "context": context, "measurand": "Energy.Active.Import.Register"}],
    }


def certificate_hash_data(pem: str) -> dict[str, str]:
    """CertificateHashDataType of a root certificate (self-signed: its issuer key is its own), SHA256."""
    certificate = x509.load_pem_x509_certificate(pem.encode("ascii"))
    return {
        "hashAlgorithm": "SHA256",
        "issuerNameHash": _sha256(certificate.issuer.public_bytes()),
        "issuerKeyHash": _sha256(_public_key_bits(certificate)),
        "serialNumber": format(certificate.serial_number, "x"),
    }


def same_certificate(pem: Any, other: str) -> bool:
    """Whether two PEM texts hold the same certificate (line endings and headers aside)."""
    try:
        return x509.load_pem_x509_certificate(str(pem).encode("ascii")) == x509.load_pem_x509_certificate(other.encode("ascii"))
    except (ValueError, UnicodeEncodeError):
        return False


def _sha256(data: bytes) -> str:
    hasher = hashes.Hash(hashes.SHA256())
    hasher.update(data)
    return hasher.finalize().hex()


def _public_key_bits(certificate: x509.Certificate) -> bytes:
    """The subjectPublicKey BIT STRING's content (what issuerKeyHash hashes, RFC 6960)."""
    key = certificate.public_key()
    if isinstance(key, ec.EllipticCurvePublicKey):
        return key.public_bytes(serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint)
    return key.public_bytes(serialization.Encoding.DER, serialization.PublicFormat.PKCS1)


def _public_der(key: Any) -> bytes:
    return key.public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)


def _signed_by(certificate: x509.Certificate, issuer: x509.Certificate) -> bool:
    key = issuer.public_key()
    try:
        if isinstance(key, ec.EllipticCurvePublicKey):
            key.verify(certificate.signature, certificate.tbs_certificate_bytes, ec.ECDSA(certificate.signature_hash_algorithm))
        elif isinstance(key, rsa.RSAPublicKey):
            key.verify(
                certificate.signature, certificate.tbs_certificate_bytes, padding.PKCS1v15(), certificate.signature_hash_algorithm
            )
        else:
            return False
    except InvalidSignature:
        return False
    return True
