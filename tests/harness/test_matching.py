"""Field expectations as Part 6 "Tool validations" write them."""

from __future__ import annotations

import datetime as dt

import pytest

from harness.matching import (
    ABSENT,
    PRESENT,
    any_item,
    as_data,
    at_least,
    at_most,
    between,
    datetime_after,
    datetime_before,
    datetime_near,
    every_item,
    greater_than,
    less_than,
    lookup,
    mismatches,
    not_,
    one_of,
    parse_date_time,
    schema_defaults,
)

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


# -- list elements -----------------------------------------------------------------------------------------

NOTIFY_EVENT = {
    "generatedAt": "2024-05-01T12:00:00Z",
    "seqNo": 0,
    "eventData": [
        {"eventId": 1, "component": {"name": "EVSE"}, "variable": {"name": "Available"}, "actualValue": "true"},
        {
            "eventId": 2,
            "component": {"name": "Connector", "evse": {"id": 1, "connectorId": 1}},
            "variable": {"name": "AvailabilityState"},
            "actualValue": "Occupied",
        },
    ],
}
CONNECTOR_STATE = {"component.name": "Connector", "variable.name": "AvailabilityState"}


@pytest.mark.parametrize(
    "expected",
    [
        {"eventData": any_item(CONNECTOR_STATE)},
        {"eventData": any_item({"component.evse.id": at_least(1), "actualValue": one_of("Occupied", "Available")})},
        {"eventData": every_item({"eventId": greater_than(0), "variable.name": PRESENT})},
        {"eventData": every_item({"component.instance": ABSENT})},
        {"eventData": not_(any_item({"component.name": "ChargingStation"}))},
        {"eventData": one_of(ABSENT, any_item(CONNECTOR_STATE))},
    ],
)
def test_list_expectations_that_hold(expected: dict[str, object]) -> None:
    assert mismatches(NOTIFY_EVENT, expected) == []


@pytest.mark.parametrize(
    "expected, text",
    [
        (
            {"eventData": any_item({"component.name": "Connector", "actualValue": "Available"})},
            "eventData must have an element with component.name 'Connector' and actualValue 'Available', is [",
        ),
        (
            {"eventData": every_item({"component.name": "Connector"})},
            "eventData must have only elements with component.name 'Connector', is [",
        ),
        ({"reportData": any_item({"component.name": "EVSE"})}, "reportData must have an element with"),
        ({"seqNo": any_item({"eventId": 1})}, "seqNo must have an element with eventId 1, is 0"),
        (
            {"eventData": one_of(ABSENT, any_item({"eventId": at_least(3)}))},
            "eventData must be absent or have an element with eventId ≥ 3, is [",
        ),
        (
            {"eventData": not_(any_item(CONNECTOR_STATE))},
            "eventData must be present and not have an element with component.name 'Connector' and",
        ),
        (
            {"eventData": any_item({"component": any_item({"name": "x"})})},
            "eventData must have an element with component having an element with name 'x', is [",
        ),
    ],
)
def test_list_expectations_that_fail_say_what_and_why(expected: dict[str, object], text: str) -> None:
    [mismatch] = mismatches(NOTIFY_EVENT, expected)
    assert str(mismatch).startswith(text)


def test_an_absent_list_has_no_element_and_no_every_element() -> None:
    assert str(mismatches({}, {"eventData": every_item({"eventId": 1})})[0]).endswith("is absent")
    assert mismatches({"eventData": []}, {"eventData": every_item({"eventId": 1})}) == []
    assert mismatches({"eventData": []}, {"eventData": any_item({"eventId": 1})}) != []


def test_list_expectations_as_data() -> None:
    assert as_data({"eventData": any_item({"component.name": "Connector", "eventId": at_least(1)})}) == {
        "eventData": {
            "op": "any_item",
            "where": {
                "component.name": {"op": "equals", "value": "Connector"},
                "eventId": {"op": "at_least", "value": 1},
            },
        }
    }
    assert as_data({"eventData": every_item({"eventId": PRESENT})})["eventData"] == {
        "op": "every_item",
        "where": {"eventId": {"op": "present"}},
    }


