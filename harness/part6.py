"""Part 6 facts as data: every test case table, its steps and the validations a case must check.

The data is extracted from the OCA's Part 6 and corrected by hand against the PDF text
(certification_profiles/build_part6.py, part6_corrections.toml); this module only loads it. A case names the
Part 6 validation it checks ("step 4", "post 1") so that a FAIL can cite the table's own words and the Part 2
requirement behind them, and so that harness.lint can tell which validations a case forgets.

Part 6 also writes device-model variables loosely ("AuthCtrl.AuthEnabled", "OCPPCommCtrl", "HeartbeatInterval");
`resolve_variable` maps each spelling to the real component and variable of the Part 2 appendix
(certification_profiles/variable_nicknames.toml, checked against dm_components_vars.csv).
"""

from __future__ import annotations

import csv
import json
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from types import MappingProxyType
from typing import Literal

from harness.catalog import catalog_dir
from harness.pics import ROLES, Role

PART6_FILE = "part6.json"
NICKNAMES_FILE = "variable_nicknames.toml"
DEVICE_MODEL_FILE = "dm_components_vars.csv"

Actor = Literal["cs", "csms", "both", "manual"]
VariableRef = tuple[str, str, str | None]


@dataclass(frozen=True)
class Validation:
    """One Part 6 check: a "Tool validations" bullet ("step 4") or a post scenario validation ("post 1")."""

    id: str
    step: str
    text: str
    requirement: str
    note: str


@dataclass(frozen=True)
class Step:
    """A numbered step of the Main scenario; `actor` is the table column it stands in (or 'both'/'manual')."""

    number: str
    actor: Actor
    text: str


@dataclass(frozen=True)
class CaseTable:
    """A Part 6 test case (or reusable/memory state) table in the table's own words."""

    id: str
    title: str
    role: Role
    use_cases: str
    requirements: tuple[str, ...]
    prerequisites: tuple[str, ...]
    before_configuration: tuple[str, ...]
    before_memory: tuple[str, ...]
    before_reusable_states: tuple[str, ...]
    steps: tuple[Step, ...]
    validations: tuple[Validation, ...]
    post_validations: tuple[Validation, ...]
    prerequisites_text: str = ""
    manual_actions: tuple[str, ...] = ()

    @property
    def all_validations(self) -> tuple[Validation, ...]:
        """Tool validations then post scenario validations, in table order."""
        return self.validations + self.post_validations

    def validation(self, validation_id: str) -> Validation:
        """The validation with this id; KeyError names the case and the ids it has."""
        for validation in self.all_validations:
            if validation.id == validation_id:
                return validation
        known = ", ".join(validation.id for validation in self.all_validations) or "none"
        raise KeyError(f"{self.id} has no Part 6 validation {validation_id!r} (it has: {known})")


@dataclass(frozen=True)
class Part6:
    cases: Mapping[str, CaseTable]
    reusable_states: Mapping[Role, Mapping[str, CaseTable]]
    memory_states: Mapping[Role, Mapping[str, CaseTable]]


def _validation(raw: dict, post: bool) -> Validation:
    return Validation(raw["id"], "" if post else raw["step"], raw["text"], raw.get("requirement", ""),
                      raw.get("note", ""))


def _table(raw: dict) -> CaseTable:
    before = raw["before"]
    return CaseTable(
        id=raw["id"],
        title=raw["title"],
        role=raw["role"],
        use_cases=raw["use_cases"],
        requirements=tuple(raw["requirements"]),
        prerequisites=tuple(raw["prerequisites"]["cases"]),
        before_configuration=tuple(before["configuration"]),
        before_memory=tuple(before["memory"]),
        before_reusable_states=tuple(before["reusable_states"]),
        steps=tuple(Step(step["number"], step["actor"], step["text"]) for step in raw["steps"]),
        validations=tuple(_validation(item, post=False) for item in raw["validations"]),
        post_validations=tuple(_validation(item, post=True) for item in raw["post_validations"]),
        prerequisites_text=raw["prerequisites"]["text"],
        manual_actions=tuple(raw["manual_actions"]),
    )


