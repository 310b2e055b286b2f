"""The processes the harness starts, and how they end: no process outlives its case.

A manual-action hook (:class:`harness.actions.HookDriver`) runs in a session of its own, so that its whole
process group — the shell and whatever it spawned — can be stopped with :func:`stop_group` when the hook
outlives its timeout or its case ends.

Finding a group's members reads ``/proc`` (Linux). Elsewhere the SIGKILL that ends :func:`stop_group` comes
without a grace; nothing hangs either way.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
from collections.abc import Sequence
from pathlib import Path

# --- process groups -------------------------------------------------------------------------------

def signal_group(pgid: int, signum: int) -> bool:
    """Send `signum` to every process of group `pgid`; False when the group is gone (nothing to signal)."""
    try:
        os.killpg(pgid, signum)
    except (ProcessLookupError, PermissionError):
        return False
    return True


def group_members(pgid: int) -> list[int]:
    """The live processes of group `pgid` (a zombie has exited already), from /proc; [] without it."""
    try:
        entries = os.listdir("/proc")
    except OSError:
        return []
    return [int(entry) for entry in entries if entry.isdigit() and _group_of_live(int(entry)) == pgid]


def _group_of_live(pid: int) -> int | None:
    """The process group of `pid` from /proc/<pid>/stat, None when it has exited (or is a zombie)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    state, _ppid, pgrp = stat.rpartition(")")[2].split()[:3]  # the command name may hold spaces and ')'
    return None if state in ("Z", "X") else int(pgrp)


KILLED_EXIT = 1.0
"""Seconds to wait for processes sent SIGKILL to be gone (the signal is delivered asynchronously; it takes
milliseconds): when a stop returns, the processes it stopped have exited."""


async def stop_group(pgid: int, grace: float) -> None:
    """SIGTERM every process of group `pgid`, wait (at most `grace` seconds) until each has exited, then
    SIGKILL whatever is left and wait until it is gone. Returns at once when the group is already gone."""
    if not signal_group(pgid, signal.SIGTERM):
        return
    await _until_exited(group_members(pgid), grace)
    if signal_group(pgid, signal.SIGKILL):
        await _until_exited(group_members(pgid), KILLED_EXIT)


async def _until_exited(pids: Sequence[int], timeout: float) -> None:
    """Wait until every process of `pids` has exited, at most `timeout` seconds: a pidfd becomes readable
    when its process exits, whoever its parent is."""
    loop = asyncio.get_running_loop()
    descriptors: list[int] = []
    for pid in pids:
        with contextlib.suppress(OSError, AttributeError):  # gone already; or no pidfd on this platform
            descriptors.append(os.pidfd_open(pid))
    running = set(descriptors)
    all_exited = asyncio.Event()

    def exited(descriptor: int) -> None:
        loop.remove_reader(descriptor)
        running.discard(descriptor)
        if not running:
            all_exited.set()

    try:
        for descriptor in descriptors:
            loop.add_reader(descriptor, exited, descriptor)
        if running:
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(timeout):
                    await all_exited.wait()
    finally:
        for descriptor in descriptors:
            loop.remove_reader(descriptor)
            os.close(descriptor)
