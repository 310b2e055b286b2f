"""Process hygiene: SIGTERM or SIGINT to ``ocpp-conformance`` stops its pytest processes cleanly, and a manual-action
hook's process group never outlives its case. Checked from the outside, through /proc: no process of the tree
survives and the harness's port can be bound again.

The tests learn that a hook (or a case) is running from a FIFO it writes to, so no test sleeps for a guess.
"""

from __future__ import annotations

import asyncio
import json
import os
import select
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest

from harness.actions import Action, ActionUnavailable, HookDriver
from harness.case import CaseInfo
from harness.config import from_dict
from harness.environment import Environment
from harness.processes import CHILD_GRACE, Supervisor
from harness.report.summary import NOT_REACHED

REPO = Path(__file__).resolve().parent.parent
EXIT_INTERRUPTED = 4
HANGING_WITH_GRANDCHILD = "sleep 1000 & echo $$ $! > {fifo}; wait"
"""A hook that starts a grandchild, says the shell's pid and the grandchild's, and hangs."""

pytestmark = pytest.mark.skipif(not Path("/proc/self/task").is_dir(), reason="reads /proc (Linux)")


# --- what /proc says --------------------------------------------------------------------------------------

def alive(pid: int) -> bool:
    """Running, sleeping or stopped; a zombie has exited (only its parent's bookkeeping is left)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat.rpartition(")")[2].split()[0] not in ("Z", "X")


def below(pid: int) -> list[int]:
    """Every descendant of `pid`, from /proc/<pid>/task/*/children."""
    found: list[int] = []
    for listing in Path(f"/proc/{pid}/task").glob("*/children"):
        try:
            children = [int(child) for child in listing.read_text().split()]
        except OSError:
            continue
        for child in children:
            found += [child, *below(child)]
    return found


def in_group(pgid: int) -> list[int]:
    """The live processes of process group `pgid`."""
    members = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit() and alive(int(entry.name)):
            try:
                fields = (entry / "stat").read_text().rpartition(")")[2].split()
            except OSError:
                continue
            if int(fields[2]) == pgid:
                members.append(int(entry.name))
    return members


def port_free(port: int) -> bool:
    """A server could listen on the port again (TIME_WAIT connections do not count, a listener does)."""
    with socket.socket() as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind(("127.0.0.1", port))
            probe.listen()
        except OSError:
            return False
    return True


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


# --- FIFOs: a hook or a case says it runs ------------------------------------------------------------------

def open_fifo(path: Path) -> int:
    """The FIFO's read end, opened before anything writes to it (a writer then never blocks)."""
    os.mkfifo(path)
    return os.open(path, os.O_RDONLY | os.O_NONBLOCK)


def read_line(descriptor: int, timeout: float) -> str:
    """The first line written to the FIFO, waiting at most `timeout` seconds for it."""
    ready, _, _ = select.select([descriptor], [], [], timeout)
    assert ready, f"nothing was written to the FIFO within {timeout} s"
    return os.read(descriptor, 4096).decode().splitlines()[0]


@pytest.fixture(autouse=True)
def reaper() -> Iterator[list[int]]:
    """Pids a test saw; whatever of them a failing test left running is killed, so no test leaks processes."""
    seen: list[int] = []
    yield seen
    for pid in seen:
        if alive(pid):
            os.kill(pid, signal.SIGKILL)


# --- hooks end with their case ------------------------------------------------------------------------------

def hook_config(commands: dict[str, str]) -> dict:
    return {
        "sut": {"role": "cs", "kind": "external"},
        "csms": {"listen_host": "127.0.0.1", "listen_port": 0},
        "timeouts": {"response": 2.0, "message": 2.0, "manual_action": 30.0, "silence": 0.3},
        "actions": {"driver": "hook", "commands": commands},
    }


@pytest.fixture
async def fifo(tmp_path: Path) -> AsyncIterator[tuple[Path, int]]:
    path = tmp_path / "hook.fifo"
    descriptor = open_fifo(path)
    yield path, descriptor
    os.close(descriptor)


async def hook_processes(descriptor: int, reaper: list[int]) -> list[int]:
    """The pids a hook reported through the FIFO: its shell's (in a session of its own, the shell leads its
    process group), then its grandchild's."""
    pids = [int(pid) for pid in (await asyncio.to_thread(read_line, descriptor, 20.0)).split()]
    reaper += pids
    return pids


def gone(hook: list[int]) -> bool:
    """No process the hook started runs, and nothing else of its process group."""
    return not any(alive(pid) for pid in hook) and in_group(hook[0]) == []


