"""Which Part 6 validations does a case's code not check?

A case says which validation a check implements by passing its id as a keyword argument:
``validation="step 4"`` (or any keyword whose name ends in ``_validation``, e.g. ``post_validation="post 1"``).
The lint reads the source without importing it, so it works while a module is half written, and compares
those ids with the case's Part 6 table: every tool and post scenario validation must be named somewhere in
the decorated function's body (nested calls and lambdas included).
"""

from __future__ import annotations

import ast
from collections.abc import Iterable, Iterator
from pathlib import Path

from harness.part6 import CaseTable, load_part6

VALIDATION_KEYWORD = "validation"


def checked_ids(function_source_ast: ast.AST) -> set[str]:
    """Every string constant given to a ``validation``/``*_validation`` keyword anywhere under the node."""
    found: set[str] = set()
    for node in ast.walk(function_source_ast):
        if isinstance(node, ast.Call):
            for keyword in node.keywords:
                if keyword.arg is not None and _names_validation(keyword.arg):
                    found.update(_constants(keyword.value))
    return found


def _names_validation(argument: str) -> bool:
    return argument == VALIDATION_KEYWORD or argument.endswith(f"_{VALIDATION_KEYWORD}")


def _constants(value: ast.expr) -> Iterator[str]:
    """The string constants a keyword value can be: one, a tuple/list/set of them, or either branch of an if."""
    if isinstance(value, ast.Constant) and isinstance(value.value, str):
        yield value.value
    elif isinstance(value, ast.Tuple | ast.List | ast.Set):
        for element in value.elts:
            yield from _constants(element)
    elif isinstance(value, ast.IfExp):
        yield from _constants(value.body)
        yield from _constants(value.orelse)


def unchecked_validations(case_id: str, function_source_ast: ast.AST, table: CaseTable) -> list[str]:
    """Ids of the table's validations (tool then post, in table order) that the function never names."""
    if table.id != case_id:
        raise ValueError(f"the Part 6 table given is {table.id}, not {case_id}")
    checked = checked_ids(function_source_ast)
    return [validation.id for validation in table.all_validations if validation.id not in checked]


def scan(testcases_root: Path | None = None) -> dict[str, list[str]]:
    """Missing validation ids per implemented case that has a Part 6 table ({} entries mean all checked).

    `testcases_root` is the folder that holds ``testcases/`` (the repository root by default) or that folder
    itself. Cases without a Part 6 table (added by errata) have nothing to check and are left out.
    """
    # Imported here: the CLI may itself use this module, and it only needs scan_testcases from it.
    from harness.cli import REPO, scan_testcases

    root = _repository_root(testcases_root or REPO)
    tables = load_part6()
    missing: dict[str, list[str]] = {}
    for case_id, found in sorted(scan_testcases(root).items()):
        if case_id in tables:
            function = _function_node(root / found.path, found.name)
            missing[case_id] = unchecked_validations(case_id, function, tables[case_id])
    return missing


def _repository_root(path: Path) -> Path:
    return path.parent if path.name == "testcases" and not (path / "testcases").is_dir() else path


def _function_node(path: Path, name: str) -> ast.AST:
    """The top-level function `name` of the module at `path`."""
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    for node in _top_level_functions(tree.body):
        if node.name == name:
            return node
    raise LookupError(f"{path}: no top-level function {name}")


def _top_level_functions(body: Iterable[ast.stmt]) -> Iterator[ast.FunctionDef | ast.AsyncFunctionDef]:
    return (node for node in body if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef))
