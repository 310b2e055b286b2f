"""The chaos matrix: every chaos behaviour of the reference SUTs against every implemented case of its role.

A hostile SUT must never make the harness crash, hang or lie. For each role and behaviour of
:data:`harness.reference.chaos.BEHAVIOURS`, one pytest run (a *row*) plays every implemented case of the role
against the reference SUT with that behaviour switched on (``--ocpp-chaos NAME``) and the short
:data:`TIMEOUTS`. Each *cell* (behaviour × case) is within bounds when

- its verdict is one the behaviour allows (FAIL or INCONCLUSIVE when it breaks a rule; PASS too when it is legal;
  never ERROR);
- its trace exists, is not empty and every line is JSON (no NaN or Infinity either);
- its time to verdict (the case's ``duration`` in its result file) is within :data:`CELL_DEADLINE_S`;
- its row neither hung (killed after :meth:`Row.wall_limit`) nor crashed (pytest exit status other than 0 or 1,
  or an error outside the cases), and its peak memory (the pytest process's maximum resident set) stayed under
  :data:`MEMORY_CEILING_MB`.

Planning and judging are pure; :func:`run` does the I/O through a :data:`Runner` the CLI supplies (one pytest
subprocess per row, two at a time).
"""

from __future__ import annotations

import json
import shutil
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any

from harness.config import Timeouts
from harness.reference.chaos import BEHAVIOURS, Behaviour, behaviour
from harness.results import RunOutcome
from harness.verdicts import Verdict

TIMEOUTS = Timeouts(response=2.0, message=3.0, manual_action=5.0, time_tolerance=0.5, silence=1.0)
"""The reference SUT's timeouts in the chaos runs: short, so that a hostile SUT costs seconds per case."""
CELL_DEADLINE_S = TIMEOUTS.manual_action + 2 * TIMEOUTS.message + TIMEOUTS.response
"""A case's time to verdict: at most a manual action, the message it should bring and one more wait."""
RESTORE_ALLOWANCE_S = CELL_DEADLINE_S
"""The restore after a case (and the power cycle of a CSMS case that did not pass) waits as long again."""
STARTUP_S = 60.0
"""pytest's start, the prelude and the end of the session, on a busy machine."""
MEMORY_CEILING_MB = 500.0
PARALLELISM = 2
"""Rows at once (the machine has 2 cores)."""
VERDICT_LETTERS = {verdict.value: verdict.value[0] for verdict in Verdict}
HANG = "hang"


@dataclass(frozen=True)
class Row:
    """One pytest run: a behaviour of one role's reference SUT against the cases."""

    role: str
    behaviour: str
    cases: tuple[str, ...]

    @property
    def spec(self) -> Behaviour:
        return behaviour(self.behaviour, self.role)

    @property
    def wall_limit(self) -> float:
        """After this many seconds the run is a hang and is killed."""
        return STARTUP_S + len(self.cases) * (CELL_DEADLINE_S + RESTORE_ALLOWANCE_S)

    @property
    def folder(self) -> str:
        return f"{self.role}-{self.behaviour}"


@dataclass(frozen=True)
class RowRun:
    """What one row's pytest process left: the verdicts, how it ended, its peak memory and wall time."""

    outcome: RunOutcome
    returncode: int
    hung: bool
    peak_mb: float | None
    """None when it could not be measured."""
    seconds: float
    report_dir: Path


Runner = Callable[[Row, Path], RowRun]
"""Runs one row with its report folder; the CLI's runs pytest in a subprocess."""


@dataclass(frozen=True)
class Cell:
    """One behaviour × case: the verdict, the time to verdict and what is out of bounds (nothing: within)."""

    case: str
    verdict: str
    seconds: float | None
    problems: tuple[str, ...]

    @property
    def ok(self) -> bool:
        return not self.problems

    def as_json(self) -> dict[str, Any]:
        return {"case": self.case, "verdict": self.verdict, "seconds": self.seconds, "problems": list(self.problems)}


@dataclass(frozen=True)
class JudgedRow:
    row: Row
    run: RowRun
    cells: tuple[Cell, ...]
    kept: Path | None = None
    """The row's report folder, kept because a cell is out of bounds."""

    @property
    def ok(self) -> bool:
        return all(cell.ok for cell in self.cells)

    def as_json(self) -> dict[str, Any]:
        spec = self.row.spec
        return {
            "role": self.row.role,
            "behaviour": self.row.behaviour,
            "description": spec.description,
            "breaks": spec.breaks,
            "allowed": sorted(spec.allowed),
            "returncode": self.run.returncode,
            "hung": self.run.hung,
            "peak_mb": None if self.run.peak_mb is None else round(self.run.peak_mb, 1),
            "wall_s": round(self.run.seconds, 1),
            "kept": None if self.kept is None else str(self.kept),
            "cells": [cell.as_json() for cell in self.cells],
        }