# -- numbers -----------------------------------------------------------------------------------------------

NUMBERS = {"interval": 300, "power": 11.5, "zero": 0, "flag": True, "text": "300"}


@pytest.mark.parametrize(
    "expected",
    [
        {"interval": at_least(300)},
        {"interval": at_most(300.0)},
        {"power": between(11, 11.5)},
        {"zero": greater_than(-1)},
        {"power": less_than(12)},
        {"interval": between(300, 300)},
    ],
)
def test_numeric_comparisons_that_hold(expected: dict[str, object]) -> None:
    assert mismatches(NUMBERS, expected) == []


@pytest.mark.parametrize(
    "expected, text",
    [
        ({"interval": at_least(301)}, "interval must be ≥ 301, is 300"),
        ({"interval": at_most(299)}, "interval must be ≤ 299, is 300"),
        ({"zero": greater_than(0)}, "zero must be > 0, is 0"),
        ({"power": less_than(11.5)}, "power must be < 11.5, is 11.5"),
        ({"power": between(1, 10)}, "power must be between 1 and 10, is 11.5"),
        ({"flag": at_least(0)}, "flag must be ≥ 0, is True"),
        ({"text": at_least(0)}, "text must be ≥ 0, is '300'"),
        ({"missing": at_most(1)}, "missing must be ≤ 1, is absent"),
    ],
)
def test_numeric_comparisons_that_fail_say_what_and_why(expected: dict[str, object], text: str) -> None:
    [mismatch] = mismatches(NUMBERS, expected)
    assert str(mismatch) == text


def test_numeric_bounds_are_numbers() -> None:
    with pytest.raises(TypeError):
        at_least(True)
    with pytest.raises(TypeError):
        less_than("3")
    with pytest.raises(ValueError):
        between(5, 1)


def test_numeric_comparisons_as_data() -> None:
    assert as_data({"a": at_least(1), "b": at_most(2), "c": greater_than(3), "d": less_than(4.5)}) == {
        "a": {"op": "at_least", "value": 1},
        "b": {"op": "at_most", "value": 2},
        "c": {"op": "greater_than", "value": 3},
        "d": {"op": "less_than", "value": 4.5},
    }
    assert between(1, 2).as_data() == {"op": "between", "low": 1, "high": 2}


# -- dateTimes ---------------------------------------------------------------------------------------------

NOON = dt.datetime(2024, 5, 1, 12, 0, 0, tzinfo=dt.timezone.utc)


@pytest.mark.parametrize(
    "value, expectation",
    [
        ("2024-05-01T12:00:04Z", datetime_near(NOON, 5)),
        ("2024-05-01T11:59:55.500Z", datetime_near(NOON, 5)),
        ("2024-05-01T14:00:03+02:00", datetime_near(NOON, 5)),
        ("2024-05-01t12:00:00z", datetime_near(NOON, 0)),
        ("2024-05-01T12:00:01Z", datetime_after(NOON)),
        ("2024-05-01T13:59:59+02:00", datetime_before(NOON)),
    ],
)
def test_datetime_expectations_that_hold(value: str, expectation: object) -> None:
    assert mismatches({"timestamp": value}, {"timestamp": expectation}) == []


