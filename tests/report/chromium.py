"""A small Chrome DevTools Protocol client for the harness's own tests: headless Debian Chromium, driven over
``websockets`` (already a dependency), no browser-automation package.

    path = ensure_chromium()                      # installs the Debian package when missing (root), else skips
    async with Chromium(path, tmp_path) as browser:
        page = await browser.new_page()           # Network + Page + Runtime enabled, every request recorded
        await page.navigate("file:///…/index.html#…")
        await page.wait_for("document.body.innerText.includes('FAIL')")
        png = await page.screenshot()

Every wait is bounded; the browser process is killed when the ``async with`` block ends, whatever happened.
Requests are recorded from the page and from every frame and worker it starts (auto-attached, flattened
sessions), so an out-of-process iframe or a worker cannot fetch anything unseen.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import itertools
import json
import os
import shutil
import signal
import subprocess
import time
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Self

import pytest
from websockets.asyncio.client import ClientConnection, connect

PACKAGE = "chromium"  # Debian's Chromium (bookworm and later); the binary is /usr/bin/chromium
INSTALL_TIMEOUT = 900.0
START_TIMEOUT = 30.0
COMMAND_TIMEOUT = 30.0
FLAGS = (
    "--headless",
    "--no-sandbox",  # the CI machine runs as root, where Chromium's sandbox cannot start
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--no-default-browser-check",
    "--disable-background-networking",  # no update, safe-browsing, variations or other browser-side traffic
    "--disable-component-update",
    "--disable-sync",
    "--disable-extensions",
    "--disable-dev-shm-usage",
    "--hide-scrollbars",
    "--window-size=1400,1000",
)


class CdpError(RuntimeError):
    """Chromium answered a command with an error, or did not answer in time."""


# --- the browser binary -------------------------------------------------------------------------------

def chromium_path() -> str | None:
    for name in ("chromium", "chromium-browser"):
        found = shutil.which(name)
        if found:
            return found
    return None


def ensure_chromium() -> str:
    """The Debian Chromium binary, installed with apt-get when missing.

    Skips the calling test (with the reason) only when the install is impossible: not root, or no apt-get.
    A failed install as root fails the test with apt's output: CI must not lose this test silently.
    """
    found = chromium_path()
    if found:
        return found
    if shutil.which("apt-get") is None:
        pytest.skip(f"Chromium is not installed and this machine has no apt-get to install the Debian package {PACKAGE!r}")
    if os.geteuid() != 0:
        pytest.skip(f"Chromium is not installed and `apt-get install {PACKAGE}` needs root (running as uid {os.geteuid()})")
    env = dict(os.environ, DEBIAN_FRONTEND="noninteractive")
    log = []
    for command in (["apt-get", "update"], ["apt-get", "install", "-y", "--no-install-recommends", PACKAGE]):
        try:
            done = subprocess.run(command, check=False, capture_output=True, text=True, timeout=INSTALL_TIMEOUT, env=env)
        except subprocess.TimeoutExpired:
            pytest.fail(f"`{' '.join(command)}` did not finish within {INSTALL_TIMEOUT:.0f} s")
        log.append(f"$ {' '.join(command)} -> {done.returncode}\n{(done.stdout + done.stderr)[-3000:]}")
        if done.returncode != 0:
            pytest.fail("installing Chromium failed:\n" + "\n".join(log))
    found = chromium_path()
    if not found:
        pytest.fail("`apt-get install chromium` succeeded but no chromium binary is on PATH:\n" + "\n".join(log))
    return found


def chromium_version(path: str) -> str:
    done = subprocess.run([path, "--version"], check=False, capture_output=True, text=True, timeout=30)
    return done.stdout.strip()


# --- the protocol -------------------------------------------------------------------------------------

@dataclass
class Request:
    url: str
    target: str  # "page", or the type of the attached target that made it (iframe, worker, ...)
    resource_type: str | None = None


@dataclass
class _Connection:
    """One WebSocket to the browser; flattened sessions multiplex page, frame and worker targets on it."""

    socket: ClientConnection
    ids: itertools.count = field(default_factory=lambda: itertools.count(1))
    pending: dict[int, asyncio.Future[dict[str, Any]]] = field(default_factory=dict)
    events: list[tuple[str | None, str, dict[str, Any]]] = field(default_factory=list)
    changed: asyncio.Event = field(default_factory=asyncio.Event)
    reader: asyncio.Task[None] | None = None
    closed: BaseException | None = None

    async def send(self, method: str, params: dict[str, Any] | None = None, session: str | None = None,
                   timeout: float = COMMAND_TIMEOUT) -> dict[str, Any]:
        if self.closed is not None:
            raise CdpError(f"the DevTools connection is closed: {self.closed!r}")
        number = next(self.ids)
        message: dict[str, Any] = {"id": number, "method": method, "params": params or {}}
        if session:
            message["sessionId"] = session
        future: asyncio.Future[dict[str, Any]] = asyncio.get_running_loop().create_future()
        self.pending[number] = future
        await self.socket.send(json.dumps(message))
        try:
            async with asyncio.timeout(timeout):
                answer = await future
        except TimeoutError:
            raise CdpError(f"no answer to {method} within {timeout:.0f} s") from None
        finally:
            self.pending.pop(number, None)
        if "error" in answer:
            raise CdpError(f"{method}: {answer['error']}")
        return answer.get("result", {})

    async def read(self, on_event: Any) -> None:
        try:
            async for text in self.socket:
                message = json.loads(text)
                if "id" in message:
                    future = self.pending.get(message["id"])
                    if future is not None and not future.done():
                        future.set_result(message)
                    continue
                self.events.append((message.get("sessionId"), message["method"], message.get("params", {})))
                on_event(message.get("sessionId"), message["method"], message.get("params", {}))
                self.changed.set()
        except BaseException as error:  # cancelled or broken: every waiter must learn it
            self._fail_all(error)
            raise
        self._fail_all(ConnectionError("Chromium closed the DevTools connection"))

    def _fail_all(self, error: BaseException) -> None:
        self.closed = error
        for future in self.pending.values():
            if not future.done():
                future.set_exception(CdpError(f"the DevTools connection closed: {error!r}"))
        self.changed.set()


class Chromium:
    """A headless Chromium process with a private profile, and its DevTools connection."""

    def __init__(self, path: str, profile_dir: Path) -> None:
        self.path = path
        self.profile_dir = Path(profile_dir)
        self.process: asyncio.subprocess.Process | None = None
        self.connection: _Connection | None = None
        self.requests: list[Request] = []  # of every page
        self._sessions: dict[str, tuple[Page, str]] = {}  # sessionId -> (its page, target type: page, iframe, worker…)
        self.stderr_path = self.profile_dir / "chromium-stderr.log"
        self._tasks: set[asyncio.Task[None]] = set()

    async def __aenter__(self) -> Self:
        try:
            await self._start()
        except BaseException:
            await self.close()
            raise
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    async def _start(self) -> None:
        self.profile_dir.mkdir(parents=True, exist_ok=True)
        port_file = self.profile_dir / "DevToolsActivePort"
        port_file.unlink(missing_ok=True)
        command = [self.path, *FLAGS, f"--user-data-dir={self.profile_dir}", "--remote-debugging-port=0", "about:blank"]
        with self.stderr_path.open("wb") as stderr:
            # own process group, so that close() ends Chromium's helper processes with it (and nothing else)
            self.process = await asyncio.create_subprocess_exec(
                *command, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=stderr, start_new_session=True
            )
        deadline = time.monotonic() + START_TIMEOUT
        while True:
            lines = port_file.read_text().splitlines() if port_file.is_file() else []
            if len(lines) >= 2:
                port = int(lines[0])
                break
            if self.process.returncode is not None:
                raise CdpError(f"Chromium exited with {self.process.returncode} at start: {self._stderr_tail()}")
            if time.monotonic() > deadline:
                raise CdpError(f"Chromium wrote no {port_file} within {START_TIMEOUT:.0f} s: {self._stderr_tail()}")
            await asyncio.sleep(0.1)
        version = await asyncio.to_thread(_get_json, f"http://127.0.0.1:{port}/json/version")  # loopback only
        socket = await connect(version["webSocketDebuggerUrl"], max_size=None, open_timeout=START_TIMEOUT)
        self.connection = _Connection(socket)
        self.connection.reader = asyncio.create_task(self.connection.read(self._on_event))
        self.version = version.get("Browser", "")

    def _stderr_tail(self) -> str:
        try:
            return self.stderr_path.read_text(errors="replace")[-2000:]
        except OSError:
            return "(no stderr)"

    async def close(self) -> None:
        """Ask Chromium to quit, then kill its process group whatever remains; bounded, never raises."""
        if self.connection is not None and self.connection.closed is None:
            with contextlib.suppress(Exception):
                await self.connection.send("Browser.close", timeout=5)
        if self.process is not None and self.process.returncode is None:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self.process.wait(), 5)
        if self.connection is not None:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(self.connection.socket.close(), 5)
            if self.connection.reader is not None:
                self.connection.reader.cancel()
                with contextlib.suppress(BaseException):
                    await self.connection.reader
            self.connection = None
        process, self.process = self.process, None
        if process is not None and process.returncode is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.pid, signal.SIGKILL)  # the group started for this Chromium only
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(process.wait(), 10)

    # -- events ---------------------------------------------------------------------------------------

    def _on_event(self, session: str | None, method: str, params: dict[str, Any]) -> None:
        if session not in self._sessions:
            return
        page, target = self._sessions[session]
        request = None
        if method == "Network.requestWillBeSent":
            request = Request(params["request"]["url"], target, params.get("type"))
        elif method == "Network.webSocketCreated":
            request = Request(params["url"], target, "WebSocket")
        elif method == "Target.attachedToTarget":
            child = params["sessionId"]
            self._sessions[child] = (page, params["targetInfo"].get("type", "?"))
            task = asyncio.get_running_loop().create_task(self._watch_child(child, params.get("waitingForDebugger", False)))
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)
        if request is not None:
            self.requests.append(request)
            page.requests.append(request)

    async def _watch_child(self, session: str, waiting: bool) -> None:
        """A frame or worker the page started: record its requests too, then let it run."""
        assert self.connection is not None
        with contextlib.suppress(CdpError):
            await self.connection.send("Network.enable", {}, session)
            await self.connection.send(
                "Target.setAutoAttach", {"autoAttach": True, "waitForDebuggerOnStart": True, "flatten": True}, session
            )
        if waiting:
            with contextlib.suppress(CdpError):
                await self.connection.send("Runtime.runIfWaitingForDebugger", {}, session)

    # -- pages ----------------------------------------------------------------------------------------

    async def new_page(self, width: int = 1400, height: int = 1000) -> Page:
        assert self.connection is not None
        target = await self.connection.send("Target.createTarget", {"url": "about:blank"})
        attached = await self.connection.send("Target.attachToTarget", {"targetId": target["targetId"], "flatten": True})
        session = attached["sessionId"]
        page = Page(self.connection, session, target["targetId"])
        self._sessions[session] = (page, "page")
        for method, params in (
            ("Network.enable", {}),
            ("Page.enable", {}),
            ("Runtime.enable", {}),
            ("Target.setAutoAttach", {"autoAttach": True, "waitForDebuggerOnStart": True, "flatten": True}),
            ("Emulation.setDeviceMetricsOverride", {"width": width, "height": height, "deviceScaleFactor": 1, "mobile": False}),
        ):
            await page.send(method, params)
        return page


def _get_json(url: str) -> Any:
    with urllib.request.urlopen(url, timeout=10) as response:
        return json.loads(response.read().decode())


class Page:
    def __init__(self, connection: _Connection, session: str, target_id: str) -> None:
        self.connection = connection
        self.session = session
        self.target_id = target_id
        self.requests: list[Request] = []  # made by this page, its frames and its workers

    async def send(self, method: str, params: dict[str, Any] | None = None, timeout: float = COMMAND_TIMEOUT) -> dict[str, Any]:
        return await self.connection.send(method, params, self.session, timeout)

    async def close(self) -> None:
        """Close this tab (its recorded requests stay readable)."""
        await self.connection.send("Target.closeTarget", {"targetId": self.target_id})

    async def navigate(self, url: str, timeout: float = COMMAND_TIMEOUT) -> None:
        """Navigate and wait for the load event of this navigation."""
        start = len(self.connection.events)
        answer = await self.send("Page.navigate", {"url": url}, timeout)
        if answer.get("errorText"):
            raise CdpError(f"navigating to {url}: {answer['errorText']}")
        if answer.get("loaderId") is None:  # a same-document (fragment) navigation has no load event
            return
        await self.wait_event("Page.loadEventFired", timeout, since=start)

    async def wait_event(self, method: str, timeout: float, since: int = 0) -> dict[str, Any]:
        async with asyncio.timeout(timeout):
            while True:
                self.connection.changed.clear()  # before looking, so an event arriving meanwhile is not missed
                for session, name, params in self.connection.events[since:]:
                    if name == method and session == self.session:
                        return params
                since = len(self.connection.events)
                await self.connection.changed.wait()

    async def evaluate(self, expression: str, timeout: float = COMMAND_TIMEOUT) -> Any:
        """The JSON value of a JavaScript expression in the page (promises awaited)."""
        answer = await self.send(
            "Runtime.evaluate", {"expression": expression, "returnByValue": True, "awaitPromise": True}, timeout
        )
        if "exceptionDetails" in answer:
            details = answer["exceptionDetails"]
            text = details.get("exception", {}).get("description") or details.get("text")
            raise CdpError(f"JavaScript error in {expression[:120]!r}: {text}")
        return answer["result"].get("value")

    async def wait_for(self, expression: str, timeout: float = 20.0, poll: float = 0.1) -> Any:
        """Poll a JavaScript expression until it is truthy; its value. Bounded by `timeout`."""
        deadline = time.monotonic() + timeout
        value = None
        while time.monotonic() < deadline:
            value = await self.evaluate(expression)
            if value:
                return value
            await asyncio.sleep(poll)
        raise CdpError(f"not true within {timeout:.0f} s: {expression} (last value {value!r})")

    async def text(self) -> str:
        return await self.evaluate("document.body ? document.body.innerText : ''")

    async def screenshot(self, full_page: bool = False) -> bytes:
        params: dict[str, Any] = {"format": "png"}
        if full_page:
            params["captureBeyondViewport"] = True
        answer = await self.send("Page.captureScreenshot", params)
        return base64.b64decode(answer["data"])