@dataclass(frozen=True)
class Matrix:
    rows: tuple[JudgedRow, ...]
    seconds: float
    work: Path

    @property
    def ok(self) -> bool:
        return all(row.ok for row in self.rows)

    @property
    def cells(self) -> list[Cell]:
        return [cell for row in self.rows for cell in row.cells]

    def as_json(self) -> dict[str, Any]:
        times = [cell.seconds for cell in self.cells if cell.seconds is not None]
        return {
            "ok": self.ok,
            "timeouts": {item.name: getattr(TIMEOUTS, item.name) for item in fields(Timeouts)},
            "cell_deadline_s": CELL_DEADLINE_S,
            "memory_ceiling_mb": MEMORY_CEILING_MB,
            "cells": len(self.cells),
            "out_of_bounds": sum(1 for cell in self.cells if not cell.ok),
            "max_seconds": max(times, default=None),
            "peak_mb": max((round(row.run.peak_mb, 1) for row in self.rows if row.run.peak_mb is not None), default=None),
            "wall_s": round(self.seconds, 1),
            "rows": [row.as_json() for row in self.rows],
        }


# --- planning ---------------------------------------------------------------------------------------------


def timeouts_option() -> str:
    """:data:`TIMEOUTS` as the value of ``--ocpp-timeouts``."""
    return ",".join(f"{item.name}={getattr(TIMEOUTS, item.name):g}" for item in fields(Timeouts))


def plan(cases: Mapping[str, Sequence[str]], behaviours: Iterable[str] | None = None) -> list[Row]:
    """A row per (role, behaviour of that role's SUT) over the role's ``cases`` (role → implemented case ids),
    in table order; ``behaviours`` narrows them by name. A role without cases has no rows."""
    wanted = None if behaviours is None else set(behaviours)
    return [
        Row(spec.role, spec.name, tuple(cases[spec.role]))
        for spec in BEHAVIOURS
        if cases.get(spec.role) and (wanted is None or spec.name in wanted)
    ]


# --- judging ----------------------------------------------------------------------------------------------


def judge(row: Row, run: RowRun) -> tuple[Cell, ...]:
    """Every cell of a row that ran; see the module docstring for the bounds."""
    row_problems = _row_problems(row, run)
    return tuple(_cell(row, run, case, row_problems) for case in row.cases)


def _row_problems(row: Row, run: RowRun) -> list[str]:
    problems = []
    if run.hung:
        problems.append(f"hang: no end within {row.wall_limit:.0f} s, killed")
    elif run.returncode not in (0, 1):
        problems.append(f"crash: pytest exit status {run.returncode}")
    problems += [f"error outside the case: {error}" for error in run.outcome.harness_errors]
    if run.peak_mb is not None and run.peak_mb > MEMORY_CEILING_MB:
        problems.append(f"memory: peak {run.peak_mb:.0f} MB over the {MEMORY_CEILING_MB:.0f} MB ceiling")
    return problems


def _cell(row: Row, run: RowRun, case: str, row_problems: Sequence[str]) -> Cell:
    result = run.outcome.results.get(case, {})
    verdict = HANG if run.hung and "duration" not in result else str(result.get("verdict", Verdict.ERROR.value))
    problems = list(row_problems)
    allowed = row.spec.allowed
    if verdict != HANG and verdict not in allowed:
        reason = result.get("reason")
        why = "a false PASS: the behaviour breaks a rule" if verdict == Verdict.PASS.value else reason or "no reason"
        problems.append(f"{verdict} not allowed ({', '.join(sorted(allowed))}): {why}")
    seconds = result.get("duration")
    if verdict != HANG:
        if not isinstance(seconds, (int, float)):
            problems.append("no time to verdict in the result file")
        elif seconds > CELL_DEADLINE_S:
            problems.append(f"time to verdict {seconds:.1f} s over the {CELL_DEADLINE_S:.0f} s deadline")
        problems += trace_problems(run.report_dir / "traces" / f"{case}.jsonl")
    return Cell(case, verdict, seconds if isinstance(seconds, (int, float)) else None, tuple(problems))