@pytest.mark.parametrize(
    "value, expectation, text",
    [
        (
            "2024-05-01T12:00:06Z",
            datetime_near(NOON, 5),
            "timestamp must be a dateTime within 5 s of 2024-05-01T12:00:00Z, is '2024-05-01T12:00:06Z'",
        ),
        ("2024-05-01T12:00:00", datetime_near(NOON, 5), "timestamp must be a dateTime within 5 s of"),
        ("2024-05-01", datetime_near(NOON, 86400), "timestamp must be a dateTime within 86400 s of"),
        ("2024-05-01T12:00:00+0000", datetime_near(NOON, 5), "timestamp must be a dateTime within"),
        ("2024-05-01T12:00:00Z", datetime_after(NOON), "timestamp must be a dateTime after 2024-05-01T12:00:00Z"),
        ("2024-05-01T12:00:00Z", datetime_before(NOON), "timestamp must be a dateTime before 2024-05-01T12:00:00Z"),
        ("2024-05-01T12:00:61Z", datetime_before(NOON), "timestamp must be a dateTime before"),
        (
            1714564800,
            datetime_near(NOON, 5),
            "timestamp must be a dateTime within 5 s of 2024-05-01T12:00:00Z, is 1714564800",
        ),
    ],
)
def test_datetime_expectations_that_fail_say_what_and_why(value: object, expectation: object, text: str) -> None:
    [mismatch] = mismatches({"timestamp": value}, {"timestamp": expectation})
    assert str(mismatch).startswith(text)


def test_datetime_expectations_need_an_aware_moment() -> None:
    with pytest.raises(ValueError):
        datetime_near(NOON.replace(tzinfo=None), 5)
    with pytest.raises(ValueError):
        datetime_after(NOON.replace(tzinfo=None))
    with pytest.raises(ValueError):
        datetime_near(NOON, -1)


def test_datetime_expectations_as_data() -> None:
    assert datetime_near(NOON, 5).as_data() == {
        "op": "datetime_near",
        "moment": "2024-05-01T12:00:00Z",
        "tolerance_s": 5,
    }
    assert datetime_after(NOON).as_data() == {"op": "datetime_after", "moment": "2024-05-01T12:00:00Z"}
    assert datetime_before(NOON).as_data() == {"op": "datetime_before", "moment": "2024-05-01T12:00:00Z"}


def test_parse_date_time_takes_only_ocpp_date_times() -> None:
    assert parse_date_time("2024-05-01T14:00:00+02:00") == NOON
    for text in ("2024-05-01T12:00:00", "2024-05-01", "2024-05-01 12:00:00Z", "２０24-05-01T12:00:00Z", 5, None):
        assert parse_date_time(text) is None


# -- schema defaults ---------------------------------------------------------------------------------------

GET_VARIABLES_DEFAULTS = schema_defaults("GetVariables", "response")
GET_VARIABLES_RESPONSE = {
    "getVariableResult": [
        {"attributeStatus": "Accepted", "component": {"name": "OCPPCommCtrlr"}, "variable": {"name": "X"}},
        {"attributeStatus": "Accepted", "attributeType": "Target", "component": {"name": "C"},
         "variable": {"name": "Y"}},
    ]
}


def test_schema_defaults_walk_definitions_and_lists() -> None:
    assert GET_VARIABLES_DEFAULTS == {"getVariableResult[].attributeType": "Actual"}
    assert schema_defaults("NotifyReport", "request") == {
        "reportData[].variableAttribute[].type": "Actual",
        "reportData[].variableAttribute[].mutability": "ReadWrite",
        "reportData[].variableAttribute[].persistent": False,
        "reportData[].variableAttribute[].constant": False,
        "tbc": False,
    }
    assert schema_defaults("TransactionEvent", "request")["meterValue[].sampledValue[].unitOfMeasure.multiplier"] == 0
    assert schema_defaults("BootNotification", "request") == {}
    with pytest.raises(KeyError):
        schema_defaults("NoSuchAction", "request")


def test_an_absent_field_with_a_schema_default_is_judged_as_the_default() -> None:
    assert lookup(GET_VARIABLES_RESPONSE, "getVariableResult[0].attributeType", GET_VARIABLES_DEFAULTS) == "Actual"
    assert mismatches(
        GET_VARIABLES_RESPONSE, {"getVariableResult[0].attributeType": "Actual"}, defaults=GET_VARIABLES_DEFAULTS
    ) == []
    assert mismatches(
        GET_VARIABLES_RESPONSE,
        {"getVariableResult": any_item({"attributeType": "Actual", "variable.name": "X"})},
        defaults=GET_VARIABLES_DEFAULTS,
    ) == []


