"""The SUT configuration (the PIXIT): the one file a vendor edits to point the harness at their system.

A TOML file; every key has a default that suits the built-in reference SUT. See
``fixtures/sut/example_cs.toml`` and ``fixtures/sut/example_csms.toml`` for every key with its meaning.

The optional ``[tls]`` table gives the harness's side of a TLS link (security profiles 2 and 3). Its PEM
files are checked when the file is loaded: readable, parseable, the private key belonging to its certificate.
"""

from __future__ import annotations

import dataclasses
import string
import tomllib
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any

from cryptography import x509
from cryptography.exceptions import UnsupportedAlgorithm
from cryptography.hazmat.primitives import serialization

from harness.actions import ACTIONS
from harness.reference import chaos as reference_chaos
from harness.reference.faults import CSMS_FAULTS, STATION_FAULTS
from harness.reference.mutations import Mutation
from harness.verdicts import HarnessError

ROLES = ("cs", "csms")
KINDS = ("external", "reference")
ACTION_DRIVERS = ("prompt", "hook", "reference")
ID_TOKEN_TYPES = ("Central", "eMAID", "ISO14443", "ISO15693", "KeyCode", "Local", "MacAddress", "NoAuthorization")
"""IdTokenEnumType of OCPP 2.0.1."""
IDENTITY_MAX = 48  # Part 4 §3.1.1: identity is at most 48 characters and has no ':' (basic auth user-id)
MODEL_MAX = 20  # BootNotificationRequest chargingStation.model
VENDOR_NAME_MAX = 50  # BootNotificationRequest chargingStation.vendorName
ID_TOKEN_MAX = 36  # IdTokenType.idToken
VENDOR_ID_MAX = 255  # DataTransferRequest.vendorId
MESSAGE_ID_MAX = 50  # DataTransferRequest.messageId
REFERENCE_FAULTS = {"cs": STATION_FAULTS, "csms": CSMS_FAULTS}

# Every table of a SUT file and the keys it may hold. Anything else is a mistake (a typo, a PICS file).
SCHEMA: dict[str, tuple[str, ...]] = {
    "sut": ("role", "kind"),
    "station": (
        "identity", "basic_auth_password", "evse_id", "connector_id", "connectors", "heartbeat_interval",
        "vendor_name", "model", "tx_updated_measurands", "tx_updated_interval", "retry_back_off_wait_minimum",
    ),
    "csms": ("url", "listen_host", "listen_port", "listen_path"),
    "id_tokens": ("valid", "invalid", "blocked"),
    "data_transfer": ("vendor_id", "message_id"),
    "timeouts": ("response", "message", "manual_action", "time_tolerance", "silence"),
    "limits": ("max_frame_bytes", "max_frames_per_case", "max_interval"),
    "actions": ("driver", "commands", "webhook"),
    "reference": ("faults",),
    "tls": (
        "server_certificate", "server_key", "client_ca", "ca_certificate", "client_certificate", "client_key",
        "min_version",
    ),
}
TLS_KEYS = {
    "cs": ("server_certificate", "server_key", "client_ca", "min_version"),
    "csms": ("ca_certificate", "client_certificate", "client_key", "min_version"),
}
"""The [tls] keys of each role: the harness is the TLS server when a station is tested, the client otherwise."""
TLS_VERSIONS = ("TLSv1.2", "TLSv1.3")
ID_TOKEN_KEYS = ("id_token", "type")
PICS_TABLES = ("features", "questions", "hardware")


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


REFERENCE_TIMEOUTS = Timeouts(response=5.0, message=10.0, manual_action=10.0, time_tolerance=0.5, silence=1.0)
"""The built-in reference SUTs answer at once: shorter waits than a real lab's."""


