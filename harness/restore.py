"""Part 6 §2.1's general preconditions, reached before the first case and given back after every case.

Before the first case the *prelude* makes sure the link works at all; what goes wrong there is the
configuration's fault, so it is an ERROR that says what to check, never a FAIL of the SUT:

- station under test: the harness says where it listens, waits for the station to connect (handshakes it
  refused are named: wrong identity, wrong password), then for it to boot and be Accepted;
- CSMS under test: the harness connects to the configured URL (nothing listening, HTTP 401 or 404, a TLS
  failure are named), then plays Reusable State Booted.

After every case, pass or fail, the *restore* reads the SUT model (:mod:`harness.sut_model`) and puts back
what the case left out of the general preconditions, one step per departure, in this order (after a case that
did not PASS, a station is first asked to report each connector again: TriggerMessage StatusNotification, since a
SUT that broke a rule may have reported wrongly too):

=========================  ============================================================================
departure                  restore step
=========================  ============================================================================
no open connection         wait for the station to reconnect (it must, Part 4 §5.3)
registration Pending       TriggerMessage BootNotification (F06), else wait the interval; answer Accepted
registration Rejected /    wait for the BootNotification the station resends after the interval, else
not booted                 Manual Action: reboot; answer Accepted
transaction running        RequestStopTransaction (F03) for each; then as below
EV cable plugged in        Manual Action: unplug; wait until every transaction Ended (a Started still
                           due after a plug-in under TxStartPoint EVConnected included) and every
                           connector left Occupied
variable changed           SetVariables with the value it had before the case
EVSE / station Inoperative ChangeAvailability Operative
reservation active         CancelReservation (H02)
=========================  ============================================================================

Both run as a housekeeping "case" attached to the link, so they use the same waits and calls as cases, and
their frames go into the session trace. A restore that does not bring the SUT back makes the following
cases INCONCLUSIVE with the reason (each of them tries the restore again first): a case run on a SUT that
is not at the general preconditions tells nothing about the SUT.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING

from harness.case import SESSION, Case, CaseInfo
from harness.core.frames import CallResult
from harness.roles import ConnectRefused, FakeCsms, FakeStation, SubprotocolBroken
from harness.states.cs import general_preconditions, tx_start_points
from harness.states.csms import subprotocol_failure
from harness.verdicts import HarnessError, Inconclusive, SutFailure, TransportFailure

if TYPE_CHECKING:
    from harness.environment import Environment


async def housekeeping(environment: Environment, title: str, work: Callable[[Case], Awaitable[None]]) -> str | None:
    """Run ``work`` as the session's own "case"; its frames join the session trace. Returns why the SUT is
    not at the general preconditions afterwards (None: it is). A HarnessError propagates: it is the
    configuration's or the harness's fault."""
    case = environment.new_case(CaseInfo(SESSION, title, environment.config.role))
    case.trace.event("housekeeping", title=title)
    try:
        await work(case)
        return None
    except TransportFailure:
        raise
    except (SutFailure, Inconclusive) as failure:
        reason = getattr(failure, "reason", str(failure))
        case.trace.event("housekeeping failed", reason=reason)
        return reason
    finally:
        await environment.end_case()
        environment.link.session.records.extend(case.trace.records)


# -- prelude -------------------------------------------------------------------------------------------


async def station_prelude(case: Case) -> None:
    """Station under test: it connects, boots and is Accepted before the first case."""
    link = case.link
    assert isinstance(link, FakeCsms)
    config = case.config
    url = f"{link.url}/{config.identity}"
    case.trace.event("harness listens", url=url)
    wait = config.timeouts.manual_action
    try:
        await link.wait_for_connection(wait)
    except TimeoutError:
        raise HarnessError(nothing_connected(link, url, wait)) from None
    with case.step("Prelude", "The Charging Station is Accepted (Part 6 §2.1)"):
        await accepted(case, reboot=False)
        await connectors_reported(case)
    # Part 6 §2.1's configuration preconditions, and TxStartPoint the reusable states branch on: read once
    # here, so that no case's own frames depend on which cases ran before it.
    await general_preconditions(case)
    await tx_start_points(case)


def nothing_connected(link: FakeCsms, url: str, waited: float) -> str:
    """What to check when no station connected: the handshakes the harness refused, or nothing at all."""
    if link.rejections:
        refused = "; ".join(f"{r.path} → HTTP {r.status} ({r.reason})" for r in link.rejections[-5:])
        return (
            f"no Charging Station connected as expected within {waited:.0f} s: the harness refused {refused}. "
            f"Check the station's CSMS URL ({url}), its identity ([station] identity) and its Basic auth "
            "password ([station] basic_auth_password)."
        )
    return (
        f"no Charging Station connected to {url} within {waited:.0f} s. Check that the station is powered "
        "and configured with this CSMS URL and identity, and that nothing blocks the port."
    )


async def csms_prelude(case: Case) -> None:
    """CSMS under test: the harness's station connects to the configured URL, then boots."""
    link = case.link
    assert isinstance(link, FakeStation)
    timeout = case.config.timeouts.response
    try:
        await link.connect(timeout)
    except SubprotocolBroken as broken:
        raise subprotocol_failure(broken, case) from None
    except ConnectRefused as refused:
        raise HarnessError(connection_refused(link.station.url, refused)) from None
    except TimeoutError:
        raise HarnessError(
            f"the CSMS at {link.station.url} did not complete the WebSocket handshake within {timeout:.0f} s: "
            "check [csms] url and that the CSMS is running"
        ) from None


