"""``ocpp-conformance``: list the Part 6 cases, run them against a SUT, report on a run, check the harness.

A thin layer over pytest: the CLI decides *which* cases run (catalog + PICS + what the harness implements),
runs exactly those test functions in a ``python -m pytest`` subprocess, then reads the per-case result files
the plugin wrote (:mod:`harness.results`) to write the summary (:mod:`harness.report.summary`).

Commands::

    ocpp-conformance list [--role cs|csms] [--profile P] [--pics FILE] [--json]
    ocpp-conformance run --role cs|csms [--sut reference|FILE] [--profile P ...] [--pics FILE]
                         [--cases ID,...] [--report-dir DIR] [--fault NAME ...] [--waivers FILE] [--html]
    ocpp-conformance report [RUN_DIR] [--waivers FILE]
    ocpp-conformance selftest [--role cs|csms] [--cases ID,...] [--json]
    ocpp-conformance chaos [--role cs|csms] [--behaviours NAME,...] [--cases ID,...] [--json]

``run`` accepts ``--profile`` several times (a certification run is Core plus each claimed profile); a case
selected by several profiles runs once. It writes ``run.json`` (what runs, against what) before pytest starts,
then ``summary.json`` and ``summary.md``; ``--html`` also renders the Allure report. ``report`` re-reads a
finished run (default ``reports/latest-cs``, else ``reports/latest-csms``), re-applies waivers (``--waivers``,
else the file the run used), rewrites both summaries and renders the Allure report. ``selftest`` runs every
implemented case against the correct reference SUT (each must PASS), then mutants of the reference's frames
and its named faults, and proves each Part 6 validation of each case by a FAIL at exactly that validation
(:mod:`harness.selftest`). ``chaos`` runs every implemented case against the reference SUT with each chaos
behaviour switched on and checks that each gives an allowed verdict with its trace, in time and under the memory
ceiling (:mod:`harness.chaos`).

Exit codes (computed in :func:`harness.results.exit_code`; a waived FAIL counts as passed):

- 0 — every selected case PASSed or is a waived FAIL (selftest: every case passes the reference and
  every validation of it is proven);
- 1 — SUT failures: a FAIL that is not waived, an INCONCLUSIVE, or a stale waiver (its case PASSed), and no
  ERROR (selftest: a check above failed; chaos: a cell is out of bounds);
- 2 — usage or configuration error: bad option, unknown profile or case, unreadable PICS, SUT or waivers file
  (unknown case id, missing reason), a report folder without run.json, no implemented case selected (a run
  where nothing ran never reports success), pytest collecting nothing;
- 3 — harness error, which wins over SUT failures: a case ended in ERROR, a selected case left no result,
  pytest reported an error outside the cases (fixture setup/teardown), the reference SUT module cannot be
  imported, or the HTML report cannot be rendered (e.g. the Allure tool is missing);
- 4 — interrupted: SIGINT or SIGTERM stopped ``run`` or ``selftest`` (see :mod:`harness.processes`). ``run``
  still writes what it has: the running case as ERROR "interrupted", the finished cases, the cases not reached
  as "not run", summary.json and summary.md; it renders no HTML report (``report`` does, afterwards).
"""

from __future__ import annotations

import argparse
import ast
import importlib
import json
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import harness
from harness import config as sut_config
from harness import chaos, selftest
from harness.catalog import Catalog, CaseEntry, CatalogError, load_catalog
from harness.pics import PROFILE_KEYS, ROLES, Pics, PicsError
from harness.processes import Interrupted, Overran, Supervisor
from harness.reference import chaos as reference_chaos
from harness.report import summary as run_summary
from harness.report import waivers as run_waivers
from harness.results import (
    EXIT_HARNESS_ERROR, EXIT_INTERRUPTED, EXIT_OK, EXIT_SUT_FAILURE, EXIT_USAGE, RunOutcome, read_outcome,
)
from harness.selection import Selection, resolve
from harness.verdicts import HarnessError, Verdict

REPO = Path(harness.__file__).resolve().parent.parent
TESTCASE_DIRS = {"cs": "testcases/cs", "csms": "testcases/csms"}
REFERENCE_MODULES = {"cs": "harness.reference.station", "csms": "harness.reference.csms"}
PYTEST_NO_TESTS = 5
PYTEST_USAGE_ERROR = 4


class UsageFailure(Exception):
    """A usage or configuration mistake: exit 2, nothing (more) runs."""


class HarnessFailure(Exception):
    """The harness itself cannot work (e.g. the reference SUT does not import): exit 3."""


# --- which cases the harness implements --------------------------------------------------------------

@dataclass(frozen=True)
class TestFunction:
    """Where the test function of one Part 6 case lives, found without importing it."""

    case_id: str
    path: str  # relative to the repository root, POSIX separators
    name: str

    @property
    def node_id(self) -> str:
        return f"{self.path}::{self.name}"


