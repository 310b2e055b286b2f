"""The processes the harness starts, and how they end: no process and no listening port outlives a run.

Two kinds of child processes exist:

- ``ocpp-conformance run`` and ``selftest`` run pytest as a subprocess (:class:`Supervisor`). SIGINT or SIGTERM
  to the CLI is forwarded once to each pytest process (to its process group), which ends the running case as
  ERROR "interrupted", stops the fake CSMS or station and the reference SUT, and writes its reports; whatever
  has not exited :data:`CHILD_GRACE` seconds later, or at a second signal, is killed with its descendants.
- A manual-action hook (:class:`harness.actions.HookDriver`) runs in a session of its own, so that its whole
  process group — the shell and whatever it spawned — can be stopped with :func:`stop_group` when the hook
  outlives its timeout or its case ends.

Finding a group's members and a process's descendants reads ``/proc`` (Linux). Elsewhere the SIGKILL that ends
:func:`stop_group` comes without a grace, and a killed pytest's hooks are not found; nothing hangs either way.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import select
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator, Sequence
from pathlib import Path
from types import FrameType
from typing import Any

CHILD_GRACE = 5.0
"""Seconds pytest has, once the CLI forwarded SIGINT or SIGTERM, to end its case, stop its servers and write its
reports before it is killed (the teardown takes well under a second against the reference SUT)."""

INTERRUPTING = (signal.SIGINT, signal.SIGTERM)


class Interrupted(Exception):
    """SIGINT or SIGTERM reached the CLI: the run stops, and no new pytest process starts."""


class Overran(TimeoutError):
    """A process ran past the limit it was given: it was killed with its descendants (a hang)."""


# --- process groups and trees -------------------------------------------------------------------------

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


def descendants(pid: int) -> list[int]:
    """Every process below `pid` (children, their children, …), from /proc; [] without it."""
    found: list[int] = []
    todo = [pid]
    while todo:
        parent = todo.pop()
        for listing in Path(f"/proc/{parent}/task").glob("*/children"):
            try:
                children = [int(child) for child in listing.read_text().split()]
            except (OSError, ValueError):
                continue
            found += children
            todo += children
    return found


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


def kill_tree(pid: int, own_group: bool) -> None:
    """SIGKILL `pid`, its process group when it leads one, and every descendant with its group (hooks run in
    sessions of their own), and wait until they are gone. The descendants are read first: once their parent
    dies they are out of sight."""
    below = descendants(pid)
    groups = {pid} if own_group else set()
    for process in below:
        with contextlib.suppress(OSError):
            groups.add(os.getpgid(process))
    groups.discard(os.getpgrp())  # never the CLI's own group
    members = [member for group in groups for member in group_members(group)]
    for group in groups:
        signal_group(group, signal.SIGKILL)
    for process in [pid, *below]:
        with contextlib.suppress(OSError):
            os.kill(process, signal.SIGKILL)
    _wait_exited([pid, *below, *members], KILLED_EXIT)


def _wait_exited(pids: Sequence[int], timeout: float) -> None:
    """Block until every process of `pids` has exited, at most `timeout` seconds (the CLI's pidfd wait)."""
    poll = select.poll()
    descriptors: list[int] = []
    for pid in set(pids):
        with contextlib.suppress(OSError, AttributeError):
            descriptors.append(os.pidfd_open(pid))
            poll.register(descriptors[-1], select.POLLIN)
    deadline = time.monotonic() + timeout
    try:
        running = set(descriptors)
        while running and (left := deadline - time.monotonic()) > 0:
            for descriptor, _ in poll.poll(left * 1000):
                poll.unregister(descriptor)
                running.discard(descriptor)
    finally:
        for descriptor in descriptors:
            os.close(descriptor)


# --- the CLI's pytest processes -----------------------------------------------------------------------

def owns_terminal() -> bool:
    """True when the CLI is the terminal's foreground job: a Ctrl-C then reaches every process of its group."""
    try:
        descriptor = sys.stdin.fileno()
        return os.isatty(descriptor) and os.tcgetpgrp(descriptor) == os.getpgrp()
    except (OSError, ValueError, AttributeError):
        return False


class Supervisor:
    """The pytest processes of one CLI command and what SIGINT or SIGTERM to the CLI does to them.

    Each process runs in a process group of its own — except one that uses the terminal while the CLI is the
    terminal's foreground job (``run``'s pytest: the operator prompt reads it), which stays in the CLI's group.
    The first signal is forwarded to each process (its group); a SIGINT the terminal sent to the whole
    foreground group is not sent twice. :data:`CHILD_GRACE` seconds later, or at a second signal, what still
    runs is killed with its descendants. Processes may be started from any thread (the self-test runs several
    at once); the signal handlers are installed by :meth:`forwarding_signals`, in the main thread.
    """

    def __init__(self, grace: float = CHILD_GRACE) -> None:
        self.grace = grace
        self.received: int | None = None
        """The first SIGINT or SIGTERM received, None while there was none."""
        self.killed = False
        """A process had to be killed: it had not ended within the grace (or a second signal came)."""
        self._children: dict[int, bool] = {}  # pid → runs in its own process group
        self._forwarded: set[int] = set()
        self._lock = threading.RLock()  # re-entrant: a handler runs in the main thread, which may hold it

    @property
    def interrupted(self) -> bool:
        return self.received is not None

    @contextlib.contextmanager
    def forwarding_signals(self) -> Iterator[None]:
        """Within the block SIGINT and SIGTERM stop the children instead of the CLI; the CLI's handlers and
        timer are back as they were afterwards. Outside the main thread (no handlers there) it does nothing."""
        if threading.current_thread() is not threading.main_thread():
            yield
            return
        previous = {signum: signal.signal(signum, self._on_signal) for signum in INTERRUPTING}
        previous[signal.SIGALRM] = signal.signal(signal.SIGALRM, self._on_grace_over)
        try:
            yield
        finally:
            signal.setitimer(signal.ITIMER_REAL, 0)
            for signum, handler in previous.items():
                signal.signal(signum, handler)

    def run(self, command: Sequence[str], *, terminal: bool, limit: float | None = None, **popen: Any) -> int:
        """Run `command` to its end and return its exit status; ``terminal`` when it may use the CLI's
        terminal. Raises :class:`Interrupted` instead of starting it after a signal. With ``limit``, a process
        still running after that many seconds is killed with its descendants, and :class:`Overran` raised once it
        is gone (the chaos matrix's bound on a hang)."""
        share = terminal and owns_terminal()
        with self._lock:
            if self.interrupted:
                raise Interrupted("the run was interrupted")
            process = subprocess.Popen(command, process_group=None if share else 0, **popen)
            self._children[process.pid] = not share
            if self.interrupted:  # the signal came while it started
                self._forward(process.pid)
        overran = threading.Event()

        def overrun() -> None:
            with self._lock:
                if process.pid in self._children and process.poll() is None:
                    overran.set()
                    kill_tree(process.pid, self._children[process.pid])

        timer = None if limit is None else threading.Timer(limit, overrun)
        if timer is not None:
            timer.start()
        try:
            code = process.wait()
        finally:
            if timer is not None:
                timer.cancel()
            with self._lock:
                del self._children[process.pid]
        if overran.is_set():
            raise Overran(f"still running after {limit:g} s: killed with its descendants")
        return code

    def _on_signal(self, signum: int, frame: FrameType | None) -> None:
        with self._lock:
            if self.interrupted:  # a second signal: no more waiting
                self._kill_all()
                return
            self.received = signum
            for pid in self._children:
                self._forward(pid)
            signal.setitimer(signal.ITIMER_REAL, self.grace)

    def _on_grace_over(self, signum: int, frame: FrameType | None) -> None:
        with self._lock:
            self._kill_all()

    def _forward(self, pid: int) -> None:
        if pid in self._forwarded or self.received is None:
            return
        self._forwarded.add(pid)
        if self._children[pid]:
            signal_group(pid, self.received)
        elif self.received != signal.SIGINT or not owns_terminal():
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, self.received)

    def _kill_all(self) -> None:
        for pid, own_group in self._children.items():
            self.killed = True
            kill_tree(pid, own_group)
