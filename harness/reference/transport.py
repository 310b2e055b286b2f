"""OCPP-J transport details shared by both reference SUTs (OCPP 2.0.1 Part 4 §3 and Part 2 A00 security profile 1)."""

from __future__ import annotations

import base64
from datetime import UTC, datetime

from websockets.typing import Subprotocol

SUBPROTOCOL = Subprotocol("ocpp2.0.1")
MAX_MESSAGE_SIZE = 4 * 1024 * 1024  # OCPP messages (a FullInventory report) exceed websockets' 1 MiB default.


def basic_auth_header(identity: str, password: str) -> str:
    """Authorization header value of security profile 1: username is the station identity (A00.FR.203)."""
    token = base64.b64encode(f"{identity}:{password}".encode()).decode("ascii")
    return f"Basic {token}"


def now() -> str:
    """A UTC dateTime as OCPP expects it (RFC 3339 with 'Z')."""
    return datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")