def scan_testcases(root: Path = REPO) -> dict[str, TestFunction]:
    """Every ``@testcase("TC_...")`` function under testcases/<role>/, by case id.

    Parsing instead of importing keeps ``list`` fast and working while a test module is half written.
    """
    found: dict[str, TestFunction] = {}
    for folder in TESTCASE_DIRS.values():
        for path in sorted((root / folder).glob("*.py")):
            for case_id, name in _decorated_functions(path):
                found[case_id] = TestFunction(case_id, path.relative_to(root).as_posix(), name)
    return found


def _decorated_functions(path: Path) -> Iterable[tuple[str, str]]:
    """(case id, function name) for each top-level function of `path` carrying a @testcase decorator."""
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    for node in tree.body:
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
            for decorator in node.decorator_list:
                case_id = _testcase_id(decorator)
                if case_id is not None:
                    yield case_id, node.name


def _testcase_id(decorator: ast.expr) -> str | None:
    """The case id of ``@testcase("TC_...", ...)`` (also ``@x.testcase(...)``), else None."""
    if not isinstance(decorator, ast.Call) or not decorator.args:
        return None
    func = decorator.func
    name = func.id if isinstance(func, ast.Name) else func.attr if isinstance(func, ast.Attribute) else None
    first = decorator.args[0]
    if name == "testcase" and isinstance(first, ast.Constant) and isinstance(first.value, str):
        return first.value
    return None


# --- loading inputs (every failure here is a usage error) --------------------------------------------

def _catalog() -> Catalog:
    try:
        return load_catalog()
    except CatalogError as error:
        raise UsageFailure(str(error)) from error


def _pics(path: Path | None) -> Pics | None:
    if path is None:
        return None
    try:
        return Pics.load(path)
    except OSError as error:
        raise UsageFailure(f"cannot read PICS {path}: {error.strerror or error}") from error
    except PicsError as error:
        raise UsageFailure(f"bad PICS: {error}") from error


def _resolve(catalog: Catalog, role: str, profile: str, pics: Pics | None, implemented: set[str]) -> list[Selection]:
    try:
        return resolve(catalog, role, profile, pics, implemented)  # type: ignore[arg-type]
    except ValueError as error:
        raise UsageFailure(str(error)) from error


def reference_faults(role: str) -> dict[str, str]:
    """The fault table of the reference SUT of `role`, imported only when needed (it is optional to `list`)."""
    module_name = REFERENCE_MODULES[role]
    try:
        module = importlib.import_module(module_name)
        return dict(module.FAULTS)
    except Exception as error:  # any failure means the reference SUT is unusable, whatever its cause
        raise HarnessFailure(f"cannot load the reference SUT {module_name}: {type(error).__name__}: {error}") from error


def _check_sut(sut: str, role: str, faults: Sequence[str]) -> sut_config.SutConfig:
    """The SUT's configuration; a SUT file of the wrong role or faults the SUT lacks are rejected before anything runs."""
    if sut == "reference":
        unknown = sorted(set(faults) - reference_faults(role).keys()) if faults else []
        if unknown:
            raise UsageFailure(f"unknown fault(s) {unknown} of the reference {role.upper()}")
        return sut_config.reference_config(role, tuple(faults))
    if faults:
        raise UsageFailure("--fault only applies to the reference SUT (--sut reference)")
    try:
        loaded = sut_config.load(Path(sut))
    except HarnessError as error:
        raise UsageFailure(str(error)) from error
    if loaded.role != role:
        raise UsageFailure(f"the SUT file {sut} describes a {loaded.role}, but --role is {role}")
    return loaded


def _waivers(path: Path | None, catalog: Catalog) -> run_waivers.WaiverSet | None:
    if path is None:
        return None
    try:
        return run_waivers.load(path, {case.id for case in catalog})
    except run_waivers.WaiverError as error:
        raise UsageFailure(f"bad waivers: {error}") from error


# --- list ---------------------------------------------------------------------------------------------

def cmd_list(args: argparse.Namespace) -> int:
    """Print every case of the role(s) with its flags, implementation status and applicability."""
    catalog = _catalog()
    pics = _pics(args.pics)
    roles = _list_roles(args.role, pics)
    implemented = set(scan_testcases())
    profiles = [args.profile] if args.profile else sorted(pics.profiles) if pics else []
    entries: list[dict[str, Any]] = []
    for role in roles:
        per_profile = [{s.case.id: s for s in _resolve(catalog, role, p, pics, implemented)} for p in profiles]
        for case in catalog.for_role(role):
            selections = [by_id[case.id] for by_id in per_profile]
            entries.append(_list_entry(case, selections, profiles, case.id in implemented))
    print(json.dumps(entries, indent=2) if args.json else _list_table(entries))
    return EXIT_OK