def trace_problems(path: Path) -> list[str]:
    """Why the trace at ``path`` is no evidence: absent, empty, or a line that is not strict JSON."""
    lines = 0
    try:
        with path.open(encoding="utf-8") as stream:
            for line in stream:
                lines += 1
                json.loads(line, parse_constant=_not_json)
    except FileNotFoundError:
        return [f"no trace {path.name}"]
    except (OSError, ValueError) as error:
        return [f"trace {path.name} line {lines} is not JSON: {str(error)[:120]}"]
    return [] if lines else [f"trace {path.name} is empty"]


def _not_json(constant: str) -> Any:
    raise ValueError(f"{constant} is not JSON")


# --- running ----------------------------------------------------------------------------------------------


def run(rows: Sequence[Row], runner: Runner, work: Path) -> Matrix:
    """Run the rows, PARALLELISM at a time, and judge them; a row's folder under ``work`` is kept only when one
    of its cells is out of bounds, and ``work`` itself only when one is."""
    started = time.monotonic()

    def one(row: Row) -> JudgedRow:
        folder = work / row.folder
        folder.mkdir(parents=True, exist_ok=True)
        ran = runner(row, folder)
        judged = JudgedRow(row, ran, judge(row, ran))
        if judged.ok:
            shutil.rmtree(folder, ignore_errors=True)
            return judged
        return JudgedRow(row, ran, judged.cells, kept=folder)

    with ThreadPoolExecutor(max_workers=PARALLELISM) as pool:
        judged = tuple(pool.map(one, rows))
    matrix = Matrix(judged, time.monotonic() - started, work)
    if matrix.ok:
        shutil.rmtree(work, ignore_errors=True)
    return matrix


# --- the table --------------------------------------------------------------------------------------------


def text(matrix: Matrix) -> str:
    """Per role a table: rows behaviours, columns cases, cells the verdict's letter and seconds to verdict,
    "!" when out of bounds; then what is out of bounds and where the evidence is kept, and the figures."""
    lines = [
        f"chaos matrix: timeouts {timeouts_option()}; deadline {CELL_DEADLINE_S:.0f} s per cell; "
        f"memory ceiling {MEMORY_CEILING_MB:.0f} MB per run",
        "cells: P PASS, F FAIL, I INCONCLUSIVE, E ERROR, H hang, then seconds to verdict; ! out of bounds",
    ]
    for role in dict.fromkeys(row.row.role for row in matrix.rows):
        rows = [row for row in matrix.rows if row.row.role == role]
        lines += ["", *_table(role, rows)]
    bad = [(row, cell) for row in matrix.rows for cell in row.cells if not cell.ok]
    if bad:
        lines += ["", "out of bounds:"]
        lines += [f"  {row.row.role} {row.row.behaviour} × {cell.case}: {'; '.join(cell.problems)}" for row, cell in bad]
        lines += [f"  evidence kept in {row.kept}" for row in matrix.rows if row.kept is not None]
    figures = matrix.as_json()
    lines += [
        "",
        f"{figures['cells']} cells, {figures['out_of_bounds']} out of bounds; max time to verdict "
        f"{_seconds(figures['max_seconds'])} s; peak memory {_megabytes(figures['peak_mb'])} MB; wall time {figures['wall_s']:.0f} s",
    ]
    return "\n".join(lines)


def _table(role: str, rows: Sequence[JudgedRow]) -> list[str]:
    cases = list(dict.fromkeys(case for row in rows for case in row.row.cases))
    width = max(len(case) for case in cases)
    name_width = max(len("behaviour"), *(len(row.row.behaviour) for row in rows))
    header = f"{'role ' + role:<{name_width}}  " + "  ".join(f"{case:<{width}}" for case in cases) + "   peak MB  wall s"
    lines = [header]
    for row in rows:
        cells = {cell.case: cell for cell in row.cells}
        shown = [f"{_cell_text(cells[case]) if case in cells else '-':<{width}}" for case in cases]
        lines.append(f"{row.row.behaviour:<{name_width}}  " + "  ".join(shown) + f"  {_megabytes(row.run.peak_mb):>8}  {row.run.seconds:6.1f}")
    return lines


def _cell_text(cell: Cell) -> str:
    letter = "H" if cell.verdict == HANG else VERDICT_LETTERS.get(cell.verdict, "?")
    return f"{letter} {_seconds(cell.seconds)}{'' if cell.ok else ' !'}"


def _megabytes(value: float | None) -> str:
    return "?" if value is None else f"{value:.0f}"


def _seconds(value: float | None) -> str:
    return "-" if value is None else f"{value:.1f}"
