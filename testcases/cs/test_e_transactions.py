"""Part 6 §2.6 E Transactions — Charging Station under test."""

from __future__ import annotations

import datetime as dt

from harness.case import Case
from harness.core.frames import Call
from harness.matching import PRESENT
from harness.roles import FakeCsms
from harness.states import cs as states
from harness.testcase import testcase
from harness.verdicts import HarnessError


@testcase("TC_E_03_CS")
async def test_tc_e_03_cs(case: Case) -> None:
    with case.step("Before", "Configuration State: AuthCtrlr.Enabled true, AuthCtrlr.DisableRemoteAuthorization false"):
        await states.configure(case, [("AuthCtrlr", "Enabled", "true")], if_implemented=True, if_read_write=True)
        await states.configure(case, [("AuthCtrlr", "DisableRemoteAuthorization", "false")], if_implemented=True)
    with case.step("Before", "Reusable State EVConnectedPreSession"):
        await states.reach(case, "EVConnectedPreSession")
    with case.step("1", "Execute Reusable State Authorized (local)"):
        await states.reach(case, "Authorized", authorization="local")
    with case.step("2", "Execute Reusable State EnergyTransferStarted"):
        await states.reach(case, "EnergyTransferStarted")


@testcase("TC_E_40_CS")
async def test_tc_e_40_cs(case: Case) -> None:
    link = case.link
    if not isinstance(link, FakeCsms):
        raise HarnessError("TC_E_40_CS needs the harness in the CSMS role")
    back_off = case.config.retry_back_off_wait_minimum
    with case.step("Before", "Configuration State: sampled meter values while charging, reconnection back-off"):
        await states.configure(
            case,
            [
                ("SampledDataCtrlr", "TxUpdatedMeasurands", case.config.tx_updated_measurands),
                ("SampledDataCtrlr", "TxUpdatedInterval", str(case.config.tx_updated_interval)),
                ("SampledDataCtrlr", "Enabled", "true"),
                ("OCPPCommCtrlr", "OfflineThreshold", str(back_off + 60)),
                ("OCPPCommCtrlr", "RetryBackOffWaitMinimum", str(back_off)),
                ("OCPPCommCtrlr", "RetryBackOffRandomRange", "0"),
            ],
        )
    with case.step("Before", "Reusable State EnergyTransferStarted"):
        await states.reach(case, "EnergyTransferStarted", authorization="local")
    with case.step("1-2", "The OCTT closes the WebSocket and refuses reconnection for RetryBackOffWaitMinimum"):
        link.refuse_connections_for(back_off)
        lost = await case.drop_connection()
        offline_since = utc_now()
        reconnected = await case.connection(timeout=back_off + case.config.timeouts.message, newer_than=lost.number)
        back_online = utc_now()
    with case.step(
        "3-4", "The Charging Station empties its queue of TransactionEventRequests", "E11.FR.01", "E11.FR.02", "E11.FR.06"
    ):
        queued = await queued_transaction_events(case, reconnected.number, offline_since, back_online)
        for event in queued:
            case.verify(event, {"eventType": "Updated", "meterValue": PRESENT, "offline": True}, validation="step 3")


async def queued_transaction_events(
    case: Case, connection: int, offline_since: dt.datetime, back_online: dt.datetime
) -> list[Call]:
    """The TransactionEvents sent on the new connection that the station generated while offline.

    The station's timestamps tell them apart from events generated before the connection loss (a message
    in flight may be resent, rightly without ``offline``) and from live ones; events within the date-time
    tolerance of either moment are not classed (not checked). The queue is known to be empty once a live
    event arrives.
    """
    tolerance = dt.timedelta(seconds=case.config.timeouts.time_tolerance)
    await case.expect_series(
        "TransactionEvent",
        lambda _: any(generated(e) > back_online + tolerance for e in events_on(case, connection)),
    )
    queued = [
        e for e in events_on(case, connection) if offline_since + tolerance < generated(e) < back_online - tolerance
    ]
    case.require(
        bool(queued), "no TransactionEventRequest generated while offline arrived after the reconnection", validation="step 3"
    )
    return queued


def events_on(case: Case, connection: int) -> list[Call]:
    return [r.call for r in case.received if r.call.action == "TransactionEvent" and r.connection == connection]


def generated(event: Call) -> dt.datetime:
    return dt.datetime.fromisoformat(event.payload["timestamp"].replace("Z", "+00:00"))


def utc_now() -> dt.datetime:
    return dt.datetime.now(dt.timezone.utc)