def _list_roles(role: str | None, pics: Pics | None) -> Sequence[str]:
    """Both roles by default; a PICS answers for one role only, so it narrows the list to that role."""
    if pics is None:
        return [role] if role else ROLES
    if role and role != pics.role:
        raise UsageFailure(f"the PICS {pics.source} describes a {pics.role}, but --role is {role}")
    return [pics.role]


def _list_entry(case: CaseEntry, selections: Sequence[Selection], profiles: Sequence[str], implemented: bool) -> dict[str, Any]:
    applicable, reason = _applicability(case, selections, profiles)
    return {
        "id": case.id,
        "role": case.role,
        "block": case.block,
        "title": case.title,
        "profiles": {key: cell.flag for key, cell in case.profiles.items()},
        "condition": _condition(case, profiles or list(case.profiles)),
        "implemented": implemented,
        "applicable": applicable,
        "reason": reason,
    }


def _condition(case: CaseEntry, profiles: Sequence[str]) -> str | None:
    """The C condition; when profiles disagree (rare), each one prefixed with its profile."""
    cells = {p: case.profiles[p].condition for p in profiles if p in case.profiles and case.profiles[p].condition}
    distinct = set(cells.values())
    if len(distinct) <= 1:
        return next(iter(distinct), None)
    return "; ".join(f"{profile}: {condition}" for profile, condition in cells.items())


def _applicability(case: CaseEntry, selections: Sequence[Selection], profiles: Sequence[str]) -> tuple[bool | None, str]:
    """Applicable when any considered profile requires the case; unknown when no profile is claimed at all."""
    if not profiles:
        listed = f"Part 5 lists it under {', '.join(case.profiles)}" if case.profiles else "in no Part 5 profile"
        return None, f"unknown without a PICS or --profile; {listed}"
    relevant = [s for s in selections if s.status != "not_in_profile"]
    if not relevant:
        return False, selections[0].reason if len(selections) == 1 else _outside_all(case, profiles)
    values = [s.applicable for s in relevant]
    applicable = True if True in values else None if None in values else False
    return applicable, "; ".join(s.reason for s in relevant)


def _outside_all(case: CaseEntry, profiles: Sequence[str]) -> str:
    listed = f"Part 5 lists it under {', '.join(case.profiles)}" if case.profiles else "it is in no Part 5 profile"
    return f"not part of the claimed profiles {', '.join(profiles)} ({listed})"


def _list_table(entries: Sequence[Mapping[str, Any]]) -> str:
    """Human view: one line per case, then totals."""
    lines = [f"{'case':<18} {'profiles':<40} {'impl':<4} {'appl':<4} reason"]
    for entry in entries:
        flags = " ".join(f"{key}:{flag}" for key, flag in entry["profiles"].items()) or "-"
        applicable = {True: "yes", False: "no", None: "?"}[entry["applicable"]]
        implemented = "yes" if entry["implemented"] else "no"
        lines.append(f"{entry['id']:<18} {flags:<40} {implemented:<4} {applicable:<4} {entry['reason']}")
    implemented_count = sum(1 for entry in entries if entry["implemented"])
    applicable_count = sum(1 for entry in entries if entry["applicable"])
    lines.append(f"{len(entries)} cases, {implemented_count} implemented, {applicable_count} applicable")
    return "\n".join(lines)


# --- run ----------------------------------------------------------------------------------------------

def cmd_run(args: argparse.Namespace) -> int:
    """Resolve the selection, record the run, run it under pytest, write and print the summary."""
    role = args.role
    pics_path = args.pics or (REPO / "fixtures" / "pics" / f"reference_{role}.toml" if args.sut == "reference" else None)
    pics = _pics(pics_path)
    config = _check_sut(args.sut, role, args.fault)
    functions = scan_testcases()
    catalog = _catalog()
    waivers = _waivers(args.waivers, catalog)
    profiles = args.profile or ["core"]
    per_profile = {p: _resolve(catalog, role, p, pics, set(functions)) for p in profiles}
    chosen = _chosen_cases(catalog, role, per_profile, args.cases)
    report_dir = args.report_dir or _default_report_dir(role)
    info = run_summary.new_run_info(
        role=role, profiles=profiles, sut=args.sut, config=config, pics=pics, waivers=waivers,
        cases=chosen, implemented=list(functions),
    )
    run_summary.write_run_info(report_dir, info)
    supervisor = Supervisor()
    with supervisor.forwarding_signals():
        outcome = _execute(role, args.sut, args.fault, [functions[c] for c in chosen], report_dir, None, supervisor)
    info = run_summary.finish_run_info(report_dir, info, outcome.interrupted)
    summary = _write_summary(report_dir, info, catalog, per_profile, outcome, pics, waivers)
    print(_summary_text(summary, report_dir))
    if supervisor.killed:
        print(f"WARNING: pytest had not stopped {supervisor.grace:.0f} s after the signal and was killed", file=sys.stderr)
    code = _with_html(report_dir, summary["exit_code"]) if args.html and not outcome.interrupted else summary["exit_code"]
    if args.report_dir is None:  # last, so that a copy (where symlinks are not allowed) holds everything
        _point_latest(report_dir, role)
    return code


