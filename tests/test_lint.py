"""The validation lint: which Part 6 validations a case's code names, read from source without importing it."""

from __future__ import annotations

import ast
import textwrap
from pathlib import Path

import pytest

from harness.cli import scan_testcases
from harness.lint import checked_ids, scan, unchecked_validations
from harness.part6 import CaseTable, Validation, load_part6


def table(case_id: str = "TC_X_01_CS") -> CaseTable:
    """A small synthetic table: three tool validations and one post scenario validation."""
    tool = tuple(Validation(f"step {n}", str(n), f"check {n}", "", "") for n in (2, 4, 6))
    return CaseTable(case_id, "title", "cs", "X01", (), (), (), (), (), (), tool,
                     (Validation("post 1", "", "after", "", ""),))


def function(source: str) -> ast.AST:
    return ast.parse(textwrap.dedent(source)).body[0]


def test_keyword_validation_and_suffixed_keywords_count() -> None:
    node = function('''
        async def test_case(case):
            await case.expect("Reply", validation="step 2")
            case.check(lambda frame: frame.ok, post_validation="post 1")
    ''')
    assert unchecked_validations("TC_X_01_CS", node, table()) == ["step 4", "step 6"]


def test_nested_calls_lambdas_tuples_and_conditionals_count() -> None:
    node = function('''
        def test_case(case, mode):
            run(lambda: case.expect(x, validation=("step 4", "step 6")))
            helper(inner(case, step_validation="step 2" if mode else "post 1"))
    ''')
    assert unchecked_validations("TC_X_01_CS", node, table()) == []


def test_other_keywords_positional_strings_and_variables_do_not_count() -> None:
    node = function('''
        def test_case(case):
            name = "step 2"
            case.expect("step 4", reason="step 6", validation=name, validations="post 1")
            case.expect(validator="step 2", validation=compute("step 2"))
    ''')
    assert checked_ids(node) == set()
    assert unchecked_validations("TC_X_01_CS", node, table()) == ["step 2", "step 4", "step 6", "post 1"]


def test_the_table_must_be_the_cases_own() -> None:
    with pytest.raises(ValueError, match="TC_X_01_CS"):
        unchecked_validations("TC_Y_01_CS", function("def f(): pass"), table())


def write_case_module(root: Path) -> None:
    """A repository with one CS module: TC_B_02_CS checks two validations, TC_B_58_CSMS has no Part 6 table."""
    (root / "testcases" / "cs").mkdir(parents=True)
    (root / "testcases" / "csms").mkdir(parents=True)
    (root / "testcases" / "cs" / "test_b.py").write_text(textwrap.dedent('''
        from harness.testcase import testcase

        def helper(case):
            case.expect(validation="step 6")

        @testcase("TC_B_02_CS")
        async def test_pending(case):
            await case.expect("SetVariablesResponse", validation="step 4")
            await case.expect("StatusNotificationRequest", validation="step 17")
            helper(case)
    '''), encoding="utf-8")
    (root / "testcases" / "csms" / "test_b.py").write_text(textwrap.dedent('''
        @testcase("TC_B_58_CSMS")
        def test_subprotocol(case):
            pass
    '''), encoding="utf-8")


def test_scan_reports_the_missing_ids_per_case(tmp_path: Path) -> None:
    write_case_module(tmp_path)
    expected = {"TC_B_02_CS": ["step 6", "step 8", "step 12", "step 14", "step 15", "post 1"]}
    assert scan(tmp_path) == expected
    assert scan(tmp_path / "testcases") == expected


def test_scan_of_the_repository_covers_every_implemented_case() -> None:
    implemented = {case_id for case_id in scan_testcases() if case_id in load_part6()}
    assert set(scan()) == implemented