def _states(raw: dict) -> Mapping[Role, Mapping[str, CaseTable]]:
    return MappingProxyType({role: MappingProxyType({name: _table(item) for name, item in raw[role].items()})
                             for role in ROLES})


@cache
def _load(directory: Path) -> Part6:
    raw = json.loads((directory / PART6_FILE).read_text(encoding="utf-8"))
    cases = MappingProxyType({case_id: _table(item) for case_id, item in raw["cases"].items()})
    return Part6(cases, _states(raw["reusable_states"]), _states(raw["memory_states"]))


def load_part6() -> Mapping[str, CaseTable]:
    """Every Part 6 test case table by id (read once)."""
    return _load(catalog_dir()).cases


def case_table(case_id: str) -> CaseTable:
    """The Part 6 table of this case; KeyError names the id when Part 6 has no table for it."""
    try:
        return load_part6()[case_id]
    except KeyError:
        raise KeyError(f"Part 6 has no test case table {case_id!r}") from None


def reusable_state(name: str, role: Role) -> CaseTable:
    """A reusable state table ("Booted", "Authorized" …); both roles have a "Booted", so the role is needed."""
    return _state(_load(catalog_dir()).reusable_states, "reusable state", name, role)


def memory_state(name: str, role: Role) -> CaseTable:
    """A memory state table ("IdTokenCached" …) of the given role."""
    return _state(_load(catalog_dir()).memory_states, "memory state", name, role)


def _state(states: Mapping[Role, Mapping[str, CaseTable]], kind: str, name: str, role: Role) -> CaseTable:
    if role not in states:
        raise ValueError(f"role must be one of {ROLES}, got {role!r}")
    try:
        return states[role][name]
    except KeyError:
        raise KeyError(f"Part 6 has no {role.upper()} {kind} {name!r}") from None


# --- device-model variables -------------------------------------------------------------------------

@cache
def device_model(directory: Path | None = None) -> frozenset[VariableRef]:
    """(component, variable, instance or None) of every specific component variable of the Part 2 appendix."""
    directory = directory or catalog_dir()
    with (directory / DEVICE_MODEL_FILE).open(encoding="utf-8", newline="") as handle:
        rows = list(csv.reader(handle, delimiter=";"))
    return frozenset((row[0].strip(), row[1].strip(), row[2].strip() or None)
                     for row in rows[1:] if row and row[0].strip() != "<generic>")


@dataclass(frozen=True)
class Nicknames:
    """Part 6's spellings: whole variable spellings, and component names written without their final "r"."""

    variables: Mapping[str, VariableRef]
    components: Mapping[str, str]


@cache
def nicknames(directory: Path | None = None) -> Nicknames:
    """The nickname tables of variable_nicknames.toml."""
    directory = directory or catalog_dir()
    raw = tomllib.loads((directory / NICKNAMES_FILE).read_text(encoding="utf-8"))
    variables = {spelling: (ref[0], ref[1], ref[2] if len(ref) > 2 else None)
                 for spelling, ref in raw["variables"].items()}
    return Nicknames(MappingProxyType(variables), MappingProxyType(dict(raw["components"])))


def resolve_variable(text: str) -> VariableRef:
    """(component, variable, instance|None) for a Part 6 spelling ("AuthCtrl.AuthEnabled" → AuthCtrlr.Enabled).

    Tried in order: the whole spelling as a nickname; "Component.Variable[.Instance]" with the component's
    nickname replaced, as a nickname and then in the device model. KeyError names the text otherwise.
    """
    spelling = text.strip().strip('"')
    table = nicknames()
    if spelling in table.variables:
        return table.variables[spelling]
    parts = spelling.split(".")
    if len(parts) in (2, 3):
        parts[0] = table.components.get(parts[0], parts[0])
        renamed = ".".join(parts)
        if renamed in table.variables:
            return table.variables[renamed]
        candidate = (parts[0], parts[1], parts[2] if len(parts) == 3 else None)
        if candidate in device_model():
            return candidate
    raise KeyError(f"{text!r} is neither a Part 6 variable nickname nor a device-model Component.Variable")
