"""The Part 5/6 catalog: every Edition 3 test case with its profiles, flags and conditions.

The data is generated (certification_profiles/build_catalog.py) and lives outside the package so that
reviewers can diff it; this module only loads and validates it. Validation parses every condition at load
time, so a bad transcription fails on the first run instead of silently deselecting a case.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from types import MappingProxyType
from typing import Literal

from harness.pics import PROFILE_KEYS, ROLES, Role, parse

CATALOG_ENV = "OCPP_CONFORMANCE_CATALOG"
CATALOG_FILE = "edition3.json"
PROFILES_FILE = "profiles.json"

Flag = Literal["M", "C"]


@dataclass(frozen=True)
class ProfileFlag:
    """One Part 5 cell: M (mandatory when the profile is claimed) or C (mandatory when `condition` holds)."""

    flag: Flag
    condition: str | None


@dataclass(frozen=True)
class Profile:
    key: str
    name: str
    description: str


@dataclass(frozen=True)
class CaseEntry:
    """A Part 6 test case as Part 5 (Edition 3 + errata) sees it."""

    id: str
    role: Role
    block: str
    use_cases: tuple[str, ...]
    requirements: tuple[str, ...]
    title: str
    page: int | None
    profiles: Mapping[str, ProfileFlag]
    notes: tuple[str, ...]


class CatalogError(ValueError):
    """The catalog files are missing or inconsistent."""


@dataclass(frozen=True)
class Catalog:
    cases: tuple[CaseEntry, ...]
    profiles: Mapping[str, Profile]

    def __iter__(self) -> Iterator[CaseEntry]:
        return iter(self.cases)

    def __len__(self) -> int:
        return len(self.cases)

    def get(self, case_id: str) -> CaseEntry:
        """The case with this id (e.g. ``TC_B_01_CS``); KeyError names the id when it is unknown."""
        for case in self.cases:
            if case.id == case_id:
                return case
        raise KeyError(f"no test case {case_id!r} in the Edition 3 catalog")

    def for_role(self, role: str) -> tuple[CaseEntry, ...]:
        """All cases whose system under test has this role, in catalog order."""
        if role not in ROLES:
            raise ValueError(f"role must be one of {ROLES}, got {role!r}")
        return tuple(case for case in self.cases if case.role == role)


def catalog_dir() -> Path:
    """Where the data lives: $OCPP_CONFORMANCE_CATALOG for installed packages, else the repository copy."""
    override = os.environ.get(CATALOG_ENV)
    if override:
        return Path(override)
    return Path(__file__).resolve().parent.parent / "certification_profiles"


def load_catalog(directory: Path | None = None) -> Catalog:
    """Read and validate edition3.json and profiles.json."""
    directory = directory or catalog_dir()
    try:
        raw_cases = json.loads((directory / CATALOG_FILE).read_text(encoding="utf-8"))
        raw_profiles = json.loads((directory / PROFILES_FILE).read_text(encoding="utf-8"))
    except FileNotFoundError as error:
        raise CatalogError(f"catalog file missing: {error.filename} (set ${CATALOG_ENV} to its folder)") from error
    profiles = {key: Profile(key, value["name"], value["description"]) for key, value in raw_profiles.items()}
    if set(profiles) != PROFILE_KEYS:
        raise CatalogError(f"{PROFILES_FILE} must define exactly {sorted(PROFILE_KEYS)}")
    cases = tuple(_case(raw) for raw in raw_cases)
    if len({case.id for case in cases}) != len(cases):
        raise CatalogError(f"{CATALOG_FILE} has duplicate case ids")
    return Catalog(cases, MappingProxyType(profiles))


def _case(raw: dict) -> CaseEntry:
    """Build one entry, rejecting unknown roles, profiles, flags and unparsable conditions."""
    case_id = raw["id"]
    if raw["role"] not in ROLES:
        raise CatalogError(f"{case_id}: role {raw['role']!r} is not one of {ROLES}")
    return CaseEntry(
        id=case_id,
        role=raw["role"],
        block=raw["block"],
        use_cases=tuple(raw["use_cases"]),
        requirements=tuple(raw["requirements"]),
        title=raw["title"],
        page=raw["page"],
        profiles=MappingProxyType({key: _flag(case_id, key, cell) for key, cell in raw["profiles"].items()}),
        notes=tuple(raw["notes"]),
    )


def _flag(case_id: str, profile: str, cell: dict) -> ProfileFlag:
    """An M cell has no condition, a C cell must have one that parses."""
    if profile not in PROFILE_KEYS:
        raise CatalogError(f"{case_id}: unknown profile {profile!r}")
    flag, condition = cell["flag"], cell["condition"]
    if (flag, condition is None) not in {("M", True), ("C", False)}:
        raise CatalogError(f"{case_id} ({profile}): flag {flag!r} with condition {condition!r}")
    if condition is not None:
        parse(condition)
    return ProfileFlag(flag, condition)
