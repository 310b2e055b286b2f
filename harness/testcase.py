"""The decorator that makes an ``async def`` a Part 6 test case."""

from __future__ import annotations

import functools
from typing import Any, Callable, Sequence

import allure
import pytest

from harness.case import Case, CaseInfo
from harness.plugin import MARKER


def testcase(
    case_id: str, title: str, use_cases: Sequence[str] = (), requirements: Sequence[str] = ()
) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """Mark a test function as the Part 6 case ``case_id`` (its role is the id's suffix, _CS or _CSMS)."""
    role = "csms" if case_id.endswith("_CSMS") else "cs"
    info = CaseInfo(case_id, title, role, tuple(use_cases), tuple(requirements))
    case_marker = getattr(pytest.mark, MARKER)(info)
    # Cases share the session's event loop: the fake CSMS or station lives for the whole session.
    session_loop = pytest.mark.asyncio(loop_scope="session")

    def mark(function: Callable[..., Any]) -> Callable[..., Any]:
        ready = _when_ready(function)
        return session_loop(case_marker(allure.title(f"{case_id} {title}")(ready)))

    return mark


def _when_ready(function: Callable[..., Any]) -> Callable[..., Any]:
    """A case the prelude or the restore blocked ends with that reason (ERROR or INCONCLUSIVE) at once."""

    @functools.wraps(function)
    async def case_when_ready(case: Case) -> None:
        if case.blocked is not None:
            raise case.blocked
        await function(case)

    return case_when_ready


testcase.__test__ = False  # type: ignore[attr-defined]
