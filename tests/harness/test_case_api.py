"""The case API against a scripted Charging Station: verdicts for good and bad SUT behaviour, never a hang."""

from __future__ import annotations

import asyncio
import json
from typing import AsyncIterator

import pytest
from websockets.asyncio.client import ClientConnection, connect

from harness.actions import ActionResult
from harness.case import Case, CaseInfo
from harness.config import Timeouts, reference_config
from harness.responders import csms_defaults
from harness.roles import Answering, CsmsEndpoint, FakeCsms
from harness.states import cs as cs_states
from harness.verdicts import HarnessError, SutFailure, SutTimeout

BOOT = {"reason": "PowerUp", "chargingStation": {"model": "M", "vendorName": "V"}}
FAST = Timeouts(response=1.0, message=1.0, manual_action=1.0, silence=0.3)


class NoActions:
    async def perform(self, action: object) -> ActionResult:
        return ActionResult()


@pytest.fixture
async def fake_csms() -> AsyncIterator[FakeCsms]:
    config = reference_config("cs", timeouts=FAST)
    csms = FakeCsms(CsmsEndpoint(port=0), Answering(csms_defaults(config)))
    await csms.start()
    yield csms
    await csms.stop()


@pytest.fixture
def case(fake_csms: FakeCsms) -> Case:
    config = reference_config("cs", timeouts=FAST)
    running = Case(CaseInfo("TC_X_00_CS", "scripted", "cs"), fake_csms, config, NoActions(), csms_defaults(config))
    fake_csms.attach(running)
    return running


async def station(csms: FakeCsms, subprotocols: list[str] | None = None) -> ClientConnection:
    return await connect(f"{csms.url}/CS001", subprotocols=subprotocols or ["ocpp2.0.1"])


async def test_expect_returns_the_call_and_answers_it(fake_csms: FakeCsms, case: Case) -> None:
    async with await station(fake_csms) as ws:
        await ws.send(json.dumps([2, "1", "BootNotification", BOOT]))
        boot = await case.expect("BootNotification")
        answer = json.loads(await ws.recv())
    assert boot.payload == BOOT
    assert answer[0] == 3 and answer[1] == "1" and answer[2]["status"] == "Accepted"


async def test_expects_are_ordered_a_message_sent_too_early_fails(fake_csms: FakeCsms, case: Case) -> None:
    """Part 6 steps are ordered: a station that sends step 2's message before step 1's FAILs at step 2."""
    async with await station(fake_csms) as ws:
        await ws.send(json.dumps([2, "1", "Heartbeat", {}]))
        await ws.recv()
        await ws.send(json.dumps([2, "2", "BootNotification", BOOT]))
        await case.expect("BootNotification")
        with pytest.raises(SutTimeout) as failure:
            await case.expect("Heartbeat")
    assert "came earlier" in failure.value.reason


async def test_an_any_order_group_takes_its_messages_in_any_order(fake_csms: FakeCsms, case: Case) -> None:
    """Part 6 §2.1: after plug-in the connector status and queued TransactionEvents may come in any order."""
    async with await station(fake_csms) as ws:
        await ws.send(json.dumps([2, "1", "Heartbeat", {}]))
        await ws.recv()
        await ws.send(json.dumps([2, "2", "BootNotification", BOOT]))
        boot, heartbeat = await case.expect_in_any_order([[("BootNotification", {})], [("Heartbeat", {})]])
    assert (boot.action, heartbeat.action) == ("BootNotification", "Heartbeat")


async def test_expect_newer_than_skips_messages_of_an_older_connection(fake_csms: FakeCsms, case: Case) -> None:
    """After a reboot the boot that counts is the one on the new connection, not a leftover retry."""
    async with await station(fake_csms) as old:
        await old.send(json.dumps([2, "1", "BootNotification", BOOT]))
        await old.recv()
    async with await station(fake_csms) as new:
        await new.send(json.dumps([2, "2", "BootNotification", {**BOOT, "reason": "RemoteReset"}]))
        boot = await case.expect("BootNotification", newer_than=1)
    assert boot.payload["reason"] == "RemoteReset"


async def test_silent_sut_gives_a_timeout_fail_naming_the_step(fake_csms: FakeCsms, case: Case) -> None:
    async with await station(fake_csms):
        started = case.clock()
        with case.step("3", "The Charging Station sends a BootNotificationRequest", "B01.FR.01"):
            with pytest.raises(SutTimeout) as failure:
                await case.expect("BootNotification")
        waited = case.clock() - started
    assert "step 3" in str(failure.value) and "B01.FR.01" in str(failure.value)
    assert FAST.message <= waited < FAST.message + 0.5


