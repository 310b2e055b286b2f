"""Field expectations as Part 6 "Tool validations" write them."""

from __future__ import annotations

import pytest

from harness.matching import ABSENT, PRESENT, lookup, mismatches, not_, one_of

PAYLOAD = {
    "status": "Accepted",
    "evse": {"id": 1},
    "setVariableResult": [{"attributeStatus": "Accepted", "component": {"name": "OCPPCommCtrlr"}}],
    "offline": True,
}


@pytest.mark.parametrize(
    "path, value",
    [("status", "Accepted"), ("evse.id", 1), ("setVariableResult[0].component.name", "OCPPCommCtrlr")],
)
def test_lookup_follows_dots_and_indices(path: str, value: object) -> None:
    assert lookup(PAYLOAD, path) == value


@pytest.mark.parametrize(
    "expected",
    [
        {"status": "Accepted"},
        {"status": one_of("Rejected", "Accepted")},
        {"evse.id": not_(0)},
        {"offline": True},
        {"idToken": ABSENT},
        {"setVariableResult[0].attributeStatus": PRESENT},
        {"setVariableResult[0].attributeStatusInfo.reasonCode": one_of(ABSENT, "NoError")},
    ],
)
def test_expectations_that_hold(expected: dict[str, object]) -> None:
    assert mismatches(PAYLOAD, expected) == []


@pytest.mark.parametrize(
    "expected, text",
    [
        ({"status": "Rejected"}, "status must be 'Rejected', is 'Accepted'"),
        ({"evse.id": True}, "evse.id must be True, is 1"),
        ({"offline": 1}, "offline must be 1, is True"),
        ({"evse.id": not_(1)}, "evse.id must be present and not 1, is 1"),
        ({"evse.connectorId": not_(0)}, "evse.connectorId must be present and not 0, is absent"),
        ({"status": ABSENT}, "status must be absent, is 'Accepted'"),
        ({"setVariableResult[1].attributeStatus": PRESENT}, "setVariableResult[1].attributeStatus must be present"),
    ],
)
def test_expectations_that_fail_say_what_and_why(expected: dict[str, object], text: str) -> None:
    [mismatch] = mismatches(PAYLOAD, expected)
    assert str(mismatch).startswith(text)