@dataclass(frozen=True)
class Limits:
    """Bounds on what the SUT chooses, so that no SUT can make the harness wait, grow or work without end.
    ``max_frame_bytes``: the largest WebSocket message accepted (Part 4 sets no maximum; a larger one closes the
    connection with 1009 and the case is INCONCLUSIVE, naming this key). ``max_frames_per_case``: frames the
    SUT may send within one case (a flood beyond it ends the case INCONCLUSIVE). ``max_interval``: the longest
    wait, in seconds, the harness sits out when the SUT names it (a Pending interval)."""

    max_frame_bytes: int = 16 * 1024 * 1024
    max_frames_per_case: int = 10_000
    max_interval: float = 300.0


LIMIT_RANGES: dict[str, tuple[int, int]] = {
    "max_frame_bytes": (64 * 1024, 1024 * 1024 * 1024),
    "max_frames_per_case": (100, 10_000_000),
}
"""The integer limits' accepted ranges: a full inventory report needs more than 64 KiB; 1 GiB is memory's end."""


@dataclass(frozen=True)
class TlsConfig:
    """``[tls]``: the harness's side of the TLS link, with absolute paths of PEM files.

    Role ``cs`` (the harness is the CSMS the station connects to): ``server_certificate`` (chain allowed) and
    ``server_key``; ``client_ca`` set means a client certificate signed by it is required (security profile 3).
    Role ``csms`` (the harness is a station): ``ca_certificate``, the root the CSMS's server certificate is
    verified against (verification is never off), and ``client_certificate`` + ``client_key`` (profile 3).
    """

    min_version: str = "TLSv1.2"
    server_certificate: Path | None = None
    server_key: Path | None = None
    client_ca: Path | None = None
    ca_certificate: Path | None = None
    client_certificate: Path | None = None
    client_key: Path | None = None

    @property
    def client_certificates(self) -> bool:
        """Whether the station authenticates with a certificate (security profile 3)."""
        return self.client_ca is not None or self.client_certificate is not None


@dataclass(frozen=True)
class SutConfig:
    role: str = "cs"
    sut: str = "reference"
    identity: str = "CS001"
    basic_auth_password: str | None = field(default=None, repr=False)
    """Never in a repr: pytest's ``-l`` and tracebacks print configurations."""
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
    limits: Limits = Limits()
    action_driver: str = "reference"
    action_commands: dict[str, str] = field(default_factory=dict)
    action_webhook: str | None = None
    faults: tuple[str, ...] = ()
    mutations: tuple[Mutation, ...] = ()
    """Wire mutations of the reference SUT's outgoing frames (the self-test's mutants)."""
    chaos: str | None = None
    """A chaos behaviour of the reference SUT (harness.reference.chaos), acting within every case."""
    source: str = "built-in defaults"
    tls: TlsConfig | None = None
    """``[tls]``: None means plain ws:// (the reference SUTs always run without TLS)."""

    @property
    def uses_reference(self) -> bool:
        return self.sut == "reference"

    def masked(self) -> dict[str, Any]:
        """The configuration for reports, with secrets masked."""
        data = {f.name: getattr(self, f.name) for f in fields(self)}
        if data["basic_auth_password"]:
            data["basic_auth_password"] = "****"
        return data


def reference_config(
    role: str,
    faults: tuple[str, ...] = (),
    mutations: tuple[Mutation, ...] = (),
    timeouts: Timeouts | None = None,
    chaos: str | None = None,
) -> SutConfig:
    """The configuration that runs the built-in reference SUT of ``role``, optionally with faults, wire
    mutations of its outgoing frames and a chaos behaviour."""
    _check_role(role)
    _check_faults(role, faults, "--ocpp-fault")
    if chaos is not None:
        try:
            reference_chaos.behaviour(chaos, role)
        except LookupError as error:
            raise HarnessError(f"--ocpp-chaos: {error.args[0]}") from None
    return SutConfig(
        role=role,
        faults=tuple(faults),
        mutations=tuple(mutations),
        chaos=chaos,
        heartbeat_interval=2,
        tx_updated_interval=1,
        retry_back_off_wait_minimum=2,
        timeouts=timeouts or REFERENCE_TIMEOUTS,
        source="reference",
    )


