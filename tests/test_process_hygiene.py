"""Process hygiene: a manual-action hook's process group never outlives its case. Checked from the outside,
through /proc: no process the hook started survives.

The tests learn that a hook is running from a FIFO it writes to, so no test sleeps for a guess.
"""

from __future__ import annotations

import asyncio
import os
import select
import signal
import time
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest

from harness.actions import Action, ActionUnavailable, HookDriver
from harness.case import CaseInfo
from harness.config import from_dict
from harness.environment import Environment

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


# --- FIFOs: a hook says it runs ------------------------------------------------------------------

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
