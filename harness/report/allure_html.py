"""The Allure HTML report of a run: ONE self-contained ``index.html`` that opens from disk and fetches nothing.

Tool: Allure 2 (``allure-commandline`` 2.46.1 from npm, jar bundled, runs on the local Java), installed into
``<repo>/.tools/allure`` (git-ignored) by :func:`install_tool`; see ``docs/report-tools.md`` for why this
tool and what was checked. A run folder becomes a report in two calls::

    write_metadata(run_dir)   # categories.json, environment.properties, executor.json, the summary result
    generate(run_dir)         # -> run_dir/report/index.html, checked offline

:func:`generate` runs Allure with ``--single-file`` and ``ALLURE_NO_ANALYTICS=true`` (which drops the
Google Analytics tag from the HTML and the analytics POST Allure makes while generating), then *proves*
the file is offline with :func:`offline_problems`: every script, stylesheet and HTML blob embedded as a
``data:`` URI or as report data is decoded and scanned for an absolute URL the browser would load. An
analytics block the tool left anyway is removed; anything else makes it raise :class:`HarnessError`.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import html
import importlib.metadata
import json
import os
import re
import shutil
import subprocess
import urllib.parse
from collections.abc import Iterable, Iterator, Mapping
from datetime import datetime
from pathlib import Path
from typing import Any

import harness
from harness.verdicts import HarnessError

REPO = Path(harness.__file__).resolve().parent.parent
PACKAGE = "allure-commandline"
VERSION = "2.46.1"
TOOLS_DIR = REPO / ".tools" / "allure"
INSTALL_COMMAND = ["npm", "install", "--prefix", ".tools/allure", "--no-audit", "--no-fund", f"{PACKAGE}@{VERSION}"]
INSTALL_TEXT = " ".join(INSTALL_COMMAND)
EDITION = "OCPP 2.0.1 Edition 3"
GENERATE_TIMEOUT = 180.0
INSTALL_TIMEOUT = 600.0
RESULTS = "allure-results"
REPORT = "report"
SUMMARY_FILE = "ocpp-conformance-summary"
MASK = "******"
_SECRET_NAME = re.compile(r"password|passwd|secret|credential|private", re.IGNORECASE)


# --- the tool -----------------------------------------------------------------------------------------

def tool_path() -> Path | None:
    """The Allure launcher of the pinned version under .tools/allure, or None when it is not installed."""
    package = TOOLS_DIR / "node_modules" / PACKAGE
    launcher = package / "dist" / "bin" / "allure"
    try:
        version = json.loads((package / "package.json").read_text(encoding="utf-8")).get("version")
    except (OSError, ValueError):
        return None
    return launcher if version == VERSION and launcher.is_file() else None


def install_tool() -> Path:
    """Install the pinned Allure into .tools/allure with npm (nothing to do when it is there); its launcher."""
    found = tool_path()
    if found is not None:
        return found
    if shutil.which("npm") is None:
        raise HarnessError(f"cannot install the Allure report tool: npm is not on PATH (install Node.js 18+), then run `{INSTALL_TEXT}`")
    try:
        done = subprocess.run(INSTALL_COMMAND, check=False, cwd=REPO, capture_output=True, text=True, timeout=INSTALL_TIMEOUT)
    except subprocess.TimeoutExpired:
        raise HarnessError(f"`{INSTALL_TEXT}` did not finish within {INSTALL_TIMEOUT:.0f} s") from None
    found = tool_path()
    if done.returncode != 0 or found is None:
        raise HarnessError(f"`{INSTALL_TEXT}` failed (exit code {done.returncode}): {_tail(done.stderr or done.stdout)}")
    return found


def missing_tool_message() -> str:
    return f"the Allure report tool is not installed: run `{INSTALL_TEXT}` (see docs/report-tools.md)"


def _java() -> str:
    """The java the Allure launcher will use (JAVA_HOME first, like the launcher), or a clear HarnessError."""
    java_home = os.environ.get("JAVA_HOME")
    if java_home and os.access(Path(java_home) / "bin" / "java", os.X_OK):
        return str(Path(java_home) / "bin" / "java")
    found = shutil.which("java")
    if found is None:
        raise HarnessError(
            "the Allure report tool needs Java (17 is what it was checked with) and there is none: install a JRE"
            " (e.g. `apt-get install openjdk-17-jre-headless`) or set JAVA_HOME"
        )
    return found


def _tail(text: str, lines: int = 15) -> str:
    return "\n".join((text or "").strip().splitlines()[-lines:]) or "(no output)"


# --- metadata -----------------------------------------------------------------------------------------

CATEGORIES: list[dict[str, Any]] = [
    # Allure 2 puts a result in the FIRST category that matches; Java regexes must match the whole message.
    {
        "name": "Waived FAIL",
        "description": "A FAIL covered by a valid waiver (reason and expiry in the message): it does not fail the run.",
        "matchedStatuses": ["failed"],
        "messageRegex": r"(?s)WAIVED .*",
    },
    {
        "name": "Schema / OCPP-J violation",
        "description": "The SUT sent a frame that breaks OCPP-J (Part 4) or the OCPP 2.0.1 JSON schema.",
        "matchedStatuses": ["failed"],
        "messageRegex": r"(?s).*(breaks OCPP 2\.0\.1|schema:).*",
    },
    {
        "name": "SUT silent (timeout)",
        "description": "The SUT did not send, answer or connect within the step's deadline.",
        "matchedStatuses": ["failed"],
        "messageRegex": r"(?s).*(did not send|no answer to .* within|did not open).*",
    },
    {
        "name": "SUT requirement violation",
        "description": "The SUT answered, but not as the requirement named in the message demands.",
        "matchedStatuses": ["failed"],
        # also excludes the two categories above, so it does not depend on their order
        "messageRegex": r"(?s)(?!.*(breaks OCPP 2\.0\.1|schema:|did not send|no answer to .* within|did not open)).*FAIL at step.*",
    },
    {
        "name": "Inconclusive",
        "description": "A precondition, optional feature or manual action was not available: neither PASS nor FAIL.",
        "matchedStatuses": ["skipped"],
        "messageRegex": r"(?s).*INCONCLUSIVE.*",
    },
    {
        "name": "Harness or configuration error",
        "description": "ERROR: the harness or its configuration failed; the case proves nothing about the SUT.",
        "matchedStatuses": ["broken"],
    },
    {
        "name": "Conformance run not passed",
        "description": "The 'Conformance summary' entry: the run's exit code was not 0.",
        "matchedStatuses": ["unknown"],
        "messageRegex": r"(?s)Conformance run NOT PASSED.*",
    },
]


def write_metadata(run_dir: Path) -> None:
    """categories.json, environment.properties, executor.json and the 'Conformance summary' result.

    Reads ``run.json`` (the CLI's record of the run) and ``summary.json`` when present; missing keys are
    left out, and values whose name says password or secret are masked.
    """
    results = Path(run_dir) / RESULTS
    results.mkdir(parents=True, exist_ok=True)
    run = _read_json(Path(run_dir) / "run.json")
    summary = _read_json(Path(run_dir) / "summary.json")
    (results / "categories.json").write_text(json.dumps(CATEGORIES, indent=2), encoding="utf-8")
    environment = environment_of(run, summary)
    (results / "environment.properties").write_text(_properties(environment), encoding="ascii")
    (results / "executor.json").write_text(json.dumps(_executor(environment), indent=2), encoding="utf-8")
    _mark_waived(results, summary)
    summary_md = Path(run_dir) / "summary.md"
    if summary_md.is_file():
        _write_summary_result(results, summary_md.read_text(encoding="utf-8"), run, summary, environment)


def _mark_waived(results: Path, summary: Mapping[str, Any]) -> None:
    """Say on each waived FAIL's own page that it is waived, why and until when (idempotent), so an auditor
    does not need the summary to know the FAIL does not count."""
    waived = {
        case["id"]: case["waiver"]
        for case in summary.get("cases", [])
        if isinstance(case.get("waiver"), Mapping) and case["waiver"].get("state") == "applied"
    }
    for path in results.glob("*-result.json"):
        result = json.loads(path.read_text(encoding="utf-8"))
        case_id = next((l["value"] for l in result.get("labels", []) if l.get("name") == "as_id"), None)
        waiver = waived.get(case_id)
        details = result.setdefault("statusDetails", {})
        if waiver is None or str(details.get("message", "")).startswith("WAIVED "):
            continue
        note = f"WAIVED until {waiver.get('expires')}: {waiver.get('reason')}"
        details["message"] = f"{note}\n{details.get('message', '')}"
        result.setdefault("labels", []).append({"name": "tag", "value": "waived"})
        path.write_text(json.dumps(result, indent=2), encoding="utf-8")


def _read_json(path: Path) -> dict[str, Any]:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return {}
    except (OSError, ValueError) as error:
        raise HarnessError(f"cannot read {path}: {error}") from error
    return data if isinstance(data, dict) else {}


def harness_version() -> str:
    try:
        return importlib.metadata.version("ocpp-conformance")
    except importlib.metadata.PackageNotFoundError:
        return "unknown"


_NOT_IN_ENVIRONMENT = {"harness_version", "edition", "sut_identity", "implemented"}  # shown otherwise, or noise


def environment_of(run: Mapping[str, Any], summary: Mapping[str, Any]) -> dict[str, str]:
    """The Environment widget: harness, edition, role, SUT identity, PICS hash, ... (secrets masked)."""
    env: dict[str, str] = {
        "harness.version": str(run.get("harness_version") or harness_version()),
        "ocpp.edition": str(run.get("edition") or EDITION),
    }
    keys = [
        ("sut.role", "role"), ("sut.source", "sut_source"), ("csms.url", "csms_url"),
        ("security.profile", "security_profile"), ("security.profile.basis", "security_profile_basis"),
        ("profiles", "profiles"), ("pics.path", "pics_path"), ("pics.sha256", "pics_sha256"),
        ("waivers.path", "waivers_path"), ("waivers.sha256", "waivers_sha256"), ("faults", "faults"),
        ("cases", "cases"), ("started_at", "started_at"), ("finished_at", "finished_at"),
    ]
    for name, key in keys:
        if run.get(key) not in (None, "", [], {}):
            env.update(_flat(name, run[key]))
    identity = summary.get("sut_identity", run.get("sut_identity"))
    if identity not in (None, "", {}):
        env.update(_flat("sut.identity", identity))
    if "sut.role" in env:
        env["sut.role"] = {"cs": "Charging Station (cs)", "csms": "CSMS (csms)"}.get(env["sut.role"], env["sut.role"])
    for key, value in run.items():  # anything else the CLI records, but never a secret in clear
        name = f"run.{key}"
        if key not in {k for _, k in keys} | _NOT_IN_ENVIRONMENT and value not in (None, "", [], {}):
            env.update(_flat(name, value))
    if "exit_code" in summary:
        env["run.exit_code"] = str(summary["exit_code"])
    return env


def _flat(name: str, value: Any) -> Iterator[tuple[str, str]]:
    if _SECRET_NAME.search(name):
        yield name, MASK
    elif isinstance(value, Mapping):
        for key, inner in value.items():
            yield from _flat(f"{name}.{key}", inner)
    elif isinstance(value, list | tuple):
        if all(not isinstance(item, Mapping | list | tuple) for item in value):
            yield name, ", ".join(str(item) for item in value)
        else:
            for index, item in enumerate(value):
                yield from _flat(f"{name}.{index}", item)
    else:
        yield name, _mask_url(str(value))


def _mask_url(text: str) -> str:
    """ws://user:secret@host -> ws://user:******@host."""
    return re.sub(r"(?i)\b([a-z][a-z0-9+.-]*://[^/\s:@]+):[^@/\s]+@", rf"\1:{MASK}@", text)


def _properties(env: Mapping[str, str]) -> str:
    """Java .properties (ISO-8859-1, other characters as \\u escapes of four hex digits), which is how Allure 2 reads the file."""

    def escape(text: str, key: bool) -> str:
        out = []
        for char in text:
            if char in "\\=:#!" or (key and char == " "):
                out.append("\\" + char)
            elif char == "\n":
                out.append("\\n")
            elif char == "\r":
                out.append("\\r")
            elif char == "\t":
                out.append("\\t")
            elif ord(char) < 0x20 or ord(char) > 0x7E:
                out.extend(f"\\u{unit:04x}" for unit in _utf16(char))
            else:
                out.append(char)
        return "".join(out)

    return "".join(f"{escape(key, True)}={escape(value, False)}\n" for key, value in env.items())


def _utf16(char: str) -> list[int]:
    data = char.encode("utf-16-be")
    return [int.from_bytes(data[i : i + 2], "big") for i in range(0, len(data), 2)]


def _executor(env: Mapping[str, str]) -> dict[str, str]:
    """Executor widget: who produced the report. No URL on purpose (it would be a link out of the file)."""
    return {
        "name": "ocpp-conformance",
        "type": "ocpp-conformance",
        "buildName": f"ocpp-conformance {env['harness.version']} — {env['ocpp.edition']}",
        "reportName": report_name(env),
    }


def report_name(env: Mapping[str, str]) -> str:
    role = env.get("sut.role", "")
    identity = env.get("sut.identity") or env.get("sut.identity.identity") or env.get("sut.source", "")
    parts = [p for p in (role, identity) if p]
    return "OCPP 2.0.1 conformance" + (f": SUT {' — '.join(parts)}" if parts else "")


def _write_summary_result(
    results: Path, markdown: str, run: Mapping[str, Any], summary: Mapping[str, Any], env: Mapping[str, str]
) -> None:
    """One extra Allure result, 'Conformance summary', carrying summary.md (as written and as HTML)."""
    rendered = markdown_to_html(markdown)
    page = f"<!DOCTYPE html><html><head><meta charset=\"utf-8\"><title>Conformance summary</title>{_SUMMARY_CSS}</head><body>{rendered}</body></html>"
    (results / f"{SUMMARY_FILE}-attachment.md").write_text(markdown, encoding="utf-8")
    (results / f"{SUMMARY_FILE}-attachment.html").write_text(page, encoding="utf-8")
    exit_code = summary.get("exit_code")
    passed = exit_code == 0
    full_name = "ocpp-conformance#conformance_summary"
    start, stop = _times(run, results.parent / "summary.md")
    result: dict[str, Any] = {
        "uuid": SUMMARY_FILE,
        "name": "Conformance summary",
        "fullName": full_name,
        "historyId": hashlib.md5((full_name + env.get("sut.role", "") + env.get("sut.source", "")).encode()).hexdigest(),
        "testCaseId": hashlib.md5(full_name.encode()).hexdigest(),
        # "unknown", not passed/failed: the summary is not a test case and must not change the report's counts.
        "status": "unknown",
        "stage": "finished",
        "descriptionHtml": rendered,
        "start": start,
        "stop": stop,
        "labels": [
            {"name": "parentSuite", "value": "Summary"},
            {"name": "suite", "value": "Conformance summary"},
            {"name": "as_id", "value": "SUMMARY"},
            {"name": "ocpp_version", "value": "2.0.1"},
            {"name": "severity", "value": "blocker"},
        ],
        "parameters": [{"name": "sut", "value": env.get("sut.source", "")}] if env.get("sut.source") else [],
        "attachments": [
            {"name": "summary.md", "source": f"{SUMMARY_FILE}-attachment.md", "type": "text/markdown"},
            {"name": "summary (HTML)", "source": f"{SUMMARY_FILE}-attachment.html", "type": "text/html"},
        ],
    }
    code = "missing from summary.json" if exit_code is None else str(exit_code)
    outcome = "PASSED" if passed else "NOT PASSED"
    result["statusDetails"] = {"message": f"Conformance run {outcome}: exit code {code} (0 means every selected case PASSed)"}
    (results / f"{SUMMARY_FILE}-result.json").write_text(json.dumps(result, indent=2), encoding="utf-8")


def _times(run: Mapping[str, Any], fallback: Path) -> tuple[int, int]:
    def millis(value: Any) -> int | None:
        try:
            return int(datetime.fromisoformat(str(value)).timestamp() * 1000)
        except ValueError:
            return None

    stop = millis(run.get("finished_at")) or int(fallback.stat().st_mtime * 1000)
    start = millis(run.get("started_at")) or stop
    return start, max(start, stop)


_SUMMARY_CSS = (
    "<style>body{font-family:sans-serif;font-size:14px}table{border-collapse:collapse;margin:8px 0}"
    "th,td{border:1px solid #bbb;padding:2px 8px;text-align:left}th{background:#eee}"
    "td.num{text-align:right}code,pre{background:#f4f4f4}</style>"
)


def markdown_to_html(markdown: str) -> str:
    """A tiny Markdown renderer for summary.md: headings, pipe tables, lists, code blocks, paragraphs.

    Everything is HTML-escaped; a link ``[text](url)`` becomes ``text (url)`` as plain text, never an
    ``<a href>``, so the rendering can carry no request and no link out of the report.
    """
    out: list[str] = []
    lines = markdown.splitlines()
    i = 0
    while i < len(lines):
        line = lines[i]
        stripped = line.strip()
        if stripped.startswith("```"):
            block: list[str] = []
            i += 1
            while i < len(lines) and not lines[i].strip().startswith("```"):
                block.append(lines[i])
                i += 1
            out.append(f"<pre><code>{html.escape(chr(10).join(block))}</code></pre>")
            i += 1
        elif _is_row(stripped) and i + 1 < len(lines) and _is_rule(lines[i + 1].strip()):
            header = _cells(stripped)
            i += 2
            rows: list[list[str]] = []
            while i < len(lines) and _is_row(lines[i].strip()):
                rows.append(_cells(lines[i].strip()))
                i += 1
            out.append(_table(header, rows))
        elif match := re.match(r"(#{1,6})\s+(.*)", stripped):
            level = len(match.group(1))
            out.append(f"<h{level}>{_inline(match.group(2))}</h{level}>")
            i += 1
        elif re.match(r"[-*+]\s+", stripped):
            items = []
            while i < len(lines) and re.match(r"\s*[-*+]\s+", lines[i]):
                item = re.sub(r"^\s*[-*+]\s+", "", lines[i])
                items.append(f"<li>{_inline(item)}</li>")
                i += 1
            out.append("<ul>" + "".join(items) + "</ul>")
        elif not stripped:
            i += 1
        else:
            para = []
            while i < len(lines) and lines[i].strip() and not _starts_block(lines, i):
                para.append(lines[i].strip())
                i += 1
            out.append(f"<p>{_inline(' '.join(para))}</p>")
    return "\n".join(out)


def _starts_block(lines: list[str], i: int) -> bool:
    stripped = lines[i].strip()
    return bool(
        stripped.startswith("```")
        or re.match(r"#{1,6}\s", stripped)
        or re.match(r"[-*+]\s+", stripped)
        or (_is_row(stripped) and i + 1 < len(lines) and _is_rule(lines[i + 1].strip()))
    )


def _is_row(line: str) -> bool:
    return line.startswith("|") and line.endswith("|") and len(line) > 1


def _is_rule(line: str) -> bool:
    return _is_row(line) and all(re.fullmatch(r":?-{3,}:?", cell.strip()) for cell in line.strip("|").split("|"))


def _cells(line: str) -> list[str]:
    return [cell.strip() for cell in re.split(r"(?<!\\)\|", line.strip()[1:-1])]


def _table(header: list[str], rows: list[list[str]]) -> str:
    def cell(tag: str, text: str) -> str:
        numeric = tag == "td" and re.fullmatch(r"-?\d+(\.\d+)?%?", text)
        attribute = ' class="num"' if numeric else ""
        return f"<{tag}{attribute}>{_inline(text)}</{tag}>"

    head = "<tr>" + "".join(cell("th", h) for h in header) + "</tr>"
    body = "".join("<tr>" + "".join(cell("td", c) for c in row) + "</tr>" for row in rows)
    return f"<table><thead>{head}</thead><tbody>{body}</tbody></table>"


def _inline(text: str) -> str:
    text = re.sub(r"!?\[([^\][]*)\]\(([^()\s]*)\)", lambda m: f"{m.group(1)} ({m.group(2)})", text.replace("\\|", "|"))
    parts = re.split(r"(`[^`]*`)", text)
    rendered = []
    for part in parts:
        if len(part) >= 2 and part.startswith("`") and part.endswith("`"):
            rendered.append(f"<code>{html.escape(part[1:-1])}</code>")
        else:
            escaped = html.escape(part)
            escaped = re.sub(r"\*\*([^*]+?)\*\*", r"<strong>\1</strong>", escaped)
            escaped = re.sub(r"(?<![\w*])\*(?!\s)([^*]+?)(?<!\s)\*(?![\w*])", r"<em>\1</em>", escaped)
            rendered.append(escaped)
    return "".join(rendered)


# --- generation ---------------------------------------------------------------------------------------

def generate(run_dir: Path, timeout: float = GENERATE_TIMEOUT) -> Path:
    """Run Allure on run_dir/allure-results into run_dir/report/index.html (one file, offline); its path.

    Raises HarnessError when the tool or Java is missing, when there is no result, when Allure fails or
    overruns `timeout`, and when the output is not one file or still refers to a remote resource.
    """
    tool = tool_path()
    if tool is None:
        raise HarnessError(missing_tool_message())
    java = _java()
    results = Path(run_dir) / RESULTS
    if not any(results.glob("*-result.json")):
        raise HarnessError(f"no Allure result in {results}: run the cases first (ocpp-conformance run ...)")
    output = Path(run_dir) / REPORT
    env = dict(os.environ, ALLURE_NO_ANALYTICS="true")
    env.setdefault("JAVA_HOME", str(Path(java).resolve().parent.parent))
    name = report_name(environment_of(_read_json(Path(run_dir) / "run.json"), _read_json(Path(run_dir) / "summary.json")))
    command = [str(tool), "generate", "--single-file", "--clean", str(results), "-o", str(output), "--report-name", name, "--lang", "en"]
    try:
        done = subprocess.run(command, check=False, capture_output=True, text=True, timeout=timeout, env=env, cwd=run_dir)
    except subprocess.TimeoutExpired:
        raise HarnessError(f"Allure did not generate the report within {timeout:.0f} s: {' '.join(command)}") from None
    index = output / "index.html"
    if done.returncode != 0 or not index.is_file():
        raise HarnessError(f"Allure failed (exit code {done.returncode}) generating {index}: {_tail(done.stderr or done.stdout)}")
    extra = sorted(str(p.relative_to(output)) for p in output.rglob("*") if p.is_file() and p != index)
    if extra:
        raise HarnessError(f"the report is not a single file: besides index.html Allure wrote {extra[:10]}")
    text = index.read_text(encoding="utf-8")
    cleaned = strip_analytics(text)
    problems = offline_problems(cleaned)
    if problems:
        raise HarnessError(f"{index} would make network requests; remaining remote references:\n  " + "\n  ".join(problems))
    if cleaned != text:
        index.write_text(cleaned, encoding="utf-8")
    return index


# --- offline proof ------------------------------------------------------------------------------------

_ANALYTICS_HOSTS = r"(?:googletagmanager\.com|google-analytics\.com|analytics\.google\.com)"
_ANALYTICS_BLOCKS = [
    # <script async src="https://www.googletagmanager.com/gtag/js?id=G-..."></script>
    re.compile(rf"<script\b[^>]*\bsrc\s*=\s*[\"']?(?:https?:)?//[^\"'\s>]*{_ANALYTICS_HOSTS}[^>]*>\s*</script>\s*", re.IGNORECASE),
    # the inline gtag bootstrap: window.dataLayer ... gtag('config', 'G-...') — short and nothing else
    re.compile(r"<script\b[^>]*>(?:(?!</script>)[^<]|<(?!/script>)){0,1500}?\bgtag\s*\((?:(?!</script>).){0,1500}?</script>\s*", re.IGNORECASE | re.DOTALL),
    re.compile(rf"<link\b[^>]*\bhref\s*=\s*[\"']?(?:https?:)?//[^\"'\s>]*{_ANALYTICS_HOSTS}[^>]*>\s*", re.IGNORECASE),
]


def strip_analytics(text: str) -> str:
    """`text` without the Google Analytics blocks Allure may embed (the gtag loader and its inline config)."""
    for pattern in _ANALYTICS_BLOCKS:
        text = pattern.sub("", text)
    return text


NAMESPACES = frozenset(
    {
        "http://www.w3.org/2000/svg",
        "http://www.w3.org/1999/xhtml",
        "http://www.w3.org/1999/xlink",
        "http://www.w3.org/XML/1998/namespace",
        "http://www.w3.org/2000/xmlns/",
        "http://www.w3.org/1998/Math/MathML",
    }
)
"""XML/SVG namespace URIs: names, never fetched by a browser; the only absolute URLs allowed in fetch contexts."""

_URL = r"((?:(?:https?|wss?|ftp):)?//[^\s\"'`<>)\\]+)"
_Q = r"[\"'`]?\s*"
_REQUEST_CONTEXTS = [
    ("attribute", re.compile(
        rf"(?<![\w-])(?:src|href|srcset|action|formaction|poster|background|ping|manifest|codebase|longdesc|xlink:href)\s*=\s*{_Q}{_URL}", re.IGNORECASE)),
    ("url()", re.compile(rf"\burl\(\s*{_Q}{_URL}", re.IGNORECASE)),
    ("@import", re.compile(rf"@import\s+(?:url\(\s*)?{_Q}{_URL}", re.IGNORECASE)),
    ("fetch()", re.compile(rf"\bfetch\(\s*[\"'`]{_URL}")),
    ("XMLHttpRequest.open()", re.compile(rf"\.open\(\s*[\"'`][A-Za-z]+[\"'`]\s*,\s*[\"'`]{_URL}")),
    ("sendBeacon()", re.compile(rf"\bsendBeacon\(\s*[\"'`]{_URL}")),
    ("import()/importScripts()", re.compile(rf"\b(?:import|importScripts)\(\s*[\"'`]{_URL}")),
    ("WebSocket/EventSource/Worker", re.compile(rf"\bnew\s+(?:WebSocket|EventSource|Worker|SharedWorker)\(\s*[\"'`]{_URL}")),
]
_ANYWHERE = re.compile(r"googletagmanager|google-analytics|analytics\.google\.com", re.IGNORECASE)
_DATA_URIS = [  # quoted: up to the closing quote (an SVG inside may hold the other quotes); bare: up to ) or space
    re.compile(r"([\"'`])data:([a-z]+/[a-z0-9.+-]+)((?:;\s*[^,;\"'()\s]+)*),(.*?)\1", re.IGNORECASE | re.DOTALL),
    re.compile(r"(?<![\"'`])()data:([a-z]+/[a-z0-9.+-]+)((?:;\s*[^,;\"'()\s]+)*),([^\"'()\s]*)", re.IGNORECASE),
]
_CODE_MIMES = re.compile(r"^(?:text/(?:javascript|css|html|ecmascript)|application/(?:javascript|ecmascript|xhtml\+xml)|image/svg\+xml)$", re.IGNORECASE)
_REPORT_DATA = re.compile(r"\bd\(\s*'([^']*)'\s*,\s*'([A-Za-z0-9+/=]*)'\s*\)")


def offline_problems(text: str, where: str = "index.html") -> list[str]:
    """Every remote reference the page would load, as 'where: context: url'; empty means offline.

    Scanned: the HTML itself, every script / stylesheet / HTML / SVG embedded as a ``data:`` URI (decoded,
    recursively), and every report-data blob the browser renders as HTML (HTML attachments, the mail
    export, a result's descriptionHtml). Looked for: an absolute or protocol-relative URL in ``src=``,
    ``href=`` (and the other loading attributes), ``url(``, ``@import``, ``fetch(``, ``XMLHttpRequest``
    ``open``, ``sendBeacon``, dynamic ``import``, WebSocket/EventSource/Worker; and the words
    ``googletagmanager`` / ``google-analytics`` anywhere in code. Allowed: XML/SVG namespace URIs
    (:data:`NAMESPACES`), and URLs inside report data shown as text (JSON results, text and JSONL
    attachments): the auditor reads them, the browser never requests them.
    """
    problems: list[str] = []
    for place, code in _code_parts(text, where):
        for context, pattern in _REQUEST_CONTEXTS:
            for match in pattern.finditer(code):
                url = match.group(1)
                if url.rstrip("/#") in {n.rstrip("/") for n in NAMESPACES}:
                    continue
                problems.append(f"{place}: {context}: {url[:200]}")
        for match in _ANYWHERE.finditer(code):
            snippet = code[max(0, match.start() - 40) : match.end() + 40].replace("\n", " ")
            problems.append(f"{place}: analytics: …{snippet}…")
    return list(dict.fromkeys(problems))


def _code_parts(text: str, where: str, depth: int = 0) -> Iterator[tuple[str, str]]:
    """(place, text) for the page and for each decoded data: URI or report-data blob that the browser runs."""
    yield where, text
    if depth > 4:
        return
    for pattern in _DATA_URIS:
        for match in pattern.finditer(text):
            mime, params, payload = match.group(2), match.group(3), match.group(4)
            if not _CODE_MIMES.match(mime):
                continue
            decoded = _decode(payload, "base64" in params.lower())
            if decoded is not None:
                yield from _code_parts(decoded, f"{where} > data:{mime}", depth + 1)
    for path, payload in _REPORT_DATA.findall(text):
        decoded = _decode(payload, True)
        if decoded is None:
            continue
        for html_text in _rendered_as_html(path, decoded):
            yield from _code_parts(html_text, f"{where} > {path}", depth + 1)


def _rendered_as_html(path: str, decoded: str) -> Iterable[str]:
    if path.lower().endswith((".html", ".htm", ".svg", ".xhtml")):
        yield decoded
    elif path.startswith("data/test-cases/") and path.endswith(".json"):
        try:
            data = json.loads(decoded)
        except ValueError:
            return
        if isinstance(data, dict) and isinstance(data.get("descriptionHtml"), str):
            yield data["descriptionHtml"]


def _decode(payload: str, is_base64: bool) -> str | None:
    try:
        raw = base64.b64decode(payload, validate=False) if is_base64 else urllib.parse.unquote_to_bytes(payload)
    except (binascii.Error, ValueError):
        return None
    return raw.decode("utf-8", errors="replace")