def connection_refused(url: str, refused: ConnectRefused) -> str:
    """What a refused handshake means for the configuration."""
    advice = {
        401: "the CSMS refused the Basic auth credentials: check [station] identity and basic_auth_password",
        403: "the CSMS forbids this station: check that [station] identity is registered in the CSMS",
        404: "the CSMS does not know this station identity or path: check [csms] url and [station] identity",
    }.get(refused.status or 0, "check [csms] url, that the CSMS is running, and the [tls] settings for wss://")
    return f"cannot connect to the CSMS at {url} ({refused.reason}): {advice}"


# -- restore -------------------------------------------------------------------------------------------


async def restore_station(case: Case) -> None:
    """Station under test: put back every departure from the general preconditions (table above)."""
    model = case.link.model
    if not model.departures():
        return
    with case.step("Restore", f"Back to the general preconditions: {', '.join(model.departures())}"):
        await accepted(case, reboot=True)
        await idle(case)
        await configuration_back(case)
        await operative(case)
        await reservations_cancelled(case)
    left = [d for d in model.departures() if "changed by the case" not in d]
    if left:
        raise Inconclusive(f"still {', '.join(left)}")


async def connectors_reread(case: Case) -> None:
    """Station under test, after a case that did not PASS: a SUT that broke a rule may also have reported its
    connectors wrongly (or is still acting on the case), so the model is refreshed from the station itself —
    TriggerMessage StatusNotification per configured connector (F06, connectorId set: F06.FR.13) and the
    StatusNotification it sends. A station that rejects the trigger or answers otherwise keeps the model as is."""
    model = case.link.model
    if not model.accepted:
        return
    for evse_id, connectors in sorted(case.config.connectors.items()):
        for connector_id in connectors:
            evse = {"id": evse_id, "connectorId": connector_id}
            answer = await case.call_answer("TriggerMessage", {"requestedMessage": "StatusNotification", "evse": evse})
            if not isinstance(answer, CallResult) or answer.payload.get("status") != "Accepted":
                case.trace.event("restore", note=f"TriggerMessage StatusNotification for {evse_id}/{connector_id} not accepted")
                continue
            try:
                await case.expect("StatusNotification", {"evseId": evse_id, "connectorId": connector_id})
            except SutFailure as silence:
                case.trace.event("restore", note=silence.reason)


async def accepted(case: Case, reboot: bool) -> None:
    """The station is connected and Accepted; when it is not after the protocol's own ways, reboot it."""
    link, model, config = case.link, case.link.model, case.config
    if not model.connected:
        await case.connection(timeout=config.timeouts.message + config.retry_back_off_wait_minimum)
    if model.accepted:
        return
    connection = link.connection.number if link.connection else 0
    if model.registration == "Pending":
        trigger = await case.call_answer("TriggerMessage", {"requestedMessage": "BootNotification"})
        if not isinstance(trigger, CallResult) or trigger.payload.get("status") != "Accepted":
            case.trace.event("restore", note="TriggerMessage BootNotification not accepted; waiting for the interval")
    wait = config.timeouts.message + (model.boot_interval or 0)
    try:
        await case.wait_until(lambda: model.accepted or _registered_silently(case, connection), "an accepted BootNotification", wait)
    except SutFailure:
        if model.registration in (None, "Accepted") and await _already_accepted(case):
            return
        if not reboot:
            raise
        await case.manual("reboot")
        await case.wait_until(lambda: model.accepted and model.connection > connection, "a BootNotification after the reboot", wait)
    if not model.accepted:
        case.trace.event("restore", note="the station sends messages without booting: it considers itself Accepted")
        model.confirm_registration()
        return
    await connectors_reported(case)


