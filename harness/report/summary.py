"""The run's record (``run.json``) and its conformance summary (``summary.json`` for machines, ``summary.md``
for pull requests).

``run.json`` is written by ``ocpp-conformance run`` before pytest starts and completed when it ends, so a
folder always says what was run, against what, with which PICS and waivers, even when the run was cut short.
Its keys: ``harness_version``, ``edition``, ``role``, ``profiles``, ``sut_source`` ("reference" or the SUT file),
``csms_url`` (CSMS under test only), ``security_profile`` and ``security_profile_basis``, ``pics_path`` and
``pics_sha256``, ``faults``, ``waivers_path`` and ``waivers_sha256``, ``cases`` (the case ids the run selected),
``implemented`` (the case ids this harness version implemented), ``started_at``, ``finished_at`` (UTC ISO),
``interrupted`` (true when SIGINT or SIGTERM stopped the run: selected cases without a result were not reached).

The summary is rebuilt from ``run.json``, the result files, the catalog and the selection, so that
``ocpp-conformance report`` can re-judge a finished run (e.g. with new waivers) without running it again.
It lists every case of the edition for the role: its verdict, or why it did not run.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence
from datetime import UTC, date, datetime
from importlib import metadata
from pathlib import Path
from typing import Any

from harness.catalog import Catalog, CaseEntry
from harness.config import SutConfig
from harness.evidence import clip
from harness.pics import Pics, explain
from harness.report.waivers import WaiverSet
from harness.results import RunOutcome, status_per_case, summarize
from harness.selection import Selection
from harness.trace import CS_TO_CSMS

EDITION = "OCPP 2.0.1 Edition 3"
RUN_FILE = "run.json"
SUMMARY_JSON = "summary.json"
SUMMARY_MD = "summary.md"
SESSION_TRACE = "traces/session.jsonl"
"""What the harness did with the SUT outside the cases (harness.restore), written by the plugin."""
NOT_RUN = "not run"
NOT_REACHED = "not reached: the run was interrupted (SIGINT or SIGTERM) before it"
IDENTITY_FIELDS = ("vendorName", "model", "firmwareVersion", "serialNumber")
IDENTITY_BYTES = 100
"""Bytes of each identity field shown (the schema allows 50; a station that sends more is cut, never copied whole)."""
ROLE_NAMES = {"cs": "Charging Station", "csms": "CSMS"}
COLUMNS = {"PASS": "PASS", "FAIL": "FAIL", "waived": "FAIL (waived)", "INCONCLUSIVE": "INCONCLUSIVE", "ERROR": "ERROR", "not_run": NOT_RUN}
"""summary.json count key → column title, in table order (shared by summary.md and the terminal)."""


class RunRecordError(ValueError):
    """A folder is not a finished run this harness can read (no or unreadable run.json)."""


# --- run.json -----------------------------------------------------------------------------------------

def utc_now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


def harness_version() -> str:
    return metadata.version("ocpp-conformance")


def security_profile(sut: SutConfig) -> tuple[int | None, str]:
    """The OCPP security profile the link uses, and the sentence saying how it was derived.

    From the SUT file: ``[tls]`` (the link is TLS; ``client_ca`` / ``client_certificate`` mean a client
    certificate) and ``[station] basic_auth_password`` (Basic auth). 0 = ws:// without Basic auth, 1 = Basic
    auth over ws://, 2 = TLS server certificate + Basic auth, 3 = TLS with a client certificate. TLS with
    neither Basic auth nor a client certificate is none of the OCPP profiles: None.
    """
    basic = bool(sut.basic_auth_password)
    tls = sut.tls
    if tls is None:
        if sut.role == "csms" and not sut.uses_reference and sut.csms_url.startswith("wss://"):
            return None, "the CSMS URL is wss:// but the SUT file has no [tls] table, so the harness cannot verify the server"
        if basic:
            return 1, "ws:// (no [tls] table in the SUT file) with [station] basic_auth_password set (Basic auth)"
        return 0, "ws:// (no [tls] table in the SUT file) and no [station] basic_auth_password (no Basic auth)"
    if sut.role == "cs":
        link = "the harness's CSMS listens with wss:// ([tls] server_certificate)"
        client = "TLS with a client certificate required ([tls] client_ca)"
    else:
        link = "the CSMS URL is wss://, its server certificate verified against [tls] ca_certificate"
        client = "TLS with a client certificate presented by the harness's station ([tls] client_certificate)"
    auth = "[station] basic_auth_password set (Basic auth)" if basic else "no [station] basic_auth_password"
    if tls.client_certificates:
        return 3, f"{client}; {link}; {auth}"
    if basic:
        return 2, f"TLS server certificate and Basic auth: {link}, {auth}"
    return None, (
        f"TLS without Basic auth and without a client certificate is not one of the OCPP security profiles "
        f"(2 needs Basic auth, 3 a client certificate): {link}, {auth}"
    )


def new_run_info(
    *,
    role: str,
    profiles: Sequence[str],
    sut: str,
    config: SutConfig,
    pics: Pics | None,
    waivers: WaiverSet | None,
    cases: Sequence[str],
    implemented: Sequence[str],
) -> dict[str, Any]:
    """run.json as written before pytest starts; `finished_at` stays null until :func:`finish_run_info`."""
    level, basis = security_profile(config)
    return {
        "harness_version": harness_version(),
        "edition": EDITION,
        "role": role,
        "profiles": list(profiles),
        "sut_source": sut if sut == "reference" else _absolute(sut),
        "csms_url": _csms_url(config) if role == "csms" else None,
        "security_profile": level,
        "security_profile_basis": basis,
        "pics_path": _absolute(pics.source) if pics else None,
        "pics_sha256": pics.sha256 if pics else None,
        "faults": list(config.faults),
        "waivers_path": _absolute(waivers.source) if waivers else None,
        "waivers_sha256": waivers.sha256 if waivers else None,
        "cases": list(cases),
        "implemented": sorted(implemented),
        "started_at": utc_now(),
        "finished_at": None,
    }


def _absolute(path: str) -> str:
    """Absolute, so that ``report`` finds the file again from any working directory."""
    return str(Path(path).resolve())


def _csms_url(config: SutConfig) -> str:
    return "reference CSMS (in-process)" if config.uses_reference else config.csms_url


def write_run_info(run_dir: Path, info: Mapping[str, Any]) -> None:
    run_dir.mkdir(parents=True, exist_ok=True)
    (run_dir / RUN_FILE).write_text(json.dumps(info, indent=2), encoding="utf-8")


def finish_run_info(run_dir: Path, info: Mapping[str, Any], interrupted: bool = False) -> dict[str, Any]:
    """Stamp the end of the run (and whether a signal cut it short) into run.json; return the completed record."""
    finished = {**info, "finished_at": utc_now(), "interrupted": interrupted}
    write_run_info(run_dir, finished)
    return finished


def read_run_info(run_dir: Path) -> dict[str, Any]:
    """The run.json of a run folder; anything else is not a run this harness recorded."""
    path = run_dir / RUN_FILE
    try:
        info = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError as error:
        raise RunRecordError(f"{run_dir} is not a run folder: it has no {RUN_FILE}") from error
    except (OSError, ValueError) as error:
        raise RunRecordError(f"cannot read {path}: {error}") from error
    missing = [key for key in ("role", "profiles", "pics_path", "waivers_path", "cases", "implemented") if key not in info]
    if missing:
        raise RunRecordError(f"{path} lacks {', '.join(missing)}")
    return info


# --- the SUT's identity ---------------------------------------------------------------------------------

def station_identity(run_dir: Path, case_ids: Sequence[str]) -> dict[str, Any] | None:
    """vendorName, model, firmwareVersion, serialNumber of the earliest BootNotificationRequest in the run's
    traces (only the traces of the cases that ran: a reused folder may hold older ones); None when no case
    saw the station boot."""
    boots = [
        (record["timestamp"], case_id, station)
        for case_id in case_ids
        for record in _trace_records(run_dir / "traces" / f"{case_id}.jsonl")
        if _is_boot_request(record) and isinstance(station := record["payload"].get("chargingStation", {}), Mapping)
    ]
    if not boots:
        return None
    _, case_id, station = min(boots, key=lambda boot: boot[0])
    return {**{key: _identity_field(station.get(key)) for key in IDENTITY_FIELDS}, "trace": f"traces/{case_id}.jsonl"}


def _identity_field(value: Any) -> str | None:
    return None if value is None else clip(str(value), IDENTITY_BYTES)


def _trace_records(path: Path) -> list[dict[str, Any]]:
    """The records of one trace; a missing or damaged trace yields what can be read (the verdict covers it)."""
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except OSError:
        return []
    records = []
    for line in lines:
        try:
            records.append(json.loads(line))
        except ValueError:
            continue
    return records


def _is_boot_request(record: Mapping[str, Any]) -> bool:
    return (
        record.get("direction") == CS_TO_CSMS
        and record.get("messageType") == "CALL"
        and record.get("action") == "BootNotification"
        and isinstance(record.get("payload"), dict)
    )


# --- summary.json -------------------------------------------------------------------------------------

def build(
    run_dir: Path,
    info: Mapping[str, Any],
    catalog: Catalog,
    per_profile: Mapping[str, Sequence[Selection]],
    outcome: RunOutcome,
    pics: Pics | None,
    waivers: WaiverSet | None,
    today: date,
) -> dict[str, Any]:
    """The whole summary: the run's header, the verdicts (with waivers judged on `today`), every case."""
    verdicts = summarize(per_profile, info["cases"], outcome, waivers.active(today) if waivers else {})
    verdicts["profiles"] = [{**row, "name": catalog.profiles[row["profile"]].name} for row in verdicts["profiles"]]
    return {
        **_header(run_dir, info),
        "waivers_path": _absolute(waivers.source) if waivers else None,
        "waivers_sha256": waivers.sha256 if waivers else None,
        "expired_waivers": [waiver.to_dict() for waiver in waivers.expired(today)] if waivers else [],
        "generated_at": utc_now(),
        **verdicts,
        "edition_cases": edition_cases(catalog, info["role"], per_profile, verdicts["cases"], pics, info["cases"]),
    }


