"""Build part6.json: every Part 6 test case table, reusable state and memory state as data.

Run by hand from the repository root (deterministic; the output is committed so reviewers can diff it):

    .venv/bin/python certification_profiles/build_part6.py [PART6_MD]

The input is the markdown conversion of Part 6 (one HTML <table> per case). The conversion has quirks: words
glued together ("sends aBootNotificationRequest"), rowspans that do not match the rows, page-break header rows
repeated inside a table ("Test case name" / "Charging Station | CSMS"), "Before(Preparations)" without a space.
The parser therefore reads each row by its label cell rather than by the rowspan geometry. Where the
conversion is simply wrong, part6_corrections.toml (checked against the PDF text) overrides the extraction,
and it names the Part 2 requirement each validation of the implemented cases checks.
"""

from __future__ import annotations

import html
import json
import re
import sys
import tomllib
from dataclasses import dataclass, field
from html.parser import HTMLParser
from pathlib import Path

HERE = Path(__file__).resolve().parent
DEFAULT_SOURCE = Path(__file__).resolve().parents[2] / "shared/spec/ocpp-2.0.1/OCPP-2.0.1_edition3_part6-testcases.md"
OUTPUT = HERE / "part6.json"
CORRECTIONS = HERE / "part6_corrections.toml"

TABLE_TITLE = re.compile(
    r"^(?:Table (?P<number>\d+)\. )?(?:Test Case Id: (?P<case>TC_\w+)|(?P<kind>Reusable State|Memory State): (?P<name>\w+))"
)
REQUIREMENT_ID = re.compile(r"\b[A-P]\d{2}\.FR\.\d{2,3}\b")
CASE_ID = re.compile(r"\bTC_[A-P]_\d{2,3}_(?:CSMS|CS)\b")
STEP_START = re.compile(r"^(\d{1,2})\.?\s+(?=\S)")
STEP_NUMBERS = r"(\d{1,2}(?:\s*[/,&]\s*\d{1,2}|\s+and\s+\d{1,2})*)"
VALIDATION_BULLET = re.compile(rf"\*\s*Step\s*{STEP_NUMBERS}\s*:?|\bStep\s*{STEP_NUMBERS}\s*:", re.IGNORECASE)
MANUAL = re.compile(r"^Manual Action\s*:\s*", re.IGNORECASE)
NONE_TEXT = re.compile(r"^-?\s*n/?a\.?$", re.IGNORECASE)
ROLE_BY_SUT = {"Charging Station": "cs", "CSMS": "csms"}
COLUMN_ACTORS = ("cs", "csms")

# Row labels of a case table, by the section they open (matched without spaces, case-insensitively).
LABELS = {
    "testcasename": "title",
    "testcaseid": "id",
    "usecaseid(s)": "use_cases",
    "requirement(s)": "requirements",
    "systemundertest": "sut",
    "description": "description",
    "purpose": "purpose",
    "prerequisite(s)": "prerequisites",
    "state": "state",
    "toolvalidations": "validations",
    "postcondition": "post_condition",
}


@dataclass
class Cell:
    text: str
    colspan: int


class TableParser(HTMLParser):
    """Collects the rows of one <table> as lists of cells (text with its line breaks kept)."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.rows: list[list[Cell]] = []
        self._cell: list[str] | None = None
        self._colspan = 1

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "tr":
            self.rows.append([])
        elif tag in ("td", "th"):
            self._cell = []
            self._colspan = int(dict(attrs).get("colspan") or 1)
        elif tag == "br" and self._cell is not None:
            self._cell.append("\n")

    def handle_endtag(self, tag: str) -> None:
        if tag in ("td", "th") and self._cell is not None:
            self.rows[-1].append(Cell("".join(self._cell), self._colspan))
            self._cell = None

    def handle_data(self, data: str) -> None:
        if self._cell is not None:
            self._cell.append(data)


def squash(text: str) -> str:
    """Whitespace normalised to single spaces (entities are already decoded by the parser)."""
    return re.sub(r"\s+", " ", html.unescape(text)).strip()


def label_key(text: str) -> str:
    return re.sub(r"\s+", "", text).lower()


def section_of(label: str) -> str | None:
    """The section a label cell opens: a LABELS entry, or before/main (whose labels carry suffixes)."""
    key = label_key(label)
    if key in LABELS:
        return LABELS[key]
    if key.startswith("before"):
        return "before"
    if key.startswith("main"):
        return "main"
    return None


def main_part(label: str) -> str:
    """The part name of a Main row label: "Main A(Scenario)" → "A", "Main (Part 2)" → "Part 2", else ""."""
    inner = re.sub(r"\((?:Test )?scenario\)", "", label, flags=re.IGNORECASE)
    inner = re.sub(r"^\s*Main\s*", "", inner).strip()
    return inner.strip("() ")


def lines_of(text: str) -> list[str]:
    """Non-empty normalised lines of a block; an 'N/a' block has none."""
    lines = [squash(line) for line in html.unescape(text).splitlines()]
    lines = [line for line in lines if line]
    return [] if len(lines) == 1 and NONE_TEXT.match(lines[0]) else lines


@dataclass
class RawTable:
    """One table's cells grouped by section, in order."""

    fields: dict[str, str] = field(default_factory=dict)
    before: dict[str, str] = field(default_factory=dict)
    main_rows: list[tuple[str, list[Cell]]] = field(default_factory=list)
    validation_blocks: list[tuple[str, str]] = field(default_factory=list)
    post_text: str | None = None


