"""Schema validation of OCPP 2.0.1 payloads (harness.core.schemas): verdicts, violation lists, speed."""

from __future__ import annotations

import copy
import random
import time

import jsonschema
import pytest

from harness.core.frames import RpcErrorCode
from harness.core.schemas import Kind, SchemaSet, SchemaViolation, ocpp201

BOOT = {
    "reason": "PowerUp",
    "chargingStation": {"model": "SingleSocketCharger", "vendorName": "VendorX"},
}
BOOT_FULL = {
    "reason": "PowerUp",
    "chargingStation": {
        "serialNumber": "SN-0001",
        "model": "SingleSocketCharger",
        "vendorName": "VendorX",
        "firmwareVersion": "1.2.3",
        "modem": {"iccid": "8931440400012345678", "imsi": "204043123456789"},
        "customData": {"vendorId": "VendorX", "anything": [1, {"deep": True}]},
    },
}
BOOT_RESPONSE = {"currentTime": "2013-02-01T20:53:32.486Z", "interval": 300, "status": "Accepted"}


def transaction_event(seq: int) -> dict:
    """A realistic TransactionEventRequest (Updated, periodic meter values, three phases)."""
    stamp = f"2024-05-06T12:{seq // 60 % 60:02d}:{seq % 60:02d}.{seq % 1000:03d}Z"
    return {
        "eventType": "Updated",
        "timestamp": stamp,
        "triggerReason": "MeterValuePeriodic",
        "seqNo": seq,
        "offline": False,
        "numberOfPhasesUsed": 3,
        "transactionInfo": {
            "transactionId": f"tx-{seq // 100:08d}",
            "chargingState": "Charging",
            "timeSpentCharging": seq * 10,
        },
        "evse": {"id": 1, "connectorId": 1},
        "idToken": {"idToken": "04A1B2C3D4E5F6", "type": "ISO14443"},
        "meterValue": [
            {
                "timestamp": stamp,
                "sampledValue": [
                    {
                        "value": 1234.5 + seq,
                        "context": "Sample.Periodic",
                        "measurand": "Energy.Active.Import.Register",
                        "unitOfMeasure": {"unit": "Wh", "multiplier": 0},
                    },
                    *(
                        {
                            "value": 16.0 + i,
                            "context": "Sample.Periodic",
                            "measurand": "Current.Import",
                            "phase": phase,
                            "unitOfMeasure": {"unit": "A"},
                        }
                        for i, phase in enumerate(("L1", "L2", "L3"))
                    ),
                    {"value": 230.1, "measurand": "Voltage", "phase": "L1-N", "location": "Outlet"},
                    {"value": 11040, "measurand": "Power.Active.Import"},
                    {"value": 63, "measurand": "SoC", "location": "EV"},
                ],
            }
        ],
    }


@pytest.fixture(scope="module")
def schemas() -> SchemaSet:
    return ocpp201()


def keyed(violations: list[SchemaViolation]) -> set[tuple[str, str]]:
    return {(v.path, v.keyword) for v in violations}


def reference_errors(schemas: SchemaSet, action: str, kind: Kind, payload) -> list:
    validator = jsonschema.Draft6Validator(
        schemas.schema(action, kind), format_checker=jsonschema.Draft6Validator.FORMAT_CHECKER
    )
    return list(validator.iter_errors(payload))


# -- the schema set ----------------------------------------------------------------------------------


def test_there_are_64_actions_each_with_request_and_response(schemas):
    assert len(schemas.actions) == 64
    for action in schemas.actions:
        assert not action.endswith("Request") and not action.endswith("Response")
        for kind in Kind:
            schema = schemas.schema(action, kind)
            assert schema["$schema"] == "http://json-schema.org/draft-06/schema#"
            assert schema["$id"].endswith(f"{action}{kind.value}")


@pytest.mark.parametrize(
    "action",
    ["BootNotification", "Heartbeat", "TransactionEvent", "RequestStartTransaction", "Get15118EVCertificate", "DataTransfer"],
)
def test_known_actions(schemas, action):
    assert action in schemas.actions


