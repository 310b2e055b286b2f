"""End to end: a real run with every kind of verdict becomes ONE report file an auditor opens in a browser.

The bar ("Reports an auditor can check"): the single-file Allure report of a run that has a PASS, a FAIL,
an INCONCLUSIVE, an ERROR, a waived FAIL and not-applicable cases, opened from disk in headless Debian
Chromium, shows for the FAIL case its reason, its step, its requirement, its trace and its sequence diagram,
shows the waiver in the run's summary, and makes no request outside ``file://`` (plus the ``data:`` and
``blob:`` URLs the page builds from itself). A screenshot of the FAIL case is kept as a CI artifact in
``reports/e2e/report-fail-case.png``.

The run: ``ocpp-conformance run --html`` (the real CLI, the real pytest plugin, the real Allure) against the
reference CSMS started by this test as an *external* CSMS with two faults, driven by the hook action driver:

- TC_B_01_CSMS, TC_E_01_CSMS: PASS;
- TC_C_06_CSMS: FAIL (fault ``blocked_token_accepted``, C01.FR.07);
- TC_P_02_CSMS: FAIL (fault ``datatransfer_accepted``), waived by the waivers file;
- TC_B_02_CSMS: ERROR, the command template of ``csms_boot_pending`` names a field that does not exist
  (a configuration mistake found at run time);
- TC_B_06_CSMS: INCONCLUSIVE, the webhook performs ``csms_get_variables`` on the CSMS but answers
  ``csms_confirm_variable_read`` with 501 (the action cannot be automated);
- not applicable: the cases whose PICS conditions fixtures/pics/reference_csms.toml answers false.

The CSMS is external rather than ``kind = "reference"`` because an in-process reference CSMS cannot be asked,
by a hook, to send GetVariables; and a hook that is missing for the *background* action of TC_B_06_CSMS
currently ends in a FAIL after the message timeout instead of an INCONCLUSIVE (harness/case.py
``manual_in_background``: the action's ActionUnavailable is not seen while ``expect`` waits).

Chromium is installed with apt-get when it is missing (CI runs as root on Debian); without root the test
skips and says why. The Allure tool is installed with npm when missing.
"""

from __future__ import annotations

import asyncio
import base64
import json
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, Self

import pytest

from harness.reference.csms import CsmsSettings, ReferenceCsms
from harness.report import allure_html
from harness.verdicts import HarnessError

if str(Path(__file__).resolve().parent) not in sys.path:  # tests/ is no package: the CDP client beside us
    sys.path.insert(0, str(Path(__file__).resolve().parent))
from chromium import Chromium, Page, chromium_version, ensure_chromium

pytestmark = pytest.mark.slow

REPO = Path(__file__).resolve().parents[2]
PICS = REPO / "fixtures" / "pics" / "reference_csms.toml"
ARTIFACTS = REPO / "reports" / "e2e"  # git-ignored; CI keeps it
SCREENSHOT = ARTIFACTS / "report-fail-case.png"
FAULTS = ("blocked_token_accepted", "datatransfer_accepted")
EXPECTED = {
    "TC_B_01_CSMS": "PASS",
    "TC_B_02_CSMS": "ERROR",
    "TC_B_06_CSMS": "INCONCLUSIVE",
    "TC_C_06_CSMS": "FAIL",
    "TC_E_01_CSMS": "PASS",
    "TC_P_02_CSMS": "FAIL (waived)",
}
FAIL_CASE = "TC_C_06_CSMS"
WAIVED_CASE = "TC_P_02_CSMS"
WAIVER_REASON = "reference CSMS answers unknown DataTransfer vendors Accepted; fix tracked in E2E-1"
ALLOWED_SCHEMES = ("file://", "data:", "blob:")
RUN_TIMEOUT = 300.0
BROWSER_TIMEOUT = 120.0

TIMINGS: dict[str, float] = {}