def group(rows: list[list[Cell]]) -> RawTable:
    """Walk the rows, keeping track of the section; page-break repeats and header rows are skipped."""
    table = RawTable()
    section: str | None = None
    part = ""
    for cells in rows:
        if not cells or all(not squash(cell.text) for cell in cells):
            continue
        opened = section_of(cells[0].text) if len(cells) > 1 else None
        if opened == "title" and "title" in table.fields:
            continue
        if opened is not None:
            section = opened
            if section == "main":
                part = main_part(cells[0].text)
            cells = cells[1:]
        elif not squash(cells[0].text) and len(cells) == 3:
            cells = cells[1:]
        while cells and not squash(cells[-1].text):
            cells = cells[:-1]
        trailing = section_of(cells[-1].text) if len(cells) == 3 else None
        if trailing is not None:
            cells = cells[:-1]
        if [squash(cell.text) for cell in cells] != ["Charging Station", "CSMS"]:
            add_row(table, section, part, cells)
        section = trailing or section
    return table


def add_row(table: RawTable, section: str | None, part: str, cells: list[Cell]) -> None:
    """File one row's content cells under its section."""
    text = "\n".join(cell.text for cell in cells)
    if section == "before":
        match = re.match(r"\s*(Configuration State|Memory State|Reusable State\(s\))\s*:?(.*)", text, re.DOTALL)
        if match:
            table.before[match.group(1)] = match.group(2)
    elif section == "main":
        table.main_rows.append((part, cells))
    elif section == "validations":
        match = re.match(r"\s*Post scenario validations\s*:?(.*)", text, re.DOTALL | re.IGNORECASE)
        if match:
            table.post_text = match.group(1)
        else:
            table.validation_blocks.append((part, text))
    elif section is not None:
        table.fields.setdefault(section, text)


def steps_of(table: RawTable) -> tuple[list[dict], list[str]]:
    """Numbered steps with their actor (by column; a full-width row is 'both', a manual action 'manual')."""
    steps: list[dict] = []
    manual: list[str] = []
    for _part, cells in table.main_rows:
        full_width = len(cells) == 1
        for column, cell in enumerate(cells):
            text = squash(cell.text)
            if not text:
                continue
            number_match = STEP_START.match(text)
            body = text[number_match.end():] if number_match else text
            is_manual = MANUAL.match(body) is not None
            if is_manual:
                manual.append(MANUAL.sub("", body))
            if number_match is None:
                if not is_manual:
                    attach_note(steps, text)
                continue
            actor = "manual" if is_manual else "both" if full_width else COLUMN_ACTORS[column]
            steps.append({"number": number_match.group(1), "actor": actor, "text": body})
    return steps, manual


def attach_note(steps: list[dict], text: str) -> None:
    """An unnumbered row (a note between steps) belongs to the step before it."""
    if steps:
        steps[-1]["text"] = f"{steps[-1]['text']} {text}"
    else:
        steps.append({"number": "", "actor": "both", "text": text})