def cmd_report(args: argparse.Namespace) -> int:
    """Re-judge a finished run (waivers may have changed), rewrite its summaries, render the HTML report."""
    run_dir = args.run_dir or _latest_run_dir()
    info = _run_info(run_dir)
    catalog = _catalog()
    pics = _run_pics(info)
    waivers = _waivers(args.waivers or _path_or_none(info.get("waivers_path")), catalog)
    implemented = set(info["implemented"])
    per_profile = {p: _resolve(catalog, info["role"], p, pics, implemented) for p in info["profiles"]}
    outcome = read_outcome(run_dir, info["cases"], bool(info.get("interrupted")))
    summary = _write_summary(run_dir, info, catalog, per_profile, outcome, pics, waivers)
    print(_summary_text(summary, run_dir))
    return _with_html(run_dir, summary["exit_code"])


def cmd_install_report_tool(args: argparse.Namespace) -> int:
    """Install the pinned Allure report tool (npm, into .tools/allure); nothing to do when it is there."""
    from harness.report import allure_html

    try:
        launcher = allure_html.install_tool()
    except HarnessError as error:
        print(f"error: {error}", file=sys.stderr)
        return EXIT_HARNESS_ERROR
    print(f"Allure {allure_html.VERSION}: {launcher}")
    return EXIT_OK


def _write_summary(
    run_dir: Path,
    info: Mapping[str, Any],
    catalog: Catalog,
    per_profile: Mapping[str, Sequence[Selection]],
    outcome: RunOutcome,
    pics: Pics | None,
    waivers: run_waivers.WaiverSet | None,
) -> dict[str, Any]:
    """Build summary.json and summary.md, judging waivers on today's date (UTC): a gate decides today."""
    today = datetime.now(UTC).date()
    summary = run_summary.build(run_dir, info, catalog, per_profile, outcome, pics, waivers, today)
    run_summary.write(run_dir, summary)
    return summary


def _latest_run_dir() -> Path:
    """reports/latest-cs if there is one, else reports/latest-csms."""
    reports = REPO / "reports"
    for role in ROLES:
        if (reports / f"latest-{role}").exists():
            return reports / f"latest-{role}"
    raise UsageFailure(f"no run to report on: neither {reports / 'latest-cs'} nor {reports / 'latest-csms'} exists")


def _run_info(run_dir: Path) -> dict[str, Any]:
    if not run_dir.is_dir():
        raise UsageFailure(f"no run folder {run_dir}")
    try:
        return run_summary.read_run_info(run_dir)
    except run_summary.RunRecordError as error:
        raise UsageFailure(str(error)) from error


def _run_pics(info: Mapping[str, Any]) -> Pics | None:
    """The run's PICS, re-read; if it changed since the run, the selection would not be the one that ran."""
    pics = _pics(_path_or_none(info.get("pics_path")))
    if pics is not None and pics.sha256 != info.get("pics_sha256"):
        raise UsageFailure(f"the PICS {pics.source} changed since the run (sha256 differs); report on a fresh run")
    return pics


def _path_or_none(value: str | None) -> Path | None:
    return Path(value) if value else None


def _with_html(run_dir: Path, code: int) -> int:
    """Render the Allure HTML report; a failure to render is a harness error, which wins over the verdicts."""
    from harness.report import allure_html  # lazy: only this command needs it, and the Allure tool

    try:
        allure_html.write_metadata(run_dir)
        print(f"html report: {allure_html.generate(run_dir)}")
    except HarnessError as error:
        print(f"ocpp-conformance: harness error: {error}", file=sys.stderr)
        return EXIT_HARNESS_ERROR
    return code


def _chosen_cases(catalog: Catalog, role: str, per_profile: Mapping[str, Sequence[Selection]], cases: str | None) -> list[str]:
    """Selected and implemented cases in catalog order, narrowed by --cases; never empty."""
    selected = {s.case.id for selections in per_profile.values() for s in selections if s.status == "selected"}
    chosen = [case.id for case in catalog.for_role(role) if case.id in selected]  # type: ignore[arg-type]
    if cases is not None:
        wanted = _wanted_cases(catalog, role, cases)
        _warn_unselected(per_profile, wanted - selected)
        chosen = [case_id for case_id in chosen if case_id in wanted]
    if not chosen:
        raise UsageFailure(f"no implemented case selected for the {role.upper()} in {', '.join(per_profile)}; nothing to run")
    return chosen