@dataclass
class Run:
    dir: Path
    returncode: int
    output: str
    summary: dict[str, Any] = field(default_factory=dict)

    @property
    def index(self) -> Path:
        return self.dir / "report" / "index.html"


# --- the SUT: the reference CSMS as an external CSMS, and the vendor's webhook ------------------------

class ExternalCsms:
    """The reference CSMS (with faults) on its own event loop thread, and a webhook that drives it."""

    def __init__(self) -> None:
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, name="reference-csms", daemon=True)
        self.csms = ReferenceCsms(CsmsSettings(heartbeat_interval=300), faults=FAULTS)
        self.hooks: list[str] = []
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self.server_thread = threading.Thread(target=self.server.serve_forever, name="webhook", daemon=True)

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        owner = self

        class Webhook(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = json.loads(self.rfile.read(int(self.headers.get("Content-Length", 0))) or b"{}")
                owner.hooks.append(body.get("action", "?"))
                if body.get("action") == "csms_get_variables":
                    done = asyncio.run_coroutine_threadsafe(owner.csms.perform(body["action"], body["params"]), owner.loop)
                    done.result(timeout=10)
                    self._answer(200, b"{}")
                else:  # e.g. the operator's confirmation: not automated, so the case cannot conclude
                    self._answer(501, b"not automated")

            def _answer(self, status: int, body: bytes) -> None:
                self.send_response(status)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args: object) -> None:
                pass

        return Webhook

    @property
    def url(self) -> str:
        return self.csms.url

    @property
    def webhook(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}/"

    def __enter__(self) -> Self:
        self.thread.start()
        asyncio.run_coroutine_threadsafe(self.csms.start(), self.loop).result(timeout=10)
        self.server_thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()
        try:
            asyncio.run_coroutine_threadsafe(self.csms.stop(), self.loop).result(timeout=10)
        finally:
            self.loop.call_soon_threadsafe(self.loop.stop)
            self.thread.join(timeout=10)
            self.loop.close()


def _sut_file(path: Path, csms: ExternalCsms) -> Path:
    path.write_text(
        f"""# an external CSMS (the reference one with faults) automated by a webhook; one hook template is broken
[sut]
role = "csms"
kind = "external"

[csms]
url = "{csms.url}"

[timeouts]
response = 5
message = 10
manual_action = 10
time_tolerance = 0.5
silence = 1

[actions]
driver = "hook"
webhook = "{csms.webhook}"

[actions.commands]
csms_boot_pending = "true {{no_such_field}}"
""",
        encoding="utf-8",
    )
    return path


def _waivers_file(path: Path) -> Path:
    expires = (datetime.now(UTC) + timedelta(days=365)).date().isoformat()
    path.write_text(
        f'[[waiver]]\nid = "{WAIVED_CASE}"\nreason = "{WAIVER_REASON}"\nexpires = {expires}\nticket = "E2E-1"\n',
        encoding="utf-8",
    )
    return path


@pytest.fixture(scope="module")
def run(tmp_path_factory: pytest.TempPathFactory) -> Run:
    """`ocpp-conformance run --html` of the six CSMS cases, once for the module."""
    started = time.monotonic()
    try:
        allure_html.install_tool()
    except HarnessError as error:
        pytest.fail(f"the Allure report tool is needed and could not be installed: {error}")
    TIMINGS["allure install (if missing)"] = time.monotonic() - started

    tmp = tmp_path_factory.mktemp("report-e2e")
    run_dir = tmp / "run"
    started = time.monotonic()
    with ExternalCsms() as csms:
        sut = _sut_file(tmp / "sut.toml", csms)
        waivers = _waivers_file(tmp / "waivers.toml")
        command = [
            sys.executable, "-m", "harness.cli", "run", "--role", "csms", "--sut", str(sut), "--pics", str(PICS),
            "--waivers", str(waivers), "--report-dir", str(run_dir), "--html",
        ]
        done = subprocess.run(command, cwd=REPO, capture_output=True, text=True, timeout=RUN_TIMEOUT, check=False)
        hooks = list(csms.hooks)
    TIMINGS["harness run + Allure generate"] = time.monotonic() - started
    output = done.stdout + done.stderr
    summary_path = run_dir / "summary.json"
    assert summary_path.is_file(), f"no summary.json (exit code {done.returncode}):\n{output[-4000:]}"
    assert "csms_get_variables" in hooks, f"the webhook was never asked to drive the CSMS: {hooks}"
    return Run(run_dir, done.returncode, output, json.loads(summary_path.read_text(encoding="utf-8")))