@pytest.mark.parametrize(
    "text, quoted",
    [
        ("garbage that is not JSON", "not valid JSON"),
        ('{"not": "an array"}', "non-empty JSON array"),
        (json.dumps([3, "no-such-call", {}]), "answers no CALL"),
        (json.dumps([2, "1", "BootNotification", {"reason": "Nope"}]), "schema"),
        (json.dumps([2, "1", "NoSuchAction", {}]), "not an OCPP 2.0.1 action"),
        ('[2,"\\ud800","Heartbeat",{}]', "lone surrogate"),
        ('[2,"1","Heartbeat",{"n":1E310}]', "out of range"),
    ],
)
async def test_bad_frames_fail_the_case_with_the_frame_quoted(
    fake_csms: FakeCsms, case: Case, text: str, quoted: str
) -> None:
    async with await station(fake_csms) as ws:
        await ws.send(text)
        with pytest.raises(SutFailure) as failure:
            await case.expect("BootNotification")
    assert quoted in failure.value.reason
    assert failure.value.frame == text
    [record] = [r for r in case.trace.records if r.get("raw") == text]
    assert record["direction"] == "cs-to-csms" and (record.get("problems") or record.get("violations"))
    assert [json.loads(line) for line in case.trace.to_jsonl().splitlines()], "the trace stays valid JSON lines"


async def test_closed_socket_mid_call_is_a_fail_not_a_hang(fake_csms: FakeCsms, case: Case) -> None:
    ws = await station(fake_csms)
    await case.connection()

    async def close_soon() -> None:
        await ws.recv()
        await ws.close()

    closer = asyncio.create_task(close_soon())
    with pytest.raises(SutFailure, match="closed"):
        await case.call("GetVariables", {"getVariableData": [{"component": {"name": "X"}, "variable": {"name": "Y"}}]})
    await closer


async def test_expect_none_fails_when_the_message_comes(fake_csms: FakeCsms, case: Case) -> None:
    async with await station(fake_csms) as ws:
        await case.connection()
        await ws.send(json.dumps([2, "1", "Heartbeat", {}]))
        with pytest.raises(SutFailure, match="must not"):
            await case.expect_none("Heartbeat")


async def test_verify_names_every_mismatch(fake_csms: FakeCsms, case: Case) -> None:
    async with await station(fake_csms) as ws:
        await ws.send(json.dumps([2, "1", "BootNotification", BOOT]))
        boot = await case.expect("BootNotification")
    with pytest.raises(SutFailure) as failure:
        case.verify(boot, {"reason": "Triggered", "chargingStation.model": "M", "chargingStation.serialNumber": "S"})
    assert "reason must be 'Triggered'" in failure.value.reason
    assert "serialNumber must be 'S', is absent" in failure.value.reason
    assert failure.value.frame == json.dumps([2, "1", "BootNotification", BOOT])


async def test_an_invalid_harness_payload_is_an_error_not_a_fail(fake_csms: FakeCsms, case: Case) -> None:
    async with await station(fake_csms):
        with pytest.raises(HarnessError):
            await case.call("Reset", {"type": "Sometime"})


async def test_a_responder_bug_is_an_error(fake_csms: FakeCsms, case: Case) -> None:
    case.respond("Heartbeat", lambda call: {"currentTime": 42})
    async with await station(fake_csms) as ws:
        await ws.send(json.dumps([2, "1", "Heartbeat", {}]))
        answer = json.loads(await ws.recv())
        with pytest.raises(HarnessError):
            await case.expect("Heartbeat")
    assert answer[2] == "InternalError"


async def test_station_without_subprotocol_is_closed(fake_csms: FakeCsms) -> None:
    async with await connect(f"{fake_csms.url}/CS001") as ws:
        assert ws.subprotocol is None
        await ws.wait_closed()
    assert fake_csms.rejections[-1].reason.startswith("no ocpp2.0.1")


async def test_unknown_identity_gets_404(fake_csms: FakeCsms) -> None:
    from websockets.exceptions import InvalidStatus

    with pytest.raises(InvalidStatus) as refused:
        await connect(f"{fake_csms.url}/CS999", subprotocols=["ocpp2.0.1"])
    assert refused.value.response.status_code == 404


async def test_a_manual_action_the_configuration_cannot_do_is_inconclusive(fake_csms: FakeCsms) -> None:
    from harness.actions import ActionUnavailable
    from harness.verdicts import Inconclusive

    class Unable:
        async def perform(self, action: object) -> ActionResult:
            raise ActionUnavailable("no hook is configured for the manual action 'reboot'")

    config = reference_config("cs", timeouts=FAST)
    running = Case(CaseInfo("TC_X_00_CS", "scripted", "cs"), fake_csms, config, Unable(), csms_defaults(config))
    with pytest.raises(Inconclusive, match="no hook"):
        await running.manual("reboot")


