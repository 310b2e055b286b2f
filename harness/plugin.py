"""The pytest plugin: a thin skin over :mod:`harness.environment` and :mod:`harness.case`.

Options (each mirrored by an ini key of the same name with dashes as underscores):
``--ocpp-sut reference|FILE``, ``--ocpp-role cs|csms`` (with the reference SUT), ``--ocpp-fault NAME``
(repeatable; switches a fault of the reference SUT on), ``--ocpp-mutations FILE`` (a JSON list of wire mutations
of the reference SUT's outgoing frames), ``--ocpp-chaos NAME`` (a chaos behaviour of the reference SUT, acting
within every case: harness/reference/chaos.py), ``--ocpp-timeouts KEY=SECONDS,...`` (the reference SUT's timeouts,
e.g. ``response=2,message=3``; a SUT file has its ``[timeouts]``), ``--ocpp-report-dir DIR`` (traces and results),
``--ocpp-trace-frame-limit BYTES`` (a longer frame is kept cut in the trace, with its size and sha256) and
``--ocpp-full-frames`` (frames cut in a trace are also written whole next to it; ini key ``ocpp_full_frames``).

A test case is an ``async def`` decorated with :func:`harness.testcase.testcase`; it takes the ``case``
fixture. The plugin runs it on the session's event loop (the fake CSMS or station lives for the session,
so a real SUT stays connected between cases), turns its exception into a verdict, writes the JSONL trace
and the verdict under the report folder, and attaches both to the Allure result. Each trace is written as its
records are made (a crash leaves what was recorded); the evidence of a case is bounded (harness.evidence).
"""

from __future__ import annotations

import functools
import re
import signal
import threading
import time
from pathlib import Path
from types import FrameType
from typing import Any, AsyncIterator, Generator, Iterator

import allure
import pytest
import pytest_asyncio

from harness import config as sut_config
from harness.case import Case, CaseInfo, StepObserver
from harness.catalog import Catalog, CatalogError, load_catalog
from harness.environment import Environment
from harness.evidence import FRAME_LIMIT, clip, json_text
from harness.roles import FakeCsms, FakeStation
from harness.pics import identifiers
from harness.requirements import quote
from harness.reference.mutations import Mutation
from harness.reference.mutations import load as load_mutations
from harness.report.sequence import render_svg
from harness.trace import TraceSettings
from harness.verdicts import HarnessError, Inconclusive, StepRef, SutFailure, SutTimeout, Verdict, verdict_of

MARKER = "ocpp_case"
REQUIREMENT_ID = re.compile(r"\b[A-P]\d\d\.FR\.\d+\b")
_CASE_KEY = pytest.StashKey[Case]()
_ERROR_KEY = pytest.StashKey[BaseException]()
_PROGRESS_KEY = pytest.StashKey[str]()
INTERRUPTED = "interrupted: the run was stopped (SIGINT or SIGTERM) while the case ran"

_OPTIONS = {
    "ocpp_sut": ("reference", "'reference' or the path of a SUT configuration file (TOML)"),
    "ocpp_role": ("", "role of the reference SUT: cs or csms (a SUT file names its own)"),
    "ocpp_report_dir": ("reports/latest", "folder for traces and per-case results"),
    "ocpp_trace_frame_limit": (
        str(FRAME_LIMIT), "bytes of a frame a trace keeps whole; a longer one is kept cut, with its size and sha256"
    ),
}
MIN_FRAME_LIMIT = 1024
"""A smaller trace frame limit would cut ordinary frames, which a trace must show whole."""


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("ocpp", "OCPP 2.0.1 conformance")
    for name, (default, help_text) in _OPTIONS.items():
        group.addoption("--" + name.replace("_", "-"), dest=name, default=None, help=help_text)
        parser.addini(name, help_text, default=default)
    group.addoption("--ocpp-fault", dest="ocpp_fault", action="append", default=[], help="switch a reference SUT fault on")
    group.addoption(
        "--ocpp-mutations", dest="ocpp_mutations", default=None, metavar="FILE",
        help="JSON list of wire mutations of the reference SUT's outgoing frames (see harness/reference/mutations.py)",
    )
    group.addoption(
        "--ocpp-chaos", dest="ocpp_chaos", default=None, metavar="NAME",
        help="a chaos behaviour of the reference SUT, acting within every case (see harness/reference/chaos.py)",
    )
    group.addoption(
        "--ocpp-timeouts", dest="ocpp_timeouts", default=None, metavar="KEY=SECONDS,...",
        help="timeouts of the reference SUT's configuration, e.g. response=2,message=3 (a SUT file has [timeouts])",
    )
    full_frames = "also write each frame a trace keeps cut whole, next to the trace (traces/<case>.frames/<sha256>.txt)"
    group.addoption("--ocpp-full-frames", dest="ocpp_full_frames", action="store_true", default=None, help=full_frames)
    parser.addini("ocpp_full_frames", full_frames, type="bool", default=False)