def test_without_defaults_or_outside_a_present_object_the_field_stays_absent() -> None:
    path = "getVariableResult[0].attributeType"
    assert mismatches(GET_VARIABLES_RESPONSE, {path: "Actual"}) != []
    assert mismatches(GET_VARIABLES_RESPONSE, {"getVariableResult[0]": any_item({"attributeType": "Actual"})}) != []
    assert lookup(GET_VARIABLES_RESPONSE, "getVariableResult[5].attributeType", GET_VARIABLES_DEFAULTS) != "Actual"
    assert mismatches(GET_VARIABLES_RESPONSE, {"getVariableResult[5].attributeType": "Actual"}, GET_VARIABLES_DEFAULTS)


def test_a_defaulted_field_is_still_absent_from_the_frame() -> None:
    path = "getVariableResult[0].attributeType"
    assert mismatches(GET_VARIABLES_RESPONSE, {path: ABSENT}, GET_VARIABLES_DEFAULTS) == []
    assert mismatches(GET_VARIABLES_RESPONSE, {path: one_of(ABSENT, "Target")}, GET_VARIABLES_DEFAULTS) == []
    [mismatch] = mismatches(GET_VARIABLES_RESPONSE, {path: "Target"}, GET_VARIABLES_DEFAULTS)
    assert str(mismatch) == f"{path} must be 'Target', is absent (so 'Actual' by default)"
    [mismatch] = mismatches(GET_VARIABLES_RESPONSE, {path: PRESENT}, GET_VARIABLES_DEFAULTS)
    assert str(mismatch).startswith(f"{path} must be present, is absent")


def test_defaults_reach_nested_lists() -> None:
    report = {
        "requestId": 1,
        "generatedAt": "2024-05-01T12:00:00Z",
        "seqNo": 0,
        "reportData": [{"component": {"name": "C"}, "variable": {"name": "V"}, "variableAttribute": [{"value": "1"}]}],
    }
    defaults = schema_defaults("NotifyReport", "request")
    expected = {
        "tbc": False,
        "reportData": every_item({"variableAttribute": any_item({"mutability": "ReadWrite", "persistent": False})}),
        "reportData[0].variableAttribute[0].type": "Actual",
    }
    assert mismatches(report, expected, defaults) == []
    assert len(mismatches(report, expected)) == 3


# -- reasons in the table's words --------------------------------------------------------------------------


@pytest.mark.parametrize(
    "payload, expected, text",
    [
        ({"status": "Rejected"}, {"status": one_of("Accepted", "NotImplemented")},
         "status must be 'Accepted' or 'NotImplemented', is 'Rejected'"),
        ({"attributeStatusInfo": {"reasonCode": "X"}}, {"attributeStatusInfo.reasonCode": one_of(ABSENT, "NoError")},
         "attributeStatusInfo.reasonCode must be absent or 'NoError', is 'X'"),
        ({"evse": None}, {"evse": {"id": 1}}, 'evse must be {"id":1}, is null'),
        ({"n": 2.5}, {"n": one_of(1, at_least(3))}, "n must be 1 or ≥ 3, is 2.5"),
    ],
)
def test_reasons_read_like_the_table(payload: dict[str, object], expected: dict[str, object], text: str) -> None:
    [mismatch] = mismatches(payload, expected)
    assert str(mismatch) == text
    assert "_" not in mismatch.expected and "(" not in mismatch.expected


def test_long_values_are_cut_in_reasons() -> None:
    [mismatch] = mismatches({"data": ["x" * 50] * 20}, {"data": any_item({"a": 1})})
    assert len(str(mismatch)) < 300 and str(mismatch).endswith("…")


def test_conditions_inside_an_element_read_as_one_phrase() -> None:
    expected = {"eventData": any_item({"eventId": one_of(ABSENT, any_item({"a": 1})), "seqNo": not_(at_most(0))})}
    [mismatch] = mismatches(NOTIFY_EVENT, expected)
    assert str(mismatch).startswith(
        "eventData must have an element with eventId absent or having an element with a 1"
        " and seqNo present and not ≤ 0, is ["
    )