def _header(run_dir: Path, info: Mapping[str, Any]) -> dict[str, Any]:
    role = info["role"]
    return {
        "edition": info.get("edition", EDITION),
        "harness_version": info.get("harness_version"),
        "role": role,
        "sut_source": info.get("sut_source"),
        "sut_identity": station_identity(run_dir, info["cases"]) if role == "cs" else None,
        "csms_url": info.get("csms_url"),
        "security_profile": info.get("security_profile"),
        "security_profile_basis": info.get("security_profile_basis"),
        "pics_path": info.get("pics_path"),
        "pics_sha256": info.get("pics_sha256"),
        "faults": info.get("faults", []),
        "started_at": info.get("started_at"),
        "finished_at": info.get("finished_at"),
    }


def edition_cases(
    catalog: Catalog,
    role: str,
    per_profile: Mapping[str, Sequence[Selection]],
    ran: Sequence[Mapping[str, Any]],
    pics: Pics | None,
    chosen: Sequence[str] = (),
) -> list[dict[str, Any]]:
    """Every case of the edition for the role, in catalog order: its reported verdict, or why it did not run
    (a `chosen` case without a result was not reached: the run was interrupted)."""
    by_id = {case["id"]: case for case in ran}
    statuses = status_per_case(per_profile)
    entries = []
    for case in catalog.for_role(role):
        selections = [s for selections in per_profile.values() for s in selections if s.case.id == case.id]
        if case.id in by_id:
            result, reason = _ran(by_id[case.id])
        else:
            result = NOT_RUN
            reason = NOT_REACHED if case.id in chosen else _not_run_reason(case, statuses[case.id], selections, pics)
        entries.append({"id": case.id, "title": case.title, "profiles": _flags(case), "result": result, "reason": reason})
    return entries


