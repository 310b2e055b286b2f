"""The decorator that makes an ``async def`` a Part 6 test case."""

from __future__ import annotations

import functools
import re
from typing import Any, Callable, Sequence

import allure
import pytest

from harness.case import Case, CaseInfo
from harness.part6 import case_table
from harness.plugin import MARKER
from harness.verdicts import HarnessError

USE_CASE = re.compile(r"\b[A-P]\d\d\b")
"""A use case id in Part 6's "Use case Id(s)" text ("E02 AND (C01 OR C02)")."""


def testcase(
    case_id: str, title: str | None = None, use_cases: Sequence[str] = (), requirements: Sequence[str] = ()
) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """Mark a test function as the Part 6 case ``case_id`` (its role is the id's suffix, _CS or _CSMS).

    A case of Part 6 gives only its id: title, use cases and requirements are read from the Part 6 data
    (written once, in ``certification_profiles/part6.json``). Only a case Part 6 does not have (a test of the
    harness itself) states its header here."""
    info = header(case_id, title, use_cases, requirements)
    title = info.title
    case_marker = getattr(pytest.mark, MARKER)(info)
    # Cases share the session's event loop: the fake CSMS or station lives for the whole session.
    session_loop = pytest.mark.asyncio(loop_scope="session")

    def mark(function: Callable[..., Any]) -> Callable[..., Any]:
        ready = _when_ready(function)
        return session_loop(case_marker(allure.title(f"{case_id} {title}")(ready)))

    return mark


def header(case_id: str, title: str | None, use_cases: Sequence[str], requirements: Sequence[str]) -> CaseInfo:
    """The case's header from Part 6, or the one given for a case Part 6 does not have."""
    role = "csms" if case_id.endswith("_CSMS") else "cs"
    try:
        table = case_table(case_id)
    except KeyError:
        if title is None:
            raise HarnessError(f"{case_id} is not a Part 6 case: give its title") from None
        return CaseInfo(case_id, title, role, tuple(use_cases), tuple(requirements))
    if title is not None or use_cases or requirements:
        raise HarnessError(f"{case_id}: its header comes from the Part 6 data; give only the id")
    return CaseInfo(case_id, table.title, role, tuple(USE_CASE.findall(table.use_cases)), table.requirements)


def _when_ready(function: Callable[..., Any]) -> Callable[..., Any]:
    """A case the prelude or the restore blocked ends with that reason (ERROR or INCONCLUSIVE) at once."""

    @functools.wraps(function)
    async def case_when_ready(case: Case) -> None:
        if case.blocked is not None:
            raise case.blocked
        await function(case)

    return case_when_ready


testcase.__test__ = False  # type: ignore[attr-defined]
