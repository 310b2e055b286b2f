"""Which test cases run for one role and one certification profile, and why the others do not.

Rules (Part 5 §4.1): a case belongs to a profile when Part 5 gives it a flag there. M means it must pass
when the profile is claimed; C means it must pass when its condition holds for the vendor's PICS. Without a
PICS a C case's applicability is unknown, so it is reported but not selected.

Core is NOT implied by another profile. Part 5 §2 says Core must always be part of a certification, but
that is a rule about what a vendor claims, not about one profile's table: each Part 5 table is complete on
its own (the ISO 15118 table even re-lists the Advanced Security and Smart Charging cases it depends on). A
full certification run is therefore one `resolve` per claimed profile, Core included; running a single
profile stays possible for development.

Every case of the role is returned, including those outside the profile, so reports never drop a case
silently.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from harness.catalog import Catalog, CaseEntry, Flag
from harness.pics import PROFILE_KEYS, Pics, Role, evaluate, explain

Status = Literal["selected", "not_applicable", "not_implemented", "not_in_profile"]


@dataclass(frozen=True)
class Selection:
    case: CaseEntry
    status: Status
    flag: Flag | None
    condition: str | None
    applicable: bool | None
    implemented: bool
    reason: str

    def to_dict(self) -> dict[str, object]:
        """The JSON-able view used by reports."""
        return {
            "id": self.case.id,
            "role": self.case.role,
            "block": self.case.block,
            "title": self.case.title,
            "profiles": {key: cell.flag for key, cell in self.case.profiles.items()},
            "condition": self.condition,
            "implemented": self.implemented,
            "applicable": self.applicable,
            "reason": self.reason,
        }


def resolve(catalog: Catalog, role: Role, profile: str, pics: Pics | None, implemented: set[str]) -> list[Selection]:
    """One Selection per case of `role`, in catalog order."""
    if profile not in PROFILE_KEYS:
        raise ValueError(f"unknown profile {profile!r}; known: {', '.join(sorted(PROFILE_KEYS))}")
    if pics is not None and pics.role != role:
        raise ValueError(f"the PICS {pics.source} describes a {pics.role}, but the run is for a {role}")
    return [_select(case, profile, pics, case.id in implemented) for case in catalog.for_role(role)]


def _select(case: CaseEntry, profile: str, pics: Pics | None, implemented: bool) -> Selection:
    cell = case.profiles.get(profile)
    if cell is None:
        return Selection(case, "not_in_profile", None, None, False, implemented, _outside(case, profile))
    applicable, reason = _applicability(cell.flag, cell.condition, profile, pics)
    if not applicable:
        return Selection(case, "not_applicable", cell.flag, cell.condition, applicable, implemented, reason)
    if not implemented:
        reason += "; the harness has no test function for it yet"
        return Selection(case, "not_implemented", cell.flag, cell.condition, True, False, reason)
    return Selection(case, "selected", cell.flag, cell.condition, True, True, reason)


def _applicability(flag: Flag, condition: str | None, profile: str, pics: Pics | None) -> tuple[bool | None, str]:
    """True/False/None (unknown) plus the sentence that justifies it."""
    if flag == "M":
        return True, f"mandatory (M) in {profile}"
    assert condition is not None  # the catalog guarantees a condition on every C cell
    if pics is None:
        return None, f"conditional (C) in {profile}; unknown: no PICS given to evaluate `{condition}`"
    return evaluate(condition, pics), f"conditional (C) in {profile}; {explain(condition, pics)}"


def _outside(case: CaseEntry, profile: str) -> str:
    """Why a case is not part of this profile, pointing at the profiles that do list it."""
    if case.profiles:
        return f"not part of {profile} (Part 5 lists it under {', '.join(case.profiles)})"
    return f"not part of {profile} nor of any other profile (not in Part 5 Edition 3 certification)"