def _flags(case: CaseEntry) -> str:
    """"core:M, reservation:C": the Part 5 profiles listing the case (also the JUnit ``profiles`` property)."""
    return ", ".join(f"{key}:{cell.flag}" for key, cell in case.profiles.items())


def _ran(case: Mapping[str, Any]) -> tuple[str, str | None]:
    """The reported verdict and the sentence an auditor needs next to it."""
    waiver = case["waiver"]
    if waiver and waiver["state"] == "applied":
        ticket = f", {waiver['ticket']}" if waiver["ticket"] else ""
        return case["reported"], f"waived until {waiver['expires']}{ticket}: {waiver['reason']} (failure: {case['reason']})"
    if waiver and waiver["state"] == "stale":
        return case["reported"], stale_message(case["id"])
    return case["reported"], case["reason"]


def stale_message(case_id: str) -> str:
    return f"the waiver for {case_id} is stale: the case PASSes; remove the waiver"


def _not_run_reason(case: CaseEntry, status: str, selections: Sequence[Selection], pics: Pics | None) -> str:
    if status == "selected":
        return "left out with --cases"
    if status == "not_implemented":
        return "not implemented by this harness version"
    if status == "not_applicable":
        return _not_applicable(selections, pics)
    listed = f" (Part 5 lists it under {', '.join(case.profiles)})" if case.profiles else " (in no Part 5 profile)"
    return "not in a claimed profile" + listed


