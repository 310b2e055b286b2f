"""Build edition3.json from the research CSV and the hand-written condition table.

Usage: python certification_profiles/build_catalog.py /path/to/testcases.csv

testcases.csv (one row per Part 6 Ed3 test case) gives ids, titles, use cases, requirements, Part 6 pages and
the M/C flag per profile; its bracketed condition hints lost Part 5's AND/OR/NOT structure, so conditions come
from conditions_ed3.toml instead (transcribed from the Part 5 PDF), followed by the errata listed there. The
script refuses to write a catalog in which a C flag lacks a condition or a condition has no C flag, so the
two sources cannot drift apart silently.
"""

from __future__ import annotations

import argparse
import csv
import json
import re
import sys
import tomllib
from collections import Counter
from pathlib import Path
from typing import Any

from harness.pics import PROFILE_KEYS, identifiers, parse

HERE = Path(__file__).resolve().parent

# testcases.csv profile names → catalog keys (names as in Part 5 §4 headings).
CSV_PROFILES = {
    "Core": "core",
    "Advanced Security": "advanced_security",
    "Local Authorization List Management": "local_auth_list",
    "Smart Charging": "smart_charging",
    "Advanced Device Management": "advanced_device_management",
    "Advanced User Interface": "advanced_user_interface",
    "Reservation": "reservation",
    "ISO 15118 Support": "iso15118",
}

PROFILE_ORDER = list(CSV_PROFILES.values())

# Misprints in Part 6 requirement fields that a pattern cannot repair (CSV text → requirement id).
REQUIREMENT_MISPRINTS = {"B089.FR.10": "B08.FR.10"}

_REQUIREMENT = re.compile(r"[A-Z]\d{2}\.FR\.\d+")
_USE_CASE = re.compile(r"\b[A-Z]\d{2}\b")
_CSV_FLAG = re.compile(r"^(?P<name>[A-Za-z0-9 ]+):(?P<flag>[MC])(?:\[(?P<hint>[^\]]*)\])?")

Entry = dict[str, Any]


def _requirements(raw: str) -> tuple[list[str], list[str]]:
    """Requirement ids from Part 6's free text, plus notes for every repair made on the way."""
    text = re.sub(r"\b([A-Z]\d{2})_FR_(\d+)", r"\1.FR.\2", raw)          # C12_FR_02 → C12.FR.02
    text = re.sub(r"\b([A-Z]) (\d{2}\.FR\.)", r"\1\2", text)             # "L 01.FR.23" → L01.FR.23
    text = re.sub(r"(\.FR\.\d+) (\d+)\b", r"\1\2", text)                 # "A00.FR.50 8" → A00.FR.508
    for wrong, right in REQUIREMENT_MISPRINTS.items():
        text = text.replace(wrong, right)
    found = list(dict.fromkeys(_REQUIREMENT.findall(text)))
    leftover = _REQUIREMENT.sub("", text)
    if raw.strip().lower() in ("", "n/a"):
        return [], []
    if not found:
        return [], [f"Part 6 gives no requirement ids, only {raw!r}"]
    if text != raw or re.search(r"[A-Za-z]", re.sub(r"\b(AND|OR|and)\b", "", leftover)):
        return found, [f"requirements normalised from Part 6 text {raw!r}"]
    if re.search(r"\bOR\b", raw):
        return found, [f"requirements are alternatives in Part 6: {raw!r}"]
    return found, []


def _use_cases(raw: str) -> tuple[list[str], list[str]]:
    """Use case ids; scenario numbers and AND/OR structure are kept only in a note."""
    found = list(dict.fromkeys(_USE_CASE.findall(raw)))
    plain = re.fullmatch(r"[A-Z]\d{2}(\s*,\s*[A-Z]\d{2})*", raw.strip())
    return found, [] if plain else [f"use cases as written in Part 6: {raw!r}"]


def _page(source: str) -> int | None:
    """Part 6 page from the CSV `source` column; None for rows that have no Part 6 Ed3 table."""
    match = re.match(r"OCA OCPP 2\.0\.1 Ed3 Part 6 \([\d-]+\) p\.(\d+)", source)
    return int(match.group(1)) if match else None


def _csv_flags(profile_cell: str) -> tuple[dict[str, str], dict[str, set[str]]]:
    """Flags per profile and the CSV's (lossy) condition hint ids, used only for the cross-check note."""
    flags: dict[str, str] = {}
    hints: dict[str, set[str]] = {}
    for part in profile_cell.split(";"):
        match = _CSV_FLAG.match(part.strip())
        if match is None or match.group("name") not in CSV_PROFILES:
            continue  # "not listed in Part 5 Ed3", TC_H_05's flag-less row
        key = CSV_PROFILES[match.group("name")]
        flags[key] = match.group("flag")
        hint = match.group("hint") or ""
        hints[key] = {item.strip().removeprefix("NOT ").strip() for item in hint.split(",") if item.strip()}
    return flags, hints


def _entry(row: dict[str, str]) -> Entry:
    """One catalog object from one CSV row (conditions are added later)."""
    requirements, requirement_notes = _requirements(row["requirements"])
    use_cases, use_case_notes = _use_cases(row["use_case"])
    flags, _ = _csv_flags(row["profile"])
    notes = use_case_notes + requirement_notes
    title = row["title"]
    if row["title_inferred"] == "yes":
        title = re.sub(r"\s*\(inferred .*\)$", "", title)
        notes.append("title inferred from the Part 5 group and scenario (no Part 6 table)")
    elif row["title_inferred"] != "no":
        notes.append(f"title: {row['title_inferred']}")
    if row["notes"]:
        notes.append(row["notes"])
    if "no M/C flag" in row["profile"]:
        notes.append("Part 5 lists this row under Reservation without an M/C flag: not part of certification")
    return {
        "id": row["id"],
        "role": row["role"].lower(),
        "block": row["functional_block"],
        "use_cases": use_cases,
        "requirements": requirements,
        "title": title,
        "page": _page(row["source"]),
        "profiles": {key: {"flag": flags[key], "condition": None} for key in PROFILE_ORDER if key in flags},
        "notes": notes,
    }