async def connectors_reported(case: Case) -> None:
    """After an accepted boot the station reports every connector (B01.FR.05) and sends its startup
    SecurityEventNotification (Reusable State Booted, steps 5 and 7): let them arrive now, not in the
    middle of the next case. A station that does not send them is judged by the cases that check it; here
    it only costs the wait."""
    model = case.link.model
    expected = {(evse, connector) for evse, ids in case.config.connectors.items() for connector in ids}
    try:
        await case.wait_until(
            lambda: expected <= model.reported_since_boot and model.security_event_since_boot,
            "a report of every connector and a SecurityEventNotification after the boot",
        )
    except SutFailure as silence:
        case.trace.event("restore", note=silence.reason)


async def _already_accepted(case: Case) -> bool:
    """A station the harness never saw boot and that stays silent: ask it for a BootNotification
    (TriggerMessage, F06). One that answers Rejected considers itself Accepted already (F06.FR.17); one that
    accepts boots, and the BootNotification is answered Accepted."""
    trigger = await case.call_answer("TriggerMessage", {"requestedMessage": "BootNotification"})
    status = trigger.payload.get("status") if isinstance(trigger, CallResult) else None
    model = case.link.model
    if status == "Rejected":
        case.trace.event("restore", note="TriggerMessage BootNotification Rejected: the station is Accepted already (F06.FR.17)")
        model.confirm_registration()
        return True
    if status == "Accepted":
        await case.wait_until(lambda: model.accepted, "the triggered BootNotification")
        return True
    return False


def _registered_silently(case: Case, connection: int) -> bool:
    """A station that reconnects without a new boot sends other messages at once: it is still registered."""
    return case.link.model.registration in (None, "Accepted") and any(
        r.connection >= connection and r.call.action != "BootNotification" for r in case.received
    )


async def power_cycled(case: Case) -> None:
    """CSMS under test, after a case that did not PASS: the harness's station starts afresh (a new
    connection and BootNotification), so that what the CSMS made of the failed case (a registration it
    holds Pending, a transaction it thinks runs) does not carry over."""
    link = case.link
    if link.connection is not None and not link.connection.closed.is_set():
        case.trace.event("restore", note="the harness's station power-cycles after a case that did not pass")
        await link.connection.close(1001, "power cycle of the simulated station")


async def idle(case: Case) -> None:
    """No transaction and no EV plugged in: stop each transaction remotely, unplug, wait for the reports."""
    model, config = case.link.model, case.config
    for transaction_id in list(model.transactions):
        await case.call_answer("RequestStopTransaction", {"transactionId": transaction_id})
    for evse_id, connector_id in model.occupied():
        await case.manual("unplug", evse_id=evse_id, connector_id=connector_id)
    try:
        await case.wait_until(
            lambda: not model.transactions and not model.occupied() and not model.transaction_due,
            "every transaction Ended, none due, and every connector no longer Occupied",
            config.timeouts.message,
        )
    except SutFailure:
        if model.transactions or model.occupied():
            raise
        # A plug-in that started no transaction is for the E cases to judge; the station is idle.
        evses = ", ".join(str(e) for e in sorted(model.transaction_due))
        case.trace.event("restore", note=f"no TransactionEvent came for EVSE {evses} after its plug-in; the station is idle")
        model.transaction_due.clear()


async def configuration_back(case: Case) -> None:
    """Every variable the case set, back to the value it had (one that was never read stays, with a note)."""
    model = case.link.model
    known = {key: value for key, value in model.changed.items() if value is not None}
    for component, variable in (key for key, value in model.changed.items() if value is None):
        case.trace.event("restore", note=f"{component}.{variable} cannot be put back: its value before the case is unknown")
    if not known:
        return
    data = [{"component": {"name": c}, "variable": {"name": v}, "attributeValue": value} for (c, v), value in known.items()]
    answer = await case.call("SetVariables", {"setVariableData": data})
    refused = [r for r in answer.payload.get("setVariableResult", []) if r.get("attributeStatus") != "Accepted"]
    if refused:
        names = ", ".join(f"{r['component']['name']}.{r['variable']['name']} ({r.get('attributeStatus')})" for r in refused)
        raise Inconclusive(f"the station did not take back the configuration: {names}")
    model.changed.clear()


async def reservations_cancelled(case: Case) -> None:
    """Every reservation the station accepted during the case and still holds, cancelled."""
    for reservation_id in sorted(case.link.model.reservations):
        await case.call_answer("CancelReservation", {"reservationId": reservation_id})


async def operative(case: Case) -> None:
    """Every EVSE (and the station) the case made Inoperative, Operative again."""
    for evse_id in sorted(case.link.model.inoperative):
        payload: dict[str, object] = {"operationalStatus": "Operative"}
        if evse_id:
            payload["evse"] = {"id": evse_id}
        await case.call_answer("ChangeAvailability", payload)