def timeouts_override(text: str, base: Timeouts = REFERENCE_TIMEOUTS) -> Timeouts:
    """``base`` with the seconds of ``text``, e.g. ``"response=2,message=3"`` (the ``--ocpp-timeouts`` option);
    an unknown key or a value that is not a positive number is a HarnessError naming it."""
    known = [item.name for item in fields(Timeouts)]
    values: dict[str, float] = {}
    for part in filter(None, (piece.strip() for piece in text.split(","))):
        key, _, value = part.partition("=")
        key = key.strip()
        if key not in known:
            raise HarnessError(f"--ocpp-timeouts: unknown timeout {key!r}; known: {', '.join(known)}")
        try:
            seconds = float(value)
        except ValueError:
            seconds = float("nan")
        if not 0 < seconds < float("inf"):
            raise HarnessError(f"--ocpp-timeouts: {key} must be a positive number of seconds, got {value.strip()!r}")
        values[key] = seconds
    return dataclasses.replace(base, **values)


def load(path: Path) -> SutConfig:
    """Read a SUT file; a mistake in it is a configuration ERROR, never the SUT's fault."""
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as error:
        raise HarnessError(f"cannot read SUT configuration {path}: {error}") from None
    return from_dict(data, source=str(path), base_dir=path.parent)