@pytest.mark.parametrize("action", ["BootNotificationRequest", "StartTransaction", "heartbeat", "", "Foo"])
def test_unknown_action_has_no_schema(schemas, action):
    assert action not in schemas.actions
    with pytest.raises(KeyError):
        schemas.schema(action, Kind.REQUEST)


def test_ocpp201_is_loaded_once():
    assert ocpp201() is ocpp201()


@pytest.mark.parametrize(
    "action,kind,payload",
    [
        ("BootNotification", Kind.REQUEST, BOOT),
        ("BootNotification", Kind.REQUEST, BOOT_FULL),
        ("BootNotification", Kind.RESPONSE, BOOT_RESPONSE),
        ("BootNotification", Kind.RESPONSE, {**BOOT_RESPONSE, "currentTime": "2024-01-01T00:00:00+01:00"}),
        ("Heartbeat", Kind.REQUEST, {}),
        ("Heartbeat", Kind.RESPONSE, {"currentTime": "2024-05-06T10:00:00Z"}),
        ("TransactionEvent", Kind.REQUEST, transaction_event(7)),
        ("TransactionEvent", Kind.RESPONSE, {}),
        ("StatusNotification", Kind.REQUEST, {"timestamp": "2024-05-06T10:00:00Z", "connectorStatus": "Available", "evseId": 1, "connectorId": 1}),
        ("SetVariables", Kind.RESPONSE, {"setVariableResult": [{"attributeStatus": "Accepted", "component": {"name": "OCPPCommCtrlr"}, "variable": {"name": "HeartbeatInterval"}}]}),
    ],
    ids=lambda v: v if isinstance(v, str) else None,
)
def test_valid_payloads_pass(schemas, action, kind, payload):
    assert schemas.validate(action, kind, payload) == []
    assert reference_errors(schemas, action, kind, payload) == []


# -- single violations: keyword, path, error code ----------------------------------------------------


def boot_with(**changes) -> dict:
    payload = copy.deepcopy(BOOT)
    for dotted, value in changes.items():
        *parents, leaf = dotted.split("__")
        target = payload
        for part in parents:
            target = target[part]
        if value is DELETE:
            del target[leaf]
        else:
            target[leaf] = value
    return payload


DELETE = object()


@pytest.mark.parametrize(
    "payload,path,keyword,code",
    [
        (boot_with(reason="Booted"), "/reason", "enum", RpcErrorCode.PropertyConstraintViolation),
        (boot_with(reason="powerup"), "/reason", "enum", RpcErrorCode.PropertyConstraintViolation),
        (boot_with(reason=DELETE), "", "required", RpcErrorCode.OccurrenceConstraintViolation),
        (boot_with(chargingStation__model=DELETE), "/chargingStation", "required", RpcErrorCode.OccurrenceConstraintViolation),
        (boot_with(extra=1), "", "additionalProperties", RpcErrorCode.FormatViolation),
        (boot_with(chargingStation__colour="red"), "/chargingStation", "additionalProperties", RpcErrorCode.FormatViolation),
        (boot_with(chargingStation__model="M" * 21), "/chargingStation/model", "maxLength", RpcErrorCode.PropertyConstraintViolation),
        (boot_with(chargingStation__vendorName="V" * 51), "/chargingStation/vendorName", "maxLength", RpcErrorCode.PropertyConstraintViolation),
        (boot_with(chargingStation__model=12), "/chargingStation/model", "type", RpcErrorCode.TypeConstraintViolation),
        (boot_with(chargingStation="VendorX"), "/chargingStation", "type", RpcErrorCode.TypeConstraintViolation),
        (boot_with(chargingStation__customData={}), "/chargingStation/customData", "required", RpcErrorCode.OccurrenceConstraintViolation),
        (boot_with(chargingStation__customData={"vendorId": 5}), "/chargingStation/customData/vendorId", "type", RpcErrorCode.TypeConstraintViolation),
    ],
)
def test_single_violation_has_path_keyword_and_error_code(schemas, payload, path, keyword, code):
    violations = schemas.validate("BootNotification", Kind.REQUEST, payload)
    assert keyed(violations) == {(path, keyword)}
    (violation,) = violations
    assert violation.error_code is code
    assert violation.message
    assert str(violation) == f"{path or '/'}: {violation.message} [{keyword}]"


