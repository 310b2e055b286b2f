"""The chaos suite: the behaviour table of the reference SUTs, the planning and judging of the matrix
(harness/chaos.py), the command, and — slow — the whole matrix for both roles with nothing out of bounds."""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from harness import chaos, cli
from harness.config import Timeouts, timeouts_override
from harness.processes import Overran, Supervisor
from harness.reference import chaos as reference_chaos
from harness.reference.chaos import BEHAVIOURS, BEYOND_A_LIMIT, HOSTILE_BUT_LEGAL, RULE_BROKEN, Chaos, Switches
from harness.results import RunOutcome
from harness.verdicts import HarnessError

REPO = Path(__file__).resolve().parent.parent
REQUIRED = {
    "cs": {
        "garbage_text", "truncated_frame", "misshaped_frames", "unknown_id_result", "duplicate_id", "lone_surrogate",
        "non_finite_number", "over_long_field", "huge_frames", "over_max_frame", "flood", "silence", "disconnect",
        "reconnect_storm", "stalled_handshake", "binary_frames", "ping_flood", "wrong_subprotocol",
    },
}
REQUIRED["csms"] = REQUIRED["cs"] | {"huge_interval"}


# --- the behaviour table ----------------------------------------------------------------------------------

def test_every_behaviour_of_the_brief_exists_for_its_roles() -> None:
    for role, names in REQUIRED.items():
        assert names <= set(reference_chaos.names(role)), names - set(reference_chaos.names(role))


def test_every_behaviour_has_a_role_an_act_and_allowed_verdicts_never_error() -> None:
    seen = set()
    for behaviour in BEHAVIOURS:
        assert behaviour.role in ("cs", "csms") and callable(behaviour.act) and behaviour.description
        assert (behaviour.name, behaviour.role) not in seen
        seen.add((behaviour.name, behaviour.role))
        assert behaviour.allowed and "ERROR" not in behaviour.allowed


def test_a_behaviour_that_breaks_a_rule_never_allows_pass() -> None:
    for behaviour in BEHAVIOURS:
        expected = RULE_BROKEN if behaviour.breaks else HOSTILE_BUT_LEGAL
        assert behaviour.allowed == expected or behaviour.allowed == BEYOND_A_LIMIT, behaviour.name
        assert not behaviour.breaks or "PASS" not in behaviour.allowed, behaviour.name
    assert "PASS" not in RULE_BROKEN and "ERROR" not in RULE_BROKEN


def test_an_unknown_behaviour_or_role_is_a_lookup_error_naming_the_known_ones() -> None:
    with pytest.raises(LookupError, match="garbage_text"):
        reference_chaos.behaviour("no_such", "cs")
    with pytest.raises(LookupError, match="huge_interval"):
        reference_chaos.behaviour("huge_interval", "cs")


def test_the_frames_the_table_sends_are_what_they_say() -> None:
    assert len('[2,"\\ud800","Heartbeat",{}]'.encode()) == 27
    over_max = "".join(reference_chaos._fragments("cs"))
    assert len(over_max) == reference_chaos.OVER_MAX_MESSAGE and json.loads(over_max)[2] == "Heartbeat"
    assert len(json.loads(reference_chaos._with_vendor_id("csms", 10))[3]["customData"]["vendorId"]) == 10


# --- the switches and the act's window --------------------------------------------------------------------

class Target:
    """A chaos target double recording what the act did."""

    def __init__(self, behaviour: str, role: str = "cs") -> None:
        self.chaos = Chaos(reference_chaos.behaviour(behaviour, role))
        self.websocket = None
        self.connections = 1
        self.harness_address = None
        self.dropped = 0

    async def drop(self) -> None:
        self.dropped += 1

    async def wait_connection(self, newer_than: int) -> None:
        return None


async def test_an_act_turns_its_switches_on_as_the_case_starts_and_off_when_it_ends() -> None:
    target = Target("wrong_subprotocol")
    target.chaos.case_started(target)  # type: ignore[arg-type]
    assert target.chaos.switches.subprotocols == ("ocpp1.6",) and not target.chaos.calm.is_set()
    act = target.chaos._act
    assert act is not None
    await act
    assert target.dropped == 1
    target.chaos.case_ended()
    assert target.chaos.switches == Switches() and target.chaos.calm.is_set()


