"""Part 6 as data: the extracted tables, the hand corrections, Part 2 requirement texts and variable nicknames."""

from __future__ import annotations

import json
import re
import sys
import tomllib
from pathlib import Path

import pytest

from harness.catalog import catalog_dir, load_catalog
from harness.part6 import (CaseTable, case_table, device_model, load_part6, memory_state, nicknames,
                           resolve_variable, reusable_state)
from harness.requirements import load_requirements, quote, requirement

PROFILES = catalog_dir()
SPEC = Path(__file__).resolve().parents[2] / "shared" / "spec" / "ocpp-2.0.1"
"""The standard beside the repository (shared/, as on a developer's machine and in CI)."""
IMPLEMENTED = ("TC_B_01_CS", "TC_B_02_CS", "TC_B_03_CS", "TC_B_06_CS", "TC_B_09_CS", "TC_E_03_CS", "TC_E_40_CS",
               "TC_G_01_CS", "TC_P_01_CS", "TC_B_01_CSMS", "TC_B_02_CSMS", "TC_B_06_CSMS", "TC_C_06_CSMS",
               "TC_E_01_CSMS", "TC_P_02_CSMS")
STATES_USED = (("cs", "Booted"), ("cs", "EVConnectedPreSession"), ("cs", "Authorized"),
               ("cs", "EnergyTransferStarted"), ("csms", "Booted"))
# Catalog ids with no Part 6 Edition 3 table: added by the errata (TC_B_58_CSMS), only referenced by Part 5
# (TC_N_21_CSMS) or inferred from a Part 5 group (TC_H_05_CS).
WITHOUT_TABLE = {"TC_B_58_CSMS", "TC_N_21_CSMS", "TC_H_05_CS"}
REQUIREMENT_ID = re.compile(r"[A-P]\d{2}\.FR\.\d{2,3}")


def tables_under_test() -> list[CaseTable]:
    return [case_table(case_id) for case_id in IMPLEMENTED] + [reusable_state(name, role)
                                                              for role, name in STATES_USED]


# --- extraction -------------------------------------------------------------------------------------

def test_every_case_table_of_part6_is_extracted() -> None:
    """Part 6 Edition 3 has 674 case tables: 424 CS and 250 CSMS (a 251st CSMS id has no table)."""
    roles = [table.role for table in load_part6().values()]
    assert (roles.count("cs"), roles.count("csms")) == (424, 250)
    assert all(case_id.endswith("_CSMS") == (table.role == "csms") for case_id, table in load_part6().items())


def test_every_catalog_case_with_a_table_is_present() -> None:
    catalog_ids = {case.id for case in load_catalog()}
    assert catalog_ids - set(load_part6()) == WITHOUT_TABLE
    assert set(load_part6()) <= catalog_ids


def test_reusable_and_memory_states_are_keyed_by_role_and_name() -> None:
    for role, name in STATES_USED:
        assert reusable_state(name, role).id == name
        assert reusable_state(name, role).role == role
    assert memory_state("IdTokenCached", "cs").role == "cs"
    assert reusable_state("Booted", "cs").steps != reusable_state("Booted", "csms").steps


def test_tc_b_02_cs_spot_check() -> None:
    table = case_table("TC_B_02_CS")
    assert [validation.id for validation in table.all_validations] == [
        "step 4", "step 6", "step 8", "step 12", "step 14", "step 15", "step 17", "post 1"]
    assert table.prerequisites == ("TC_B_06_CS", "TC_B_09_CS", "TC_B_13_CS")
    assert table.manual_actions == ("Reboot the Charging Station.",)
    assert [step.number for step in table.steps] == [str(n) for n in (1, 2, 4, 3, 6, 5, 8, 7, 9, 10, 12, 11, 14,
                                                                      13, 15, 16, 17, 18)]
    assert {step.actor for step in table.steps if int(step.number) % 2} == {"cs", "csms"}
    assert table.validation("step 12").text == "Message: RequestStartTransactionResponse-status Rejected"
    assert table.validation("step 12").requirement == "B02.FR.05"
    assert "NotifyReportResponse" in next(step.text for step in table.steps if step.number == "10")


def test_tc_b_01_cs_has_a_post_validation_and_no_tool_validation() -> None:
    table = case_table("TC_B_01_CS")
    assert table.validations == ()
    assert [validation.id for validation in table.post_validations] == ["post 1"]
    assert table.steps[0].actor == "both" and table.steps[0].text == "Execute Reusable State Booted"


