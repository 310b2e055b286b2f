"""Part 6 §3.18 Reusable States and §3.19 Memory States for a CSMS under test, as one table.

The harness plays the Charging Station (the "OCTT" of the tables): each state sends what its table says the
OCTT sends, with the configured evse, connector and idToken, answers what the CSMS sends, and names each tool
validation of the CSMS's answers as the Part 6 data does ("Authorized step 2"). Steps are numbered as in the
table, prefixed with the state's name ("EVDisconnected 3-4"). A case reaches a state with one call,
``await reach(case, "EVDisconnected")``: the state it needs first ("If State is NOT … then execute …") runs
only when the simulated station is not in it yet.

The station's own state (its registration per connection, its connectors, its transactions with their seqNo
and the idToken of the first event after an authorization, its device model and certificates) lives in the
link's :class:`~harness.fake_station.SimulatedStation`, so states compose and the restore after a case can
end a transaction the case left open.

=========================  ========================  ===================================================
state                      needs first               reached when (the simulated station)
=========================  ========================  ===================================================
Booted                     —                         Accepted on the current connection
Authorized                 —                         a transaction on the EVSE is authorized
EVConnectedPreSession      —                         the EV is plugged into the connector
EnergyTransferStarted      Authorized                the transaction's chargingState is Charging
EnergyTransferSuspended    EnergyTransferStarted     chargingState SuspendedEV
StopAuthorized             EnergyTransferStarted     the transaction is authorized to stop
EVConnectedPostSession     StopAuthorized            stopped, chargingState EVConnected
EVDisconnected             EVConnectedPostSession    no transaction, the EV unplugged
Unavailable                —                         the EVSE's connectors are Inoperative
Reserved                   —                         the EVSE's connectors are Reserved
GetInstalledCertificates   —                         (always played)
CertificateInstalled       —                         the certificate is installed
ISO15118SmartCharging      —                         (always played)
RenewChargingStationCert…  —                         (always played; a Memory State)
=========================  ========================  ===================================================
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any

from harness.case import Case
from harness.core.frames import Call, CallResult
from harness.fake_station import (
    SimulatedConnector,
    SimulatedStation,
    SimulatedTransaction,
    certificate_hash_data,
    same_certificate,
)
from harness.matching import ABSENT, one_of
from harness.responders import now
from harness.roles import SUBPROTOCOL_RULE, ConnectRefused, FakeStation, Link, SubprotocolBroken
from harness.verdicts import HarnessError, Inconclusive, SutFailure, SutTimeout, TransportFailure

__all__ = [
    "STATES",
    "SimulatedTransaction",
    "StateOptions",
    "all_connectors_available",
    "authorize",
    "boot_request",
    "booted",
    "connected",
    "device_value",
    "ensure_booted",
    "notify_connector",
    "reach",
    "send_boot",
    "station_of",
]

PROCESSING_WAIT_S = 60.0
"""ISO15118SmartCharging step 3: after a NotifyEVChargingNeedsResponse Processing the OCTT waits 60 s for the
SetChargingProfileRequest (K15.FR.08)."""

DEFAULT_CHARGING_NEEDS: dict[str, Any] = {
    "requestedEnergyTransfer": "AC_three_phase",
    "acChargingParameters": {"energyAmount": 20000, "evMinCurrent": 6, "evMaxCurrent": 32, "evMaxVoltage": 400},
}
"""The mock EV's charging needs (K15.FR.06: AC or DC parameters) when a case configures none."""


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
    except SubprotocolBroken as broken:
        raise subprotocol_failure(broken, case) from None
    except ConnectRefused as error:
        raise SutFailure(f"the CSMS refused the WebSocket connection: {error.reason}", case.current_step) from None
    except TimeoutError:
        raise SutTimeout(f"the CSMS did not complete the WebSocket handshake within {timeout:.0f} s", case.current_step) from None


def subprotocol_failure(broken: SubprotocolBroken, case: Case) -> TransportFailure:
    """A CSMS that completes the handshake without agreeing to ocpp2.0.1 and keeps the connection: FAIL."""
    return TransportFailure(
        f"{broken.reason}; the harness closed the connection", case.current_step, "Part 4 §3.2",
        validation="Part 4 §3.2 subprotocol", requirement_text=SUBPROTOCOL_RULE,
    )



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


