"""How the harness answers the SUT's CALLs unless a case says otherwise.

As CSMS, the harness answers every Charging-Station-initiated message with the plainest valid response
(Part 6 "The OCTT responds accordingly"). As Charging Station, it answers the CSMS's requests from a small
device model the SUT configuration describes. A case overrides any of these with ``case.respond``.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from harness.config import SutConfig
from harness.core.frames import Call, RpcErrorCode
from harness.session import ErrorReply, Responder

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


def station_defaults(config: SutConfig, device_model: dict[tuple[str, str], str]) -> dict[str, Responder]:
    """Answers of the fake Charging Station to a CSMS under test."""

    def get_variables(call: Call) -> dict[str, Any]:
        return {"getVariableResult": [_get_one(item, device_model) for item in call.payload["getVariableData"]]}

    def set_variables(call: Call) -> dict[str, Any]:
        results = []
        for item in call.payload["setVariableData"]:
            key = (item["component"]["name"], item["variable"]["name"])
            status = "Accepted" if key in device_model else "UnknownVariable"
            if status == "Accepted":
                device_model[key] = item["attributeValue"]
            results.append({"attributeStatus": status, "component": item["component"], "variable": item["variable"]})
        return {"setVariableResult": results}

    return {
        "GetVariables": get_variables,
        "SetVariables": set_variables,
        "TriggerMessage": {"status": "Accepted"},
        "Reset": {"status": "Accepted"},
        "ChangeAvailability": {"status": "Accepted"},
        "RequestStartTransaction": {"status": "Accepted"},
        "RequestStopTransaction": {"status": "Accepted"},
        "UnlockConnector": {"status": "Unlocked"},
        "ClearCache": {"status": "Accepted"},
        "GetBaseReport": {"status": "Accepted"},
        "DataTransfer": {"status": "UnknownVendorId"},
        "SetNetworkProfile": ErrorReply(RpcErrorCode.NotSupported, "not supported by the fake station"),
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


def fake_station_device_model(config: SutConfig) -> dict[tuple[str, str], str]:
    """The variables the fake Charging Station reports (Part 1 minimum device model, as far as cases read it)."""
    return {
        ("OCPPCommCtrlr", "OfflineThreshold"): "300",
        ("OCPPCommCtrlr", "HeartbeatInterval"): str(config.heartbeat_interval),
        ("OCPPCommCtrlr", "RetryBackOffWaitMinimum"): "10",
        ("AuthCtrlr", "AuthorizeRemoteStart"): "false",
        ("TxCtrlr", "TxStartPoint"): "EVConnected,Authorized",
        ("TxCtrlr", "TxStopPoint"): "EVConnected",
        ("ClockCtrlr", "DateTime"): now(),
    }