# --- the run -----------------------------------------------------------------------------------------

def test_the_run_has_every_kind_of_verdict(run: Run) -> None:
    reported = {case["id"]: case["reported"] for case in run.summary["cases"]}
    assert reported == EXPECTED, run.output[-4000:]
    assert run.returncode == 3, f"an ERROR wins the exit code (3), got {run.returncode}:\n{run.output[-3000:]}"
    assert run.summary["exit_code"] == 3
    assert run.summary["totals"] == {"PASS": 2, "FAIL": 1, "waived": 1, "INCONCLUSIVE": 1, "ERROR": 1}
    assert run.summary["not_applicable"] > 0
    not_applicable = [c for c in run.summary["edition_cases"] if str(c.get("reason", "")).startswith("not applicable")]
    assert len(not_applicable) == run.summary["not_applicable"], not_applicable
    waived = next(c for c in run.summary["cases"] if c["id"] == WAIVED_CASE)
    assert waived["verdict"] == "FAIL" and waived["waiver"]["reason"] == WAIVER_REASON
    assert run.index.is_file(), run.output[-3000:]
    assert sorted(p.name for p in run.index.parent.iterdir()) == ["index.html"], "the report is one file"


# --- the report in Chromium --------------------------------------------------------------------------

def _report_data(index: Path) -> Iterator[tuple[str, bytes]]:
    """(path, content) of every data file the single-file report embeds (as allure_html decodes them)."""
    for path, payload in allure_html._REPORT_DATA.findall(index.read_text(encoding="utf-8")):
        yield path, base64.b64decode(payload)


def _test_case_uid(index: Path, name_prefix: str) -> str:
    found = []
    for path, content in _report_data(index):
        if path.startswith("data/test-cases/") and path.endswith(".json"):
            data = json.loads(content)
            if data.get("name", "").startswith(name_prefix):
                found.append(data["uid"])
    assert len(found) == 1, f"test cases named {name_prefix!r} in the report: {found}"
    return found[0]


_CLICK_ATTACHMENT = """(() => {
  const names = [...document.querySelectorAll('.attachment-row__name')].filter(e => e.textContent.trim() === %s);
  if (names.length !== 1) return 'found ' + names.length;
  names[0].closest('.attachment-row').click();
  return 'clicked';
})()"""

_SVG_PREVIEW = """(async () => {
  const images = [...document.querySelectorAll('img.attachment-preview__media')];
  const shown = images.filter(i => i.complete && i.naturalWidth > 0);
  if (!shown.length) return null;
  const image = shown[0];
  const body = await (await fetch(image.src)).text();
  return {src: image.src.slice(0, 40), width: image.naturalWidth, height: image.naturalHeight,
          visible: image.getBoundingClientRect().height > 0, svg: body};
})()"""

_TEXT_PREVIEWS = "[...document.querySelectorAll('.attachment-preview__text')].map(e => e.innerText).join('\\n')"

_SUMMARY_ROW = """(() => {
  const rows = [...document.querySelectorAll('tr')].map(r => r.innerText.replace(/\\s+/g, ' '));
  return rows.filter(r => r.includes(%s));
})()"""