def validations_of(table: RawTable) -> list[dict]:
    """One validation per '* Step N:' bullet; ids get the Main part's name only when step numbers repeat.

    An empty bullet directly followed by one for the same step is the conversion doubling it and is dropped;
    a step with two real bullets (two checks) gets "step 1", "step 1 (2)".
    """
    found: list[tuple[str, str, str]] = []
    for part, text in table.validation_blocks:
        flat = squash(text)
        if NONE_TEXT.match(flat):
            continue
        bullets = list(VALIDATION_BULLET.finditer(flat))
        for bullet, following in zip(bullets, [*bullets[1:], None]):
            text = flat[bullet.end():following.start() if following else len(flat)].strip()
            found.append((part, bullet.group(1) or bullet.group(2), text))
    found = [item for item, following in zip(found, [*found[1:], None])
             if item[2] or following is None or following[1] != item[1]]
    numbers = [number for _part, number, _text in found]
    prefixed = len(set(numbers)) != len(numbers)
    validations: list[dict] = []
    for part, number, text in found:
        base = f"{part} step {number}" if prefixed and part else f"step {number}"
        repeat = sum(1 for validation in validations if validation["id"].split(" (")[0] == base)
        validations.append({"id": f"{base} ({repeat + 1})" if repeat else base, "step": number, "text": text,
                            "requirement": "", "note": ""})
    return validations


def post_validations_of(text: str | None) -> list[dict]:
    """One post validation per '- ' item; a block that is not a list is one item; N/a gives none."""
    if text is None:
        return []
    flat = squash(text)
    if not flat or NONE_TEXT.match(flat):
        return []
    if flat.startswith("-"):
        items = [item.strip() for item in re.split(r"(?:^|(?<=[.;:]) ?|(?<= ))-\s*(?=[A-Z])", flat) if item.strip()]
    else:
        items = [flat]
    items = [item for item in items if not NONE_TEXT.match(item)]
    return [{"id": f"post {index}", "text": item, "requirement": "", "note": ""}
            for index, item in enumerate(items, start=1)]


def before_lines(table: RawTable, key: str) -> list[str]:
    return lines_of(table.before.get(key, ""))


def case_record(case_id: str, table: RawTable) -> dict:
    """The JSON record of a test case table."""
    steps, manual = steps_of(table)
    prerequisites = squash(table.fields.get("prerequisites", ""))
    return {
        "id": case_id,
        "title": squash(table.fields.get("title", "")),
        "role": ROLE_BY_SUT[squash(table.fields["sut"])],
        "use_cases": squash(table.fields.get("use_cases", "")),
        "requirements": sorted(set(REQUIREMENT_ID.findall(table.fields.get("requirements", ""))), key=req_order),
        "prerequisites": {"text": "" if NONE_TEXT.match(prerequisites) else prerequisites,
                          "cases": list(dict.fromkeys(CASE_ID.findall(prerequisites)))},
        "before": {"configuration": before_lines(table, "Configuration State"),
                   "memory": before_lines(table, "Memory State"),
                   "reusable_states": before_lines(table, "Reusable State(s)")},
        "steps": steps,
        "manual_actions": manual,
        "validations": validations_of(table),
        "post_validations": post_validations_of(table.post_text),
    }


def state_record(name: str, table: RawTable) -> dict:
    """A reusable or memory state table in the same shape as a case (its id is its name)."""
    record = case_record(name, table)
    record["title"] = name
    record["description"] = squash(table.fields.get("description", ""))
    record["post_condition"] = squash(table.fields.get("post_condition", ""))
    return record


def req_order(requirement: str) -> tuple[str, int]:
    block, _fr, number = requirement.split(".")
    return block, int(number)


def pdf_titles(pdf_text: str) -> dict[str, str]:
    """Case id by table number as the PDF text prints it: the markdown misreads some ids (TC_0_01, TC_L_01 for I)."""
    return {
        match.group("number"): match.group("case")
        for match in map(TABLE_TITLE.match, pdf_text.splitlines())
        if match and match.group("number") and match.group("case")
    }


TABLE_HTML = re.compile(r"<table>.*?</table>", re.DOTALL)


def tables(markdown: str, titles: dict[str, str]) -> list[tuple[str | None, str | None, str]]:
    """(case id or None, state kind or None, table html) for every titled case/state table, in document order.

    A table that a page break split continues in an untitled table that starts with the repeated "Test case
    name" row; its rows are joined to the titled one. A state's name is read from its table; a case id comes
    from the PDF's title of the same table number when there is one, else from the markdown's title line
    (three tables have one without a table number).
    """
    found: list[list] = []
    pending: re.Match[str] | None = None
    position = 0
    for table in TABLE_HTML.finditer(markdown):
        for line in markdown[position:table.start()].splitlines():
            pending = TABLE_TITLE.match(line.strip()) or pending
        position = table.end()
        if pending is not None:
            case_id = pending.group("case") and titles.get(pending.group("number") or "", pending.group("case"))
            found.append([case_id, pending.group("kind"), table.group(0)])
            pending = None
        elif found and re.match(r"<table><tr><td>\s*Test case name", table.group(0)):
            found[-1][2] += table.group(0)
    return [(case_id, kind, source) for case_id, kind, source in found]