def option(config: pytest.Config, name: str) -> str:
    value = config.getoption(name)
    return value if value is not None else str(config.getini(name))


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", f"{MARKER}(info): a Part 6 test case (set by harness.testcase.testcase)")
    if config.getoption("help", False) or config.getoption("version", False) or config.getoption("markers", False):
        return
    # Read and check the SUT configuration now: a mistake in it is a usage error before anything runs, not
    # an internal error in the report header nor an ERROR of every case.
    _sut_config(config)
    trace_settings(config)
    _interrupt_on_sigterm(config)


def _interrupt_on_sigterm(config: pytest.Config) -> None:
    """SIGTERM (``ocpp-conformance run`` stopped, a CI job cancelled) ends the run as Ctrl-C does: the running
    case ends as ERROR "interrupted", and the session's teardown stops the servers and writes the reports."""
    if threading.current_thread() is not threading.main_thread():
        return
    previous = signal.signal(signal.SIGTERM, _as_sigint)

    def restore() -> None:
        signal.signal(signal.SIGTERM, previous)

    config.add_cleanup(restore)


def _as_sigint(signum: int, frame: FrameType | None) -> None:
    """Hand SIGTERM to the SIGINT handler of the moment: asyncio's runner cancels the running case (so its
    cleanups run) and raises KeyboardInterrupt; outside it, Python's handler raises KeyboardInterrupt."""
    handler = signal.getsignal(signal.SIGINT)
    if not callable(handler):
        raise KeyboardInterrupt
    handler(signal.SIGINT, frame)


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    role = _sut_config(config).role
    for item in items:
        marker = item.get_closest_marker(MARKER)
        if marker is None:
            continue
        info: CaseInfo = marker.args[0]
        if info.role != role:
            item.add_marker(pytest.mark.skip(reason=f"not applicable: {info.id} tests a {info.role.upper()}, the SUT is a {role.upper()}"))


def _sut_config(config: pytest.Config) -> sut_config.SutConfig:
    cached = getattr(config, "_ocpp_sut_config", None)
    if cached is not None:
        return cached
    sut = option(config, "ocpp_sut")
    faults = tuple(config.getoption("ocpp_fault") or ())
    mutations_file = config.getoption("ocpp_mutations")
    chaos = config.getoption("ocpp_chaos")
    timeouts = config.getoption("ocpp_timeouts")
    try:
        if sut == "reference":
            role = option(config, "ocpp_role") or "cs"
            loaded = sut_config.reference_config(
                role,
                faults,
                _mutations(mutations_file),
                timeouts=None if timeouts is None else sut_config.timeouts_override(timeouts),
                chaos=chaos,
            )
        else:
            reference_only = {"--ocpp-fault": faults, "--ocpp-mutations": mutations_file, "--ocpp-chaos": chaos, "--ocpp-timeouts": timeouts}
            for name, given in reference_only.items():
                if given:
                    raise pytest.UsageError(f"{name} only applies to the reference SUT (--ocpp-sut reference)")
            loaded = sut_config.load(Path(sut))
            role = config.getoption("ocpp_role")
            if role and role != loaded.role:
                raise pytest.UsageError(f"the SUT file {sut} describes a {loaded.role}, but --ocpp-role is {role}")
    except HarnessError as error:
        raise pytest.UsageError(str(error)) from None
    config._ocpp_sut_config = loaded  # type: ignore[attr-defined]
    return loaded


