"""Test-case selection per role, profile and PICS (harness/selection.py)."""

from pathlib import Path

import pytest

from harness.catalog import Catalog, load_catalog
from harness.pics import Pics
from harness.selection import resolve

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures" / "pics"


@pytest.fixture(scope="module")
def catalog() -> Catalog:
    return load_catalog()


@pytest.fixture(scope="module")
def cs_pics() -> Pics:
    return Pics.load(FIXTURES / "reference_cs.toml")


def by_id(selections: list) -> dict:
    return {selection.case.id: selection for selection in selections}


def test_every_case_of_the_role_is_reported(catalog: Catalog, cs_pics: Pics) -> None:
    selections = resolve(catalog, "cs", "core", cs_pics, set())
    assert [s.case.id for s in selections] == [c.id for c in catalog.for_role("cs")]


def test_mandatory_case_is_selected_when_implemented(catalog: Catalog) -> None:
    selection = by_id(resolve(catalog, "cs", "core", None, {"TC_B_01_CS"}))["TC_B_01_CS"]
    assert (selection.status, selection.flag, selection.applicable) == ("selected", "M", True)
    assert selection.reason == "mandatory (M) in core"


def test_applicable_but_unimplemented_case(catalog: Catalog) -> None:
    selection = by_id(resolve(catalog, "cs", "core", None, set()))["TC_B_01_CS"]
    assert (selection.status, selection.implemented) == ("not_implemented", False)
    assert "no test function" in selection.reason


def test_conditional_case_without_pics_is_unknown(catalog: Catalog) -> None:
    selection = by_id(resolve(catalog, "cs", "core", None, {"TC_C_02_CS"}))["TC_C_02_CS"]
    assert (selection.status, selection.flag, selection.applicable) == ("not_applicable", "C", None)
    assert "unknown: no PICS given" in selection.reason
    assert selection.condition in selection.reason


def test_conditional_case_that_holds(catalog: Catalog, cs_pics: Pics) -> None:
    selection = by_id(resolve(catalog, "cs", "core", cs_pics, {"TC_C_02_CS"}))["TC_C_02_CS"]
    assert (selection.status, selection.applicable) == ("selected", True)
    assert "C-30 is true" in selection.reason and "AQ-2 is false" in selection.reason


def test_conditional_case_that_does_not_hold(catalog: Catalog, cs_pics: Pics) -> None:
    selection = by_id(resolve(catalog, "cs", "core", cs_pics, {"TC_B_41_CS"}))["TC_B_41_CS"]
    assert (selection.status, selection.applicable) == ("not_applicable", False)
    assert "`HFS-8 > 1` does not hold" in selection.reason
    assert "HFS-8 = 1" in selection.reason


def test_missing_ids_are_named_in_the_reason(catalog: Catalog, cs_pics: Pics) -> None:
    selection = by_id(resolve(catalog, "cs", "core", cs_pics, set()))["TC_C_26_CS"]
    assert selection.status == "not_applicable"
    assert "C-02 is false" in selection.reason


def test_cases_outside_the_profile(catalog: Catalog, cs_pics: Pics) -> None:
    selections = by_id(resolve(catalog, "cs", "core", cs_pics, set()))
    assert selections["TC_D_01_CS"].status == "not_in_profile"
    assert "local_auth_list" in selections["TC_D_01_CS"].reason
    assert "any other profile" in selections["TC_O_15_CS"].reason


def test_core_is_not_implied_by_another_profile(catalog: Catalog) -> None:
    selection = by_id(resolve(catalog, "cs", "smart_charging", None, set()))["TC_B_01_CS"]
    assert selection.status == "not_in_profile"


def test_csms_selection_with_reference_pics(catalog: Catalog) -> None:
    pics = Pics.load(FIXTURES / "reference_csms.toml")
    selections = by_id(resolve(catalog, "csms", "core", pics, {"TC_B_02_CSMS", "TC_L_02_CSMS"}))
    assert selections["TC_B_02_CSMS"].status == "selected"
    assert selections["TC_L_02_CSMS"].status == "not_applicable"


def test_to_dict_is_json_ready(catalog: Catalog, cs_pics: Pics) -> None:
    selection = by_id(resolve(catalog, "cs", "core", cs_pics, {"TC_C_02_CS"}))["TC_C_02_CS"]
    assert selection.to_dict() == {
        "id": "TC_C_02_CS", "role": "cs", "block": "C", "title": selection.case.title,
        "profiles": {"core": "C"}, "condition": "(C-30 or C-31 or C-32) and not AQ-2",
        "implemented": True, "applicable": True, "reason": selection.reason,
    }


def test_rejects_unknown_profile_and_role_mismatch(catalog: Catalog, cs_pics: Pics) -> None:
    with pytest.raises(ValueError, match="unknown profile 'gold'"):
        resolve(catalog, "cs", "gold", None, set())
    with pytest.raises(ValueError, match="describes a cs"):
        resolve(catalog, "csms", "core", cs_pics, set())