def _wanted_cases(catalog: Catalog, role: str, cases: str) -> set[str]:
    """The ids of --cases, each of which must be a case of the role."""
    wanted = {part.strip() for part in cases.split(",") if part.strip()}
    known = {case.id for case in catalog.for_role(role)}  # type: ignore[arg-type]
    unknown = sorted(wanted - known)
    if unknown:
        raise UsageFailure(f"--cases names unknown {role.upper()} case(s): {', '.join(unknown)}")
    return wanted


def _warn_unselected(per_profile: Mapping[str, Sequence[Selection]], skipped: set[str]) -> None:
    """Tell why a case asked for with --cases will not run, instead of dropping it silently."""
    for selections in per_profile.values():
        for selection in selections:
            if selection.case.id in skipped:
                print(f"note: {selection.case.id} not run: {selection.reason}", file=sys.stderr)


def _default_report_dir(role: str) -> Path:
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    return REPO / "reports" / f"{stamp}-{role}"


def _point_latest(report_dir: Path, role: str) -> None:
    """reports/latest-<role> → the run's folder: a symlink, or a copy where symlinks are not allowed."""
    latest = report_dir.parent / f"latest-{role}"
    if latest.is_symlink() or latest.is_file():
        latest.unlink()
    elif latest.is_dir():
        shutil.rmtree(latest)
    try:
        latest.symlink_to(report_dir.name, target_is_directory=True)
    except OSError:
        shutil.copytree(report_dir, latest)


def pytest_command(
    role: str, sut: str, faults: Sequence[str], functions: Sequence[TestFunction], report_dir: Path, extra: Sequence[str] = ()
) -> list[str]:
    """The pytest invocation for exactly these test functions (node ids, so pyproject's testpaths is moot)."""
    command = [sys.executable, "-m", "pytest", *(f.node_id for f in functions)]
    command += ["-p", "no:cacheprovider", "-o", "asyncio_mode=auto"]
    command += ["--rootdir", str(REPO), "-c", str(REPO / "pyproject.toml")]
    command += ["--ocpp-sut", sut, "--ocpp-role", role, "--ocpp-report-dir", str(report_dir)]
    command += ["--alluredir", str(report_dir / "allure-results"), "--junitxml", str(report_dir / "junit.xml")]
    for fault in faults:
        command += ["--ocpp-fault", fault]
    return command + list(extra)


def _execute(
    role: str, sut: str, faults: Sequence[str], functions: Sequence[TestFunction], report_dir: Path, log: Path | None,
    supervisor: Supervisor, extra: Sequence[str] = (),
) -> RunOutcome:
    """Run pytest under `supervisor` (output to the terminal, or to `log`) and read back the verdicts of
    `functions`; `extra` pytest arguments (the self-test's ``--ocpp-mutations FILE``) go last."""
    report_dir.mkdir(parents=True, exist_ok=True)
    command = pytest_command(role, sut, faults, functions, report_dir, extra)
    if log is None:
        returncode = supervisor.run(command, terminal=True, cwd=REPO)
    else:
        with log.open("w", encoding="utf-8") as stream:
            returncode = supervisor.run(command, terminal=False, cwd=REPO, stdout=stream, stderr=subprocess.STDOUT)
    if returncode == PYTEST_NO_TESTS and not supervisor.interrupted:
        raise UsageFailure(f"pytest collected no test from {[f.node_id for f in functions]} (exit code 5)")
    if returncode == PYTEST_USAGE_ERROR and not supervisor.interrupted:
        raise UsageFailure("pytest rejected the invocation (exit code 4); see its message above")
    return read_outcome(report_dir, [f.case_id for f in functions], supervisor.interrupted)


def _summary_text(summary: Mapping[str, Any], report_dir: Path) -> str:
    """The per-profile table, one line per case run, what did not run, then the warnings."""
    columns = {"m_selected": "M sel", "c_selected": "C sel", **run_summary.COLUMNS}
    lines = ["", f"SUT: {run_summary.sut_line(summary)}", f"{'profile':<28}" + "".join(f"{c:>15}" for c in columns.values())]
    for row in summary["profiles"]:
        lines.append(f"{row['profile']:<28}" + "".join(f"{row[key]:>15}" for key in columns))
    lines.append("")
    for case in summary["cases"]:
        reason = f"  {case['reason']}" if case["reason"] else ""
        lines.append(f"{case['id']:<20} {case['reported']:<14}{reason}")
    lines.append(f"\nnot applicable: {summary['not_applicable']}, not implemented: {summary['not_implemented']}")
    for row in summary["profiles"]:
        if row["not_run"]:
            lines.append(
                f"NOTE: {row['profile']}: {row['not_run']} required case(s) did not run (not implemented, left out"
                f" with --cases{' or not reached' if summary['interrupted'] else ''}); the exit code covers only the"
                " cases that ran, not the whole profile"
            )
    lines += [f"WARNING: {line}" for line in run_summary.warning_lines(summary)]
    lines.append(f"report: {report_dir} (summary.md, summary.json)")
    return "\n".join(lines)