def trace_settings(config: pytest.Config) -> TraceSettings:
    """Where traces go and how much of a frame they keep whole; a limit that is no whole number of bytes of at
    least MIN_FRAME_LIMIT is a usage error."""
    text = option(config, "ocpp_trace_frame_limit")
    try:
        limit = int(text)
    except ValueError:
        limit = 0
    if limit < MIN_FRAME_LIMIT:
        raise pytest.UsageError(f"ocpp_trace_frame_limit must be a number of bytes >= {MIN_FRAME_LIMIT}, got {text!r}")
    full_frames = bool(config.getoption("ocpp_full_frames") or config.getini("ocpp_full_frames"))
    return TraceSettings(report_dir(config) / "traces", limit, full_frames)


def _mutations(path: str | None) -> tuple[Mutation, ...]:
    """The ``--ocpp-mutations`` file's mutations; a bad file is a usage error before anything runs."""
    if not path:
        return ()
    try:
        return load_mutations(Path(path))
    except ValueError as error:
        raise pytest.UsageError(str(error)) from None


def pytest_report_header(config: pytest.Config) -> str:
    sut = _sut_config(config)
    faults = f", faults: {', '.join(sut.faults)}" if sut.faults else ""
    chaos = f", chaos: {sut.chaos}" if sut.chaos else ""
    return f"ocpp-conformance: OCPP 2.0.1, SUT {sut.role.upper()} ({sut.source}){faults}{chaos}"


@pytest_asyncio.fixture(scope="session", loop_scope="session")
async def ocpp_environment(pytestconfig: pytest.Config) -> AsyncIterator[Environment]:
    """The harness's role and, for the reference, the SUT: started once for the session."""
    environment = await Environment.start(_sut_config(pytestconfig), trace_settings(pytestconfig))
    _say_where(pytestconfig, environment)
    try:
        yield environment
    finally:
        environment.link.session.write(report_dir(pytestconfig) / "traces")
        await environment.stop()


def _say_where(config: pytest.Config, environment: Environment) -> None:
    """Tell the operator where the harness listens (role cs) or what it connects to (role csms)."""
    reporter = config.pluginmanager.get_plugin("terminalreporter")
    link = environment.link
    if reporter is None:
        return
    if isinstance(link, FakeCsms):
        reporter.write_line(f"ocpp-conformance: the harness (CSMS) listens at {link.url}/{environment.config.identity}")
    elif isinstance(link, FakeStation):
        reporter.write_line(f"ocpp-conformance: the harness (Charging Station) connects to {link.station.url}")


def report_dir(config: pytest.Config) -> Path:
    """Where traces and results go: --ocpp-report-dir, else the ini key, else reports/latest."""
    return Path(option(config, "ocpp_report_dir"))


@pytest.fixture
def ocpp_report_dir(pytestconfig: pytest.Config) -> Path:
    """The report folder of this run (created), for cases and hooks that write evidence beside the traces."""
    folder = report_dir(pytestconfig)
    folder.mkdir(parents=True, exist_ok=True)
    return folder


@pytest_asyncio.fixture(loop_scope="session")
async def case(
    request: pytest.FixtureRequest, ocpp_environment: Environment, ocpp_report_dir: Path
) -> AsyncIterator[Case]:
    """The running Part 6 case, attached to the SUT for the duration of the test."""
    marker = request.node.get_closest_marker(MARKER)
    if marker is None:
        raise HarnessError("the 'case' fixture is for functions decorated with @testcase")
    info: CaseInfo = marker.args[0]
    _label_allure(info, ocpp_environment)
    blocked = await ocpp_environment.before_case()
    running = ocpp_environment.new_case(info, _AllureSteps())
    running.blocked = blocked
    request.node.stash[_CASE_KEY] = running
    running.trace.event("case started", case=info.id, title=info.title)
    try:
        yield running
        _write_evidence(running, ocpp_report_dir)
    finally:
        await ocpp_environment.end_case()
        error = request.node.stash.get(_ERROR_KEY, None)
        if not isinstance(error, KeyboardInterrupt):  # an interrupted run stops; it restores nothing
            await ocpp_environment.after_case(info.id, passed=error is None)


