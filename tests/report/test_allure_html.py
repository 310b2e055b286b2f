"""The Allure HTML report: metadata, the offline proof, the missing-tool message, and real generation."""

from __future__ import annotations

import base64
import hashlib
import importlib.metadata
import json
import os
import re
import shutil
import stat
import subprocess
import sys
import time
import uuid
from pathlib import Path
from typing import Any

import pytest

from harness.report import allure_html
from harness.verdicts import HarnessError, Inconclusive, StepRef, SutFailure, SutTimeout

REPO = Path(__file__).resolve().parents[2]
STEP = StepRef("1-2", "OCTT sends SetVariablesRequest", ("B05.FR.01",))
GTAG = '<script async src="https://www.googletagmanager.com/gtag/js"></script>'


# --- helpers ------------------------------------------------------------------------------------------

def _message(error: BaseException) -> str:
    """The statusDetails.message allure-pytest writes: 'module.Class: text'."""
    return f"{type(error).__module__}.{type(error).__name__}: {error}"


def _category(status: str, message: str) -> str | None:
    """Allure 2's rule: the first category whose statuses and (whole-message) regex match."""
    for category in allure_html.CATEGORIES:
        regex = category.get("messageRegex")
        if status in category["matchedStatuses"] and (regex is None or re.fullmatch(regex, message)):
            return category["name"]
    return None


def _properties(path: Path) -> dict[str, str]:
    """Read a .properties file the way java.util.Properties does (for the escapes write_metadata uses)."""

    def unescape(text: str) -> str:
        def one(match: re.Match[str]) -> str:
            code = match.group(1)
            if code.startswith("u") and len(code) == 5:
                return chr(int(code[1:], 16))
            return {"n": "\n", "r": "\r", "t": "\t"}.get(code, code)

        return re.sub(r"\\(u[0-9a-fA-F]{4}|.)", one, text)

    values = {}
    for line in path.read_text(encoding="ascii").splitlines():
        key, value = re.split(r"(?<!\\)=", line, maxsplit=1)
        values[unescape(key)] = unescape(value)
    return values


def _result(name: str, status: str, message: str = "", history: str = "h") -> dict[str, Any]:
    return {
        "uuid": str(uuid.uuid4()),
        "name": name,
        "fullName": f"testcases.cs.test_x#{name}",
        "historyId": history,
        "status": status,
        "statusDetails": {"message": message} if message else {},
        "parameters": [{"name": "sut", "value": "'reference'"}],
        "labels": [{"name": "parentSuite", "value": "SUT = Charging Station"}],
        "start": 1,
        "stop": 2,
    }


@pytest.fixture
def run_dir(tmp_path: Path) -> Path:
    """A hand-made run folder: two results, run.json, summary.json and summary.md."""
    results = tmp_path / "allure-results"
    results.mkdir()
    for result in (_result("TC_B_01_CS", "passed"), _result("TC_B_02_CS", "failed", _message(SutFailure("bad", STEP)))):
        (results / f"{result['uuid']}-result.json").write_text(json.dumps(result), encoding="utf-8")
    run = {
        "edition": "OCPP 2.0.1 Edition 3",
        "role": "cs",
        "profiles": ["core"],
        "sut_source": "my-station.toml",
        "csms_url": "wss://cp001:s3cret@csms.example:443/ocpp",
        "security_profile": 2,
        "pics_path": "fixtures/pics/reference_cs.toml",
        "pics_sha256": "ab" * 32,
        "faults": [],
        "started_at": "2026-11-25T09:47:54+00:00",
        "finished_at": "2026-11-25T09:47:56+00:00",
        "basic_auth_password": "hunter2",
        "station": {"client_secret": "xyz", "identity": "CP001"},
    }
    (tmp_path / "run.json").write_text(json.dumps(run), encoding="utf-8")
    summary = {"exit_code": 1, "sut_identity": {"vendor": "ACME", "model": "Wallbox Ü1", "serial": "SN-1"}}
    (tmp_path / "summary.json").write_text(json.dumps(summary), encoding="utf-8")
    (tmp_path / "summary.md").write_text(
        "# Conformance summary\n\n| | |\n| --- | --- |\n| Role (SUT) | Charging Station |\n| Exit code | 1 |\n\n"
        "## Profiles\n\n| Profile | PASS | FAIL |\n| --- | --- | --- |\n| Core | 1 | 1 |\n\n"
        "- see [the spec](https://example.org/spec) <script>alert(1)</script>\n",
        encoding="utf-8",
    )
    return tmp_path