def test_model_of_exactly_max_length_passes(schemas):
    assert schemas.validate("BootNotification", Kind.REQUEST, boot_with(chargingStation__model="M" * 20)) == []


@pytest.mark.parametrize(
    "keyword,code",
    [
        ("required", RpcErrorCode.OccurrenceConstraintViolation),
        ("minItems", RpcErrorCode.OccurrenceConstraintViolation),
        ("maxItems", RpcErrorCode.OccurrenceConstraintViolation),
        ("type", RpcErrorCode.TypeConstraintViolation),
        ("enum", RpcErrorCode.PropertyConstraintViolation),
        ("maxLength", RpcErrorCode.PropertyConstraintViolation),
        ("minLength", RpcErrorCode.PropertyConstraintViolation),
        ("minimum", RpcErrorCode.PropertyConstraintViolation),
        ("maximum", RpcErrorCode.PropertyConstraintViolation),
        ("format", RpcErrorCode.FormatViolation),
        ("additionalProperties", RpcErrorCode.FormatViolation),
        ("somethingElse", RpcErrorCode.FormatViolation),
        ("schema", RpcErrorCode.FormatViolation),
    ],
)
def test_error_code_mapping(keyword, code):
    assert SchemaViolation("/x", keyword, "m").error_code is code


@pytest.mark.parametrize(
    "action,kind,payload,path,keyword",
    [
        ("TransactionEvent", Kind.REQUEST, {**transaction_event(1), "meterValue": []}, "/meterValue", "minItems"),
        ("SetVariables", Kind.REQUEST, {"setVariableData": []}, "/setVariableData", "minItems"),
        ("Heartbeat", Kind.REQUEST, None, "", "type"),
        ("Heartbeat", Kind.REQUEST, [], "", "type"),
        ("Heartbeat", Kind.REQUEST, {"foo": 1}, "", "additionalProperties"),
    ],
)
def test_other_keywords_are_reported(schemas, action, kind, payload, path, keyword):
    assert (path, keyword) in keyed(schemas.validate(action, kind, payload))


def test_numeric_and_length_bounds_of_a_custom_schema_set():
    schema = {
        "$schema": "http://json-schema.org/draft-06/schema#",
        "type": "object",
        "additionalProperties": False,
        "properties": {
            "level": {"type": "integer", "minimum": 0, "maximum": 10},
            "code": {"type": "string", "minLength": 2},
            "items": {"type": "array", "maxItems": 1},
        },
        "required": ["level"],
    }
    custom = SchemaSet({"ProbeRequest": schema, "ProbeResponse": {"type": "object"}})
    assert custom.actions == frozenset({"Probe"})
    assert custom.validate("Probe", Kind.REQUEST, {"level": 0, "code": "ab", "items": [1]}) == []
    violations = custom.validate("Probe", Kind.REQUEST, {"level": 11, "code": "a", "items": [1, 2]})
    assert {(v.path, v.keyword, v.error_code) for v in violations} == {
        ("/level", "maximum", RpcErrorCode.PropertyConstraintViolation),
        ("/code", "minLength", RpcErrorCode.PropertyConstraintViolation),
        ("/items", "maxItems", RpcErrorCode.OccurrenceConstraintViolation),
    }
    assert keyed(custom.validate("Probe", Kind.REQUEST, {"level": -1})) == {("/level", "minimum")}


# -- date-time format --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "stamp",
    [
        "2013-02-01T20:53:32.486Z",
        "2024-01-01T00:00:00Z",
        "2024-01-01T00:00:00+01:00",
        "2024-01-01T00:00:00-05:30",
        "2024-01-01T00:00:00.123456789Z",
        "2024-02-29T23:59:59Z",
    ],
)
def test_date_time_with_offset_is_accepted(schemas, stamp):
    assert schemas.validate("Heartbeat", Kind.RESPONSE, {"currentTime": stamp}) == []