def _attach_conditions(entries: dict[str, Entry], rows: dict[str, dict[str, str]], table: dict) -> None:
    """Put the Part 5 Ed3 transcription on every C cell and check both sources agree on which cells are C."""
    for profile, by_role in table.items():
        if profile == "erratum":
            continue
        for role, conditions in by_role.items():
            for base_id, condition in conditions.items():
                case_id = f"{base_id}_{role.upper()}"
                cell = entries[case_id]["profiles"].get(profile)
                if cell is None or cell["flag"] != "C":
                    sys.exit(f"{case_id}: condition given for {profile}, but testcases.csv has no C flag there")
                parse(condition)
                cell["condition"] = condition
                _note_hint_difference(entries[case_id], rows[case_id], profile, condition)
    missing = [f"{e['id']} ({p})" for e in entries.values() for p, c in e["profiles"].items()
               if c["flag"] == "C" and c["condition"] is None]
    if missing:
        sys.exit(f"C flags without a transcribed condition: {', '.join(missing)}")


def _note_hint_difference(entry: Entry, row: dict[str, str], profile: str, condition: str) -> None:
    """Record where the CSV hint disagrees with the PDF, so every CSV fix is visible in the data."""
    _, hints = _csv_flags(row["profile"])
    hint = hints.get(profile, set())
    transcribed = set(identifiers(condition))
    if hint != transcribed:
        entry["notes"].append(
            f"{profile}: testcases.csv hint [{', '.join(sorted(hint))}] corrected from Part 5 "
            f"(ids {', '.join(sorted(transcribed))})")


def _apply_erratum(entries: dict[str, Entry], erratum: dict) -> None:
    """Apply one [[erratum]] entry and note what it changed on each case it names."""
    if "condition" in erratum:
        parse(erratum["condition"])
    for case_id in erratum.get("cases", [erratum.get("case")]):
        entry = entries[case_id]
        change = _change(entry, erratum["profile"], erratum)
        entry["notes"].append(f"{erratum['source']} — {change}" if change else erratum["source"])


def _change(entry: Entry, profile: str, erratum: dict) -> str:
    """Mutate one profile cell per the erratum; return a short description of the change (empty if none)."""
    cells = entry["profiles"]
    before = dict(cells[profile]) if profile in cells else None
    if erratum.get("remove"):
        cells.pop(profile, None)
        return f"removed from {profile}"
    if "flag" not in erratum and "condition" not in erratum:
        return ""
    flag = erratum.get("flag", before["flag"] if before else "C")
    condition = erratum.get("condition") if flag == "C" else None
    if condition is None and flag == "C":
        condition = before["condition"] if before else None
    cells[profile] = {"flag": flag, "condition": condition}
    entry["profiles"] = {key: cells[key] for key in PROFILE_ORDER if key in cells}
    if before is None:
        return f"added to {profile} as {flag}" + (f" `{condition}`" if condition else "")
    if before == cells[profile]:
        return "already reflected in testcases.csv"
    changes = [f"{before['flag']} → {flag}"] if before["flag"] != flag else []
    if before["condition"] != condition:
        changes.append(f"condition {_shown(before['condition'])} → {_shown(condition)}")
    return f"{profile}: {', '.join(changes)}"


def _shown(condition: str | None) -> str:
    return f"`{condition}`" if condition else "none"


def build(csv_path: Path) -> list[Entry]:
    """The whole catalog, in testcases.csv order."""
    with csv_path.open(newline="", encoding="utf-8") as handle:
        rows = {row["id"]: row for row in csv.DictReader(handle)}
    entries = {case_id: _entry(row) for case_id, row in rows.items()}
    table = tomllib.loads((HERE / "conditions_ed3.toml").read_text(encoding="utf-8"))
    unknown = set(table) - PROFILE_KEYS - {"erratum"}
    if unknown:
        sys.exit(f"conditions_ed3.toml: unknown profile table(s) {sorted(unknown)}")
    _attach_conditions(entries, rows, table)
    for erratum in table.get("erratum", []):
        _apply_erratum(entries, erratum)
    return list(entries.values())


def counts(catalog: list[Entry]) -> Counter[tuple[str, str, str]]:
    """(profile, role, flag) → number of cases; printed so a rebuild shows its effect at a glance."""
    return Counter((p, e["role"], c["flag"]) for e in catalog for p, c in e["profiles"].items())


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("csv", type=Path, help="testcases.csv from the spec research folder")
    parser.add_argument("--out", type=Path, default=HERE / "edition3.json")
    args = parser.parse_args(argv)
    catalog = build(args.csv)
    args.out.write_text(json.dumps(catalog, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")
    tally = counts(catalog)
    for profile in sorted({p for p, _, _ in tally}):
        line = ", ".join(f"{role} {tally[profile, role, 'M']} M / {tally[profile, role, 'C']} C"
                         for role in ("cs", "csms"))
        print(f"{profile:28} {line}")
    print(f"{len(catalog)} cases written to {args.out}")


if __name__ == "__main__":
    main()