# --- metadata -----------------------------------------------------------------------------------------

def test_categories_separate_the_real_messages(run_dir: Path) -> None:
    allure_html.write_metadata(run_dir)
    categories = json.loads((run_dir / "allure-results" / "categories.json").read_text(encoding="utf-8"))
    names = [c["name"] for c in categories]
    for expected in ("SUT requirement violation", "Schema / OCPP-J violation", "SUT silent (timeout)", "Inconclusive", "Harness or configuration error"):
        assert expected in names
    # messages as the harness raises them (the same text the real runs of the faults produced)
    requirement = SutFailure("setVariableResult[0].attributeStatus must be 'Accepted', is 'Rejected'", STEP, frame='[3,"1",{}]')
    schema = SutFailure("the SUT's StatusNotification frame breaks OCPP 2.0.1: schema: /connectorStatus: 'available' is not one of [...]", STEP, "Part 4 §4 / JSON schema", "[2,...]")
    silent = [
        SutTimeout('the SUT did not send StatusNotification with {"evseId": 1} within 10 s; the connection closed at x', STEP),
        SutTimeout("no answer to SetVariables within 30 s", STEP),
        SutTimeout("the SUT did not open a WebSocket connection within 60 s", STEP),
    ]
    assert _category("failed", _message(requirement)) == "SUT requirement violation"
    assert _category("failed", _message(schema)) == "Schema / OCPP-J violation"
    for error in silent:
        assert _category("failed", _message(error)) == "SUT silent (timeout)"
    assert _category("skipped", "Skipped: " + str(Inconclusive("Configuration State not reached"))) == "Inconclusive"
    assert _category("broken", "harness.verdicts.HarnessError: the SUT file has no [station]") == "Harness or configuration error"
    assert _category("passed", "") is None
    # the requirement category also excludes the others by itself, so it holds whatever the order
    requirement_regex = next(c["messageRegex"] for c in categories if c["name"] == "SUT requirement violation")
    assert not re.fullmatch(requirement_regex, _message(schema))
    assert not any(re.fullmatch(requirement_regex, _message(error)) for error in silent)


def test_environment_and_executor(run_dir: Path) -> None:
    allure_html.write_metadata(run_dir)
    results = run_dir / "allure-results"
    env = _properties(results / "environment.properties")
    assert env["harness.version"] == importlib.metadata.version("ocpp-conformance")
    assert env["ocpp.edition"] == "OCPP 2.0.1 Edition 3"
    assert env["sut.role"] == "Charging Station (cs)"
    assert env["sut.identity.vendor"] == "ACME" and env["sut.identity.model"] == "Wallbox Ü1"
    assert env["pics.sha256"] == "ab" * 32
    assert env["sut.source"] == "my-station.toml"
    assert env["run.basic_auth_password"] == allure_html.MASK
    assert env["run.station.client_secret"] == allure_html.MASK
    assert env["run.station.identity"] == "CP001"
    assert env["csms.url"] == f"wss://cp001:{allure_html.MASK}@csms.example:443/ocpp"
    text = (results / "environment.properties").read_text(encoding="ascii")
    assert "hunter2" not in text and "s3cret" not in text and "xyz" not in text
    executor = json.loads((results / "executor.json").read_text(encoding="utf-8"))
    assert set(executor) >= {"name", "type", "buildName", "reportName"}
    assert "OCPP 2.0.1 Edition 3" in executor["buildName"]
    assert not any("url" in key.lower() for key in executor)  # a URL there would be a link out of the file


def test_metadata_tolerates_a_bare_run_folder(tmp_path: Path) -> None:
    (tmp_path / "allure-results").mkdir()
    allure_html.write_metadata(tmp_path)
    env = _properties(tmp_path / "allure-results" / "environment.properties")
    assert env == {"harness.version": importlib.metadata.version("ocpp-conformance"), "ocpp.edition": "OCPP 2.0.1 Edition 3"}
    assert not list((tmp_path / "allure-results").glob(f"{allure_html.SUMMARY_FILE}*"))  # no summary.md: no summary result


