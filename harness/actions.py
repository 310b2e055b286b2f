"""Manual actions: the Part 6 steps a tool cannot do over OCPP ("Manual Action: Reboot the Charging
Station", "Manually request CSMS to get data for …").

One interface, three drivers:

- :class:`PromptDriver` asks an operator at the terminal (bench use; human-scale timeout).
- :class:`HookDriver` runs the vendor's automation: a shell command template or an HTTP webhook.
- :class:`ReferenceDriver` drives the built-in reference SUT in-process.

A driver that cannot perform an action raises :class:`ActionUnavailable`; the case becomes INCONCLUSIVE,
never FAIL, because the SUT has not been asked anything yet.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import shlex
import string
import sys
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from typing import Any, Awaitable, Callable, Protocol

from harness.processes import signal_group, stop_group
from harness.verdicts import HarnessError

ACTIONS: dict[str, str] = {
    "reboot": "Reboot (power cycle) the Charging Station.",
    "plug_in": "Connect the EV and EVSE: plug the cable into connector {connector_id} of EVSE {evse_id}.",
    "unplug": "Disconnect the EV and EVSE: unplug the cable from connector {connector_id} of EVSE {evse_id}.",
    "present_id_token": "Present idToken {id_token} (type {type}) at EVSE {evse_id}.",
    "park": "Drive the EV into the parking bay of EVSE {evse_id}.",
    "unpark": "Drive the EV out of the parking bay of EVSE {evse_id}.",
    "ev_suspends": "Make the EV at EVSE {evse_id} stop drawing energy (the EV suspends the energy transfer).",
    "renegotiate_charging_limits": "Make the EV at EVSE {evse_id} renegotiate its charging limits (ISO 15118).",
    "csms_get_variables": "Make the CSMS request {component}.{variable} from Charging Station {identity}.",
    "csms_confirm_variable_read": (
        "Check in the CSMS that it read {component}.{variable} = {value!r} from Charging Station {identity}."
    ),
    "csms_boot_pending": "Configure the CSMS to answer the next BootNotification with status Pending.",
    "csms_change_availability": "Make the CSMS set EVSE {evse_id} of Charging Station {identity} {operational_status}.",
    "csms_reserve_now": "Make the CSMS reserve EVSE {evse_id} of Charging Station {identity} for idToken {id_token} ({type}).",
    "csms_get_installed_certificate_ids": (
        "Make the CSMS ask Charging Station {identity} for its installed certificates of type {certificate_type}."
    ),
    "csms_install_certificate": "Make the CSMS install the configured {certificate_type} on Charging Station {identity}.",
    "csms_trigger_sign_certificate": (
        "Make the CSMS send Charging Station {identity} a TriggerMessage for SignChargingStationCertificate."
    ),
}
"""Every action a case may ask for, with the instruction an operator reads."""


@dataclass(frozen=True)
class Action:
    name: str
    params: dict[str, Any] = field(default_factory=dict)

    @property
    def instruction(self) -> str:
        return ACTIONS[self.name].format(**self.params)

    @property
    def is_question(self) -> bool:
        return self.name.startswith("csms_confirm")


@dataclass(frozen=True)
class ActionResult:
    """What a driver reports; ``confirmed`` answers a question action (True / False), else None."""

    confirmed: bool | None = None


class ActionUnavailable(Exception):
    """The configured driver cannot perform this action: the case is INCONCLUSIVE."""


class ActionDriver(Protocol):
    async def perform(self, action: Action) -> ActionResult: ...

    async def release(self) -> None:
        """Stop whatever the driver still runs for the case that ended (or for a harness that stops)."""


class PromptDriver:
    """Asks an operator on the terminal and waits for Enter (or y/n for a question), within ``timeout``,
    showing the seconds left."""

    def __init__(self, timeout: float, read_line: Callable[[], Awaitable[str]] | None = None) -> None:
        self.timeout = timeout
        self._read_line = read_line or _read_stdin_line

    async def perform(self, action: Action) -> ActionResult:
        suffix = "Answer y, n or ? (cannot check), then Enter" if action.is_question else "Press Enter when done"
        print(f"\n>>> MANUAL ACTION: {action.instruction}\n    {suffix}.", file=sys.stderr, flush=True)
        countdown = asyncio.create_task(_count_down(self.timeout))
        try:
            async with asyncio.timeout(self.timeout):
                answer = (await self._read_line()).strip().lower()
        except TimeoutError:
            raise ActionUnavailable(f"no operator performed {action.name!r} within {self.timeout:.0f} s") from None
        finally:
            countdown.cancel()
        if action.is_question:
            if answer not in ("y", "yes", "n", "no"):
                raise ActionUnavailable(f"the operator cannot check {action.name!r} (answered {answer!r})")
            return ActionResult(confirmed=answer in ("y", "yes"))
        return ActionResult()

    async def release(self) -> None:
        """Nothing runs once a prompt is answered or given up."""


async def _count_down(seconds: float) -> None:
    """Refresh "N s left" once a second on a terminal. A display refresh, not a wait on the SUT."""
    if not sys.stderr.isatty():
        return
    loop = asyncio.get_running_loop()
    deadline = loop.time() + seconds
    tick = asyncio.Event()
    while (left := deadline - loop.time()) > 0:
        print(f"\r    {left:4.0f} s left ", end="", file=sys.stderr, flush=True)
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(min(1.0, left)):
                await tick.wait()


async def _read_stdin_line() -> str:
    if not sys.stdin or not sys.stdin.isatty():
        raise ActionUnavailable("no terminal to prompt an operator on (stdin is not a TTY)")
    return await asyncio.to_thread(sys.stdin.readline)


HOOK_GRACE = 2.0
"""Seconds a hook's process group has, after SIGTERM, to exit before it is killed (SIGKILL)."""


