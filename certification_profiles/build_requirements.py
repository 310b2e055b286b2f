"""Build requirements_errata.csv: the Part 2 requirement texts that the errata 2025-09 add, change or delete.

Run by hand from the repository root (deterministic; the output is committed beside the unchanged copy of
requirements.csv so that reviewers can diff it):

    .venv/bin/python certification_profiles/build_requirements.py [ERRATA_MD]

Only the Part 2 chapter of the errata is read. Its requirement tables come in three shapes: rows labelled
"Old text"/"New text" (or Old/New/Changed/Added/Delete), and unlabelled rows listing new requirements. The
"Old" rows are dropped, "Delete" rows and "<Requirement removed>" texts delete the id, every other row sets the
id's text. A section titled "Removed requirement …" deletes the ids it lists. The markdown reads block O's ids
as "001.FR.20"; they are repaired to "O01.FR.20".
"""

from __future__ import annotations

import csv
import html
import re
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
DEFAULT_SOURCE = Path(__file__).resolve().parents[2] / "shared/spec/ocpp-2.0.1/OCPP-2.0.1_edition3_errata_2025-09.md"
OUTPUT = HERE / "requirements_errata.csv"
FIELDS = ("id", "action", "precondition", "requirement", "note", "section")

REQUIREMENT_ID = re.compile(r"^(?:[A-P]|0)\d{2}\.FR\.\d{2,3}$")
# The errata list C16.FR.07 twice; the second one (whose precondition is C16.FR.07) is C16.FR.08.
DUPLICATE_SLIPS = {("C16.FR.07", "C16.FR.07"): "C16.FR.08"}


def cells_of(row: str) -> list[str]:
    cells = re.findall(r"<td[^>]*>(.*?)</td>", row, re.DOTALL)
    return [re.sub(r"\s+", " ", html.unescape(re.sub(r"<[^>]+>", " ", cell))).strip() for cell in cells]


def part2(markdown: str) -> str:
    """The Part 2 chapter: from '# 2. Part 2' to '# 3. Part 3'."""
    start = markdown.index("\n# 2. Part 2")
    return markdown[start:markdown.index("\n# 3. Part 3", start)]


def sections(chapter: str) -> list[tuple[str, str]]:
    """(heading, body) for each '# 2.N.' section."""
    pieces = re.split(r"\n# (2\.\d+\.[^\n]*)", chapter)
    return list(zip(pieces[1::2], pieces[2::2]))


def changes(markdown: str) -> list[dict[str, str]]:
    """One row per requirement the errata set or delete, in document order."""
    found: list[dict[str, str]] = []
    for heading, body in sections(part2(markdown)):
        removes_all = "removed requirement" in heading.lower()
        for row in re.findall(r"<tr>(.*?)</tr>", body, re.DOTALL):
            change = change_of(cells_of(row), heading, removes_all)
            if change is not None:
                found.append(change)
    return found


def change_of(cells: list[str], heading: str, removes_all: bool) -> dict[str, str] | None:
    """The change a table row makes, or None for headers and Old rows."""
    label = ""
    if cells and not REQUIREMENT_ID.match(cells[0].split(" ")[0]):
        label, cells = cells[0].lower(), cells[1:]
    if not cells or not REQUIREMENT_ID.match(cells[0].split(" ")[0]) or label.startswith("old"):
        return None
    requirement_id = repair(cells[0].split(" ")[0])
    precondition, text, note = (cells[1:] + ["", "", ""])[:3]
    requirement_id = DUPLICATE_SLIPS.get((requirement_id, precondition), requirement_id)
    deleted = removes_all or label.startswith("delete") or "<Requirement removed>" in text
    return {"id": requirement_id, "action": "delete" if deleted else "set", "precondition": precondition,
            "requirement": text, "note": note, "section": heading.strip()}


def repair(requirement_id: str) -> str:
    """Block O's ids read with a zero ('001.FR.20') are O01.FR.20."""
    return "O" + requirement_id[1:] if requirement_id.startswith("0") else requirement_id


def main(argv: list[str]) -> None:
    source = Path(argv[1]) if len(argv) > 1 else DEFAULT_SOURCE
    rows = changes(source.read_text(encoding="utf-8"))
    with OUTPUT.open("w", encoding="utf-8", newline="") as handle:
        writer = csv.DictWriter(handle, FIELDS, lineterminator="\n")
        writer.writeheader()
        writer.writerows(rows)
    print(f"{len(rows)} errata rows: {sum(row['action'] == 'delete' for row in rows)} deletions")


if __name__ == "__main__":
    main(sys.argv)
