"""The reference station's device model (OCPP 2.0.1 Part 1 §4, Part 2 appendices "Components and Variables").

Only the Actual attribute exists for every variable: the cases the reference station is proven against read and
write Actual values, and asking for another attribute type must give NotSupportedAttributeType (B06.FR.08).
Component and variable dictionaries are in the snake_case shape the `ocpp` package hands to handlers.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from ocpp.v201.enums import (
    AttributeEnumType,
    GetVariableStatusEnumType,
    MutabilityEnumType,
    ReportBaseEnumType,
    SetVariableStatusEnumType,
)

READ_ONLY = MutabilityEnumType.read_only
READ_WRITE = MutabilityEnumType.read_write

MEASURANDS = "Energy.Active.Import.Register,Power.Active.Import,Current.Import,Voltage"
TX_POINTS = "ParkingBayOccupancy,EVConnected,Authorized,PowerPathClosed,EnergyTransfer"


@dataclass(frozen=True)
class ComponentKey:
    """A component as the device model addresses it: name, instance and EVSE / connector."""

    name: str
    instance: str | None = None
    evse_id: int | None = None
    connector_id: int | None = None

    @classmethod
    def from_request(cls, component: Mapping[str, Any]) -> ComponentKey:
        evse = component.get("evse") or {}
        return cls(component["name"], component.get("instance"), evse.get("id"), evse.get("connector_id"))

    def as_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"name": self.name}
        if self.instance is not None:
            out["instance"] = self.instance
        if self.evse_id is not None:
            out["evse"] = {"id": self.evse_id}
            if self.connector_id is not None:
                out["evse"]["connector_id"] = self.connector_id
        return out


@dataclass(frozen=True)
class VariableKey:
    """A variable of a component: name and optional instance (e.g. MessageTimeout[Default])."""

    name: str
    instance: str | None = None

    @classmethod
    def from_request(cls, variable: Mapping[str, Any]) -> VariableKey:
        return cls(variable["name"], variable.get("instance"))

    def as_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"name": self.name}
        if self.instance is not None:
            out["instance"] = self.instance
        return out


@dataclass
class Variable:
    """One variable with its Actual value and the characteristics a report carries."""

    data_type: str
    value: str
    mutability: MutabilityEnumType = READ_WRITE
    values_list: str | None = None
    unit: str | None = None

    def accepts(self, value: str) -> bool:
        """Whether `value` is valid for the data type (SetVariables must reject a bad value, B05.FR.04)."""
        if self.data_type == "integer":
            return value.lstrip("-").isdigit() and int(value) >= 0
        if self.data_type == "decimal":
            try:
                float(value)
            except ValueError:
                return False
            return True
        if self.data_type == "boolean":
            return value in ("true", "false")
        allowed = set((self.values_list or "").split(","))
        if self.data_type == "MemberList":
            return all(item in allowed for item in value.split(",")) if value else True
        if self.data_type == "OptionList":
            return value in allowed
        return len(value) <= 1000


def _controllers() -> dict[tuple[ComponentKey, VariableKey], Variable]:
    """Controller components: the required variables of the functional blocks the reference station implements."""
    table: dict[tuple[str, str, str | None], Variable] = {
        ("OCPPCommCtrlr", "OfflineThreshold", None): Variable("integer", "300", unit="s"),
        ("OCPPCommCtrlr", "HeartbeatInterval", None): Variable("integer", "0", unit="s"),
        ("OCPPCommCtrlr", "MessageTimeout", "Default"): Variable("integer", "30", unit="s"),
        ("OCPPCommCtrlr", "MessageAttemptInterval", "TransactionEvent"): Variable("integer", "10"),
        ("OCPPCommCtrlr", "MessageAttempts", "TransactionEvent"): Variable("integer", "3"),
        ("OCPPCommCtrlr", "NetworkConfigurationPriority", None): Variable("string", "0"),
        ("OCPPCommCtrlr", "NetworkProfileConnectionAttempts", None): Variable("integer", "3"),
        ("OCPPCommCtrlr", "ResetRetries", None): Variable("integer", "1"),
        ("OCPPCommCtrlr", "RetryBackOffRandomRange", None): Variable("integer", "0"),
        ("OCPPCommCtrlr", "RetryBackOffRepeatTimes", None): Variable("integer", "0"),
        ("OCPPCommCtrlr", "RetryBackOffWaitMinimum", None): Variable("integer", "0"),
        ("OCPPCommCtrlr", "UnlockOnEVSideDisconnect", None): Variable("boolean", "false", READ_ONLY),
        ("OCPPCommCtrlr", "FileTransferProtocols", None): Variable("MemberList", "HTTPS", READ_ONLY, "HTTPS"),
        ("AuthCtrlr", "Enabled", None): Variable("boolean", "true"),
        ("AuthCtrlr", "AuthorizeRemoteStart", None): Variable("boolean", "false"),
        ("AuthCtrlr", "LocalAuthorizeOffline", None): Variable("boolean", "true"),
        ("AuthCtrlr", "LocalPreAuthorize", None): Variable("boolean", "false"),
        ("AuthCtrlr", "DisableRemoteAuthorization", None): Variable("boolean", "false"),
        ("TxCtrlr", "TxStartPoint", None): Variable("MemberList", "EVConnected,Authorized", values_list=TX_POINTS),
        ("TxCtrlr", "TxStopPoint", None): Variable("MemberList", "EVConnected", values_list=TX_POINTS),
        ("TxCtrlr", "EVConnectionTimeOut", None): Variable("integer", "60", unit="s"),
        ("TxCtrlr", "StopTxOnEVSideDisconnect", None): Variable("boolean", "true", READ_ONLY),
        ("TxCtrlr", "StopTxOnInvalidId", None): Variable("boolean", "true"),
        ("SampledDataCtrlr", "Enabled", None): Variable("boolean", "true"),
        ("SampledDataCtrlr", "TxStartedMeasurands", None): Variable("MemberList", "", values_list=MEASURANDS),
        ("SampledDataCtrlr", "TxUpdatedMeasurands", None): Variable(
            "MemberList", "Energy.Active.Import.Register", values_list=MEASURANDS
        ),
        ("SampledDataCtrlr", "TxUpdatedInterval", None): Variable("integer", "0", unit="s"),
        ("SampledDataCtrlr", "TxEndedMeasurands", None): Variable(
            "MemberList", "Energy.Active.Import.Register", values_list=MEASURANDS
        ),
        ("SampledDataCtrlr", "TxEndedInterval", None): Variable("integer", "0", unit="s"),
        ("AlignedDataCtrlr", "Interval", None): Variable("integer", "0", unit="s"),
        ("AlignedDataCtrlr", "Measurands", None): Variable("MemberList", "", values_list=MEASURANDS),
        ("AlignedDataCtrlr", "TxEndedInterval", None): Variable("integer", "0", unit="s"),
        ("AlignedDataCtrlr", "TxEndedMeasurands", None): Variable("MemberList", "", values_list=MEASURANDS),
        ("ClockCtrlr", "TimeSource", None): Variable("SequenceList", "Heartbeat", values_list="Heartbeat,NTP"),
        ("DeviceDataCtrlr", "ItemsPerMessage", "GetReport"): Variable("integer", "10", READ_ONLY),
        ("DeviceDataCtrlr", "ItemsPerMessage", "GetVariables"): Variable("integer", "20", READ_ONLY),
        ("DeviceDataCtrlr", "ItemsPerMessage", "SetVariables"): Variable("integer", "20", READ_ONLY),
        ("DeviceDataCtrlr", "BytesPerMessage", "GetReport"): Variable("integer", "65000", READ_ONLY),
        ("DeviceDataCtrlr", "BytesPerMessage", "GetVariables"): Variable("integer", "65000", READ_ONLY),
        ("DeviceDataCtrlr", "BytesPerMessage", "SetVariables"): Variable("integer", "65000", READ_ONLY),
        ("SecurityCtrlr", "OrganizationName", None): Variable("string", "OCPP Conformance"),
        ("SecurityCtrlr", "CertificateEntries", None): Variable("integer", "0", READ_ONLY),
        ("SecurityCtrlr", "SecurityProfile", None): Variable("integer", "1", READ_ONLY),
        ("ChargingStation", "AvailabilityState", None): Variable(
            "OptionList", "Available", READ_ONLY, "Available,Occupied,Reserved,Unavailable,Faulted"
        ),
        ("ChargingStation", "Available", None): Variable("boolean", "true", READ_ONLY),
        ("ChargingStation", "SupplyPhases", None): Variable("integer", "3", READ_ONLY),
    }
    return {(ComponentKey(c), VariableKey(v, i)): var for (c, v, i), var in table.items()}


def _physical(evses: Mapping[int, list[int]]) -> dict[tuple[ComponentKey, VariableKey], Variable]:
    """EVSE and Connector components, one per EVSE / connector of the station."""
    out: dict[tuple[ComponentKey, VariableKey], Variable] = {}
    states = "Available,Occupied,Reserved,Unavailable,Faulted"
    for evse_id, connectors in evses.items():
        evse = ComponentKey("EVSE", evse_id=evse_id)
        out[(evse, VariableKey("AvailabilityState"))] = Variable("OptionList", "Available", READ_ONLY, states)
        out[(evse, VariableKey("Available"))] = Variable("boolean", "true", READ_ONLY)
        out[(evse, VariableKey("Power"))] = Variable("decimal", "22000", READ_ONLY, unit="W")
        out[(evse, VariableKey("SupplyPhases"))] = Variable("integer", "3", READ_ONLY)
        for connector_id in connectors:
            connector = ComponentKey("Connector", evse_id=evse_id, connector_id=connector_id)
            out[(connector, VariableKey("AvailabilityState"))] = Variable("OptionList", "Available", READ_ONLY, states)
            out[(connector, VariableKey("Available"))] = Variable("boolean", "true", READ_ONLY)
            out[(connector, VariableKey("ConnectorType"))] = Variable("string", "cType2", READ_ONLY)
            out[(connector, VariableKey("SupplyPhases"))] = Variable("integer", "3", READ_ONLY)
    return out


class DeviceModel:
    """Variables addressed by (component, variable); `on_change` runs after every accepted write."""

    def __init__(self, evses: Mapping[int, list[int]], on_change: Callable[[], None] = lambda: None) -> None:
        self._variables = _controllers() | _physical(evses)
        self._components = {component for component, _ in self._variables}
        self._on_change = on_change

    def value(self, component: str, variable: str, instance: str | None = None) -> str:
        """The Actual value of a controller variable, for the station's own behaviour."""
        return self._variables[(ComponentKey(component), VariableKey(variable, instance))].value

    def integer(self, component: str, variable: str, instance: str | None = None) -> int:
        return int(self.value(component, variable, instance))

    def members(self, component: str, variable: str) -> list[str]:
        return [item for item in self.value(component, variable).split(",") if item]

    def write(self, component: ComponentKey, variable: VariableKey, value: str) -> None:
        """Set a value from inside the station (ReadOnly variables included: the station owns them)."""
        self._variables[(component, variable)].value = value
        self._on_change()

    def _resolve(self, data: Mapping[str, Any]) -> tuple[dict[str, Any], Any, Any]:
        """The start of a Get/SetVariableResult echoing the request, and what the lookup found."""
        component = ComponentKey.from_request(data["component"])
        variable = VariableKey.from_request(data["variable"])
        result: dict[str, Any] = {"component": data["component"], "variable": data["variable"]}
        if data.get("attribute_type") is not None:
            result["attribute_type"] = data["attribute_type"]
        status, found = self._lookup(component, variable, data.get("attribute_type"))
        return result, status, found

    def get(self, data: Mapping[str, Any]) -> dict[str, Any]:
        """One GetVariableResultType for one GetVariableDataType (B06.FR.01-08)."""
        result, status, found = self._resolve(data)
        if found is not None and found.mutability == MutabilityEnumType.write_only:
            status = GetVariableStatusEnumType.rejected
        elif found is not None:
            result["attribute_value"] = found.value
        result["attribute_status"] = status
        return result

    def set(self, data: Mapping[str, Any]) -> dict[str, Any]:
        """One SetVariableResultType for one SetVariableDataType (B05.FR.01-04, B05.FR.10)."""
        result, status, found = self._resolve(data)
        value = str(data["attribute_value"])
        if found is not None:
            if found.mutability == READ_ONLY or not found.accepts(value):
                status = GetVariableStatusEnumType.rejected
            else:
                found.value = value
                self._on_change()
        result["attribute_status"] = SetVariableStatusEnumType(status.value)
        return result

    def _lookup(
        self, component: ComponentKey, variable: VariableKey, attribute_type: str | None
    ) -> tuple[GetVariableStatusEnumType, Variable | None]:
        if component not in self._components:
            return GetVariableStatusEnumType.unknown_component, None
        found = self._variables.get((component, variable))
        if found is None:
            return GetVariableStatusEnumType.unknown_variable, None
        if attribute_type not in (None, AttributeEnumType.actual):
            return GetVariableStatusEnumType.not_supported_attribute_type, None
        return GetVariableStatusEnumType.accepted, found

    def report(self, report_base: str) -> list[dict[str, Any]]:
        """ReportDataType entries for GetBaseReport (B07): Full, Configuration (writable) or Summary inventory."""
        return [self._report_entry(c, v, var) for c, v, var in self._select(report_base)]

    def _select(self, report_base: str) -> Iterator[tuple[ComponentKey, VariableKey, Variable]]:
        for (component, variable), var in self._variables.items():
            if report_base == ReportBaseEnumType.configuration_inventory and var.mutability == READ_ONLY:
                continue
            if report_base == ReportBaseEnumType.summary_inventory and variable.name != "AvailabilityState":
                continue
            yield component, variable, var

    @staticmethod
    def _report_entry(component: ComponentKey, variable: VariableKey, var: Variable) -> dict[str, Any]:
        characteristics: dict[str, Any] = {"data_type": var.data_type, "supports_monitoring": False}
        if var.values_list is not None:
            characteristics["values_list"] = var.values_list
        if var.unit is not None:
            characteristics["unit"] = var.unit
        return {
            "component": component.as_dict(),
            "variable": variable.as_dict(),
            "variable_attribute": [
                {"type": AttributeEnumType.actual, "value": var.value, "mutability": var.mutability}
            ],
            "variable_characteristics": characteristics,
        }