async def test_without_a_behaviour_nothing_acts() -> None:
    chaos_off = Chaos(None)
    chaos_off.case_started(Target("disconnect"))  # type: ignore[arg-type]
    assert chaos_off.calm.is_set() and chaos_off.switches == Switches()


async def test_an_act_that_takes_time_ends_with_the_case() -> None:
    target = Target("reconnect_storm")
    target.chaos.case_started(target)  # type: ignore[arg-type]
    act = target.chaos._act
    assert act is not None
    target.chaos.case_ended()
    with pytest.raises(asyncio.CancelledError):
        await act


# --- planning and judging ---------------------------------------------------------------------------------

CASES = {"cs": ["TC_B_01_CS", "TC_B_02_CS"], "csms": ["TC_B_01_CSMS"]}


def test_the_plan_has_a_row_per_role_and_behaviour_over_every_case_of_the_role() -> None:
    rows = chaos.plan(CASES)
    assert {(row.role, row.behaviour) for row in rows} == {(b.role, b.name) for b in BEHAVIOURS}
    assert all(row.cases == tuple(CASES[row.role]) for row in rows)
    narrowed = chaos.plan({"cs": CASES["cs"]}, ["silence", "huge_interval"])
    assert [(row.role, row.behaviour) for row in narrowed] == [("cs", "silence")]


def test_the_chaos_timeouts_travel_as_the_timeouts_option() -> None:
    assert timeouts_override(chaos.timeouts_option()) == chaos.TIMEOUTS
    assert chaos.CELL_DEADLINE_S == 13.0


@pytest.mark.parametrize(
    ("text", "message"),
    [("response=2,nap=3", "unknown timeout 'nap'"), ("message=0", "positive"), ("silence=x", "positive"), ("response=inf", "positive")],
)
def test_a_bad_timeouts_option_is_a_harness_error(text: str, message: str) -> None:
    with pytest.raises(HarnessError, match=message):
        timeouts_override(text)


def test_timeouts_override_keeps_what_it_does_not_name() -> None:
    assert timeouts_override("response=1.5", Timeouts()) == Timeouts(response=1.5)


def row_run(tmp_path: Path, results: dict[str, dict[str, Any]], traces: dict[str, str] | None = None, **rest: Any) -> chaos.RowRun:
    folder = tmp_path / "traces"
    folder.mkdir(exist_ok=True)
    for case, text in (traces if traces is not None else {case: '{"event": "case started"}\n' for case in results}).items():
        (folder / f"{case}.jsonl").write_text(text)
    figures = {"returncode": 1, "hung": False, "peak_mb": 90.0, "seconds": 5.0} | rest
    return chaos.RowRun(RunOutcome(results, tuple(figures.pop("errors", ()))), report_dir=tmp_path, **figures)


def result(verdict: str, duration: float | None = 0.5, **rest: Any) -> dict[str, Any]:
    return {"verdict": verdict, **({} if duration is None else {"duration": duration}), **rest}


def cell(row: chaos.Row, ran: chaos.RowRun, case: str = "TC_B_01_CS") -> chaos.Cell:
    return {c.case: c for c in chaos.judge(row, ran)}[case]


def test_fail_or_inconclusive_with_a_trace_in_time_is_within_bounds(tmp_path: Path) -> None:
    row = chaos.Row("cs", "garbage_text", ("TC_B_01_CS", "TC_B_02_CS"))
    cells = chaos.judge(row, row_run(tmp_path, {"TC_B_01_CS": result("FAIL"), "TC_B_02_CS": result("INCONCLUSIVE")}))
    assert [(c.verdict, c.ok) for c in cells] == [("FAIL", True), ("INCONCLUSIVE", True)]


def test_a_pass_under_a_rule_breaking_behaviour_is_a_false_pass(tmp_path: Path) -> None:
    row = chaos.Row("cs", "binary_frames", ("TC_B_01_CS",))
    assert "false PASS" in cell(row, row_run(tmp_path, {"TC_B_01_CS": result("PASS")})).problems[0]
    legal = chaos.Row("cs", "ping_flood", ("TC_B_01_CS",))
    assert cell(legal, row_run(tmp_path, {"TC_B_01_CS": result("PASS")})).ok