@pytest.hookimpl(wrapper=True)
def pytest_runtest_call(item: pytest.Item) -> Iterator[None]:
    """Turn the case's outcome into its verdict; write and attach the trace whatever happened."""
    error: BaseException | None = None
    started = time.monotonic()
    try:
        result = yield
        running = item.stash.get(_CASE_KEY, None)
        if running is not None:
            running.finish()
        return result
    except BaseException as exc:
        error = exc
        item.stash[_ERROR_KEY] = exc
        if isinstance(exc, Inconclusive):
            raise pytest.skip.Exception(str(exc), _use_item_location=True) from exc
        raise
    finally:
        running = item.stash.get(_CASE_KEY, None)
        if running is not None:
            _record(item, running, error, time.monotonic() - started)


def _record(item: pytest.Item, running: Case, error: BaseException | None, seconds: float) -> None:
    verdict = verdict_of(error)
    result = _result(running, verdict, error)
    running.trace.event("verdict", **result)
    result["checks"] = running.checks
    result["duration"] = round(seconds, 3)
    folder = report_dir(item.config)
    trace_path, diagram = _write_evidence(running, folder)
    results = folder / "results"
    results.mkdir(parents=True, exist_ok=True)
    (results / f"{running.info.id}.json").write_text(json_text(result, indent=2), encoding="utf-8")
    allure.dynamic.label("verdict", verdict.value)
    allure.attach.file(trace_path, name=f"trace {running.info.id}.jsonl", attachment_type="text/plain", extension="jsonl")
    allure.attach(diagram, name=f"sequence diagram {running.info.id}", attachment_type=allure.attachment_type.SVG)
    item.user_properties.extend(_junit_properties(running.info.id, verdict, error, trace_path))
    _report_progress(item, running, verdict, result.get("reason"), seconds)


def _write_evidence(running: Case, folder: Path) -> tuple[Path, str]:
    """The case's JSONL trace and its sequence diagram (SVG) under the report folder."""
    trace_path = running.trace.write(folder / "traces")
    diagram = render_svg(running.trace.records, sut=running.info.role)
    (folder / "diagrams").mkdir(parents=True, exist_ok=True)
    (folder / "diagrams" / f"{running.info.id}.svg").write_text(diagram, encoding="utf-8")
    return trace_path, diagram


def _report_progress(item: pytest.Item, running: Case, verdict: Verdict, reason: str | None, seconds: float) -> None:
    """Keep the case's progress line (id, verdict, time, title, and why when it is not a PASS) for the
    terminal; it is printed once the case is over, outside pytest's output capture."""
    line = f"{running.info.id:<14} {verdict.value:<12} {seconds:6.1f} s  {running.info.title}"
    if reason and verdict is not Verdict.PASS:
        line += f"\n{'':<14} {reason}"
    item.stash[_PROGRESS_KEY] = line


@pytest.hookimpl(wrapper=True)
def pytest_runtest_protocol(item: pytest.Item) -> Generator[None, object, object]:
    result = yield
    line = item.stash.get(_PROGRESS_KEY, None)
    reporter = item.config.pluginmanager.get_plugin("terminalreporter")
    if line is not None and reporter is not None:
        reporter.write_line("")
        reporter.write_line(line)
    return result


def _junit_properties(case_id: str, verdict: Verdict, error: BaseException | None, trace_path: Path) -> list[tuple[str, str]]:
    """Per-case JUnit properties, so a CI tool can tell a FAIL from an ERROR (both are a <failure>) and a
    timeout from a wrong answer without reading the result files. Each value is kept to QUOTE_LIMIT bytes."""
    properties = [
        ("case_id", case_id),
        ("verdict", verdict.value),
        ("verdict_class", _verdict_class(error)),
        ("profiles", _profile_flags(case_id)),
        ("trace", str(trace_path)),
    ]
    if isinstance(error, SutFailure):
        properties += [("requirement", error.requirement), ("step", str(error.step)), ("validation", error.validation)]
    return [(name, clip(value)) for name, value in properties]


def _verdict_class(error: BaseException | None) -> str:
    """The kind of outcome; SutTimeout is tested first because it is a SutFailure too."""
    if error is None:
        return "pass"
    if isinstance(error, SutTimeout):
        return "sut-timeout"
    if isinstance(error, SutFailure):
        return "sut-failure"
    if isinstance(error, Inconclusive):
        return "inconclusive"
    return "harness-error"


