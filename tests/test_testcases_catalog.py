"""Every implemented case's header (id, title, use cases, requirements) agrees with the Edition 3 catalog."""

from __future__ import annotations

import importlib

import pytest

from harness.catalog import load_catalog
from harness.cli import REPO, scan_testcases
from harness.plugin import MARKER

IMPLEMENTED = scan_testcases(REPO)


@pytest.mark.parametrize("case_id", sorted(IMPLEMENTED))
def test_header_matches_the_catalog(case_id: str) -> None:
    function = IMPLEMENTED[case_id]
    module = importlib.import_module(function.path.replace("/", ".").removesuffix(".py"))
    info = getattr(module, function.name).pytestmark
    case = next(mark.args[0] for mark in info if mark.name == MARKER)
    entry = load_catalog().get(case_id)
    assert case.title == entry.title
    assert set(case.requirements) == set(entry.requirements)
    assert set(case.use_cases) <= set(entry.use_cases)


def test_the_slice_is_implemented() -> None:
    assert len(IMPLEMENTED) >= 15
