"""The Part 5 condition language and PICS loading (harness/pics.py)."""

import hashlib
import re
from pathlib import Path

import pytest

from harness.pics import (And, Compare, ConditionSyntaxError, Ident, Not, Or, Pics, PicsError, evaluate, explain,
                          identifiers, parse)

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures" / "pics"


def make_pics(tmp_path: Path, text: str) -> Pics:
    path = tmp_path / "pics.toml"
    path.write_text(text, encoding="utf-8")
    return Pics.load(path)


@pytest.fixture
def pics(tmp_path: Path) -> Pics:
    return make_pics(tmp_path, """
[sut]
role = "cs"
profiles = ["core", "iso15118"]
product_subtypes = ["mode_1_2_only"]
[features]
"C-30" = true
"C-31" = false
"C-09.2" = true
[questions]
"AQ-2" = false
[hardware]
"HFS-1" = true
"HFS-8" = 2
""")


# --- parser ------------------------------------------------------------------------------------------

def test_not_binds_tighter_than_and_which_binds_tighter_than_or() -> None:
    assert parse("not C-30 and C-31 or C-32") == Or((And((Not(Ident("C-30")), Ident("C-31"))), Ident("C-32")))


def test_parentheses_override_precedence() -> None:
    assert parse("not (C-30 and (C-31 or C-32))") == Not(And((Ident("C-30"), Or((Ident("C-31"), Ident("C-32"))))))


def test_chains_are_flat() -> None:
    assert parse("C-30 or C-31 or C-32") == Or((Ident("C-30"), Ident("C-31"), Ident("C-32")))


def test_keywords_are_case_insensitive() -> None:
    assert parse("NOT AQ-2 AND C-30") == parse("not AQ-2 and C-30")


def test_comparison() -> None:
    assert parse("HFS-8 > 1") == Compare(Ident("HFS-8"), ">", 1.0)
    assert parse("not HFS-8 >= 2.5") == Not(Compare(Ident("HFS-8"), ">=", 2.5))


def test_namespaced_identifiers() -> None:
    assert identifiers("profile:iso15118 or not subtype:mode_1_2_only or C-09.2") == [
        "profile:iso15118", "subtype:mode_1_2_only", "C-09.2"]


@pytest.mark.parametrize(("expr", "message", "position"), [
    ("", "empty condition", 0),
    ("C-30 or", "expected an identifier, 'not' or '('", 7),
    ("(C-30", "expected ')'", 5),
    ("C-30 )", "expected 'and', 'or' or end of condition", 5),
    ("C-30 C-31", "expected 'and', 'or' or end of condition", 5),
    ("C-30 $", "unexpected character '$'", 5),
    ("HFS-8 > x", "expected a number after '>'", 8),
    ("(C-30 or C-31) > 1", "only an identifier can be compared", 0),
    ("feature", "is not a PICS id", 0),
    ("C-30 and profile:gold", "unknown profile 'gold'", 9),
    ("subtype:wireless", "unknown subtype 'wireless'", 0),
    ("vendor:x", "unknown namespace 'vendor'", 0),
])
def test_syntax_errors_name_the_position(expr: str, message: str, position: int) -> None:
    with pytest.raises(ConditionSyntaxError, match=re.escape(message)) as caught:
        parse(expr)
    assert caught.value.position == position
    assert f"at position {position}" in str(caught.value)


# --- evaluation --------------------------------------------------------------------------------------

@pytest.mark.parametrize(("expr", "expected"), [
    ("C-30", True),
    ("C-31", False),
    ("C-32", False),                         # absent → false
    ("not C-32", True),
    ("(C-30 or C-31) and not AQ-2", True),
    ("not C-30 and C-31 or C-09.2", True),   # (not C-30 and C-31) or C-09.2
    ("not (C-30 and C-31 or C-09.2)", False),
    ("HFS-8 > 1", True),
    ("HFS-8 > 2", False),
    ("HFS-8 == 2 and HFS-8 != 3 and HFS-8 <= 2 and HFS-8 < 3", True),
    ("HFS-9 > 0", False),                    # absent number → comparison false
    ("HFS-8", True),                         # a non-zero count is true
    ("profile:iso15118 and not profile:smart_charging", True),
    ("subtype:mode_1_2_only", True),
])
def test_evaluate(pics: Pics, expr: str, expected: bool) -> None:
    assert evaluate(expr, pics) is expected


def test_comparing_a_yes_no_answer_is_an_error(pics: Pics) -> None:
    with pytest.raises(PicsError, match="HFS-1 is a yes/no answer"):
        evaluate("HFS-1 > 1", pics)


def test_explain_names_missing_and_false_ids(pics: Pics) -> None:
    reason = explain("C-31 or C-32", pics)
    assert reason.startswith("condition `C-31 or C-32` does not hold")
    assert "C-31 is false" in reason
    assert "C-32 is not in the PICS (taken as false)" in reason


def test_explain_reports_only_deciding_operands(pics: Pics) -> None:
    reason = explain("C-30 and C-31 and not AQ-2", pics)
    assert "C-31 is false" in reason
    assert "C-30" not in reason.split(":", 1)[1] and "AQ-2" not in reason.split(":", 1)[1]


def test_explain_a_holding_condition(pics: Pics) -> None:
    assert explain("not AQ-2 and HFS-8 > 1", pics) == (
        "condition `not AQ-2 and HFS-8 > 1` holds: AQ-2 is false; HFS-8 = 2, so HFS-8 > 1 is true")


# --- loading -----------------------------------------------------------------------------------------

def test_load_reads_sections_and_hashes_bytes(tmp_path: Path, pics: Pics) -> None:
    assert pics.role == "cs"
    assert pics.profiles == {"core", "iso15118"}
    assert pics.lookup("HFS-8") == 2 and pics.lookup("AQ-2") is False and pics.lookup("C-99") is None
    assert pics.sha256 == hashlib.sha256((tmp_path / "pics.toml").read_bytes()).hexdigest()


@pytest.mark.parametrize(("text", "message"), [
    ("[sut]\nrole = 'ev'", "role must be 'cs' or 'csms'"),
    ("[sut\nrole = 'cs'", "not valid TOML"),
    ("[sut]\nrole = 'cs'\n[extra]", "unknown table"),
    ("[sut]\nrole = 'cs'\n[features]\n'C-30' = 'yes'", "must be true/false"),
    ("[sut]\nrole = 'cs'\n[features]\nrfid = true", "is not a PICS id"),
    ("[sut]\nrole = 'cs'\n[features]\n'AQ-2' = true", "AQ-2 belongs in \\[questions\\]"),
    ("[sut]\nrole = 'cs'\n[questions]\n'HFS-8' = 2", "HFS-8 belongs in \\[hardware\\]"),
    ("[sut]\nrole = 'cs'\n[questions]\n'AQ-2' = 1", "must be true/false"),
    ("[sut]\nrole = 'cs'\nprofiles = ['gold']", "unknown value"),
    ("[sut]\nrole = 'cs'\nprofiles = 'core'", "must be a list of strings"),
])
def test_load_rejects_malformed_files(tmp_path: Path, text: str, message: str) -> None:
    with pytest.raises(PicsError, match=message):
        make_pics(tmp_path, text)


@pytest.mark.parametrize(("name", "role"), [("reference_cs.toml", "cs"), ("reference_csms.toml", "csms")])
def test_reference_pics_files_load(name: str, role: str) -> None:
    assert Pics.load(FIXTURES / name).role == role