# -- what a case may choose when it reaches a state ------------------------------------------------------


@dataclass(frozen=True)
class StateOptions:
    """The "<Configured …>" and "<Specified …>" values of the tables; ``reach`` fills them from the SUT
    configuration unless the case gives them."""

    evse_id: int
    connector_id: int
    id_token: dict[str, str]
    transaction_duration: float = 0.0
    """<Configured Transaction Duration>: the seconds EnergyTransferSuspended and StopAuthorized let pass."""
    certificate_type: str = "CSMSRootCertificate"
    certificate: str | None = None
    """PEM of <the configured certificate of the specified certificateType>; by default [tls] ca_certificate."""
    csms_root_certificate: str | None = None
    """PEM of <the configured CSMS Root certificate>; by default [tls] ca_certificate."""
    charging_needs: dict[str, Any] = field(default_factory=lambda: dict(DEFAULT_CHARGING_NEEDS))
    max_schedule_tuples: int = 3


def state_options(case: Case, **options: Any) -> StateOptions:
    """The options of a state: the configured values, overridden by ``options`` (an unknown one is the case
    author's mistake, a HarnessError)."""
    known = {f.name for f in fields(StateOptions)}
    unknown = sorted(set(options) - known)
    if unknown:
        raise HarnessError(f"unknown Reusable State option(s) {unknown}; known: {sorted(known)}")
    config = case.config
    configured_pem = _configured_ca(case)
    values: dict[str, Any] = {
        "evse_id": config.evse_id,
        "connector_id": config.connector_id,
        "id_token": config.valid_id_token.as_payload(),
        "certificate": configured_pem,
        "csms_root_certificate": configured_pem,
    }
    values.update(options)
    return StateOptions(**values)


def _configured_ca(case: Case) -> str | None:
    tls = case.config.tls
    path: Path | None = tls.ca_certificate if tls is not None else None
    return path.read_text(encoding="ascii") if path is not None else None


# -- the transaction states (E, C): what the OCTT sends ---------------------------------------------------


async def authorized(case: Case, options: StateOptions) -> None:
    """Authorized: the EV driver authorizes locally; Started, or Updated when the EV is already plugged in."""
    station = station_of(case.link)
    with case.step("Authorized 1-2", "The OCTT sends an AuthorizeRequest with the configured valid idToken"):
        answer = await authorize(case, options.id_token)
        case.verify(answer, {"idTokenInfo.status": "Accepted"}, validation="Authorized step 2")
    with case.step("Authorized 3-4", "The OCTT sends a TransactionEventRequest with triggerReason Authorized"):
        transaction = station.open_transaction(options.evse_id, options.connector_id)
        transaction.authorize(options.id_token)
        answer = await _transaction_event(case, transaction, "Authorized", transaction.charging_state)
        case.verify(answer, {"idTokenInfo.status": "Accepted"}, validation="Authorized step 4")


async def ev_connected_pre_session(case: Case, options: StateOptions) -> None:
    """EVConnectedPreSession: the EV is plugged in; Started, or Updated when already authorized."""
    await _plug_in(case, options, "EVConnectedPreSession")


async def energy_transfer_started(case: Case, options: StateOptions) -> None:
    """EnergyTransferStarted: part 1 (plug in) unless the EV is connected, then part 2 (Charging)."""
    if not station_of(case.link).connector(options.evse_id, options.connector_id).occupied:
        await _plug_in(case, options, "EnergyTransferStarted")
    with case.step("EnergyTransferStarted 5-6", "The OCTT sends a TransactionEventRequest with chargingState Charging"):
        await _transaction_event(case, _running(case, options), "ChargingStateChanged", "Charging")


async def energy_transfer_suspended(case: Case, options: StateOptions) -> None:
    """EnergyTransferSuspended: after the configured transaction duration, the EV suspends."""
    await _transaction_duration(case, options)
    with case.step("EnergyTransferSuspended 1-2", "The OCTT sends a TransactionEventRequest with chargingState SuspendedEV"):
        await _transaction_event(case, _running(case, options), "ChargingStateChanged", "SuspendedEV")