def _not_applicable(selections: Sequence[Selection], pics: Pics | None) -> str:
    """"not applicable: condition `C-56` is false (C-56 is not in the PICS (taken as false))", per condition."""
    conditions = dict.fromkeys(s.condition for s in selections if s.status == "not_applicable" and s.condition)
    parts = []
    for condition in conditions:
        if pics is None:
            parts.append(f"condition `{condition}` is unknown (no PICS given)")
        else:
            causes = explain(condition, pics).removeprefix(f"condition `{condition}` does not hold: ")
            parts.append(f"condition `{condition}` is false ({causes})")
    return "not applicable: " + "; ".join(parts)


def write(run_dir: Path, summary: Mapping[str, Any]) -> None:
    (run_dir / SUMMARY_JSON).write_text(json.dumps(summary, indent=2), encoding="utf-8")
    (run_dir / SUMMARY_MD).write_text(to_markdown(summary), encoding="utf-8")


# --- summary.md ---------------------------------------------------------------------------------------

def to_markdown(summary: Mapping[str, Any]) -> str:
    """The summary for a pull request: header, the per-profile counts, warnings, then every case."""
    lines = [f"# Conformance summary: {summary['edition']}", "", "| | |", "| --- | --- |"]
    lines += [f"| {name} | {_cell(value)} |" for name, value in _header_rows(summary)]
    lines += ["", "## Profiles", "", "| Profile | M | C | " + " | ".join(COLUMNS.values()) + " |"]
    lines.append("| --- " * (3 + len(COLUMNS)) + "|")
    for row in summary["profiles"]:
        counts = " | ".join(str(row[key]) for key in COLUMNS)
        lines.append(f"| {row['name']} | {row['m_selected']} | {row['c_selected']} | {counts} |")
    warnings = warning_lines(summary)
    if warnings:
        lines += ["", "## Warnings", ""] + [f"- {_cell(line)}" for line in warnings]
    lines += ["", "## Every case", "", "| Case | Title | Profiles | Result | Reason |", "| --- | --- | --- | --- | --- |"]
    for case in summary["edition_cases"]:
        cells = (case["id"], case["title"], case["profiles"] or "-", case["result"], case["reason"] or "")
        lines.append("| " + " | ".join(_cell(cell) for cell in cells) + " |")
    return "\n".join(lines) + "\n"


def _header_rows(summary: Mapping[str, Any]) -> list[tuple[str, Any]]:
    level = summary["security_profile"]
    rows: list[tuple[str, Any]] = [
        ("Edition", summary["edition"]),
        ("Role (SUT)", ROLE_NAMES[summary["role"]]),
        ("SUT", sut_line(summary)),
        ("SUT source", summary["sut_source"]),
        ("Security profile", f"{'unknown' if level is None else level} — {summary['security_profile_basis']}"),
        ("PICS", f"{summary['pics_path']} (sha256 `{summary['pics_sha256']}`)" if summary["pics_path"] else "none"),
        ("Waivers", f"{summary['waivers_path']} (sha256 `{summary['waivers_sha256']}`)" if summary["waivers_path"] else "none"),
        ("Harness", f"ocpp-conformance {summary['harness_version']}"),
        ("Run", f"{summary['started_at']} → {summary['finished_at'] or 'not finished'}"),
        ("Exit code", summary["exit_code"]),
        ("Session trace", f"`{SESSION_TRACE}`: the prelude, every restore and the frames between cases"),
    ]
    if summary["faults"]:
        rows.insert(4, ("Reference faults", ", ".join(summary["faults"])))
    return rows


def sut_line(summary: Mapping[str, Any]) -> str:
    """Who was tested: the station's boot identity, or the CSMS's URL."""
    if summary["role"] == "csms":
        return f"CSMS at {summary['csms_url']}"
    station = summary["sut_identity"]
    if station is None:
        return "unknown: no BootNotificationRequest in the run's traces"
    fields = ", ".join(f"{key} {station[key]}" for key in IDENTITY_FIELDS if station[key] is not None)
    return f"{fields} (from {station['trace']})"


def warning_lines(summary: Mapping[str, Any]) -> list[str]:
    """What must not go unnoticed: expired and stale waivers, errors outside the cases."""
    lines = [
        f"waiver for {waiver['id']} expired on {waiver['expires']} and is ignored ({waiver['reason']})"
        for waiver in summary["expired_waivers"]
    ]
    lines += [stale_message(case_id) for case_id in summary["stale_waivers"]]
    lines += [f"harness error: {error}" for error in summary["harness_errors"]]
    if summary.get("interrupted"):
        lines.append("the run was interrupted (SIGINT or SIGTERM): the cases it did not reach are not run")
    return lines


def _cell(value: Any) -> str:
    """One table cell: a pipe would end the cell and a newline the row."""
    return re.sub(r"\s*\n\s*", " ", str(value)).replace("|", "\\|")

