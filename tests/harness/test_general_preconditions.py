"""Part 6 §2.1 general precondition for a station under test: AuthCtrlr.LocalPreAuthorize is false."""

from __future__ import annotations

import asyncio
import json

import pytest
from websockets.asyncio.client import ClientConnection, connect

from harness.case import Case, CaseInfo
from harness.config import Timeouts, reference_config
from harness.responders import csms_defaults
from harness.roles import Answering, CsmsEndpoint, FakeCsms
from harness.states.cs import general_preconditions
from harness.verdicts import Inconclusive

FAST = Timeouts(response=2.0, message=2.0, manual_action=1.0, silence=0.3)


class NoActions:
    async def perform(self, action: object) -> object:
        raise AssertionError("no manual action expected")


async def answer(ws: ClientConnection, reply: dict) -> list:
    """Read one CALL from the harness and answer it with ``reply``; the CALL for the test to inspect."""
    frame = json.loads(await ws.recv())
    await ws.send(json.dumps([3, frame[1], reply]))
    return frame


def get_result(value: str, status: str = "Accepted") -> dict:
    result = {"attributeStatus": status, "component": {"name": "AuthCtrlr"}, "variable": {"name": "LocalPreAuthorize"}}
    if status == "Accepted":
        result["attributeValue"] = value
    return {"getVariableResult": [result]}


def set_result(status: str) -> dict:
    return {"setVariableResult": [{"attributeStatus": status, "component": {"name": "AuthCtrlr"}, "variable": {"name": "LocalPreAuthorize"}}]}


async def run(station_script) -> tuple[Case, list]:
    config = reference_config("cs", timeouts=FAST)
    csms = FakeCsms(CsmsEndpoint(port=0), Answering(csms_defaults(config)))
    await csms.start()
    case = Case(CaseInfo("TC_X_00_CS", "scripted", "cs"), csms, config, NoActions(), csms_defaults(config))
    csms.attach(case)
    try:
        async with connect(f"{csms.url}/CS001", subprotocols=["ocpp2.0.1"]) as ws:
            script = asyncio.create_task(station_script(ws))
            try:
                await general_preconditions(case)
            finally:
                frames = await asyncio.wait_for(script, 2)
    finally:
        await csms.stop()
    return case, frames


async def test_a_station_that_has_it_false_is_only_asked() -> None:
    async def station(ws: ClientConnection) -> list:
        return [await answer(ws, get_result("false"))]

    case, frames = await run(station)
    assert [f[2] for f in frames] == ["GetVariables"]
    assert case.link.model.variables[("AuthCtrlr", "LocalPreAuthorize")] == "false"


async def test_a_station_that_has_it_true_is_set_to_false() -> None:
    async def station(ws: ClientConnection) -> list:
        return [await answer(ws, get_result("true")), await answer(ws, set_result("Accepted"))]

    case, frames = await run(station)
    assert frames[1][2] == "SetVariables"
    assert frames[1][3]["setVariableData"][0]["attributeValue"] == "false"
    assert case.link.model.variables[("AuthCtrlr", "LocalPreAuthorize")] == "false"
    assert ("AuthCtrlr", "LocalPreAuthorize") not in case.link.model.changed, "a general precondition is not undone"


async def test_a_station_that_refuses_to_set_it_leaves_the_case_inconclusive() -> None:
    async def station(ws: ClientConnection) -> list:
        return [await answer(ws, get_result("true")), await answer(ws, set_result("Rejected"))]

    with pytest.raises(Inconclusive, match="LocalPreAuthorize"):
        await run(station)