# --- selftest -----------------------------------------------------------------------------------------

def cmd_selftest(args: argparse.Namespace) -> int:
    """Every case must PASS the correct reference and every validation of it must be shown to FAIL (see
    :mod:`harness.selftest`); this wrapper picks the cases, supplies the pytest runner and prints."""
    functions = scan_testcases()
    plans = _selftest_plans(args.role, functions, _case_ids(args.cases))
    faults = {role: reference_faults(role) for role in plans}
    cases = {role: [f.case_id for f in fs] for role, fs in plans.items()}
    if args.repeat < 1:
        raise UsageFailure(f"--repeat must be at least 1, got {args.repeat}")
    if args.repeat > 1:
        return _selftest_repeated(args, cases, faults, functions)
    work = Path(tempfile.mkdtemp(prefix="ocpp-selftest-"))
    supervisor = Supervisor()
    try:
        with supervisor.forwarding_signals():
            report = selftest.run(cases, faults, _selftest_runner(functions, supervisor), work)
        if supervisor.interrupted:
            raise Interrupted
    except Interrupted:
        raise Interrupted(f"selftest interrupted; pytest logs and reports kept in {work}") from None
    print(json.dumps(report.as_json(), indent=2) if args.json else selftest.text(report))
    return _selftest_exit(report)


def _selftest_repeated(
    args: argparse.Namespace, cases: Mapping[str, Sequence[str]], faults: Mapping[str, Any], functions: Mapping[str, TestFunction]
) -> int:
    """Flake hunting: the self-test ``--repeat`` times in a row; any cell whose outcome changes between runs is
    reported with the runs' values, and the folders of the differing runs (pytest logs, traces) are kept."""
    reports: list[selftest.Report] = []
    supervisor = Supervisor()
    with supervisor.forwarding_signals():
        for number in range(1, args.repeat + 1):
            work = Path(tempfile.mkdtemp(prefix=f"ocpp-selftest-{number}-"))
            try:
                reports.append(selftest.run(cases, faults, _selftest_runner(functions, supervisor), work))
            except Interrupted:
                raise Interrupted(f"selftest interrupted in run {number}; pytest logs and reports kept in {work}") from None
            if supervisor.interrupted:
                raise Interrupted(f"selftest interrupted in run {number}; pytest logs and reports kept in {work}")
            latest = reports[-1]
            print(f"[{number}/{args.repeat}] selftest {'ok' if latest.ok else 'NOT ok'} in {latest.seconds:.1f} s", file=sys.stderr)
    found = selftest.changes([selftest.outcomes(r.as_json()) for r in reports])
    keep = {reports[i].work for i in selftest.differing_runs(found)} | {r.work for r in reports if not r.ok}
    for report in reports:
        if report.work not in keep:
            shutil.rmtree(report.work, ignore_errors=True)
    result = {
        "runs": [{"ok": r.ok, "seconds": round(r.seconds, 1), "work": str(r.work) if r.work in keep else None} for r in reports],
        "changes": found,
        "ok": not found and all(r.ok for r in reports),
    }
    print(json.dumps(result, indent=2) if args.json else _repeat_text(result))
    if any(r.harness_errors for r in reports):
        return EXIT_HARNESS_ERROR
    return EXIT_OK if result["ok"] else EXIT_SUT_FAILURE


def _repeat_text(result: Mapping[str, Any]) -> str:
    runs = result["runs"]
    lines = [f"{len(runs)} self-test runs: {sum(1 for r in runs if r['ok'])} ok, {len(result['changes'])} verdict change(s)"]
    lines += [f"  {change['cell']}: {' | '.join(change['values'])}" for change in result["changes"]]
    lines += [f"  run {i}: logs kept in {run['work']}" for i, run in enumerate(runs, start=1) if run["work"]]
    return "\n".join(lines)


def _case_ids(cases: str | None) -> set[str] | None:
    return {c.strip() for c in cases.split(",") if c.strip()} if cases else None