@pytest.mark.parametrize(("exit_code", "outcome"), [(0, "PASSED"), (1, "NOT PASSED"), (3, "NOT PASSED")])
def test_summary_result_carries_summary_md(run_dir: Path, exit_code: int, outcome: str) -> None:
    (run_dir / "summary.json").write_text(json.dumps({"exit_code": exit_code}), encoding="utf-8")
    allure_html.write_metadata(run_dir)
    results = run_dir / "allure-results"
    result = json.loads((results / f"{allure_html.SUMMARY_FILE}-result.json").read_text(encoding="utf-8"))
    assert result["name"] == "Conformance summary" and result["status"] == "unknown"  # not a test case: no count
    assert result["statusDetails"]["message"].startswith(f"Conformance run {outcome}: exit code {exit_code}")
    labels = {(label["name"], label["value"]) for label in result["labels"]}
    assert ("parentSuite", "Summary") in labels and ("as_id", "SUMMARY") in labels
    types = {a["type"]: results / a["source"] for a in result["attachments"]}
    assert types["text/markdown"].read_text(encoding="utf-8") == (run_dir / "summary.md").read_text(encoding="utf-8")
    page = types["text/html"].read_text(encoding="utf-8")
    assert "<table>" in page and "<th>Profile</th>" in page and '<td class="num">1</td>' in page
    assert "<script>" not in page and "&lt;script&gt;" in page  # escaped, never live
    assert "href" not in page and "the spec (https://example.org/spec)" in page  # links become text
    assert allure_html.offline_problems(page) == []
    # written twice (a re-generated report) is still one summary result
    allure_html.write_metadata(run_dir)
    assert len(list(results.glob(f"{allure_html.SUMMARY_FILE}*-result.json"))) == 1


@pytest.mark.parametrize("cell", ["*a " * 30_000, "[" * 100_000, "![x](" * 20_000, "**" + "a" * 100_000])
def test_the_summary_page_renders_hostile_text_in_linear_time(cell: str) -> None:
    """A reason is the SUT's to shape: the Markdown of summary.md renders in time linear in its size."""
    begin = time.perf_counter()
    page = allure_html.markdown_to_html(f"| Case | Reason |\n| --- | --- |\n| TC_B_01_CS | {cell} |\n")
    assert time.perf_counter() - begin < 0.5
    assert page.startswith("<table>")


def test_history_id_recipe_is_fullname_and_sut_parameter() -> None:
    """allure-pytest: historyId = md5(fullName + each non-excluded parameter value, by name); the plugin's
    only parameter is sut (its config source), so the same case against the same SUT keeps its history."""
    from allure_commons.model2 import Parameter
    from allure_pytest.utils import get_history_id

    full_name = "testcases.cs.test_p_datatransfer#test_tc_p_01_cs"
    reference = [Parameter(name="sut", value="'reference'")]
    first = get_history_id(full_name, reference, {})
    assert first == get_history_id(full_name, [Parameter(name="sut", value="'reference'")], {})
    assert first == hashlib.md5((full_name + "'reference'").encode()).hexdigest()
    assert first != get_history_id(full_name, [Parameter(name="sut", value="'my-station.toml'")], {})


# --- the offline proof --------------------------------------------------------------------------------

def _b64(text: str) -> str:
    return base64.b64encode(text.encode()).decode()


def test_scanner_rejects_a_planted_gtag() -> None:
    page = f"<html><head>{GTAG}</head><body></body></html>"
    problems = allure_html.offline_problems(page)
    assert any("https://www.googletagmanager.com/gtag/js" in p for p in problems)


_BEACON = _b64("navigator.sendBeacon('https://x.example/b', d)")
_XHR = _b64("x.open('POST', 'https://x.example/c')")
_FETCH = _b64("fetch(`https://collect.example/mp`)")
_ATTACHMENT = _b64("<img src=https://x.example/p.gif>")
_DESCRIPTION = _b64(json.dumps({"descriptionHtml": '<img src="https://x.example/t.gif">'}))