async def stop_authorized(case: Case, options: StateOptions) -> None:
    """StopAuthorized: after the configured transaction duration, the EV driver presents the idToken to stop."""
    await _transaction_duration(case, options)
    with case.step("StopAuthorized 1-2", "The OCTT sends a TransactionEventRequest with triggerReason StopAuthorized"):
        transaction = _running(case, options)
        transaction.stop_authorized = True
        answer = await _transaction_event(
            case, transaction, "StopAuthorized", transaction.charging_state, idToken=options.id_token
        )
        case.verify(answer, {"idTokenInfo.status": "Accepted"}, validation="StopAuthorized step 2")


async def ev_connected_post_session(case: Case, options: StateOptions) -> None:
    """EVConnectedPostSession: the energy transfer stopped, the EV still plugged in."""
    with case.step("EVConnectedPostSession 1-2", "The OCTT sends a TransactionEventRequest with chargingState EVConnected"):
        await _transaction_event(case, _running(case, options), "ChargingStateChanged", "EVConnected")


async def ev_disconnected(case: Case, options: StateOptions) -> None:
    """EVDisconnected: the EV is unplugged, which ends the transaction (TxStopPoint EVConnected)."""
    station = station_of(case.link)
    connector = station.connector(options.evse_id, options.connector_id)
    with case.step("EVDisconnected 1-2", "The OCTT notifies the CSMS that the connector is Available"):
        connector.occupied = False
        await notify_connector(case, connector.evse_id, connector.connector_id, connector.status)
    with case.step("EVDisconnected 3-4", "The OCTT sends a TransactionEventRequest Ended, stoppedReason EVDisconnected"):
        ended = station.end_transaction(_running(case, options), "EVCommunicationLost", "EVDisconnected")
        await case.call("TransactionEvent", ended)


async def _plug_in(case: Case, options: StateOptions, state: str) -> None:
    """Steps 1-4 of EVConnectedPreSession and of EnergyTransferStarted part 1: Occupied, then CablePluggedIn
    with the configured evse and connector."""
    station = station_of(case.link)
    connector = station.connector(options.evse_id, options.connector_id)
    with case.step(f"{state} 1-2", "The OCTT notifies the CSMS that the connector is Occupied"):
        connector.occupied = True
        await notify_connector(case, connector.evse_id, connector.connector_id, connector.status)
    with case.step(f"{state} 3-4", "The OCTT sends a TransactionEventRequest with triggerReason CablePluggedIn"):
        transaction = station.open_transaction(options.evse_id, options.connector_id)
        evse = {"id": options.evse_id, "connectorId": options.connector_id}
        await _transaction_event(case, transaction, "CablePluggedIn", "EVConnected", evse=evse)


async def _transaction_event(
    case: Case, transaction: SimulatedTransaction, trigger_reason: str, charging_state: str, **extra: Any
) -> CallResult:
    return await case.call("TransactionEvent", transaction.event(trigger_reason, charging_state, **extra))


async def _transaction_duration(case: Case, options: StateOptions) -> None:
    """"The tool will wait for <Configured Transaction Duration> seconds": a configured time, not a settle."""
    if options.transaction_duration > 0:
        await case.honour_interval(options.transaction_duration)


def _running(case: Case, options: StateOptions) -> SimulatedTransaction:
    transaction = station_of(case.link).transaction_on(options.evse_id)
    if transaction is None:
        raise HarnessError(f"no transaction runs on EVSE {options.evse_id} of the simulated station")
    return transaction


# -- the states the CSMS starts (a Manual Action makes it send its request) -----------------------------


async def unavailable(case: Case, options: StateOptions) -> None:
    """Unavailable: the CSMS makes the specified EVSE Inoperative; its connectors report Unavailable."""
    expected = {"operationalStatus": "Inoperative", "evse.id": options.evse_id, "evse.connectorId": ABSENT}
    await _evse_request(
        case, options, "Unavailable", "ChangeAvailability", expected, lambda connector: setattr(connector, "operative", False),
        "csms_change_availability", operational_status="Inoperative",
    )