def _selftest_plans(
    role: str | None, functions: Mapping[str, TestFunction], cases: set[str] | None = None, purpose: str = "self-test"
) -> dict[str, list[TestFunction]]:
    """The implemented cases per role to check (only `cases` when given); a role without any is skipped, and
    nothing at all is an error, as is a named case the harness does not implement."""
    unknown = sorted(cases - functions.keys()) if cases else []
    if unknown:
        raise UsageFailure(f"not implemented, cannot {purpose}: {', '.join(unknown)}")
    roles = [role] if role else ROLES
    plans = {r: [f for f in functions.values() if _role_of(f) == r and (cases is None or f.case_id in cases)] for r in roles}
    plans = {r: fs for r, fs in plans.items() if fs}
    if not plans:
        raise UsageFailure(f"no implemented case for {' or '.join(r.upper() for r in roles)}; nothing to {purpose}")
    return plans


def _role_of(function: TestFunction) -> str:
    return next(role for role, folder in TESTCASE_DIRS.items() if function.path.startswith(folder + "/"))


def _selftest_runner(functions: Mapping[str, TestFunction], supervisor: Supervisor) -> selftest.Runner:
    """One pytest process on the reference SUT of the role, its output kept in the run's folder; none starts
    once the self-test is interrupted, and an interrupted one raises :class:`Interrupted`."""

    def run(role: str, faults: Sequence[str], cases: Sequence[str], report_dir: Path, extra: Sequence[str]) -> RunOutcome:
        report_dir.mkdir(parents=True, exist_ok=True)
        chosen = [functions[case] for case in cases]
        outcome = _execute(role, "reference", faults, chosen, report_dir, report_dir / "pytest.log", supervisor, extra)
        if outcome.interrupted:
            raise Interrupted("the self-test was interrupted")
        return outcome

    return run


def _selftest_exit(report: selftest.Report) -> int:
    """Keep the logs when something is wrong (and say where); 3 on a harness error or an ERROR on the reference."""
    if report.ok:
        shutil.rmtree(report.work, ignore_errors=True)
        return EXIT_OK
    print(f"selftest failed; pytest logs and reports kept in {report.work}", file=sys.stderr)
    if report.harness_errors or any(case["reference"] == Verdict.ERROR.value for case in report.cases):
        return EXIT_HARNESS_ERROR
    return EXIT_SUT_FAILURE


# --- chaos ----------------------------------------------------------------------------------------------

def cmd_chaos(args: argparse.Namespace) -> int:
    """Every chaos behaviour of the reference SUTs against every implemented case (see :mod:`harness.chaos`)."""
    functions = scan_testcases()
    plans = _selftest_plans(args.role, functions, _case_ids(args.cases), purpose="run under chaos")
    rows = chaos.plan({role: [f.case_id for f in fs] for role, fs in plans.items()}, _behaviours(args.behaviours, plans))
    if not rows:
        raise UsageFailure(f"no chaos behaviour {args.behaviours} for the {' or '.join(r.upper() for r in plans)}")
    work = Path(tempfile.mkdtemp(prefix="ocpp-chaos-"))
    supervisor = Supervisor()
    try:
        with supervisor.forwarding_signals():
            matrix = chaos.run(rows, _chaos_runner(functions, supervisor), work)
    except Interrupted:
        raise Interrupted(f"chaos interrupted; pytest logs and reports kept in {work}") from None
    print(json.dumps(matrix.as_json(), indent=2) if args.json else chaos.text(matrix))
    if matrix.ok:
        return EXIT_OK
    print(f"chaos: cells out of bounds; pytest logs and reports kept in {work}", file=sys.stderr)
    return EXIT_SUT_FAILURE


def _behaviours(names: str | None, roles: Iterable[str]) -> list[str] | None:
    """The behaviour names of --behaviours, each of which must exist for one of the roles."""
    if names is None:
        return None
    wanted = [name.strip() for name in names.split(",") if name.strip()]
    known = {name for role in roles for name in reference_chaos.names(role)}
    unknown = [name for name in wanted if name not in known]
    if unknown:
        raise UsageFailure(f"unknown chaos behaviour(s) {', '.join(unknown)}; known: {', '.join(sorted(known))}")
    return wanted


def _chaos_runner(functions: Mapping[str, TestFunction], supervisor: Supervisor) -> chaos.Runner:
    """One pytest process per row under `supervisor`, output in the row's folder, killed with its descendants
    after the row's wall limit (a hang). Its peak memory is its maximum resident set, measured by
    :mod:`harness.peak_memory` (unknown for a run killed as hung). None starts once the CLI is interrupted."""

    def run(row: chaos.Row, report_dir: Path) -> chaos.RowRun:
        extra = ["--ocpp-chaos", row.behaviour, "--ocpp-timeouts", chaos.timeouts_option()]
        command = pytest_command(row.role, "reference", (), [functions[c] for c in row.cases], report_dir, extra)
        measured = report_dir / "memory.json"
        launcher = [sys.executable, "-m", "harness.peak_memory", str(measured), "--", *command]
        started = time.monotonic()
        hung = False
        with (report_dir / "pytest.log").open("w", encoding="utf-8") as log:
            try:
                returncode = supervisor.run(
                    launcher, terminal=False, limit=row.wall_limit, cwd=REPO, stdout=log, stderr=subprocess.STDOUT
                )
            except Overran:
                returncode, hung = -signal.SIGKILL, True
        if supervisor.interrupted:
            raise Interrupted("the chaos matrix was interrupted")
        peak_mb = None
        if measured.exists():
            figures = json.loads(measured.read_text(encoding="utf-8"))
            returncode, peak_mb = figures["returncode"], figures["maxrss_kib"] / 1024
        outcome = read_outcome(report_dir, row.cases)
        return chaos.RowRun(outcome, returncode, hung, peak_mb, time.monotonic() - started, report_dir)

    return run


