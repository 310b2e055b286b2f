"""How the harness answers the SUT's CALLs unless a case says otherwise.

As CSMS, the harness answers every Charging-Station-initiated message with the plainest valid response
(Part 6 "The OCTT responds accordingly"). As Charging Station, it answers the CSMS's requests from a small
device model the SUT configuration describes, and does what it accepted (harness.fake_station). A case
overrides any of these with ``case.respond``.
"""

from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING, Any, Callable

from harness.config import SutConfig
from harness.core.frames import Call, RpcErrorCode
from harness.session import ErrorReply, Reply, Responder

if TYPE_CHECKING:
    from harness.fake_station import SimulatedStation

def now() -> str:
    """The current UTC time as an OCPP dateTime."""
    return dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds").replace("+00:00", "Z")


def csms_defaults(config: SutConfig) -> dict[str, Responder]:
    """Answers of the fake CSMS to a Charging Station under test."""
    statuses = {
        config.valid_id_token.id_token: "Accepted",
        config.blocked_id_token.id_token: "Blocked",
        config.invalid_id_token.id_token: "Invalid",
    }

    def id_token_info(call: Call) -> dict[str, Any]:
        token = call.payload.get("idToken", {}).get("idToken", "")
        return {"status": statuses.get(token, "Unknown")}

    def transaction_event(call: Call) -> dict[str, Any]:
        return {"idTokenInfo": id_token_info(call)} if "idToken" in call.payload else {}

    return {
        "BootNotification": lambda call: {
            "currentTime": now(),
            "interval": config.heartbeat_interval,
            "status": "Accepted",
        },
        "Heartbeat": lambda call: {"currentTime": now()},
        "Authorize": lambda call: {"idTokenInfo": id_token_info(call)},
        "TransactionEvent": transaction_event,
        "DataTransfer": {"status": "UnknownVendorId"},
        **{action: {} for action in _EMPTY_RESPONSES_FROM_CSMS},
    }


_EMPTY_RESPONSES_FROM_CSMS = (
    "StatusNotification",
    "NotifyEvent",
    "NotifyReport",
    "SecurityEventNotification",
    "MeterValues",
    "FirmwareStatusNotification",
    "LogStatusNotification",
    "NotifyMonitoringReport",
    "NotifyChargingLimit",
    "NotifyCustomerInformation",
    "NotifyDisplayMessages",
    "NotifyEVChargingSchedule",
    "ReportChargingProfiles",
    "ReservationStatusUpdate",
    "ClearedChargingLimit",
    "PublishFirmwareStatusNotification",
)


def station_defaults(config: SutConfig, station: SimulatedStation) -> dict[str, Responder]:
    """Answers of the fake Charging Station to a CSMS under test: from its state, with the follow-up it then
    does (see harness.fake_station); GetVariables and SetVariables read and write its device model."""

    def get_variables(call: Call) -> dict[str, Any]:
        return {"getVariableResult": [_get_one(item, station.device_model) for item in call.payload["getVariableData"]]}

    def set_variables(call: Call) -> dict[str, Any]:
        return {"setVariableResult": [_set_one(item, station) for item in call.payload["setVariableData"]]}

    def from_station(behaviour: Callable[[dict[str, Any]], Reply]) -> Callable[[Call], Reply]:
        return lambda call: behaviour(call.payload)

    return {
        "GetVariables": get_variables,
        "SetVariables": set_variables,
        "GetBaseReport": from_station(station.get_base_report),
        "TriggerMessage": from_station(station.trigger_message),
        "Reset": from_station(station.reset),
        "ChangeAvailability": from_station(station.change_availability),
        "RequestStartTransaction": from_station(station.request_start_transaction),
        "RequestStopTransaction": from_station(station.request_stop_transaction),
        "UnlockConnector": {"status": "Unlocked"},
        "ClearCache": {"status": "Accepted"},
        "DataTransfer": {"status": "UnknownVendorId"},
        "SetNetworkProfile": ErrorReply(RpcErrorCode.NotSupported, "not supported by the fake station"),
    }


def _set_one(item: dict[str, Any], station: SimulatedStation) -> dict[str, Any]:
    """B05: UnknownComponent / UnknownVariable (FR.04/05), Rejected for a ReadOnly one (FR.09), else set and
    Accepted (FR.10); the attributeType echoed, Actual when the request had none (FR.03, FR.12)."""
    component, name = item["component"]["name"], item["variable"]["name"]
    variable = station.variables.get((component, name))
    if variable is None:
        known = any(c == component for c, _ in station.variables)
        status = "UnknownVariable" if known else "UnknownComponent"
    elif variable.mutability == "ReadOnly":
        status = "Rejected"
    else:
        status = "Accepted"
        station.device_model[(component, name)] = item["attributeValue"]
    return {
        "attributeType": item.get("attributeType", "Actual"),
        "attributeStatus": status,
        "component": item["component"],
        "variable": item["variable"],
    }


def _get_one(item: dict[str, Any], device_model: dict[tuple[str, str], str]) -> dict[str, Any]:
    component, variable = item["component"], item["variable"]
    key = (component["name"], variable["name"])
    result: dict[str, Any] = {"component": component, "variable": variable}
    if "attributeType" in item:
        result["attributeType"] = item["attributeType"]
    if key in device_model:
        result.update(attributeStatus="Accepted", attributeValue=device_model[key])
    elif any(name == component["name"] for name, _ in device_model):
        result["attributeStatus"] = "UnknownVariable"
    else:
        result["attributeStatus"] = "UnknownComponent"
    return result