def test_an_error_is_out_of_bounds_whatever_the_behaviour(tmp_path: Path) -> None:
    row = chaos.Row("cs", "ping_flood", ("TC_B_01_CS",))
    judged = cell(row, row_run(tmp_path, {"TC_B_01_CS": result("ERROR", reason="KeyError: 'x'")}))
    assert judged.problems == ("ERROR not allowed (FAIL, INCONCLUSIVE, PASS): KeyError: 'x'",)


def test_time_to_verdict_over_the_deadline_or_unknown_is_out_of_bounds(tmp_path: Path) -> None:
    row = chaos.Row("cs", "silence", ("TC_B_01_CS", "TC_B_02_CS"))
    ran = row_run(tmp_path, {"TC_B_01_CS": result("FAIL", chaos.CELL_DEADLINE_S + 1), "TC_B_02_CS": result("FAIL", None)})
    late, unknown = chaos.judge(row, ran)
    assert "over the 13 s deadline" in late.problems[0] and late.seconds == chaos.CELL_DEADLINE_S + 1
    assert unknown.problems == ("no time to verdict in the result file",)


@pytest.mark.parametrize(
    ("trace", "problem"),
    [(None, "no trace"), ("", "is empty"), ('{"a": 1}\n{"a": NaN}\n', "line 2 is not JSON"), ("{\n", "line 1 is not JSON")],
)
def test_a_missing_empty_or_broken_trace_is_out_of_bounds(tmp_path: Path, trace: str | None, problem: str) -> None:
    row = chaos.Row("cs", "silence", ("TC_B_01_CS",))
    traces = {} if trace is None else {"TC_B_01_CS": trace}
    judged = cell(row, row_run(tmp_path, {"TC_B_01_CS": result("FAIL")}, traces))
    assert len(judged.problems) == 1 and problem in judged.problems[0]


def test_a_hang_a_crash_an_error_outside_the_cases_and_too_much_memory_mark_the_row(tmp_path: Path) -> None:
    row = chaos.Row("cs", "silence", ("TC_B_01_CS", "TC_B_02_CS"))
    hung = row_run(tmp_path, {"TC_B_01_CS": result("FAIL"), "TC_B_02_CS": {"verdict": "ERROR", "reason": "no result recorded"}},
                   returncode=-9, hung=True)
    first, second = chaos.judge(row, hung)
    assert first.verdict == "FAIL" and second.verdict == chaos.HANG and second.seconds is None
    assert all(c.problems[0].startswith("hang: no end within") for c in (first, second))
    assert len(second.problems) == 1
    crashed = cell(row, row_run(tmp_path, {"TC_B_01_CS": result("FAIL"), "TC_B_02_CS": result("FAIL")}, returncode=3))
    assert crashed.problems == ("crash: pytest exit status 3",)
    errors = cell(row, row_run(tmp_path, {"TC_B_01_CS": result("FAIL"), "TC_B_02_CS": result("FAIL")}, errors=("x: boom",)))
    assert errors.problems == ("error outside the case: x: boom",)
    heavy = cell(row, row_run(tmp_path, {"TC_B_01_CS": result("FAIL"), "TC_B_02_CS": result("FAIL")}, peak_mb=501.0))
    assert heavy.problems == ("memory: peak 501 MB over the 500 MB ceiling",)


def test_the_matrix_keeps_the_folders_of_rows_out_of_bounds_only(tmp_path: Path) -> None:
    rows = chaos.plan({"cs": ["TC_B_01_CS"]}, ["silence", "ping_flood"])

    def runner(row: chaos.Row, folder: Path) -> chaos.RowRun:
        verdict = "ERROR" if row.behaviour == "ping_flood" else "FAIL"
        return row_run(folder, {"TC_B_01_CS": result(verdict, reason="boom")})

    matrix = chaos.run(rows, runner, tmp_path / "work")
    assert not matrix.ok and [row.kept for row in matrix.rows] == [None, tmp_path / "work" / "cs-ping_flood"]
    assert (tmp_path / "work" / "cs-ping_flood").is_dir() and not (tmp_path / "work" / "cs-silence").exists()
    shown = chaos.text(matrix)
    assert "silence" in shown and "F 0.5 " in shown and "E 0.5 !" in shown and "evidence kept in" in shown
    figures = matrix.as_json()
    assert (figures["cells"], figures["out_of_bounds"], figures["max_seconds"]) == (2, 1, 0.5)
    good = chaos.run(rows[:1], runner, tmp_path / "good")
    assert good.ok and not (tmp_path / "good").exists()