# --- entry point --------------------------------------------------------------------------------------

def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="ocpp-conformance", description=__doc__.split("\n\n")[0])
    commands = parser.add_subparsers(dest="command", required=True)
    profiles = sorted(PROFILE_KEYS)

    listing = commands.add_parser("list", help="list every case with flags, implementation and applicability")
    listing.add_argument("--role", choices=ROLES)
    listing.add_argument("--profile", choices=profiles, help="judge applicability for this profile")
    listing.add_argument("--pics", type=Path, help="PICS file (TOML); default: applicability unknown")
    listing.add_argument("--json", action="store_true", help="print a JSON list instead of a table")
    listing.set_defaults(handler=cmd_list)

    run = commands.add_parser("run", help="run the selected cases against a SUT")
    run.add_argument("--role", choices=ROLES, required=True)
    run.add_argument("--sut", default="reference", help="'reference' or a SUT configuration file (TOML)")
    run.add_argument("--profile", choices=profiles, action="append", help="profile to certify (repeatable; default core)")
    run.add_argument("--pics", type=Path, help="PICS file; default with --sut reference: fixtures/pics/reference_<role>.toml")
    run.add_argument("--cases", help="comma-separated case ids to restrict the selection to")
    run.add_argument("--report-dir", type=Path, help="report folder; default reports/<UTC time>-<role>")
    run.add_argument("--fault", action="append", default=[], help="switch a reference SUT fault on (repeatable)")
    run.add_argument("--waivers", type=Path, help="waivers file (TOML, [[waiver]] id/reason/expires[/ticket])")
    run.add_argument("--html", action="store_true", help="also render the Allure HTML report (needs the Allure tool)")
    run.set_defaults(handler=cmd_run)

    report = commands.add_parser("report", help="re-judge a finished run: rewrite its summaries, render the HTML report")
    report.add_argument("run_dir", nargs="?", type=Path, metavar="RUN_DIR", help="default reports/latest-cs, else reports/latest-csms")
    report.add_argument("--waivers", type=Path, help="waivers file; default: the one the run used")
    report.set_defaults(handler=cmd_report)

    tool = commands.add_parser("install-report-tool", help="install the pinned Allure tool the HTML report needs")
    tool.set_defaults(handler=cmd_install_report_tool)

    check = commands.add_parser("selftest", help="prove every validation of every case against mutants and faults of the reference SUTs")
    check.add_argument("--role", choices=ROLES)
    check.add_argument("--cases", help="comma-separated case ids to self-test (default: every implemented case)")
    check.add_argument("--json", action="store_true", help="print the result as JSON")
    check.add_argument(
        "--repeat", type=int, default=1, metavar="N",
        help="flake hunting: run the self-test N times in a row and report every outcome that changes (default 1)",
    )
    check.set_defaults(handler=cmd_selftest)

    mayhem = commands.add_parser("chaos", help="every chaos behaviour of the reference SUTs against every implemented case")
    mayhem.add_argument("--role", choices=ROLES)
    mayhem.add_argument("--behaviours", help="comma-separated behaviour names (default: every one of the role)")
    mayhem.add_argument("--cases", help="comma-separated case ids (default: every implemented case of the role)")
    mayhem.add_argument("--json", action="store_true", help="print the matrix as JSON")
    mayhem.set_defaults(handler=cmd_chaos)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Parse, dispatch, and turn the failure kinds into their exit codes (argparse exits 2 by itself)."""
    args = build_parser().parse_args(argv)
    try:
        return args.handler(args)
    except UsageFailure as error:
        print(f"ocpp-conformance: error: {error}", file=sys.stderr)
        return EXIT_USAGE
    except HarnessFailure as error:
        print(f"ocpp-conformance: harness error: {error}", file=sys.stderr)
        return EXIT_HARNESS_ERROR
    except Interrupted as error:
        print(f"ocpp-conformance: {error}", file=sys.stderr)
        return EXIT_INTERRUPTED


if __name__ == "__main__":
    sys.exit(main())