def test_cases_without_validations_and_before_lines() -> None:
    assert case_table("TC_E_03_CS").all_validations == ()
    assert case_table("TC_G_01_CS").all_validations == ()
    assert case_table("TC_E_03_CS").before_reusable_states == ("State is EVConnectedPreSession",)
    assert case_table("TC_E_40_CS").before_configuration[2] == "SampledDataEnabled is true"
    assert case_table("TC_B_06_CS").before_configuration == ("OCPPCommCtrlr.OfflineThreshold is 300",)


def test_corrections_restore_the_pdf_words() -> None:
    blocked = case_table("TC_C_06_CSMS")
    assert blocked.validation("step 2").text == "Message: AuthorizeResponse - idTokenInfo.status Blocked or Invalid"
    assert "Blocked" in blocked.before_configuration[0]
    assert "variable.name" in case_table("TC_B_09_CS").validation("step 2").text
    assert "TransactionEventRequest" in case_table("TC_E_40_CS").validation("step 3").text
    assert not any("evseld" in step.text or "OCPPCommCtrl\"" in step.text
                   for table in load_part6().values() for step in table.steps)


def test_part6_slips_are_corrected_with_a_note() -> None:
    """TC_B_02_CSMS validates the BootNotificationResponse of step 4 (Part 6 says 'Step 3')."""
    table = case_table("TC_B_02_CSMS")
    assert [validation.id for validation in table.validations] == ["step 2", "step 4"]
    assert "Step 3" in table.validation("step 4").note


def test_errata_remove_the_status_notification_from_authorized_main_b() -> None:
    authorized = reusable_state("Authorized", "cs")
    assert [validation.id for validation in authorized.validations] == [
        "A step 1", "A step 3", "B step 2", "B step 3", "B step 5"]
    main_b = authorized.steps[4:]
    assert [step.number for step in main_b] == ["2", "1", "3", "4", "5", "6"]
    assert "TransactionEventRequest" in main_b[4].text
    assert not any("StatusNotificationRequest" in step.text for step in main_b)


def test_multi_step_validation_bullets_keep_their_numbers() -> None:
    assert "step 3/6/9" in [validation.id for validation in case_table("TC_A_23_CS").validations]


def test_validation_ids_are_unique_in_every_table() -> None:
    for table in load_part6().values():
        ids = [validation.id for validation in table.all_validations]
        assert len(set(ids)) == len(ids), table.id
    assert [validation.id for validation in case_table("TC_C_26_CS").validations] == ["step 1", "step 1 (2)"]


@pytest.mark.skipif(not (SPEC / "OCPP-2.0.1_edition3_part6-testcases.md").exists(), reason="no Part 6 source")
def test_build_is_reproducible() -> None:
    sys.path.insert(0, str(PROFILES))
    try:
        import build_part6
    finally:
        sys.path.remove(str(PROFILES))
    source = SPEC / "OCPP-2.0.1_edition3_part6-testcases.md"
    data = build_part6.extract(source.read_text(encoding="utf-8"),
                               build_part6.pdf_titles(source.with_suffix(".txt").read_text(encoding="utf-8")))
    build_part6.apply_corrections(data, tomllib.loads(build_part6.CORRECTIONS.read_text(encoding="utf-8")))
    assert json.loads(json.dumps(data)) == json.loads((PROFILES / "part6.json").read_text(encoding="utf-8"))


# --- requirements -----------------------------------------------------------------------------------

def test_every_requirement_of_the_implemented_cases_exists() -> None:
    known = load_requirements()
    named = {requirement_id for table in tables_under_test() for requirement_id in table.requirements}
    for table in tables_under_test():
        for validation in table.all_validations:
            named.update(REQUIREMENT_ID.findall(validation.requirement))
    assert named and sorted(named - set(known)) == []


def test_every_validation_of_the_implemented_cases_names_its_requirement() -> None:
    for table in tables_under_test():
        for validation in table.all_validations:
            assert REQUIREMENT_ID.fullmatch(validation.requirement.split(", ")[0]), (table.id, validation.id)


def test_a_requirement_outside_the_cases_own_list_carries_a_note() -> None:
    for case_id in IMPLEMENTED:
        table = case_table(case_id)
        for validation in table.all_validations:
            outside = set(REQUIREMENT_ID.findall(validation.requirement)) - set(table.requirements)
            assert not outside or validation.note, (case_id, validation.id, outside)