@pytest.mark.parametrize(
    "planted",
    [
        '<img src="https://cdn.example/x.png">',
        '<link rel="stylesheet" href="//cdn.example/x.css">',
        "<style>@import 'https://fonts.example/f.css';</style>",
        "<div style=\"background:url('https://cdn.example/bg.png')\"></div>",
        f'<script src="data:text/javascript;base64,{_FETCH}"></script>',
        f'<script src="data:text/javascript; charset=utf-8;base64,{_BEACON}"></script>',
        f'<script src="data:text/javascript;base64,{_XHR}"></script>',
        f"<script>d('data/attachments/a1.html','{_ATTACHMENT}')</script>",
        f"<script>d('data/test-cases/t1.json','{_DESCRIPTION}')</script>",
    ],
)
def test_scanner_finds_requests_in_every_form(planted: str) -> None:
    assert allure_html.offline_problems(f"<html><body>{planted}</body></html>")


def test_scanner_accepts_namespaces_and_data_the_auditor_reads() -> None:
    svg = '<svg xmlns="http://www.w3.org/2000/svg" xmlns:xlink="http://www.w3.org/1999/xlink"><use xlink:href="#a"/></svg>'
    script = 'document.createElementNS("http://www.w3.org/2000/svg","svg");e.setAttribute("href","#x");fetch(r,n)'
    trace = json.dumps({"frame": '[2,"1","DataTransfer",{"data":"see https://vendor.example/doc and src=https://a.b/c"}]'})
    page = (
        f"<html><body>{svg}"
        f'<script src="data:text/javascript;base64,{_b64(script)}"></script>'
        f'<div style="background:url(data:image/svg+xml,%3csvg%20xmlns=%27http://www.w3.org/2000/svg%27/%3e)"></div>'
        f"<script>d('data/attachments/t.txt','{_b64(trace)}');d('data/test-cases/c.json','{_b64(trace)}')</script>"
        "</body></html>"
    )
    assert allure_html.offline_problems(page) == []


def test_strip_analytics_removes_allures_gtag_block() -> None:
    block = (
        '    <script async src="https://www.googletagmanager.com/gtag/js?id=G-FVWC4GKEYS"></script>\n'
        "    <script>\n        window.dataLayer = window.dataLayer || [];\n"
        "        function gtag(){dataLayer.push(arguments);}\n        gtag('js', new Date());\n"
        "        gtag('config', 'G-FVWC4GKEYS', {'allureVersion': '2.46.1', 'single_file': true});\n    </script>\n"
    )
    page = f"<html><body><script>var a = 1;</script>\n{block}<script async>var b = 2;</script></body></html>"
    cleaned = allure_html.strip_analytics(page)
    assert "gtag" not in cleaned and "googletagmanager" not in cleaned
    assert "var a = 1;" in cleaned and "var b = 2;" in cleaned
    assert allure_html.offline_problems(cleaned) == []


# --- generate() without the real tool -----------------------------------------------------------------

def _fake_tool(tmp_path: Path, body: str) -> Path:
    """A stand-in for the Allure launcher: writes `body` as <-o>/index.html."""
    script = tmp_path / "fake-allure"
    script.write_text(
        "#!/bin/sh\nout=''\nwhile [ $# -gt 0 ]; do [ \"$1\" = -o ] && out=$2; shift; done\n"
        f"mkdir -p \"$out\" && cat > \"$out/index.html\" <<'EOF'\n{body}\nEOF\n",
        encoding="utf-8",
    )
    script.chmod(script.stat().st_mode | stat.S_IXUSR)
    return script