async def test_a_hook_running_in_the_background_ends_with_its_case_grandchildren_included(fifo: tuple[Path, int], reaper: list[int]) -> None:
    path, descriptor = fifo
    environment = await Environment.start(from_dict(hook_config({"reboot": HANGING_WITH_GRANDCHILD.format(fifo=path)}), source="test"))
    try:
        case = environment.new_case(CaseInfo("TC_X_01_CS", "a hook that hangs", "cs"))
        action = case.manual_in_background("reboot")
        hook = await hook_processes(descriptor, reaper)
        assert all(alive(pid) for pid in hook)
        started = time.monotonic()
        await environment.end_case()
        print(f"case end stopped the hook's group in {time.monotonic() - started:.3f} s")
        assert gone(hook)
        assert action.cancelled()
    finally:
        await environment.stop()


async def test_what_a_finished_hook_left_in_the_background_ends_with_its_case(fifo: tuple[Path, int], reaper: list[int]) -> None:
    path, descriptor = fifo
    command = f"sleep 1000 > /dev/null 2>&1 & echo $$ $! > {path}"
    environment = await Environment.start(from_dict(hook_config({"plug_in": command}), source="test"))
    try:
        case = environment.new_case(CaseInfo("TC_X_02_CS", "a hook that leaves a process behind", "cs"))
        await case.manual("plug_in", evse_id=1, connector_id=1)
        hook = await hook_processes(descriptor, reaper)
        assert alive(hook[1]), "the hook's grandchild outlives the hook"
        await environment.end_case()
        assert gone(hook)
    finally:
        await environment.stop()


async def test_the_harness_stopping_ends_a_running_hook(fifo: tuple[Path, int], reaper: list[int]) -> None:
    path, descriptor = fifo
    environment = await Environment.start(from_dict(hook_config({"reboot": HANGING_WITH_GRANDCHILD.format(fifo=path)}), source="test"))
    case = environment.new_case(CaseInfo("TC_X_03_CS", "a hook that hangs", "cs"))
    case.manual_in_background("reboot")
    hook = await hook_processes(descriptor, reaper)
    await environment.stop()
    assert gone(hook)


async def test_a_hook_past_its_timeout_is_killed_with_its_grandchildren(fifo: tuple[Path, int], reaper: list[int]) -> None:
    path, descriptor = fifo
    driver = HookDriver({"reboot": HANGING_WITH_GRANDCHILD.format(fifo=path)}, None, timeout=1.5)
    performing = asyncio.create_task(driver.perform(Action("reboot")))
    hook = await hook_processes(descriptor, reaper)
    with pytest.raises(ActionUnavailable, match="did not finish"):
        await performing
    assert gone(hook)


async def test_a_hook_deaf_to_sigterm_is_killed_after_its_grace(fifo: tuple[Path, int], reaper: list[int]) -> None:
    path, descriptor = fifo
    command = f"trap '' TERM; sleep 1000 & echo $$ $! > {path}; wait"
    driver = HookDriver({"reboot": command}, None, timeout=30)
    performing = asyncio.create_task(driver.perform(Action("reboot")))
    hook = await hook_processes(descriptor, reaper)
    performing.cancel()
    with pytest.raises(asyncio.CancelledError):
        await performing
    assert gone(hook)


# --- the CLI's pytest processes ------------------------------------------------------------------------------

def test_a_pytest_process_deaf_to_the_signal_is_killed_with_its_descendants_after_the_grace(tmp_path: Path, reaper: list[int]) -> None:
    """The grace is a bound: what still runs then is killed, hooks in sessions of their own included."""
    path = tmp_path / "child.fifo"
    descriptor = open_fifo(path)
    child = (
        "import signal, subprocess, sys\n"
        "signal.signal(signal.SIGTERM, signal.SIG_IGN)\n"
        "hook = subprocess.Popen(['sleep', '1000'], start_new_session=True)\n"
        f"open({str(path)!r}, 'w').write(f'{{hook.pid}}\\n')\n"
        "signal.pause()\n"
    )
    hook: list[int] = []

    def terminate_when_running() -> None:
        hook.append(int(read_line(descriptor, 20.0)))
        os.kill(os.getpid(), signal.SIGTERM)

    supervisor = Supervisor(grace=0.5)
    sender = threading.Thread(target=terminate_when_running)
    started = time.monotonic()
    with supervisor.forwarding_signals():
        sender.start()
        code = supervisor.run([sys.executable, "-c", child], terminal=False)
    sender.join()
    os.close(descriptor)
    reaper += hook
    assert code == -signal.SIGKILL
    assert supervisor.received == signal.SIGTERM
    assert not alive(hook[0])
    assert time.monotonic() - started < 0.5 + 10


def interrupted_sut(tmp_path: Path, fifo: Path, port: int) -> Path:
    """The reference station behind a SUT file whose plug-in hook hangs: TC_G_01_CS waits on it for ever."""
    sut = tmp_path / "sut.toml"
    sut.write_text(
        '[sut]\nrole = "cs"\nkind = "reference"\n'
        f'[csms]\nlisten_host = "127.0.0.1"\nlisten_port = {port}\n'
        '[actions]\ndriver = "hook"\n'
        f"[actions.commands]\nplug_in = {json.dumps(HANGING_WITH_GRANDCHILD.format(fifo=fifo))}\n"
    )
    return sut