def _offending(urls: list[str]) -> list[str]:
    """Every URL outside the allowed schemes; nothing is excluded (no chrome-extension:, devtools: or other
    browser-internal URL shows up among the page's requests with the flags chromium.FLAGS sets)."""
    return [url for url in urls if not url.startswith(ALLOWED_SCHEMES)]


async def _open_case(page: Page, index: Path, uid: str, must_show: str) -> str:
    await page.navigate(f"{index.as_uri()}#testresult/{uid}")
    await page.wait_for(f"document.body.innerText.includes({json.dumps(must_show)})", timeout=30)
    return await page.text()


PROBE_HTML = """<!doctype html><title>probe</title>
<img src="http://127.0.0.1:9/probe-page.png">
<iframe srcdoc="<img src='http://127.0.0.1:9/probe-iframe.png'>"></iframe>
<script>new Worker(URL.createObjectURL(new Blob(["fetch('http://127.0.0.1:9/probe-worker').catch(() => 0)"])));</script>
"""
PROBES = {"http://127.0.0.1:9/probe-page.png", "http://127.0.0.1:9/probe-iframe.png", "http://127.0.0.1:9/probe-worker"}


async def _control(browser: Chromium, folder: Path) -> list[str]:
    """The recorder is not blind: a local page whose image, iframe and worker each ask for a URL on
    127.0.0.1:9 (the discard port: nothing leaves the machine) gets all three recorded."""
    probe = folder / "probe.html"
    probe.write_text(PROBE_HTML, encoding="utf-8")
    page = await browser.new_page()
    await page.navigate(probe.as_uri())
    deadline = time.monotonic() + 15
    while not PROBES <= {r.url for r in page.requests} and time.monotonic() < deadline:
        await asyncio.sleep(0.1)
    seen = [r.url for r in page.requests]
    assert PROBES <= set(seen), f"the network recording missed requests of the control page: {seen}"
    assert _offending(seen) and set(_offending(seen)) == PROBES, seen
    await page.close()
    return seen


async def _check_report(run: Run, browser: Chromium) -> tuple[dict[str, Any], Page]:
    index = run.index
    result = json.loads((run.dir / "results" / f"{FAIL_CASE}.json").read_text(encoding="utf-8"))
    page = await browser.new_page(width=1400, height=1000)

    # the FAIL case, straight from its route: reason, step, requirement, both attachments listed
    fail_uid = _test_case_uid(index, FAIL_CASE)
    text = await _open_case(page, index, fail_uid, FAIL_CASE)
    assert "Failed" in text, text[:2000]
    assert result["reason"] in text, f"the FAIL reason {result['reason']!r} is not on the page:\n{text[:3000]}"
    assert "step 1-2" in text and result["requirement"] == "C01.FR.07" and "C01.FR.07" in text, text[:3000]
    trace_name, diagram_name = f"trace {FAIL_CASE}.jsonl", f"sequence diagram {FAIL_CASE}"
    assert trace_name in text and diagram_name in text, f"attachments not listed:\n{text[:3000]}"

    # the sequence diagram: an <img> of the SVG (a blob: URL the page made from its own data)
    assert await page.evaluate(_CLICK_ATTACHMENT % json.dumps(diagram_name)) == "clicked"
    preview = await page.wait_for(_SVG_PREVIEW, timeout=15)
    assert preview["src"].startswith(("blob:", "data:")), preview["src"]
    assert preview["visible"] and preview["width"] > 100, preview
    assert "<svg" in preview["svg"] and "Charging Station" in preview["svg"] and "CSMS" in preview["svg"]
    assert FAIL_CASE in preview["svg"] and "FAIL" in preview["svg"]

    # the trace: its JSONL lines shown as text, the Authorize exchange among them
    assert await page.evaluate(_CLICK_ATTACHMENT % json.dumps(trace_name)) == "clicked"
    trace_text = await page.wait_for(f"(() => {{ const t = {_TEXT_PREVIEWS}; return t.includes('Authorize') && t; }})()", timeout=15)
    assert '"action": "Authorize"' in trace_text and "BLOCKED001" in trace_text, trace_text[:2000]
    assert '"verdict": "FAIL"' in trace_text, trace_text[-2000:]

    # the artifact: the FAIL case with its reason, step, trace and diagram opened, in a taller viewport
    await page.send("Emulation.setDeviceMetricsOverride", {"width": 1400, "height": 1600, "deviceScaleFactor": 1, "mobile": False})
    await page.wait_for("document.body.innerText.includes('Test body')", timeout=5)
    await asyncio.sleep(0.3)  # one more frame after the resize, so the screenshot shows the laid-out page
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    SCREENSHOT.write_bytes(await page.screenshot())

    # the waiver: the 'Conformance summary' entry renders summary.md; its row of the waived case says so
    summary_uid = _test_case_uid(index, "Conformance summary")
    summary_text = await _open_case(page, index, summary_uid, "Conformance summary")
    rows = await page.wait_for(_SUMMARY_ROW % json.dumps(WAIVED_CASE), timeout=15)
    assert any("FAIL (waived)" in row and WAIVER_REASON in row for row in rows), rows
    not_applicable_rows = await page.evaluate(_SUMMARY_ROW % json.dumps("not applicable:"))
    assert len(not_applicable_rows) == run.summary["not_applicable"], not_applicable_rows
    for case, verdict in EXPECTED.items():
        case_rows = await page.evaluate(_SUMMARY_ROW % json.dumps(case))
        assert any(verdict in row for row in case_rows), (case, verdict, case_rows)
    return {"fail_uid": fail_uid, "summary_uid": summary_uid, "summary_chars": len(summary_text)}, page