class HookDriver:
    """Runs the vendor's automation hook for an action.

    ``commands`` maps an action name to a shell command template (``{evse_id}``, ``{id_token}`` … are
    filled in, shell-quoted); exit status 0 means done (for a question: yes), anything else no.
    ``webhook`` is a URL that receives ``POST {"action": name, "params": {...}}`` and answers 2xx, with
    an optional JSON body ``{"confirmed": true|false}``. An action with neither is unavailable.

    A command runs in a session of its own, so its whole process group (the shell and what it spawned) is
    stopped — SIGTERM, then SIGKILL after :data:`HOOK_GRACE` — when it outlives its timeout, when the action is
    cancelled, and, for what a finished hook left running in the background, when :meth:`release` is called
    at the end of the case.
    """

    def __init__(self, commands: dict[str, str], webhook: str | None, timeout: float) -> None:
        self.commands = commands
        self.webhook = webhook
        self.timeout = timeout
        self._groups: set[int] = set()
        """Process groups of the hooks started and not stopped yet."""

    async def perform(self, action: Action) -> ActionResult:
        if action.name in self.commands:
            return await self._run_command(action)
        if self.webhook:
            return await asyncio.to_thread(self._post, action)
        raise ActionUnavailable(f"no hook is configured for the manual action {action.name!r}")

    async def _run_command(self, action: Action) -> ActionResult:
        template = self.commands[action.name]
        fields = {name for _, name, _, _ in string.Formatter().parse(template) if name}
        missing = fields - action.params.keys()
        if missing:
            raise HarnessError(f"hook for {action.name!r} uses unknown fields {sorted(missing)}")
        command = template.format(**{k: shlex.quote(str(v)) for k, v in action.params.items()})
        process = await self._start(command)
        self._groups.add(process.pid)  # a session leader: its pid is its process group's id
        try:
            status = await self._wait(process, action)
        except BaseException:  # timed out, or cancelled (the case ended, the run was interrupted)
            await self._stop(process.pid)
            raise
        if not signal_group(process.pid, 0):  # nothing left in the background: nothing to stop later
            self._groups.discard(process.pid)
        if action.is_question:
            return ActionResult(confirmed=_command_answer(action, status))
        if status != 0:
            raise ActionUnavailable(f"hook for {action.name!r} exited with status {status}")
        return ActionResult()

    async def _start(self, command: str) -> asyncio.subprocess.Process:
        """The hook's shell, in a session of its own. The start is shielded: a hook may already run (and fork)
        before its start returns, and a cancellation then must stop its whole group, not only the shell."""
        starting = asyncio.ensure_future(asyncio.create_subprocess_shell(command, start_new_session=True))
        try:
            return await asyncio.shield(starting)
        except asyncio.CancelledError:
            await self._stop((await starting).pid)
            raise

    async def _wait(self, process: asyncio.subprocess.Process, action: Action) -> int:
        try:
            async with asyncio.timeout(self.timeout):
                return await process.wait()
        except TimeoutError:
            raise ActionUnavailable(f"hook for {action.name!r} did not finish within {self.timeout:.0f} s") from None

    async def release(self) -> None:
        """Stop the process groups of every hook started (those still running, and what finished hooks left
        running in the background)."""
        await asyncio.gather(*(self._stop(group) for group in list(self._groups)))

    async def _stop(self, group: int) -> None:
        self._groups.discard(group)
        await stop_group(group, HOOK_GRACE)

    def _post(self, action: Action) -> ActionResult:
        body = json.dumps({"action": action.name, "params": action.params}).encode()
        request = urllib.request.Request(
            self.webhook or "", data=body, headers={"Content-Type": "application/json"}, method="POST"
        )
        try:
            with urllib.request.urlopen(request, timeout=self.timeout) as response:
                text = response.read().decode() or "{}"
        except (urllib.error.URLError, TimeoutError) as error:
            raise ActionUnavailable(f"webhook for {action.name!r} failed: {error}") from None
        confirmed = json.loads(text).get("confirmed")
        if action.is_question and confirmed is None:
            raise ActionUnavailable(f"the webhook cannot check {action.name!r} (no true/false in its answer)")
        return ActionResult(confirmed=bool(confirmed) if action.is_question else None)


QUESTION_EXIT_STATUS = {0: True, 1: False}
"""A question hook's exit status: 0 yes, 1 no; any other status means it cannot check (INCONCLUSIVE)."""


def _command_answer(action: Action, status: int) -> bool:
    if status not in QUESTION_EXIT_STATUS:
        raise ActionUnavailable(f"the hook for {action.name!r} cannot check (exit status {status}; 0 = yes, 1 = no)")
    return QUESTION_EXIT_STATUS[status]


class Performer(Protocol):
    """A reference SUT: ``perform(name, params)`` drives it in-process."""

    async def perform(self, name: str, params: dict[str, object]) -> bool | None: ...


class ReferenceDriver:
    """Performs actions on the built-in reference SUT."""

    def __init__(self, sut: Performer) -> None:
        self.sut = sut

    async def perform(self, action: Action) -> ActionResult:
        try:
            answer = await self.sut.perform(action.name, dict(action.params))
        except LookupError:
            raise ActionUnavailable(f"the reference SUT cannot perform {action.name!r}") from None
        return ActionResult(confirmed=answer if action.is_question else None)

    async def release(self) -> None:
        """The reference SUT's actions run in-process and end with their case."""