@pytest.mark.slow
@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT], ids=["SIGTERM", "SIGINT"])
def test_a_signal_to_the_cli_stops_the_run_cleanly(tmp_path: Path, signum: signal.Signals, reaper: list[int]) -> None:
    """TC_B_09_CS passes, TC_G_01_CS hangs on its plug-in hook when the signal comes, TC_P_01_CS is not
    reached: the CLI exits 4 within the grace, leaves no process and no listener, and reports all three."""
    port = free_port()
    fifo = tmp_path / "hook.fifo"
    descriptor = open_fifo(fifo)
    report = tmp_path / "report"
    command = [
        sys.executable, "-m", "harness.cli", "run", "--role", "cs", "--sut", str(interrupted_sut(tmp_path, fifo, port)),
        "--cases", "TC_B_09_CS,TC_G_01_CS,TC_P_01_CS", "--report-dir", str(report),
    ]
    with (tmp_path / "cli.log").open("w") as log:
        cli = subprocess.Popen(command, cwd=REPO, stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT)
    try:
        hook = [int(pid) for pid in read_line(descriptor, 120.0).split()]
        tree = below(cli.pid) + hook
        reaper += tree
        assert not port_free(port), "the harness listens"
        started = time.monotonic()
        cli.send_signal(signum)
        code = cli.wait(timeout=CHILD_GRACE + 30)
        elapsed = time.monotonic() - started
    finally:
        if cli.poll() is None:
            cli.kill()
        os.close(descriptor)
    print(f"{signum.name}: CLI exited {code} {elapsed:.2f} s after the signal; {len(tree)} processes below it before")
    output = (tmp_path / "cli.log").read_text()
    assert code == EXIT_INTERRUPTED, output
    assert "was killed" not in output, "pytest stopped by itself, within the grace"
    assert elapsed < CHILD_GRACE + 10
    assert [pid for pid in tree if alive(pid)] == []
    assert in_group(hook[0]) == []
    assert port_free(port)
    summary = json.loads((report / "summary.json").read_text())
    assert summary["interrupted"] is True and summary["exit_code"] == EXIT_INTERRUPTED
    verdicts = {case["id"]: (case["verdict"], case["reason"] or "") for case in summary["cases"]}
    assert verdicts["TC_B_09_CS"][0] == "PASS"
    assert verdicts["TC_G_01_CS"][0] == "ERROR" and verdicts["TC_G_01_CS"][1].startswith("interrupted")
    assert "TC_P_01_CS" not in verdicts
    unreached = next(case for case in summary["edition_cases"] if case["id"] == "TC_P_01_CS")
    assert (unreached["result"], unreached["reason"]) == ("not run", NOT_REACHED)
    assert (report / "summary.md").is_file() and (report / "junit.xml").is_file()
    assert json.loads((report / "run.json").read_text())["interrupted"] is True


PROBE = '''
"""Loaded into the self-test's pytest processes: says, through a FIFO, that a case is running."""
import os


def pytest_runtest_call(item):
    try:
        descriptor = os.open(os.environ["OCPP_PROBE_FIFO"], os.O_WRONLY | os.O_NONBLOCK)
    except OSError:
        return
    os.write(descriptor, f"{os.getpid()}\\n".encode())
    os.close(descriptor)
'''


@pytest.mark.slow
def test_sigterm_to_the_selftest_leaves_no_pytest_process(tmp_path: Path, reaper: list[int]) -> None:
    (tmp_path / "hygiene_probe.py").write_text(PROBE)
    fifo = tmp_path / "probe.fifo"
    descriptor = open_fifo(fifo)
    environment = {
        **os.environ, "PYTHONPATH": str(tmp_path), "PYTEST_ADDOPTS": "-p hygiene_probe", "OCPP_PROBE_FIFO": str(fifo),
        "TMPDIR": str(tmp_path),
    }
    command = [sys.executable, "-m", "harness.cli", "selftest", "--role", "cs", "--cases", "TC_B_01_CS"]
    cli = subprocess.Popen(command, cwd=REPO, env=environment, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        read_line(descriptor, 120.0)
        tree = below(cli.pid)
        reaper += tree
        started = time.monotonic()
        cli.send_signal(signal.SIGTERM)
        _, err = cli.communicate(timeout=CHILD_GRACE + 30)
        elapsed = time.monotonic() - started
    finally:
        if cli.poll() is None:
            cli.kill()
        os.close(descriptor)
    print(f"selftest: exited {cli.returncode} {elapsed:.2f} s after SIGTERM; {len(tree)} processes below it before")
    assert cli.returncode == EXIT_INTERRUPTED, err
    assert "interrupted" in err and "kept in" in err
    assert tree and [pid for pid in tree if alive(pid)] == []