def test_errata_2025_09_requirement_texts_win() -> None:
    assert "AllowSecurityProfileDowngrade" in requirement("B09.FR.04").precondition
    assert requirement("G01.FR.09").text.startswith("Connector status SHALL not change")
    assert requirement("O01.FR.20").text.startswith("Charging Station SHOULD use the message")
    assert requirement("C16.FR.08").precondition == "C16.FR.07"
    for deleted in ("A00.FR.003", "A02.FR.09", "E06.FR.05", "B09.FR.32", "K15.FR.20"):
        with pytest.raises(KeyError, match=deleted):
            requirement(deleted)


def test_quote_names_each_id_with_its_precondition_and_text() -> None:
    quoted = quote("B01.FR.05, B01.FR.09")
    assert quoted.startswith("B01.FR.05: When the CSMS responds with BootNotificationResponse with the status "
                             "Accepted, The Charging Station SHALL send a StatusNotificationRequest")
    assert " | B01.FR.09: B01.FR.01, The Charging Station SHALL indicate the reason" in quoted
    assert quote("E03.FR.04") == "E03.FR.04: (not in Part 2)"
    assert quote("G01.FR.01") == ("G01.FR.01: A Charging Station Connector MUST have one of the valid statuses "
                                  "from the ConnectorStatus enumeration.")


# --- variables --------------------------------------------------------------------------------------

def test_every_nickname_resolves_to_a_device_model_variable() -> None:
    model = device_model()
    table = nicknames()
    assert sorted(spelling for spelling, ref in table.variables.items() if ref not in model) == []
    components = {component for component, _variable, _instance in model}
    assert set(table.components.values()) <= components


@pytest.mark.parametrize(("spelling", "expected"), [
    ("AuthEnabled", ("AuthCtrlr", "Enabled", None)),
    ("AuthCtrl.AuthEnabled", ("AuthCtrlr", "Enabled", None)),
    ("AuthCtrlr.AuthEnabled", ("AuthCtrlr", "Enabled", None)),
    ("AuthCtrl_DISABLERemoteAuthorization", ("AuthCtrlr", "DisableRemoteAuthorization", None)),
    ("OCPPCommCtrl.OfflineThreshold", ("OCPPCommCtrlr", "OfflineThreshold", None)),
    ('"OCPPCommCtrlr.OfflineThreshold"', ("OCPPCommCtrlr", "OfflineThreshold", None)),
    ("HeartbeatInterval", ("OCPPCommCtrlr", "HeartbeatInterval", None)),
    ("MessageAttemptsTransactionEvent", ("OCPPCommCtrlr", "MessageAttempts", "TransactionEvent")),
    ("DeviceDataCtrlr.ItemsPerMessage.GetVariables", ("DeviceDataCtrlr", "ItemsPerMessage", "GetVariables")),
])
def test_resolve_variable(spelling: str, expected: tuple[str, str, str | None]) -> None:
    assert resolve_variable(spelling) == expected


def test_configuration_variables_of_the_implemented_cases_resolve() -> None:
    for line in case_table("TC_E_03_CS").before_configuration + case_table("TC_E_40_CS").before_configuration[:6]:
        resolve_variable(line.split(" is ")[0])


# --- clear errors -----------------------------------------------------------------------------------

def test_unknown_ids_raise_naming_them() -> None:
    with pytest.raises(KeyError, match="TC_Z_99_CS"):
        case_table("TC_Z_99_CS")
    with pytest.raises(KeyError, match=r"TC_B_02_CS has no Part 6 validation 'step 5'.*step 4"):
        case_table("TC_B_02_CS").validation("step 5")
    with pytest.raises(KeyError, match="CSMS reusable state 'Nowhere'"):
        reusable_state("Nowhere", "csms")
    with pytest.raises(ValueError, match="role"):
        reusable_state("Booted", "ev")  # type: ignore[arg-type]
    with pytest.raises(KeyError, match="Z01.FR.01"):
        requirement("Z01.FR.01")
    with pytest.raises(KeyError, match="NoSuchVariable"):
        resolve_variable("NoSuchVariable")
    with pytest.raises(KeyError, match="AuthCtrlr.Nope"):
        resolve_variable("AuthCtrlr.Nope")