async def test_a_background_action_that_cannot_be_done_is_inconclusive_at_once(fake_csms: FakeCsms) -> None:
    from harness.actions import ActionUnavailable
    from harness.verdicts import Inconclusive

    class Unable:
        async def perform(self, action: object) -> ActionResult:
            raise ActionUnavailable("no hook is configured for the manual action 'csms_get_variables'")

    config = reference_config("cs", timeouts=Timeouts(response=1.0, message=30.0, manual_action=1.0, silence=0.3))
    running = Case(CaseInfo("TC_X_00_CS", "scripted", "cs"), fake_csms, config, Unable(), csms_defaults(config))
    fake_csms.attach(running)
    started = running.clock()
    running.manual_in_background("csms_get_variables", identity="CS001", component="C", variable="V")
    with pytest.raises(Inconclusive, match="no hook"):
        await running.expect("GetVariables")
    assert running.clock() - started < 1.0


async def test_a_series_ends_when_complete(fake_csms: FakeCsms, case: Case) -> None:
    async with await station(fake_csms) as ws:
        for number, tbc in enumerate([True, True, False]):
            report = {"requestId": 1, "generatedAt": "2024-01-01T00:00:00Z", "seqNo": number, "tbc": tbc}
            await ws.send(json.dumps([2, str(number), "NotifyReport", report]))
            await ws.recv()
        reports = await case.expect_series("NotifyReport", lambda calls: not calls[-1].payload["tbc"])
    assert [r.payload["seqNo"] for r in reports] == [0, 1, 2]


async def test_a_sut_that_never_completes_a_series_cannot_hold_the_case(fake_csms: FakeCsms, case: Case) -> None:
    async def flood(ws: ClientConnection) -> None:
        for number in range(10_000):
            report = {"requestId": 1, "generatedAt": "2024-01-01T00:00:00Z", "seqNo": number, "tbc": True}
            await ws.send(json.dumps([2, str(number), "NotifyReport", report]))
            await ws.recv()

    async with await station(fake_csms) as ws:
        sender = asyncio.create_task(flood(ws))
        started = case.clock()
        with pytest.raises(SutTimeout, match="series was not complete"):
            await case.expect_series("NotifyReport", lambda calls: not calls[-1].payload["tbc"], timeout=0.5)
        assert case.clock() - started < 1.5
        sender.cancel()


async def test_a_notify_event_reporting_the_connector_in_any_element_is_recognised(fake_csms: FakeCsms, case: Case) -> None:
    """Part 6 writes eventData[0], but a NotifyEventRequest may carry the connector's AvailabilityState in
    any element of eventData (here the second, after the EVSE's)."""
    evse = {"eventId": 1, "timestamp": "2024-05-01T12:00:00Z", "trigger": "Delta", "actualValue": "Available",
            "eventNotificationType": "HardWiredNotification", "component": {"name": "EVSE", "evse": {"id": 1}},
            "variable": {"name": "AvailabilityState"}}
    connector = {**evse, "eventId": 2, "component": {"name": "Connector", "evse": {"id": 1, "connectorId": 1}}}
    event = {"generatedAt": "2024-05-01T12:00:00Z", "seqNo": 0, "eventData": [evse, connector]}
    async with await station(fake_csms) as ws:
        await ws.send(json.dumps([2, "1", "NotifyEvent", event]))
        [report] = await cs_states.all_connectors_report(case, "Available", validation="")
    assert report.payload == event


async def test_an_absent_field_is_judged_as_its_schema_default(fake_csms: FakeCsms, case: Case) -> None:
    """GetVariableResult.attributeType defaults to Actual: a station that leaves it out is not wrong."""
    request = {"getVariableData": [{"component": {"name": "OCPPCommCtrlr"}, "variable": {"name": "OfflineThreshold"}, "attributeType": "Actual"}]}
    async with await station(fake_csms) as ws:

        async def answer() -> None:
            call = json.loads(await ws.recv())
            result = {"attributeStatus": "Accepted", "attributeValue": "300", **{k: v for k, v in request["getVariableData"][0].items() if k != "attributeType"}}
            await ws.send(json.dumps([3, call[1], {"getVariableResult": [result]}]))

        answering = asyncio.create_task(answer())
        result = await case.call("GetVariables", request)
        await answering
    case.verify(result, {"getVariableResult[0].attributeType": "Actual"})
    assert "attributeType" not in result.payload["getVariableResult"][0]
    with pytest.raises(SutFailure, match="by default"):
        case.verify(result, {"getVariableResult[0].attributeType": "Target"})
