"""Every tool validation and post-scenario validation of every implemented case's Part 6 table is checked
in its code (harness.lint): a case that forgets one is caught here, not in the lab."""

from __future__ import annotations

from harness.lint import scan


def test_no_validation_of_an_implemented_case_is_left_unchecked() -> None:
    missing = {case: ids for case, ids in scan().items() if ids}
    assert missing == {}, f"validations not checked in the case code: {missing}"


def test_the_lint_sees_every_implemented_case() -> None:
    assert len(scan()) >= 15