def test_missing_tool_gives_the_install_command(run_dir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(allure_html, "tool_path", lambda: None)
    with pytest.raises(HarnessError) as raised:
        allure_html.generate(run_dir)
    assert str(raised.value) == (
        "the Allure report tool is not installed: run "
        "`npm install --prefix .tools/allure --no-audit --no-fund allure-commandline@2.46.1` (see docs/report-tools.md)"
    )


def test_missing_java_is_a_clear_error(run_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(allure_html, "tool_path", lambda: _fake_tool(tmp_path, "<html></html>"))
    monkeypatch.delenv("JAVA_HOME", raising=False)
    monkeypatch.setattr(allure_html.shutil, "which", lambda name: None)
    with pytest.raises(HarnessError, match="needs Java"):
        allure_html.generate(run_dir)


def test_install_without_npm_is_a_clear_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(allure_html, "tool_path", lambda: None)
    monkeypatch.setattr(allure_html.shutil, "which", lambda name: None)
    with pytest.raises(HarnessError, match="npm is not on PATH.*npm install --prefix .tools/allure"):
        allure_html.install_tool()


def test_generate_removes_a_leftover_analytics_block(run_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    if shutil.which("java") is None and not os.environ.get("JAVA_HOME"):
        pytest.skip("generate() checks for Java first")
    monkeypatch.setattr(allure_html, "tool_path", lambda: _fake_tool(tmp_path, f"<html><head>{GTAG}</head><body>ok</body></html>"))
    index = allure_html.generate(run_dir)
    assert index == run_dir / "report" / "index.html"
    assert "googletagmanager" not in index.read_text(encoding="utf-8") and "ok" in index.read_text(encoding="utf-8")


def test_generate_refuses_any_other_remote_reference(run_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    if shutil.which("java") is None and not os.environ.get("JAVA_HOME"):
        pytest.skip("generate() checks for Java first")
    monkeypatch.setattr(allure_html, "tool_path", lambda: _fake_tool(tmp_path, '<html><img src="https://cdn.example/x.png"></html>'))
    with pytest.raises(HarnessError, match=r"(?s)would make network requests.*https://cdn\.example/x\.png"):
        allure_html.generate(run_dir)


# --- the real tool --------------------------------------------------------------------------------------

def _report_option() -> str:
    """--report-dir, or --report on a CLI that does not know it yet."""
    usage = subprocess.run([sys.executable, "-m", "harness.cli", "run", "--help"], capture_output=True, text=True, cwd=REPO, check=False).stdout
    return "--report-dir" if "--report-dir" in usage else "--report"


def _real_run(folder: Path) -> Path:
    command = [sys.executable, "-m", "harness.cli", "run", "--role", "cs", "--cases", "TC_P_01_CS,TC_B_06_CS", _report_option(), str(folder)]
    done = subprocess.run(command, capture_output=True, text=True, cwd=REPO, timeout=300, check=False)
    assert done.returncode in (0, 1), done.stdout + done.stderr
    assert list((folder / "allure-results").glob("*-result.json")), done.stdout + done.stderr
    return folder


@pytest.fixture(scope="module")
def real_runs(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """The tool installed (if absent) and two real runs of the same two cases against the reference CS."""
    allure_html.install_tool()
    base = tmp_path_factory.mktemp("allure-real")
    return _real_run(base / "first"), _real_run(base / "second")


def _case_results(run: Path) -> dict[str, dict[str, Any]]:
    found = {}
    for path in (run / "allure-results").glob("*-result.json"):
        result = json.loads(path.read_text(encoding="utf-8"))
        found[result["fullName"]] = result
    return found


def _assert_self_contained(index: Path, tmp_path: Path) -> str:
    assert sorted(p.name for p in index.parent.iterdir()) == ["index.html"]
    alone = tmp_path / "alone"
    alone.mkdir()
    copy = Path(shutil.copy(index, alone / "index.html"))
    text = copy.read_text(encoding="utf-8")
    assert allure_html.offline_problems(text) == []
    # nothing the page loads refers to a file beside it: every src / stylesheet href is a data: URI
    for match in re.finditer(r"<(?:script|img|iframe|link)\b[^>]*\b(?:src|href)\s*=\s*[\"']?([^\"'\s>]+)", text, re.IGNORECASE):
        assert match.group(1).startswith(("data:", "#")), match.group(0)[:200]
    assert "googletagmanager" not in text
    return text


@pytest.mark.slow
def test_history_id_is_stable_across_runs(real_runs: tuple[Path, Path]) -> None:
    first, second = (_case_results(run) for run in real_runs)
    assert set(first) == set(second) and len(first) == 2
    for full_name, result in first.items():
        assert result["historyId"] == second[full_name]["historyId"]
        assert result["uuid"] != second[full_name]["uuid"]
        assert {(p["name"], p["value"]) for p in result["parameters"]} == {("sut", "'reference'"), ("basic_auth", "'none'")}


@pytest.mark.slow
def test_real_report_is_one_offline_file(real_runs: tuple[Path, Path], tmp_path: Path) -> None:
    run = real_runs[0]
    allure_html.write_metadata(run)
    started = time.perf_counter()
    index = allure_html.generate(run)
    elapsed = time.perf_counter() - started
    print(f"\nAllure single-file report of a 2-case run: {elapsed:.2f} s, {index.stat().st_size / 1e6:.1f} MB")
    assert index == run / "report" / "index.html"
    text = _assert_self_contained(index, tmp_path)
    blobs = dict(re.findall(r"d\('([^']*)','([A-Za-z0-9+/=]*)'\)", text))
    environment = json.loads(base64.b64decode(blobs["widgets/environment.json"]))
    assert {"harness.version", "ocpp.edition"} <= {item["name"] for item in environment}
    names = [json.loads(base64.b64decode(v)).get("name") for k, v in blobs.items() if k.startswith("data/test-cases/")]
    assert any(name and name.startswith("TC_P_01_CS") for name in names)
    if (run / "summary.md").is_file():
        assert "Conformance summary" in names


@pytest.mark.slow
def test_hundred_case_report_under_30_s(real_runs: tuple[Path, Path], tmp_path: Path) -> None:
    source = real_runs[0] / "allure-results"
    template = next(
        r for r in (json.loads(p.read_text(encoding="utf-8")) for p in source.glob("*-result.json")) if r.get("steps")
    )
    trace_lines = [json.dumps({"timestamp": f"2026-11-25T09:00:{i % 60:02d}Z", "direction": "in", "frame": [2, str(i), "Heartbeat", {}]}) for i in range(50)]
    run = tmp_path / "run100"
    results = run / "allure-results"
    results.mkdir(parents=True)
    for n in range(100):
        result = json.loads(json.dumps(template))
        result["uuid"] = str(uuid.uuid4())
        result["name"] = f"TC_X_{n:02d}_CS synthetic case {n}"
        result["fullName"] = f"testcases.cs.test_synthetic#test_tc_x_{n:02d}_cs"
        result["historyId"] = hashlib.md5(result["fullName"].encode()).hexdigest()
        result["status"] = ("passed", "failed", "skipped", "broken")[n % 4]
        attachment = f"{uuid.uuid4()}-attachment.jsonl"
        (results / attachment).write_text("\n".join(trace_lines) + "\n", encoding="utf-8")
        result["attachments"] = [{"name": f"trace TC_X_{n:02d}_CS.jsonl", "source": attachment, "type": "text/plain"}]
        (results / f"{result['uuid']}-result.json").write_text(json.dumps(result), encoding="utf-8")
    allure_html.write_metadata(run)
    started = time.perf_counter()
    index = allure_html.generate(run)
    elapsed = time.perf_counter() - started
    print(f"\nAllure single-file report of 100 cases (steps + 50-line JSONL each): {elapsed:.2f} s, {index.stat().st_size / 1e6:.1f} MB")
    assert elapsed < 30
    _assert_self_contained(index, tmp_path)


def test_a_waived_fail_says_so_on_its_own_page(run_dir: Path) -> None:
    results = run_dir / "allure-results"
    results.mkdir(parents=True, exist_ok=True)
    failed = {"uuid": "u1", "name": "TC_P_02_CSMS", "status": "failed", "labels": [{"name": "as_id", "value": "TC_P_02_CSMS"}],
              "statusDetails": {"message": "FAIL at step 1-2: status must be ..."}}
    (results / "u1-result.json").write_text(json.dumps(failed), encoding="utf-8")
    waiver = {"id": "TC_P_02_CSMS", "reason": "fix in 2.3", "expires": "2027-01-01", "state": "applied"}
    summary = {"exit_code": 0, "cases": [{"id": "TC_P_02_CSMS", "verdict": "FAIL", "waiver": waiver}]}
    (run_dir / "summary.json").write_text(json.dumps(summary), encoding="utf-8")
    allure_html.write_metadata(run_dir)
    allure_html.write_metadata(run_dir)
    result = json.loads((results / "u1-result.json").read_text(encoding="utf-8"))
    assert result["statusDetails"]["message"].startswith("WAIVED until 2027-01-01: fix in 2.3\nFAIL at step 1-2")
    assert result["statusDetails"]["message"].count("WAIVED") == 1
    assert {"name": "tag", "value": "waived"} in result["labels"]
    assert allure_html.CATEGORIES[0]["name"] == "Waived FAIL"
