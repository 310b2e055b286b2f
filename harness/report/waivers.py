"""Waivers: a signed-off, dated exception that lets a known FAIL through the gate without hiding it.

A waivers file is TOML, one ``[[waiver]]`` table per case::

    [[waiver]]
    id = "TC_B_09_CS"                 # a case id of the Edition 3 catalog
    reason = "firmware 1.4 rejects …"  # why the FAIL is accepted for now (required, non-empty)
    expires = 2025-06-30               # a TOML date; the waiver is valid through that day (UTC)
    ticket = "ACME-1234"               # optional: where the fix is tracked

Rules, chosen so that a waiver can never turn into a silent pass:

- only a FAIL is waived: it is reported as "FAIL (waived)" with the waiver's reason and does not fail the run;
- a waived case that PASSes makes the run fail: the waiver is stale and must be removed, otherwise it would
  keep covering a regression later;
- an INCONCLUSIVE is not waived (the case said nothing about the SUT), nor is an ERROR (the harness failed);
- an expired waiver counts as absent, and the report says it expired.

Any mistake in the file (bad TOML, unknown key, unknown case id, empty reason, a date that is not a TOML date,
two waivers for one case) is a usage error: a gate must not run with a waiver list it half understood.
"""

from __future__ import annotations

import hashlib
import tomllib
from collections.abc import Collection
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any, Literal

from harness.verdicts import Verdict

WAIVED = "FAIL (waived)"
KEYS = ("id", "reason", "expires", "ticket")

State = Literal["applied", "stale", "ignored"]


class WaiverError(ValueError):
    """The waivers file cannot be trusted as written; the message names the file and the entry."""


@dataclass(frozen=True)
class Waiver:
    id: str
    reason: str
    expires: date
    ticket: str | None = None

    def expired(self, today: date) -> bool:
        """Valid through its `expires` day, so a waiver written "until 30 June" still holds on 30 June."""
        return today > self.expires

    def to_dict(self) -> dict[str, Any]:
        return {"id": self.id, "reason": self.reason, "expires": self.expires.isoformat(), "ticket": self.ticket}


@dataclass(frozen=True)
class WaiverSet:
    """The waivers of one file, with the file's hash so a report proves which list it applied."""

    source: str
    sha256: str
    waivers: tuple[Waiver, ...]

    def active(self, today: date) -> dict[str, Waiver]:
        return {waiver.id: waiver for waiver in self.waivers if not waiver.expired(today)}

    def expired(self, today: date) -> list[Waiver]:
        return [waiver for waiver in self.waivers if waiver.expired(today)]


def load(path: Path, case_ids: Collection[str]) -> WaiverSet:
    """Read and check a waivers file against the catalog's case ids."""
    try:
        data = path.read_bytes()
    except OSError as error:
        raise WaiverError(f"cannot read waivers {path}: {error.strerror or error}") from error
    return parse(data, str(path), case_ids)


def parse(data: bytes, source: str, case_ids: Collection[str]) -> WaiverSet:
    """Parse the bytes of a waivers file; the hash is over exactly these bytes."""
    try:
        document = tomllib.loads(data.decode("utf-8"))
    except (UnicodeDecodeError, tomllib.TOMLDecodeError) as error:
        raise WaiverError(f"{source}: not valid TOML: {error}") from error
    unknown = sorted(set(document) - {"waiver"})
    if unknown:
        raise WaiverError(f"{source}: unknown key(s) {unknown}; a waivers file holds [[waiver]] tables only")
    entries = document.get("waiver", [])
    if not isinstance(entries, list):
        raise WaiverError(f"{source}: 'waiver' must be an array of tables ([[waiver]])")
    waivers = tuple(_waiver(entry, number, source, case_ids) for number, entry in enumerate(entries, start=1))
    _check_unique(waivers, source)
    return WaiverSet(source, hashlib.sha256(data).hexdigest(), waivers)


def _waiver(entry: Any, number: int, source: str, case_ids: Collection[str]) -> Waiver:
    """One [[waiver]] table, every key checked; `number` counts from 1 so messages match the file."""
    where = f"{source}: waiver #{number}"
    if not isinstance(entry, dict):
        raise WaiverError(f"{where} must be a table")
    unknown = sorted(set(entry) - set(KEYS))
    if unknown:
        raise WaiverError(f"{where}: unknown key(s) {unknown}; known: {', '.join(KEYS)}")
    case_id = entry.get("id")
    if not isinstance(case_id, str) or case_id not in case_ids:
        raise WaiverError(f"{where}: id {case_id!r} is not a case of the Edition 3 catalog")
    reason = entry.get("reason")
    if not isinstance(reason, str) or not reason.strip():
        raise WaiverError(f"{where} ({case_id}): reason is missing or empty; say why the FAIL is accepted")
    expires = entry.get("expires")
    if not isinstance(expires, date) or hasattr(expires, "hour"):
        raise WaiverError(f"{where} ({case_id}): expires must be a TOML date such as 2025-06-30, got {expires!r}")
    ticket = entry.get("ticket")
    if ticket is not None and not isinstance(ticket, str):
        raise WaiverError(f"{where} ({case_id}): ticket must be a string, got {ticket!r}")
    return Waiver(case_id, reason.strip(), expires, ticket)


def _check_unique(waivers: tuple[Waiver, ...], source: str) -> None:
    """Two waivers for one case would leave it unclear which reason and date apply."""
    seen: set[str] = set()
    for waiver in waivers:
        if waiver.id in seen:
            raise WaiverError(f"{source}: two waivers for {waiver.id}; keep one")
        seen.add(waiver.id)


def judge(verdict: str, waiver: Waiver | None) -> tuple[str, State | None]:
    """The verdict to report for a case and what its (active) waiver did.

    FAIL + waiver → "FAIL (waived)", applied; PASS + waiver → PASS, stale (the run must fail);
    INCONCLUSIVE or ERROR + waiver → unchanged, ignored.
    """
    if waiver is None:
        return verdict, None
    if verdict == Verdict.FAIL.value:
        return WAIVED, "applied"
    if verdict == Verdict.PASS.value:
        return verdict, "stale"
    return verdict, "ignored"