def _profile_flags(case_id: str) -> str:
    """"core:M, reservation:C" from the catalog; empty for a case it does not list (e.g. a plugin test's)."""
    try:
        entry = _catalog().get(case_id)
    except (KeyError, CatalogError):
        return ""
    return ", ".join(f"{key}:{cell.flag}" for key, cell in entry.profiles.items())


def _result(running: Case, verdict: Verdict, error: BaseException | None) -> dict[str, Any]:
    """The result file's content; the reason and the frame kept to QUOTE_LIMIT bytes each (harness.evidence)."""
    result: dict[str, Any] = {"id": running.info.id, "role": running.info.role, "verdict": verdict.value}
    if isinstance(error, SutFailure):
        result.update(
            step=str(error.step),
            step_number=error.step.number,
            validation=error.validation,
            requirement=error.requirement,
            requirement_text=error.requirement_text or requirement_texts(error.requirement),
            reason=clip(error.reason),
            frame=None if error.frame is None else clip(error.frame),
        )
    elif isinstance(error, KeyboardInterrupt):
        result["reason"] = INTERRUPTED
    elif error is not None:
        result["reason"] = clip(str(getattr(error, "reason", None) or f"{type(error).__name__}: {error}"))
    return result


def requirement_texts(requirement: str) -> str:
    """The Part 2 text of every requirement id named (rules without an id, e.g. Part 4's, quote nothing)."""
    ids = REQUIREMENT_ID.findall(requirement)
    return quote(", ".join(ids)) if ids else ""


@functools.cache
def _catalog() -> Catalog:
    return load_catalog()


def _label_profiles(case_id: str) -> None:
    """Feature = each Part 5 profile listing the case, with its M/C flag; tags = the PICS ids of its
    conditions; severity critical when mandatory somewhere, else normal."""
    try:
        entry = _catalog().get(case_id)
    except (KeyError, CatalogError):
        return
    for key, cell in entry.profiles.items():
        name = _catalog().profiles[key].name
        allure.dynamic.feature(name)
        allure.dynamic.label("profile", f"{name} ({cell.flag})")
        if cell.condition:
            allure.dynamic.label("condition", f"{name}: {cell.condition}")
            allure.dynamic.tag(*identifiers(cell.condition))
    mandatory = any(cell.flag == "M" for cell in entry.profiles.values())
    allure.dynamic.severity(allure.severity_level.CRITICAL if mandatory else allure.severity_level.NORMAL)


def _label_allure(info: CaseInfo, environment: Environment) -> None:
    _label_profiles(info.id)
    allure.dynamic.id(info.id)
    allure.dynamic.label("ocpp_version", "2.0.1")
    allure.dynamic.label("role", "Charging Station" if info.role == "cs" else "CSMS")
    allure.dynamic.parent_suite("SUT = Charging Station" if info.role == "cs" else "SUT = CSMS")
    allure.dynamic.suite(f"Block {info.id.split('_')[1]}")
    allure.dynamic.sub_suite(info.id)
    for use_case in info.use_cases:
        allure.dynamic.story(use_case)
    for requirement in info.requirements:
        allure.dynamic.label("requirement", requirement)
    allure.dynamic.parameter("sut", environment.config.source)
    # The password itself never goes into the results: allure-pytest writes a masked parameter in clear
    # text to the result JSON, and it would change the historyId whenever the password changes.
    allure.dynamic.parameter("basic_auth", "configured" if environment.config.basic_auth_password else "none")


class _AllureSteps(StepObserver):
    """Each Part 6 step becomes an Allure step named with its number and requirement ids."""

    def __init__(self) -> None:
        self._open: list[Any] = []

    def step_started(self, step: StepRef) -> None:
        context = allure.step(str(step))
        context.__enter__()
        self._open.append(context)

    def step_finished(self, step: StepRef, error: BaseException | None) -> None:
        context = self._open.pop()
        if error is None:
            context.__exit__(None, None, None)
        else:
            context.__exit__(type(error), error, error.__traceback__)