def test_the_report_shows_the_fail_case_offline_in_chromium(run: Run, tmp_path: Path) -> None:
    assert run.index.is_file(), run.output[-3000:]
    started = time.monotonic()
    path = ensure_chromium()
    TIMINGS["chromium install (if missing)"] = time.monotonic() - started
    version = chromium_version(path)
    assert "Chromium" in version and "Debian" in version, f"not Debian's Chromium: {version!r}"

    async def browse() -> tuple[dict[str, Any], list[str]]:
        async with Chromium(path, tmp_path / "chromium-profile") as browser:
            async with asyncio.timeout(BROWSER_TIMEOUT):
                await _control(browser, tmp_path)
                checked, page = await _check_report(run, browser)
            return checked, [request.url for request in page.requests]

    started = time.monotonic()
    checked, urls = asyncio.run(browse())
    TIMINGS["chromium checks"] = time.monotonic() - started

    print(f"\n{version}; report {run.index} ({run.index.stat().st_size} bytes)")
    print(f"screenshot of the FAIL case: {SCREENSHOT}")
    print(f"requests made by the page: {len(urls)}; by scheme: {_by_scheme(urls)}")
    for name, seconds in TIMINGS.items():
        print(f"timing: {name}: {seconds:.1f} s")

    assert urls, "no request recorded at all: the network recording is broken"
    assert any(url.split("#")[0] == run.index.as_uri() for url in urls), "the report's own load was not recorded"
    offending = _offending(urls)
    assert not offending, f"the report made requests outside file://, data: and blob: {offending}"
    other_files = sorted({u.split("#")[0] for u in urls if u.startswith("file://")} - {run.index.as_uri()})
    assert not other_files, f"the single-file report loaded other files: {other_files}"
    assert SCREENSHOT.is_file() and SCREENSHOT.read_bytes().startswith(b"\x89PNG"), checked


def _by_scheme(urls: list[str]) -> dict[str, int]:
    counts: dict[str, int] = {}
    for url in urls:
        scheme = url.split(":", 1)[0]
        counts[scheme] = counts.get(scheme, 0) + 1
    return counts