def from_dict(data: dict[str, Any], source: str, base_dir: Path | None = None) -> SutConfig:
    """Check every table, key, type and value of a SUT file, then build the configuration.

    Strict on purpose: an unknown table or key (a typo, a PICS file passed as SUT file) is rejected with a
    :class:`HarnessError` that names the key and ``source``, instead of being ignored. Relative ``[tls]``
    paths are taken from ``base_dir`` (the SUT file's folder; by default the folder of ``source``).
    """
    _check_keys(data, SCHEMA, "", source)
    tables = {name: _table(data, name, source) for name in SCHEMA}
    for name, table in tables.items():
        _check_keys(table, SCHEMA[name], f"[{name}]", source)
    sut, station, csms, tokens, transfer, timeouts, limits, actions, reference, _ = (tables[name] for name in SCHEMA)
    get = _Getter(source)

    if "role" not in sut:
        raise _error(source, "[sut] role is missing: say whether the SUT is a 'cs' (Charging Station) or a 'csms'")
    role = get.choice(sut, "sut", "role", ROLES)
    kind = get.choice(sut, "sut", "kind", KINDS, "external")

    identity = get.text(station, "station", "identity", "CS001", low=1, high=IDENTITY_MAX)
    if ":" in identity:
        raise _error(source, f"[station] identity must not contain ':' (Part 4 §3.1.1), got {identity!r}")
    connectors = _connectors(station, source)
    evse_id = get.integer(station, "station", "evse_id", 1, low=1)
    connector_id = get.integer(station, "station", "connector_id", 1, low=1)
    if evse_id not in connectors:
        raise _error(source, f"[station] evse_id {evse_id} is not an EVSE of [station] connectors {sorted(connectors)}")
    if connector_id not in connectors[evse_id]:
        raise _error(source, f"[station] connector_id {connector_id} is not a connector of EVSE {evse_id} in [station] connectors")

    csms_url = get.text(csms, "csms", "url", "")
    if csms_url and not csms_url.startswith(("ws://", "wss://")):
        raise _error(source, f"[csms] url must start with ws:// or wss://, got {csms_url!r}")
    if role == "csms" and kind == "external" and not csms_url:
        raise _error(source, "[csms] url is missing: an external CSMS needs its OCPP-J endpoint (ws://... or wss://...)")
    listen_path = get.text(csms, "csms", "listen_path", "/ocpp", low=1)
    if not listen_path.startswith("/"):
        raise _error(source, f"[csms] listen_path must start with '/', got {listen_path!r}")
    tls = _tls(data, role, kind, csms_url, base_dir if base_dir is not None else Path(source).parent, source)

    driver = get.choice(actions, "actions", "driver", ACTION_DRIVERS, "prompt")
    if driver == "reference" and kind != "reference":
        raise _error(source, "[actions] driver 'reference' needs the reference SUT ([sut] kind = 'reference')")
    commands = _commands(actions, source)
    webhook = get.text(actions, "actions", "webhook", None, low=1)
    if webhook is not None and not webhook.startswith(("http://", "https://")):
        raise _error(source, f"[actions] webhook must be an http:// or https:// URL, got {webhook!r}")

    faults = tuple(get.text_list(reference, "reference", "faults"))
    if faults and kind != "reference":
        raise _error(source, "[reference] faults only apply to the reference SUT ([sut] kind = 'reference')")
    try:
        _check_faults(role, faults, "[reference] faults")
    except HarnessError as error:
        raise _error(source, str(error)) from None

    return SutConfig(
        role=role,
        sut=kind,
        identity=identity,
        basic_auth_password=get.text(station, "station", "basic_auth_password", None, low=1),
        listen_host=get.text(csms, "csms", "listen_host", "127.0.0.1", low=1),
        listen_port=get.integer(csms, "csms", "listen_port", 0, low=0, high=65535),
        listen_path=listen_path,
        csms_url=csms_url,
        evse_id=evse_id,
        connector_id=connector_id,
        connectors=connectors,
        heartbeat_interval=get.integer(station, "station", "heartbeat_interval", 300, low=1),
        vendor_name=get.text(station, "station", "vendor_name", "OCPP Conformance", low=1, high=VENDOR_NAME_MAX),
        model=get.text(station, "station", "model", "Fake Station", low=1, high=MODEL_MAX),
        valid_id_token=_id_token(tokens, "valid", "VALID001", source),
        invalid_id_token=_id_token(tokens, "invalid", "INVALID001", source),
        blocked_id_token=_id_token(tokens, "blocked", "BLOCKED001", source),
        tx_updated_measurands=get.text(
            station, "station", "tx_updated_measurands", "Energy.Active.Import.Register", low=1
        ),
        tx_updated_interval=get.integer(station, "station", "tx_updated_interval", 10, low=0),
        retry_back_off_wait_minimum=get.integer(station, "station", "retry_back_off_wait_minimum", 30, low=0),
        data_transfer_vendor_id=get.text(
            transfer, "data_transfer", "vendor_id", "org.openchargealliance.octt", low=1, high=VENDOR_ID_MAX
        ),
        data_transfer_message_id=get.text(
            transfer, "data_transfer", "message_id", "ocpp-conformance-unused", low=1, high=MESSAGE_ID_MAX
        ),
        timeouts=Timeouts(**{key: get.seconds(timeouts, key) for key in timeouts}),
        limits=_limits(limits, get),
        action_driver=driver,
        action_commands=commands,
        action_webhook=webhook,
        faults=faults,
        source=source,
        tls=tls,
    )


def _limits(table: dict[str, Any], get: _Getter) -> Limits:
    """``[limits]``: integers within LIMIT_RANGES, max_interval a positive number of seconds."""
    values: dict[str, Any] = {
        key: get.integer(table, "limits", key, getattr(Limits, key), low=low, high=high)
        for key, (low, high) in LIMIT_RANGES.items()
        if key in table
    }
    if "max_interval" in table:
        values["max_interval"] = get.seconds(table, "max_interval", "limits")
    return Limits(**values)


def _check_role(role: str) -> None:
    if role not in ROLES:
        raise HarnessError(f"role must be one of {ROLES}, got {role!r}")


def _check_faults(role: str, faults: tuple[str, ...] | list[str], where: str) -> None:
    unknown = sorted(set(faults) - REFERENCE_FAULTS[role].keys())
    if unknown:
        raise HarnessError(
            f"{where}: unknown fault(s) {unknown} of the reference {role.upper()}; known: {sorted(REFERENCE_FAULTS[role])}"
        )