async def reserved(case: Case, options: StateOptions) -> None:
    """Reserved: the CSMS reserves the specified EVSE for the configured idToken; its connectors report it."""
    token = options.id_token
    expected = {
        "evseId": options.evse_id,
        "connectorType": ABSENT,
        "idToken.idToken": token["idToken"],
        "idToken.type": token["type"],
    }
    await _evse_request(
        case, options, "Reserved", "ReserveNow", expected, lambda connector: setattr(connector, "reserved", True),
        "csms_reserve_now", id_token=token["idToken"], type=token["type"],
    )


async def _evse_request(
    case: Case,
    options: StateOptions,
    state: str,
    action: str,
    expected: dict[str, Any],
    accept: Callable[[SimulatedConnector], None],
    manual_action: str,
    **params: Any,
) -> None:
    """The shape Unavailable and Reserved share: a Manual Action makes the CSMS send ``action`` for the
    specified EVSE (steps 1-2, validation "<state> step 1"), the OCTT accepts it and changes its connectors,
    then reports each of them (steps 3-4)."""
    targets = _of_evse(station_of(case.link), options)

    def answer(call: Call) -> dict[str, Any]:
        for connector in targets:
            accept(connector)
        return {"status": "Accepted"}

    case.respond(action, answer)
    performed = _manual(case, state, manual_action, evse_id=options.evse_id, **params)
    with case.step(f"{state} 1-2", f"The CSMS sends a {action}Request; the OCTT responds Accepted"):
        request = await case.expect(action, validation=f"{state} step 1")
        case.verify(request, expected, validation=f"{state} step 1")
    with case.step(f"{state} 3-4", "The OCTT notifies the CSMS about the state of the EVSE's connectors"):
        await _notify_each(case, targets)
    await performed


async def get_installed_certificates(case: Case, options: StateOptions) -> None:
    """GetInstalledCertificates: the CSMS asks for the certificates of the specified type; the OCTT answers
    with the hash data of the configured one."""
    certificate = _certificate(options.certificate, "the configured certificate ([tls] ca_certificate)")
    chain = [{"certificateType": options.certificate_type, "certificateHashData": certificate_hash_data(certificate)}]
    case.respond("GetInstalledCertificateIds", {"status": "Accepted", "certificateHashDataChain": chain})
    action = _manual(
        case, "GetInstalledCertificates", "csms_get_installed_certificate_ids", certificate_type=options.certificate_type
    )
    with case.step("GetInstalledCertificates 1-2", "The CSMS sends a GetInstalledCertificateIdsRequest"):
        request = await case.expect("GetInstalledCertificateIds", validation="GetInstalledCertificates step 1")
        case.verify(request, {"certificateType": [options.certificate_type]}, validation="GetInstalledCertificates step 1")
    await action


async def certificate_installed(case: Case, options: StateOptions) -> None:
    """CertificateInstalled: the CSMS installs the configured certificate of the specified type."""
    station = station_of(case.link)
    certificate = _certificate(options.certificate, "the configured certificate ([tls] ca_certificate)")

    def install_certificate(call: Call) -> dict[str, Any]:
        station.installed_certificates[call.payload["certificateType"]] = call.payload["certificate"]
        return {"status": "Accepted"}

    case.respond("InstallCertificate", install_certificate)
    action = _manual(
        case, "CertificateInstalled", "csms_install_certificate",
        certificate_type=options.certificate_type, certificate=certificate,
    )
    with case.step("CertificateInstalled 1-2", "The CSMS sends an InstallCertificateRequest; the OCTT responds Accepted"):
        request = await case.expect("InstallCertificate", validation="CertificateInstalled step 1")
        case.verify(request, {"certificateType": options.certificate_type}, validation="CertificateInstalled step 1")
        case.require(
            same_certificate(request.payload.get("certificate"), certificate),
            "certificate must be the configured certificate of the specified certificateType",
            request,
            validation="CertificateInstalled step 1",
        )
    await action