# --- the pytest options ----------------------------------------------------------------------------------

@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        (["--ocpp-chaos", "no_such"], "no chaos behaviour 'no_such' for the reference CS"),
        (["--ocpp-role", "cs", "--ocpp-chaos", "huge_interval"], "no chaos behaviour 'huge_interval'"),
        (["--ocpp-sut", "fixtures/sut/example_cs.toml", "--ocpp-chaos", "silence"], "--ocpp-chaos only applies to the reference SUT"),
        (["--ocpp-timeouts", "nap=1"], "unknown timeout 'nap'"),
    ],
)
def test_chaos_options_are_checked_before_anything_runs(arguments: list[str], message: str) -> None:
    command = [sys.executable, "-m", "pytest", "--co", "-q", "-p", "no:cacheprovider", "--rootdir", str(REPO),
               "-c", str(REPO / "pyproject.toml"), *arguments, str(REPO / "testcases" / "cs")]
    run = subprocess.run(command, cwd=REPO, capture_output=True, text=True, timeout=120)
    assert run.returncode == 4 and message in run.stderr, run.stderr


# --- the command ------------------------------------------------------------------------------------------

def test_an_unknown_behaviour_is_a_usage_error(capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main(["chaos", "--role", "cs", "--behaviours", "huge_interval"]) == 2
    assert "unknown chaos behaviour(s) huge_interval" in capsys.readouterr().err


def test_a_run_past_its_limit_is_killed_with_its_descendants(tmp_path: Path) -> None:
    """The bound on a hang: the launcher, pytest below it and what pytest started in a session of its own."""
    ready = tmp_path / "ready"
    hold = (
        "import pathlib, subprocess, time\n"
        "hook = subprocess.Popen(['sleep', '1000'], start_new_session=True)\n"
        f"pathlib.Path({str(ready)!r}).write_text(str(hook.pid))\n"
        "time.sleep(1000)\n"
    )
    command = [sys.executable, "-m", "harness.peak_memory", str(tmp_path / "m.json"), "--", sys.executable, "-c", hold]
    started = time.monotonic()
    with pytest.raises(Overran):
        Supervisor().run(command, terminal=False, limit=3.0, cwd=REPO)
    assert time.monotonic() - started < 30 and not (tmp_path / "m.json").exists()
    hook = int(ready.read_text())
    assert not Path(f"/proc/{hook}").exists() or Path(f"/proc/{hook}/stat").read_text().rpartition(")")[2].split()[0] in "ZX"


def test_a_run_within_its_limit_gives_its_exit_status() -> None:
    assert Supervisor().run([sys.executable, "-c", "raise SystemExit(3)"], terminal=False, limit=60.0) == 3


def test_peak_memory_is_measured_in_a_process_of_its_own(tmp_path: Path) -> None:
    out = tmp_path / "memory.json"
    ballast = b"\x01" * (200 * 1024 * 1024)  # resident in the caller: it must not count
    command = [sys.executable, "-m", "harness.peak_memory", str(out), "--", sys.executable, "-c",
               "import sys; x = b'1' * (60 * 1024 * 1024); sys.exit(3)"]
    assert subprocess.run(command, cwd=REPO).returncode == 3
    del ballast
    figures = json.loads(out.read_text())
    assert figures["returncode"] == 3 and 60 * 1024 < figures["maxrss_kib"] < 150 * 1024


@pytest.mark.slow
def test_the_whole_matrix_has_no_cell_out_of_bounds(capsys: pytest.CaptureFixture[str]) -> None:
    code = cli.main(["chaos", "--json"])
    out, err = capsys.readouterr()
    matrix = json.loads(out)
    bad = [(row["role"], row["behaviour"], c["case"], c["problems"]) for row in matrix["rows"] for c in row["cells"] if c["problems"]]
    assert code == 0 and not bad, (bad, err)


def test_a_message_past_the_harness_limit_allows_only_inconclusive() -> None:
    """Part 4 sets no maximum message size: the harness closing the connection at its own limit is no FAIL of the SUT."""
    for role in ("cs", "csms"):
        assert reference_chaos.behaviour("over_max_frame", role).allowed == BEYOND_A_LIMIT == {"INCONCLUSIVE"}
