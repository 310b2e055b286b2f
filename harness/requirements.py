"""Part 2 requirement texts, so that a FAIL can quote the requirement it breaks.

The data is the OCA's requirement table (certification_profiles/requirements.csv, shipped unchanged) with the
errata 2025-09 applied on top (requirements_errata.csv, built by certification_profiles/build_requirements.py):
where the errata give a new text for an id, the errata win; where they delete an id, it is gone.
"""

from __future__ import annotations

import csv
import re
from collections.abc import Mapping
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from types import MappingProxyType

from harness.catalog import catalog_dir

REQUIREMENTS_FILE = "requirements.csv"
ERRATA_FILE = "requirements_errata.csv"
REQUIREMENT_ID = re.compile(r"\b[A-P]\d{2}\.FR\.\d{2,3}\b")
QUOTE_LENGTH = 240


@dataclass(frozen=True)
class Requirement:
    """One Part 2 requirement: its precondition (may be empty), its definition and its note."""

    id: str
    precondition: str
    text: str
    note: str


def _read(path: Path) -> list[dict[str, str]]:
    with path.open(encoding="utf-8", newline="") as handle:
        return list(csv.DictReader(handle))


@cache
def load_requirements(directory: Path | None = None) -> Mapping[str, Requirement]:
    """Every requirement by id, errata applied."""
    directory = directory or catalog_dir()
    table = {row["id"]: Requirement(row["id"], row["precondition"], row["requirement"], row["note"])
             for row in _read(directory / REQUIREMENTS_FILE)}
    for row in _read(directory / ERRATA_FILE):
        if row["action"] == "delete":
            table.pop(row["id"], None)
        else:
            table[row["id"]] = Requirement(row["id"], row["precondition"], row["requirement"], row["note"])
    return MappingProxyType(table)


def requirement(requirement_id: str) -> Requirement:
    """The requirement with this id (e.g. ``B01.FR.05``); KeyError names the id when Part 2 has none."""
    try:
        return load_requirements()[requirement_id]
    except KeyError:
        raise KeyError(f"no Part 2 requirement {requirement_id!r} (errata 2025-09 applied)") from None


def quote(ids: str) -> str:
    """A short quote per id of ``"B01.FR.05, B01.FR.09"``: ``"B01.FR.05: <precondition,> <text>"``, joined by " | ".

    Meant for a FAIL's reason, so an unknown id is quoted as unknown rather than raising.
    """
    return " | ".join(_quote_one(requirement_id) for requirement_id in REQUIREMENT_ID.findall(ids))


def _quote_one(requirement_id: str) -> str:
    known = load_requirements().get(requirement_id)
    if known is None:
        return f"{requirement_id}: (not in Part 2)"
    precondition = known.precondition.strip().rstrip(".,")
    body = f"{precondition}, {known.text}" if precondition else known.text
    if len(body) > QUOTE_LENGTH:
        body = body[:QUOTE_LENGTH - 1].rstrip() + "…"
    return f"{requirement_id}: {body}"