async def renew_charging_station_certificate(case: Case, options: StateOptions) -> None:
    """Memory State RenewChargingStationCertificate (A02/A03): triggered by the CSMS, the OCTT sends a CSR and
    the CSMS sends back a certificate for its key, signed by the configured CSMS Root certificate."""
    station = station_of(case.link)
    root = _certificate(options.csms_root_certificate, "the configured CSMS Root certificate ([tls] ca_certificate)")
    sign = "SignChargingStationCertificate"
    case.respond(
        "TriggerMessage",
        lambda call: {"status": "Accepted"} if call.payload["requestedMessage"] == sign else station.trigger_message(call.payload),
    )
    case.respond("CertificateSigned", lambda call: station.certificate_signed(call.payload))
    action = _manual(case, "RenewChargingStationCertificate", "csms_trigger_sign_certificate")
    with case.step("RenewChargingStationCertificate 1-2", "The CSMS sends a TriggerMessageRequest; the OCTT responds Accepted"):
        request = await case.expect("TriggerMessage", validation="RenewChargingStationCertificate step 1")
        case.verify(request, {"requestedMessage": sign}, validation="RenewChargingStationCertificate step 1")
    with case.step("RenewChargingStationCertificate 3-4", "The OCTT sends a SignCertificateRequest"):
        payload = {"csr": station.new_csr(), "certificateType": "ChargingStationCertificate"}
        answer = await case.call("SignCertificate", payload)
        case.verify(answer, {"status": "Accepted"}, validation="RenewChargingStationCertificate step 4")
    with case.step("RenewChargingStationCertificate 5-6", "The CSMS sends a CertificateSignedRequest; the OCTT responds"):
        request = await case.expect("CertificateSigned", validation="RenewChargingStationCertificate step 5")
        case.verify(request, {"certificateType": "ChargingStationCertificate"}, validation="RenewChargingStationCertificate step 5")
        problem = station.signed_certificate_problem(request.payload.get("certificateChain", ""), root)
        case.require(
            not problem,
            f"certificateChain must be generated from the CSR of step 3 and signed by the CSMS Root certificate: {problem}",
            request,
            validation="RenewChargingStationCertificate step 5",
        )
    await action


async def iso15118_smart_charging(case: Case, options: StateOptions) -> None:
    """ISO15118SmartCharging (K15): the EV's charging needs, the CSMS's TxProfile for the running transaction,
    the EV's schedule from it, then Charging."""
    transaction = _running(case, options)
    case.respond("SetChargingProfile", {"status": "Accepted"})
    with case.step("ISO15118SmartCharging 1-2", "The OCTT sends a NotifyEVChargingNeedsRequest"):
        needs = {
            "evseId": options.evse_id,
            "maxScheduleTuples": options.max_schedule_tuples,
            "chargingNeeds": options.charging_needs,
        }
        answer = await case.call("NotifyEVChargingNeeds", needs)
        case.verify(answer, {"status": one_of("Accepted", "Processing")}, validation="ISO15118SmartCharging step 2")
    with case.step("ISO15118SmartCharging 3-4", "The CSMS sends a SetChargingProfileRequest; the OCTT responds Accepted"):
        wait = PROCESSING_WAIT_S if answer.payload.get("status") == "Processing" else None
        request = await case.expect("SetChargingProfile", timeout=wait, validation="ISO15118SmartCharging step 3")
        expected = {
            "chargingProfile.chargingProfilePurpose": "TxProfile",
            "chargingProfile.transactionId": transaction.transaction_id,
        }
        case.verify(request, expected, validation="ISO15118SmartCharging step 3")
    with case.step("ISO15118SmartCharging 5-6", "The OCTT sends a NotifyEVChargingScheduleRequest with that schedule"):
        schedule = {
            "timeBase": now(),
            "evseId": options.evse_id,
            "chargingSchedule": request.payload["chargingProfile"]["chargingSchedule"][0],
        }
        answer = await case.call("NotifyEVChargingSchedule", schedule)
        case.verify(answer, {"status": "Accepted"}, validation="ISO15118SmartCharging step 4")
    with case.step("ISO15118SmartCharging 7-8", "The OCTT sends a TransactionEventRequest with chargingState Charging"):
        await _transaction_event(case, transaction, "ChargingStateChanged", "Charging")


def _manual(case: Case, state: str, name: str, **params: Any) -> Awaitable[Any]:
    """The table's "Manual Action" that makes the CSMS send its request, run while the steps wait for it."""
    with case.step(state, f"Manual Action: {name}"):
        return case.manual_in_background(name, identity=case.config.identity, **params)