@pytest.mark.parametrize(
    "stamp",
    [
        "2024-01-01T00:00:00",  # no offset
        "2024-01-01T00:00:00.000",  # no offset
        "2024-01-01 00:00:00Z",
        "2024-01-01",
        "2024-01-01T00:00Z",
        "2024-13-01T00:00:00Z",
        "2023-02-29T00:00:00Z",
        "2024-01-01T24:00:00Z",
        "2024-01-01T00:00:00+0100",  # RFC 3339 requires the colon
        "2024-01-01T00:00:00+01",
        "２０24-01-01T00:00:00Z",  # non-ASCII digits
        "1704067200",
        "",
    ],
)
def test_date_time_without_valid_offset_is_a_format_violation(schemas, stamp):
    violations = schemas.validate("Heartbeat", Kind.RESPONSE, {"currentTime": stamp})
    assert keyed(violations) == {("/currentTime", "format")}
    assert violations[0].error_code is RpcErrorCode.FormatViolation
    assert reference_errors(schemas, "Heartbeat", Kind.RESPONSE, {"currentTime": stamp})


def test_date_time_of_the_wrong_type_is_a_type_violation_not_format(schemas):
    assert keyed(schemas.validate("Heartbeat", Kind.RESPONSE, {"currentTime": 1704067200})) == {
        ("/currentTime", "type")
    }


# -- customData ----------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "custom",
    [
        {"vendorId": "VendorX"},
        {"vendorId": "VendorX", "extra": 1},
        {"vendorId": "VendorX", "nested": {"anything": [1, "two", None]}, "flag": True},
    ],
)
def test_custom_data_allows_extra_properties(schemas, custom):
    assert schemas.validate("Heartbeat", Kind.REQUEST, {"customData": custom}) == []
    assert schemas.validate("BootNotification", Kind.REQUEST, boot_with(customData=custom)) == []


# -- several violations at once ------------------------------------------------------------------------


def test_all_violations_are_listed_with_paths(schemas):
    payload = {
        "reason": "Booted",
        "chargingStation": {"model": 42, "vendorName": "V" * 51, "colour": "red", "modem": {"iccid": 1}},
        "extra": True,
    }
    violations = schemas.validate("BootNotification", Kind.REQUEST, payload)
    assert keyed(violations) == {
        ("/reason", "enum"),
        ("/chargingStation/model", "type"),
        ("/chargingStation/vendorName", "maxLength"),
        ("/chargingStation", "additionalProperties"),
        ("/chargingStation/modem/iccid", "type"),
        ("", "additionalProperties"),
    }
    assert len(violations) == 6
    # Sorted by location, so the first violation (the one an auto-reply quotes) is deterministic.
    paths = [v.path for v in violations]
    assert paths == sorted(paths, key=lambda p: p.split("/")[1:])


def test_violations_in_arrays_carry_the_index(schemas):
    payload = transaction_event(3)
    payload["meterValue"][0]["sampledValue"][2]["measurand"] = "Current.Imported"
    payload["meterValue"][0]["sampledValue"][4]["value"] = "230.1"
    del payload["transactionInfo"]["transactionId"]
    violations = schemas.validate("TransactionEvent", Kind.REQUEST, payload)
    assert keyed(violations) == {
        ("/meterValue/0/sampledValue/2/measurand", "enum"),
        ("/meterValue/0/sampledValue/4/value", "type"),
        ("/transactionInfo", "required"),
    }
    codes = {v.path: v.error_code for v in violations}
    assert codes == {
        "/meterValue/0/sampledValue/2/measurand": RpcErrorCode.PropertyConstraintViolation,
        "/meterValue/0/sampledValue/4/value": RpcErrorCode.TypeConstraintViolation,
        "/transactionInfo": RpcErrorCode.OccurrenceConstraintViolation,
    }


def test_several_missing_required_fields_are_each_listed(schemas):
    violations = schemas.validate("TransactionEvent", Kind.REQUEST, {})
    assert [v.keyword for v in violations] == ["required"] * 5
    messages = " ".join(v.message for v in violations)
    for name in ("eventType", "timestamp", "triggerReason", "seqNo", "transactionInfo"):
        assert name in messages


# -- the fast and the full validator agree -------------------------------------------------------------

