"""The Edition 3 catalog (certification_profiles/edition3.json via harness/catalog.py)."""

import json
from collections import Counter
from pathlib import Path

import pytest

from harness.catalog import CATALOG_ENV, Catalog, CatalogError, load_catalog
from harness.pics import PROFILE_KEYS, parse

# Part 5 Ed3 totals from notes.md (TC_B_58_CSMS included), then the errata folded in:
#   core cs C +1 (TC_B_14_CS added as C), local_auth_list cs 7 M→C (TC_C_21..25, 40, 43),
#   advanced_device_management cs 1 M→C (TC_N_48), advanced_user_interface cs -1 M (TC_O_15 removed),
#   iso15118 -1 C per role (TC_A_13 removed).
EXPECTED = {
    ("core", "cs"): (104, 119), ("core", "csms"): (105, 27),
    ("advanced_security", "cs"): (5, 2), ("advanced_security", "csms"): (4, 0),
    ("local_auth_list", "cs"): (14, 8), ("local_auth_list", "csms"): (8, 1),
    ("smart_charging", "cs"): (33, 3), ("smart_charging", "csms"): (21, 1),
    ("advanced_device_management", "cs"): (36, 5), ("advanced_device_management", "csms"): (18, 0),
    ("reservation", "cs"): (12, 10), ("reservation", "csms"): (6, 3),
    ("advanced_user_interface", "cs"): (25, 7), ("advanced_user_interface", "csms"): (21, 0),
    ("iso15118", "cs"): (54, 6), ("iso15118", "csms"): (36, 1),
}


@pytest.fixture(scope="module")
def catalog() -> Catalog:
    return load_catalog()


def test_every_csv_row_is_in_the_catalog(catalog: Catalog) -> None:
    assert len(catalog) == 677
    assert (len(catalog.for_role("cs")), len(catalog.for_role("csms"))) == (425, 252)


@pytest.mark.parametrize(("profile", "role"), sorted(EXPECTED))
def test_counts_per_profile_and_role_after_errata(catalog: Catalog, profile: str, role: str) -> None:
    flags = Counter(case.profiles[profile].flag for case in catalog.for_role(role) if profile in case.profiles)
    assert (flags["M"], flags["C"]) == EXPECTED[profile, role]


def test_every_conditional_case_has_a_parsable_condition(catalog: Catalog) -> None:
    for case in catalog:
        for key, cell in case.profiles.items():
            assert key in PROFILE_KEYS
            assert (cell.condition is not None) == (cell.flag == "C"), case.id
            if cell.condition:
                parse(cell.condition)


def test_profiles_have_official_names(catalog: Catalog) -> None:
    assert set(catalog.profiles) == PROFILE_KEYS
    assert catalog.profiles["iso15118"].name == "ISO 15118 support"
    assert catalog.profiles["local_auth_list"].name == "Local Authorization List Management"


@pytest.mark.parametrize(("case_id", "profile", "condition"), [
    ("TC_E_03_CS", "core", "not AQ-2 and (C-30 or C-31 or C-32 or C-33 or C-34 or C-35 or profile:iso15118)"),
    ("TC_E_01_CS", "core", "C-09.4 and (C-51 or not (C-09.1 or C-09.2 or C-09.3 or C-09.6))"),
    ("TC_C_02_CS", "core", "(C-30 or C-31 or C-32) and not AQ-2"),
    ("TC_B_02_CSMS", "core", "C-44"),
    ("TC_F_06_CS", "core", "HFS-1 and not subtype:mode_1_2_only"),
    ("TC_F_06_CSMS", "core", "C-11"),
    ("TC_B_41_CS", "core", "HFS-8 > 1"),
    ("TC_K_12_CS", "smart_charging", "not (SC-2.1 and SC-2.2)"),
    ("TC_O_35_CS", "advanced_user_interface", "(UI-1.1 and UI-1.2) or (UI-1.2 and UI-1.3) or (UI-1.3 and UI-1.1)"),
    ("TC_K_38_CS", "core", "not profile:smart_charging"),
])
def test_transcribed_conditions(catalog: Catalog, case_id: str, profile: str, condition: str) -> None:
    assert catalog.get(case_id).profiles[profile].condition == condition


@pytest.mark.parametrize(("case_id", "profile", "flag", "condition", "erratum"), [
    ("TC_E_04_CS", "core", "C", "C-30 or C-31 or C-32 or C-33 or C-35", "errata 2025-01 §5.2"),
    ("TC_E_17_CS", "core", "C",
     "C-10.2 and C-06.2 and AQ-9 and not (not C-52 and (C-10.1 or C-10.3 or C-10.4))", "errata 2025-01 §5.3"),
    ("TC_H_13_CS", "reservation", "C", "not R-2", "errata 2025-01 §5.4"),
    ("TC_B_14_CS", "core", "C", "C-56", "errata 2025-09"),
    ("TC_N_48_CS", "advanced_device_management", "C", "AQ-10", "errata 2025-02"),
    ("TC_C_21_CS", "local_auth_list", "C", "C-30 or C-31 or C-32 or C-34", "errata 2025-02"),
])
def test_errata_are_applied_and_recorded(catalog: Catalog, case_id: str, profile: str, flag: str,
                                         condition: str, erratum: str) -> None:
    case = catalog.get(case_id)
    assert (case.profiles[profile].flag, case.profiles[profile].condition) == (flag, condition)
    assert any(note.startswith(erratum) for note in case.notes)


@pytest.mark.parametrize("case_id", ["TC_A_13_CS", "TC_A_13_CSMS", "TC_O_15_CS", "TC_H_05_CS"])
def test_cases_outside_certification_keep_an_entry(catalog: Catalog, case_id: str) -> None:
    case = catalog.get(case_id)
    assert case.profiles == {}
    assert case.notes


def test_entry_fields(catalog: Catalog) -> None:
    case = catalog.get("TC_B_01_CS")
    assert (case.role, case.block, case.use_cases, case.page) == ("cs", "B", ("B01",), 27)
    assert case.requirements == ("B01.FR.01", "B01.FR.05", "B01.FR.09")
    assert all(req.count(".FR.") == 1 for c in catalog for req in c.requirements)


def test_unknown_id_raises_with_the_id(catalog: Catalog) -> None:
    with pytest.raises(KeyError, match="TC_Z_99_CS"):
        catalog.get("TC_Z_99_CS")


def test_catalog_dir_from_environment(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(CATALOG_ENV, str(tmp_path))
    with pytest.raises(CatalogError, match="catalog file missing"):
        load_catalog()


def test_inconsistent_flag_is_rejected(tmp_path: Path) -> None:
    source = Path(__file__).resolve().parent.parent / "certification_profiles"
    (tmp_path / "profiles.json").write_text((source / "profiles.json").read_text())
    bad = [{"id": "TC_X_01_CS", "role": "cs", "block": "X", "use_cases": [], "requirements": [], "title": "x",
            "page": None, "profiles": {"core": {"flag": "C", "condition": None}}, "notes": []}]
    (tmp_path / "edition3.json").write_text(json.dumps(bad))
    with pytest.raises(CatalogError, match="TC_X_01_CS"):
        load_catalog(tmp_path)