# --- checking helpers -------------------------------------------------------------------------------------


def _error(source: str, message: str) -> HarnessError:
    return HarnessError(f"invalid SUT configuration {source}: {message}")


def _check_keys(table: dict[str, Any], known: Any, where: str, source: str) -> None:
    """Reject a key ``table`` does not know, naming it; a PICS file gets a hint."""
    unknown = [key for key in table if key not in known]
    if not unknown:
        return
    what = f"unknown key(s) {', '.join(repr(k) for k in unknown)} in {where}" if where else (
        f"unknown table(s) {', '.join(f'[{k}]' for k in unknown)}"
    )
    hint = ""
    looks_like_pics = (not where and any(key in PICS_TABLES for key in unknown)) or (
        where == "[sut]" and "profiles" in unknown
    )
    if looks_like_pics:
        hint = " (this looks like a PICS file: pass it with --pics, not as the SUT configuration)"
    raise _error(source, f"{what}; known: {', '.join(known)}{hint}")


def _table(data: dict[str, Any], name: str, source: str) -> dict[str, Any]:
    value = data.get(name, {})
    if not isinstance(value, dict):
        raise _error(source, f"[{name}] must be a table, got {_kind(value)} {value!r}")
    return value


def _kind(value: Any) -> str:
    return {bool: "a boolean", int: "an integer", float: "a number", str: "a string", list: "an array", dict: "a table"}.get(
        type(value), type(value).__name__
    )


class _Getter:
    """Typed, range-checked reads of one key; every message names the table, the key and the file."""

    def __init__(self, source: str) -> None:
        self.source = source

    def _fail(self, table: str, key: str, message: str) -> HarnessError:
        return _error(self.source, f"[{table}] {key} {message}")

    def text(
        self, data: dict[str, Any], table: str, key: str, default: Any, low: int = 0, high: int | None = None
    ) -> Any:
        if key not in data:
            return default
        value = data[key]
        if not isinstance(value, str):
            raise self._fail(table, key, f"must be a string, got {_kind(value)} {value!r}")
        if len(value) < low:
            raise self._fail(table, key, "must not be empty" if low == 1 else f"must be at least {low} characters")
        if high is not None and len(value) > high:
            raise self._fail(table, key, f"must be at most {high} characters, got {len(value)}: {value!r}")
        return value

    def choice(self, data: dict[str, Any], table: str, key: str, allowed: tuple[str, ...], default: str = "") -> str:
        value = self.text(data, table, key, default)
        if value not in allowed:
            raise self._fail(table, key, f"must be one of {', '.join(repr(a) for a in allowed)}, got {value!r}")
        return value

    def integer(
        self, data: dict[str, Any], table: str, key: str, default: int, low: int | None = None, high: int | None = None
    ) -> int:
        value = data.get(key, default)
        if isinstance(value, bool) or not isinstance(value, int):
            raise self._fail(table, key, f"must be an integer, got {_kind(value)} {value!r}")
        if low is not None and value < low:
            raise self._fail(table, key, f"must be at least {low}, got {value}")
        if high is not None and value > high:
            raise self._fail(table, key, f"must be at most {high}, got {value}")
        return value

    def seconds(self, data: dict[str, Any], key: str, table: str = "timeouts") -> float:
        value = data[key]
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise self._fail(table, key, f"must be a number of seconds, got {_kind(value)} {value!r}")
        if not value > 0 or value == float("inf"):
            raise self._fail(table, key, f"must be a positive number of seconds, got {value}")
        return float(value)

    def text_list(self, data: dict[str, Any], table: str, key: str) -> list[str]:
        value = data.get(key, [])
        if not isinstance(value, list) or not all(isinstance(item, str) for item in value):
            raise self._fail(table, key, f"must be an array of strings, got {value!r}")
        return value