async def _notify_each(case: Case, connectors: list[SimulatedConnector]) -> None:
    for connector in connectors:
        await notify_connector(case, connector.evse_id, connector.connector_id, connector.status)


def _certificate(pem: str | None, what: str) -> str:
    if not pem:
        raise Inconclusive(f"the state needs {what}, and none is configured")
    return pem


# -- the table ----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class CsmsState:
    """One row of the table in the module docstring."""

    needs: str | None
    reached: Callable[[SimulatedStation, StateOptions], bool]
    play: Callable[[Case, StateOptions], Awaitable[object]]


def _transaction(station: SimulatedStation, options: StateOptions) -> SimulatedTransaction | None:
    return station.transaction_on(options.evse_id)


def _in(charging_state: str, *, stop_authorized: bool = False) -> Callable[[SimulatedStation, StateOptions], bool]:
    def reached(station: SimulatedStation, options: StateOptions) -> bool:
        transaction = _transaction(station, options)
        return (
            transaction is not None
            and transaction.charging_state == charging_state
            and transaction.stop_authorized == stop_authorized
        )

    return reached


def _never(station: SimulatedStation, options: StateOptions) -> bool:
    return False


def _of_evse(station: SimulatedStation, options: StateOptions) -> list[SimulatedConnector]:
    return [c for c in station.connectors.values() if c.evse_id == options.evse_id]


STATES: dict[str, CsmsState] = {
    "Booted": CsmsState(None, lambda station, options: station.accepted, lambda case, options: booted(case)),
    "Authorized": CsmsState(
        None, lambda station, options: getattr(_transaction(station, options), "authorized", False), authorized
    ),
    "EVConnectedPreSession": CsmsState(
        None,
        lambda station, options: station.connector(options.evse_id, options.connector_id).occupied,
        ev_connected_pre_session,
    ),
    "EnergyTransferStarted": CsmsState("Authorized", _in("Charging"), energy_transfer_started),
    "EnergyTransferSuspended": CsmsState("EnergyTransferStarted", _in("SuspendedEV"), energy_transfer_suspended),
    "StopAuthorized": CsmsState(
        "EnergyTransferStarted", lambda station, options: getattr(_transaction(station, options), "stop_authorized", False),
        stop_authorized,
    ),
    "EVConnectedPostSession": CsmsState(
        "StopAuthorized", _in("EVConnected", stop_authorized=True), ev_connected_post_session
    ),
    "EVDisconnected": CsmsState(
        "EVConnectedPostSession",
        lambda station, options: _transaction(station, options) is None
        and not station.connector(options.evse_id, options.connector_id).occupied,
        ev_disconnected,
    ),
    "Unavailable": CsmsState(
        None, lambda station, options: all(not c.operative for c in _of_evse(station, options)), unavailable
    ),
    "Reserved": CsmsState(None, lambda station, options: all(c.reserved for c in _of_evse(station, options)), reserved),
    "GetInstalledCertificates": CsmsState(None, _never, get_installed_certificates),
    "CertificateInstalled": CsmsState(
        None,
        lambda station, options: options.certificate_type in station.installed_certificates,
        certificate_installed,
    ),
    "ISO15118SmartCharging": CsmsState(None, _never, iso15118_smart_charging),
    "RenewChargingStationCertificate": CsmsState(None, _never, renew_charging_station_certificate),
}


async def reach(case: Case, name: str, **options: Any) -> None:
    """Play the Reusable (or Memory) State ``name``, after the state it needs when the simulated station is not
    in it yet. ``options``: see :class:`StateOptions` (evse_id, connector_id, id_token, certificate_type …)."""
    if name not in STATES:
        raise HarnessError(f"no CSMS Reusable State {name!r}; known: {sorted(STATES)}")
    chosen = state_options(case, **options)
    await _reach(case, name, chosen)


async def _reach(case: Case, name: str, options: StateOptions) -> None:
    state = STATES[name]
    if state.needs is not None and not STATES[state.needs].reached(station_of(case.link), options):
        await _reach(case, state.needs, options)
    await state.play(case, options)