_MUTATION_VALUES = [
    None, True, 0, -1, 1.5, 10**12, "", "x", "y" * 300, [], [{}], {}, {"vendorId": "v"},
    "2024-01-01T00:00:00Z", "2024-01-01T00:00:00", "2024-01-01T00:00:00+0100", "2024-01-01T00:00:60Z",
    "Accepted", "PowerUp", "Charging", "L1", "Wh",
]


def _locations(value, path=()):
    yield path
    if isinstance(value, dict):
        for key, child in value.items():
            yield from _locations(child, (*path, key))
    elif isinstance(value, list):
        for index, child in enumerate(value):
            yield from _locations(child, (*path, index))


def _mutate(payload, rng: random.Random):
    payload = copy.deepcopy(payload)
    for _ in range(rng.randint(1, 3)):
        locations = [loc for loc in _locations(payload) if loc]
        if not locations:
            return payload
        *parents, leaf = rng.choice(locations)
        target = payload
        for part in parents:
            target = target[part]
        roll = rng.random()
        if roll < 0.2 and isinstance(target, dict):
            del target[leaf]
        elif roll < 0.3 and isinstance(target, dict):
            target[rng.choice(["extra", "customData", "vendorId"])] = rng.choice(_MUTATION_VALUES)
        else:
            target[leaf] = copy.deepcopy(rng.choice(_MUTATION_VALUES))
    return payload


_SEEDS = [
    ("BootNotification", Kind.REQUEST, BOOT_FULL),
    ("BootNotification", Kind.RESPONSE, BOOT_RESPONSE),
    ("TransactionEvent", Kind.REQUEST, transaction_event(42)),
    ("Heartbeat", Kind.RESPONSE, {"currentTime": "2024-05-06T10:00:00Z"}),
    ("StatusNotification", Kind.REQUEST, {"timestamp": "2024-05-06T10:00:00Z", "connectorStatus": "Available", "evseId": 1, "connectorId": 1}),
]


@pytest.mark.parametrize("action,kind,seed_payload", _SEEDS, ids=lambda v: v if isinstance(v, str) else None)
def test_fast_and_full_validator_agree_on_random_mutations(schemas, action, kind, seed_payload):
    rng = random.Random(f"{action}{kind.value}")
    invalid = 0
    for _ in range(200):
        payload = _mutate(seed_payload, rng)
        violations = schemas.validate(action, kind, payload)
        reference = reference_errors(schemas, action, kind, payload)
        assert (violations == []) == (reference == []), (payload, violations, reference)
        if violations:
            invalid += 1
            assert all(v.keyword != "schema" for v in violations), violations
            assert keyed(violations) == {
                ("".join(f"/{p}" for p in e.absolute_path), str(e.validator)) for e in reference
            }
    assert invalid > 50  # the mutations really exercise the error path


# -- speed ---------------------------------------------------------------------------------------------


def test_validating_1000_transaction_events_takes_under_2_seconds(schemas):
    payloads = [transaction_event(seq) for seq in range(1000)]
    assert schemas.validate("TransactionEvent", Kind.REQUEST, payloads[0]) == []  # compile outside the timing
    start = time.perf_counter()
    results = [schemas.validate("TransactionEvent", Kind.REQUEST, p) for p in payloads]
    elapsed = time.perf_counter() - start
    assert all(r == [] for r in results)
    print(f"\nvalidated {len(payloads)} TransactionEventRequests in {elapsed * 1000:.1f} ms: {len(payloads) / elapsed:,.0f} frames/s")
    assert elapsed < 2.0


def test_a_date_time_with_a_trailing_newline_is_rejected() -> None:
    violations = ocpp201().validate("Heartbeat", Kind.RESPONSE, {"currentTime": "2024-01-01T00:00:00Z\n"})
    assert violations, "a trailing newline is not part of an RFC 3339 date-time"


def test_validation_never_writes_schema_defaults_into_the_payload() -> None:
    """A NotifyReportRequest without tbc stays without tbc: an absent field is judged as absent, not as
    the schema's default the validator would fill in."""
    payload = {"requestId": 1, "generatedAt": "2024-05-01T12:00:00Z", "seqNo": 0}
    assert list(ocpp201().validate("NotifyReport", Kind.REQUEST, payload)) == []
    assert "tbc" not in payload