def _connectors(station: dict[str, Any], source: str) -> dict[int, list[int]]:
    """``[station.connectors]``: EVSE id (a quoted key, "1") → its connector ids, e.g. ``"1" = [1, 2]``."""
    raw = station.get("connectors", {"1": [1]})
    if not isinstance(raw, dict) or not raw:
        raise _error(source, f'[station] connectors must be a non-empty table of EVSE id to connector ids, e.g. {{ "1" = [1] }}, got {raw!r}')
    connectors: dict[int, list[int]] = {}
    for evse, ids in raw.items():
        if not evse.isdigit() or int(evse) < 1:
            raise _error(source, f"[station] connectors: EVSE id {evse!r} must be a positive integer")
        if (
            not isinstance(ids, list)
            or not ids
            or not all(isinstance(i, int) and not isinstance(i, bool) and i >= 1 for i in ids)
            or len(set(ids)) != len(ids)
        ):
            raise _error(source, f"[station] connectors: EVSE {evse} must list distinct positive connector ids, got {ids!r}")
        connectors[int(evse)] = list(ids)
    return connectors


def _id_token(tokens: dict[str, Any], name: str, default: str, source: str) -> IdToken:
    """``[id_tokens.<name>]``: ``id_token`` (required when the table is given) and ``type`` (IdTokenEnumType)."""
    if name not in tokens:
        return IdToken(default)
    table = tokens[name]
    where = f"id_tokens.{name}"
    if not isinstance(table, dict):
        raise _error(source, f"[{where}] must be a table with id_token and type, got {_kind(table)} {table!r}")
    _check_keys(table, ID_TOKEN_KEYS, f"[{where}]", source)
    get = _Getter(source)
    token_type = get.choice(table, where, "type", ID_TOKEN_TYPES, "ISO14443")
    if "id_token" not in table:
        raise _error(source, f"[{where}] id_token is missing")
    low = 0 if token_type == "NoAuthorization" else 1
    return IdToken(get.text(table, where, "id_token", None, low=low, high=ID_TOKEN_MAX), token_type)


def _tls(
    data: dict[str, Any], role: str, kind: str, csms_url: str, base: Path, source: str
) -> TlsConfig | None:
    """``[tls]``: which keys the role takes, which are required, and that every PEM file is usable."""
    wss = role == "csms" and kind == "external" and csms_url.startswith("wss://")
    if "tls" not in data:
        if wss:
            raise _error(
                source,
                "[csms] url is wss:// but there is no [tls] table: set [tls] ca_certificate to the PEM file of the "
                "CSMS's root certificate (the harness never connects without verifying the server certificate)",
            )
        return None
    table = _table(data, "tls", source)
    if kind == "reference":
        raise _error(source, "[tls] only applies to an external SUT ([sut] kind = 'external'): the reference SUTs use ws://")
    misplaced = [key for key in table if key not in TLS_KEYS[role]]
    if misplaced:
        other = "csms" if role == "cs" else "cs"
        raise _error(
            source,
            f"[tls] {', '.join(repr(key) for key in misplaced)} only appl{'ies' if len(misplaced) == 1 else 'y'} to "
            f"role = '{other}'; with role = '{role}' [tls] takes {', '.join(TLS_KEYS[role])}",
        )
    min_version = _Getter(source).choice(table, "tls", "min_version", TLS_VERSIONS, "TLSv1.2")

    def path(key: str) -> Path | None:
        return _pem_path(table, key, base, source) if key in table else None

    if role == "cs":
        for name in ("server_certificate", "server_key"):
            if name not in table:
                raise _error(
                    source,
                    f"[tls] {name} is missing: with [tls] the harness's CSMS listens with wss:// and needs its server "
                    "certificate and private key (PEM files)",
                )
        certificate, private_key = path("server_certificate"), path("server_key")
        assert certificate is not None and private_key is not None
        _check_key_pair(certificate, private_key, "server_certificate", "server_key", source)
        client_ca = path("client_ca")
        if client_ca is not None:
            _check_certificates(client_ca, "client_ca", source)
        return TlsConfig(min_version, server_certificate=certificate, server_key=private_key, client_ca=client_ca)

    if not csms_url.startswith("wss://"):
        raise _error(source, f"[tls] is set but [csms] url {csms_url!r} is not wss://: use the CSMS's wss:// URL or remove [tls]")
    if "ca_certificate" not in table:
        raise _error(
            source,
            "[tls] ca_certificate is missing: the PEM file of the CSMS's root certificate, to verify the server "
            "(the harness never connects without verifying it)",
        )
    ca_certificate = path("ca_certificate")
    assert ca_certificate is not None
    _check_certificates(ca_certificate, "ca_certificate", source)
    if ("client_certificate" in table) != ("client_key" in table):
        given, missing = ("client_certificate", "client_key") if "client_certificate" in table else ("client_key", "client_certificate")
        raise _error(source, f"[tls] {given} is set but {missing} is missing: a client certificate needs both (security profile 3)")
    client_certificate, client_key = path("client_certificate"), path("client_key")
    if client_certificate is not None and client_key is not None:
        _check_key_pair(client_certificate, client_key, "client_certificate", "client_key", source)
    return TlsConfig(
        min_version, ca_certificate=ca_certificate, client_certificate=client_certificate, client_key=client_key
    )


