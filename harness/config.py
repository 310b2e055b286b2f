"""The SUT configuration (the PIXIT): the one file a vendor edits to point the harness at their system.

A TOML file; every key has a default that suits the built-in reference SUT. See
``fixtures/sut/example_cs.toml`` and ``fixtures/sut/example_csms.toml`` for every key with its meaning.
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any

from harness.verdicts import HarnessError

ROLES = ("cs", "csms")


@dataclass(frozen=True)
class IdToken:
    id_token: str
    type: str = "ISO14443"

    def as_payload(self) -> dict[str, str]:
        return {"idToken": self.id_token, "type": self.type}


@dataclass(frozen=True)
class Timeouts:
    """Seconds. ``response``: a CALL's answer; ``message``: a message the SUT must send on its own;
    ``manual_action``: an operator or hook; ``time_tolerance``: deviation allowed on date-times (Part 6 §2.1,
    the labs use 4 s); ``silence``: how long "the SUT must not send X" is watched."""

    response: float = 30.0
    message: float = 60.0
    manual_action: float = 300.0
    time_tolerance: float = 4.0
    silence: float = 5.0


@dataclass(frozen=True)
class SutConfig:
    role: str = "cs"
    sut: str = "reference"
    identity: str = "CS001"
    basic_auth_password: str | None = None
    # Harness as CSMS (SUT = Charging Station): where the fake CSMS listens.
    listen_host: str = "127.0.0.1"
    listen_port: int = 0
    listen_path: str = "/ocpp"
    # Harness as Charging Station (SUT = CSMS): the CSMS's OCPP-J endpoint URL.
    csms_url: str = ""
    evse_id: int = 1
    connector_id: int = 1
    connectors: dict[int, list[int]] = field(default_factory=lambda: {1: [1]})
    heartbeat_interval: int = 300
    vendor_name: str = "OCPP Conformance"
    model: str = "Fake Station"
    valid_id_token: IdToken = IdToken("VALID001")
    invalid_id_token: IdToken = IdToken("INVALID001")
    blocked_id_token: IdToken = IdToken("BLOCKED001")
    tx_updated_measurands: str = "Energy.Active.Import.Register"
    tx_updated_interval: int = 10
    retry_back_off_wait_minimum: int = 30
    data_transfer_vendor_id: str = "org.openchargealliance.octt"
    data_transfer_message_id: str = "ocpp-conformance-unused"
    timeouts: Timeouts = Timeouts()
    action_driver: str = "reference"
    action_commands: dict[str, str] = field(default_factory=dict)
    action_webhook: str | None = None
    faults: tuple[str, ...] = ()
    source: str = "built-in defaults"

    @property
    def uses_reference(self) -> bool:
        return self.sut == "reference"

    def masked(self) -> dict[str, Any]:
        """The configuration for reports, with secrets masked."""
        data = {f.name: getattr(self, f.name) for f in fields(self)}
        if data["basic_auth_password"]:
            data["basic_auth_password"] = "****"
        return data


def reference_config(role: str, faults: tuple[str, ...] = (), timeouts: Timeouts | None = None) -> SutConfig:
    """The configuration that runs the built-in reference SUT of ``role``, optionally with faults."""
    _check_role(role)
    return SutConfig(
        role=role,
        faults=faults,
        heartbeat_interval=2,
        tx_updated_interval=1,
        retry_back_off_wait_minimum=2,
        timeouts=timeouts or Timeouts(response=5.0, message=10.0, manual_action=10.0, time_tolerance=0.5, silence=1.0),
        source="reference",
    )


def load(path: Path) -> SutConfig:
    """Read a SUT file; a mistake in it is a configuration ERROR, never the SUT's fault."""
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, tomllib.TOMLDecodeError) as error:
        raise HarnessError(f"cannot read SUT configuration {path}: {error}") from None
    return from_dict(data, source=str(path))


def from_dict(data: dict[str, Any], source: str) -> SutConfig:
    sut = data.get("sut", {})
    station = data.get("station", {})
    csms = data.get("csms", {})
    tokens = data.get("id_tokens", {})
    actions = data.get("actions", {})
    role = sut.get("role", "cs")
    _check_role(role)
    try:
        return SutConfig(
            role=role,
            sut=sut.get("kind", "external"),
            identity=station.get("identity", "CS001"),
            basic_auth_password=station.get("basic_auth_password"),
            listen_host=csms.get("listen_host", "127.0.0.1"),
            listen_port=int(csms.get("listen_port", 0)),
            listen_path=csms.get("listen_path", "/ocpp"),
            csms_url=csms.get("url", ""),
            evse_id=int(station.get("evse_id", 1)),
            connector_id=int(station.get("connector_id", 1)),
            connectors={int(k): list(v) for k, v in station.get("connectors", {"1": [1]}).items()},
            heartbeat_interval=int(station.get("heartbeat_interval", 300)),
            vendor_name=station.get("vendor_name", "OCPP Conformance"),
            model=station.get("model", "Fake Station"),
            valid_id_token=IdToken(**tokens.get("valid", {"id_token": "VALID001"})),
            invalid_id_token=IdToken(**tokens.get("invalid", {"id_token": "INVALID001"})),
            blocked_id_token=IdToken(**tokens.get("blocked", {"id_token": "BLOCKED001"})),
            tx_updated_measurands=station.get("tx_updated_measurands", "Energy.Active.Import.Register"),
            tx_updated_interval=int(station.get("tx_updated_interval", 10)),
            retry_back_off_wait_minimum=int(station.get("retry_back_off_wait_minimum", 30)),
            data_transfer_vendor_id=data.get("data_transfer", {}).get("vendor_id", "org.openchargealliance.octt"),
            data_transfer_message_id=data.get("data_transfer", {}).get("message_id", "ocpp-conformance-unused"),
            timeouts=Timeouts(**data.get("timeouts", {})),
            action_driver=actions.get("driver", "prompt"),
            action_commands=dict(actions.get("commands", {})),
            action_webhook=actions.get("webhook"),
            faults=tuple(data.get("reference", {}).get("faults", ())),
            source=source,
        )
    except (TypeError, ValueError) as error:
        raise HarnessError(f"invalid SUT configuration {source}: {error}") from None


def _check_role(role: str) -> None:
    if role not in ROLES:
        raise HarnessError(f"role must be one of {ROLES}, got {role!r}")