def parse_table(source: str) -> RawTable:
    parser = TableParser()
    parser.feed(source)
    parser.close()
    return group(parser.rows)


def extract(markdown: str, titles: dict[str, str]) -> dict:
    """All cases (by id) and all reusable/memory states (by role, then name)."""
    result: dict = {"cases": {}, "reusable_states": {"cs": {}, "csms": {}}, "memory_states": {"cs": {}, "csms": {}}}
    for case_id, kind, source in tables(markdown, titles):
        table = parse_table(source)
        if case_id is not None:
            if case_id in result["cases"]:
                raise SystemExit(f"duplicate case table {case_id}")
            result["cases"][case_id] = case_record(case_id, table)
        else:
            group_name = "reusable_states" if kind == "Reusable State" else "memory_states"
            record = state_record(squash(table.fields["state"]), table)
            result[group_name][record["role"]][record["id"]] = record
    return result


def apply_corrections(data: dict, corrections: dict) -> None:
    """Overlay part6_corrections.toml: the misreadings everywhere, then each table's own patches."""
    misreadings = [(re.compile(pattern), replacement)
                   for pattern, replacement in corrections.pop("misreadings", {}).items()]
    for group_name in ("cases", "reusable_states", "memory_states"):
        data[group_name] = restore(data[group_name], misreadings)
    for key, patch in corrections.items():
        record = locate(data, key)
        for name, value in patch.items():
            if name in ("validations", "post_validations"):
                patch_validations(key, record[name], value)
            elif name == "steps" and isinstance(value, dict):
                patch_steps(key, record["steps"], value)
            elif name not in record:
                raise SystemExit(f"corrections: {key} has no field {name!r}")
            else:
                record[name] = value


def restore(value: object, misreadings: list[tuple[re.Pattern[str], str]]) -> object:
    """Every string inside `value` with the misreadings replaced (dict keys are ids and stay as they are)."""
    if isinstance(value, str):
        for pattern, replacement in misreadings:
            value = pattern.sub(replacement, value)
        return value
    if isinstance(value, dict):
        return {key: restore(item, misreadings) for key, item in value.items()}
    if isinstance(value, list):
        return [restore(item, misreadings) for item in value]
    return value


def patch_steps(key: str, steps: list[dict], texts: dict[str, str]) -> None:
    """Replace the text of the numbered steps (numbers are unique within a case)."""
    by_number = {step["number"]: step for step in steps}
    for number, text in texts.items():
        if number not in by_number:
            raise SystemExit(f"corrections: {key} has no step {number}")
        by_number[number]["text"] = text


def locate(data: dict, key: str) -> dict:
    """A record by corrections key: a case id, or 'reusable_states.cs.Booted' / 'memory_states.cs.X'."""
    if key.startswith("TC_"):
        if key not in data["cases"]:
            raise SystemExit(f"corrections: unknown case {key}")
        return data["cases"][key]
    kind, role, name = key.split(".")
    try:
        return data[kind][role][name]
    except KeyError:
        raise SystemExit(f"corrections: unknown state {key}") from None


def patch_validations(key: str, validations: list[dict], patches: dict) -> None:
    """Each patch names a validation id: overwrite its fields, or add it when `add = true`."""
    by_id = {validation["id"]: validation for validation in validations}
    for validation_id, patch in patches.items():
        patch = dict(patch)
        if patch.pop("add", False):
            validations.append({"id": validation_id, **patch})
            continue
        if validation_id not in by_id:
            raise SystemExit(f"corrections: {key} has no validation {validation_id!r}")
        by_id[validation_id].update(patch)


def main(argv: list[str]) -> None:
    source = Path(argv[1]) if len(argv) > 1 else DEFAULT_SOURCE
    data = extract(source.read_text(encoding="utf-8"), pdf_titles(source.with_suffix(".txt").read_text(encoding="utf-8")))
    if CORRECTIONS.exists():
        apply_corrections(data, tomllib.loads(CORRECTIONS.read_text(encoding="utf-8")))
    OUTPUT.write_text(json.dumps(data, indent=1, sort_keys=True, ensure_ascii=False) + "\n", encoding="utf-8")
    roles = [case["role"] for case in data["cases"].values()]
    validations = sum(len(case["validations"]) for case in data["cases"].values())
    print(f"{roles.count('cs')} CS cases, {roles.count('csms')} CSMS cases, {validations} tool validations")
    for kind in ("reusable_states", "memory_states"):
        print(kind, {role: len(names) for role, names in data[kind].items()})


if __name__ == "__main__":
    main(sys.argv)