def _pem_path(table: dict[str, Any], key: str, base: Path, source: str) -> Path:
    """The key's path, relative to the SUT file's folder unless absolute."""
    value = Path(_Getter(source).text(table, "tls", key, None, low=1))
    return (value if value.is_absolute() else base / value).absolute()


def _read_pem(path: Path, key: str, source: str) -> bytes:
    try:
        return path.read_bytes()
    except OSError as error:
        raise _error(source, f"[tls] {key}: cannot read {path} ({error.strerror or error})") from None


def _check_certificates(path: Path, key: str, source: str) -> list[x509.Certificate]:
    """The PEM certificates of ``path`` (at least one), in file order."""
    try:
        certificates = x509.load_pem_x509_certificates(_read_pem(path, key, source))
    except ValueError as error:
        raise _error(source, f"[tls] {key}: {path} holds no readable PEM certificate ({error})") from None
    return certificates


def _check_key_pair(certificate_path: Path, key_path: Path, certificate_key: str, key_key: str, source: str) -> None:
    """The private key must be unencrypted PEM and belong to the first certificate of its file (the leaf)."""
    leaf = _check_certificates(certificate_path, certificate_key, source)[0]
    data = _read_pem(key_path, key_key, source)
    try:
        private_key = serialization.load_pem_private_key(data, password=None)
    except TypeError:
        raise _error(
            source, f"[tls] {key_key}: {key_path} is an encrypted private key; the harness needs it unencrypted (PEM)"
        ) from None
    except (ValueError, UnsupportedAlgorithm) as error:
        raise _error(source, f"[tls] {key_key}: {key_path} holds no readable PEM private key ({error})") from None
    spki = serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    if private_key.public_key().public_bytes(*spki) != leaf.public_key().public_bytes(*spki):
        raise _error(
            source,
            f"[tls] {key_key} {key_path} does not match [tls] {certificate_key} {certificate_path} "
            "(the key must belong to the first certificate of the file)",
        )


def _commands(actions: dict[str, Any], source: str) -> dict[str, str]:
    """``[actions.commands]``: action name (one of harness.actions.ACTIONS) → shell command template."""
    raw = actions.get("commands", {})
    if not isinstance(raw, dict):
        raise _error(source, f"[actions] commands must be a table of action name to command, got {_kind(raw)} {raw!r}")
    _check_keys(raw, ACTIONS, "[actions.commands]", source)
    get = _Getter(source)
    for name in raw:
        template = get.text(raw, "actions.commands", name, None, low=1)
        try:
            list(string.Formatter().parse(template))
        except ValueError as error:
            raise _error(source, f"[actions.commands] {name} is not a valid template ({error}): {template!r}") from None
    return dict(raw)
