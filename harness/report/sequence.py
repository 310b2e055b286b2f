"""A case's trace as a self-contained SVG sequence diagram, for auditors.

``render_svg(records)`` takes the records of one case's JSONL trace (see ``harness.trace``) and draws them
with two lifelines, the Charging Station on the left and the CSMS on the right, whichever side is under test.
Time runs down the page: each frame is an arrow at a height proportional to its time offset from the previous
record, with a minimum gap so that labels never overlap; idle gaps longer than a few seconds are compressed
into a "… 12.3 s …" break. Every frame is labelled with its time, message type and action (or error code) and
a short payload summary; the full raw frame is its ``<title>``, shown as a tooltip. Events (manual actions,
connections closed or opened, clean-up, the verdict) are full-width note bands. Frames the harness found at
fault (``problems`` or schema ``violations``) and the frame a FAIL verdict quotes are drawn in red, with class
``violation`` / ``offending`` on their group. The Part 6 step is a small grey label at the left margin when
it changes.

The SVG is drawn by this module alone: no script, no external font, stylesheet or link; the only URL in the
document is the SVG namespace. Text from the trace is XML-escaped, and characters XML cannot carry are
replaced. The output is a pure function of the input (no random ids, no clock).

The diagram is bounded whatever the SUT sent: every label, line and tooltip shows at most a fixed number of
characters (a tooltip cut says how many bytes more and the sha256 of the whole, see :mod:`harness.evidence`),
only the text shown is wrapped, and once DIAGRAM_BUDGET characters are drawn the remaining records are counted in
one last band instead of drawn. The time taken is linear in the size of the records.
"""

from __future__ import annotations

import datetime as dt
import json
import re
import textwrap
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from harness.evidence import DIAGRAM_BUDGET, clip, preview, whole_sha256

__all__ = ["render_svg"]

SVG_NS = "http://www.w3.org/2000/svg"

# Geometry (px). Fixed width, height computed from the records.
WIDTH = 1000
MARGIN = 10
CS_X = 300
CSMS_X = 870
MID_X = (CS_X + CSMS_X) // 2
HEAD_W = 200
HEAD_TOP = 62
HEAD_H = 30
BODY_TOP = HEAD_TOP + HEAD_H + 20

PX_PER_SECOND = 40.0  # time scale while records follow each other closely
IDLE_SECONDS = 3.0  # longer gaps are compressed into a break
BREAK_H = 24
GAP = 4  # minimum space between two blocks

FRAME_LABEL_DY = 12  # label baseline below the block top
FRAME_ARROW_DY = 18  # arrow below the block top
FRAME_LINE_H = 13  # each payload / problem line under the arrow
FRAME_BASE_H = FRAME_ARROW_DY + 18
ARROW_HEAD = 8

BAND_LINE_H = 14
STEP_LINE_H = 12

# Monospace character budgets (≈0.6 em per character).
LABEL_CHARS = 84  # 12 px, between the lifelines
PAYLOAD_CHARS = 80  # 11 px payload summary
DETAIL_CHARS = 88  # 11 px problem lines
BAND_CHARS = 142  # 11 px, full width
STEP_CHARS = 44  # 10 px, left margin
STEP_MAX_LINES = 3
MAX_DETAIL_LINES = 4
TOOLTIP_BYTES = 1024  # of a frame's raw text, or of an event's fields, in its tooltip

MONO = "DejaVu Sans Mono, Menlo, Consolas, Liberation Mono, monospace"
SANS = "DejaVu Sans, Helvetica, Arial, sans-serif"

RED = "#c62828"
INK = "#212121"
GREY = "#757575"
MESSAGE_COLOURS = {
    "CALL": "#1d3557",
    "CALLRESULT": "#2a6f4e",
    "CALLERROR": "#b5651d",
}
UNPARSEABLE_COLOUR = "#616161"

VERDICT_COLOURS = {  # fill, stroke, text
    "PASS": ("#e6f4ea", "#2e7d32", "#1b5e20"),
    "FAIL": ("#fdecea", RED, "#b71c1c"),
    "INCONCLUSIVE": ("#fff8e1", "#f9a825", "#7a5d00"),
    "ERROR": ("#f3e5f5", "#6a1b9a", "#4a148c"),
}
NEUTRAL_BAND = ("#f5f5f5", "#bdbdbd", "#424242")
EVENT_COLOURS = {
    "manual action": ("#fffde7", "#d4b106", "#5d4a00"),
    "connection closed": ("#eceff1", "#78909c", "#37474f"),
    "harness closes the connection": ("#eceff1", "#78909c", "#37474f"),
    "connection opened": ("#e3f2fd", "#1e88e5", "#0d47a1"),
    "clean-up failed": ("#fff3e0", "#e65100", "#bf360c"),
    "harness error": ("#fff3e0", "#e65100", "#bf360c"),
}

_INVALID_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]")
_SPACES = re.compile(r"\s+")
_ESCAPES = str.maketrans({"&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;"})


def _esc(value: Any) -> str:
    """XML-escape for text and attribute values; characters XML 1.0 cannot carry become U+FFFD."""
    text = value if isinstance(value, str) else str(value)
    return _INVALID_XML.sub("\ufffd", text).translate(_ESCAPES)


def _one_line(text: str) -> str:
    return _SPACES.sub(" ", text).strip()


def _head(text: str, chars: int) -> tuple[str, bool]:
    """The start of the text that can fill ``chars`` characters once its whitespace is collapsed, and whether
    anything was left out: only what may be shown is ever collapsed or wrapped."""
    head = text[: 2 * chars + 64]
    return head, len(head) < len(text)


def _clip(text: str, limit: int) -> str:
    head, cut = _head(text, limit)
    shown = _one_line(head)
    return shown if len(shown) <= limit and not cut else shown[: limit - 1] + "…"


def _wrap(text: str, width: int, max_lines: int) -> list[str]:
    head, cut = _head(text, width * max_lines)
    lines = textwrap.wrap(_one_line(head), width, break_long_words=True, break_on_hyphens=False) or [""]
    if len(lines) > max_lines or cut:
        lines = lines[:max_lines]
        last = lines[-1]
        lines[-1] = last[: width - 1] + "…" if len(last) >= width else last + "…"
    return lines


def _compact(value: Any, limit: int = TOOLTIP_BYTES) -> str:
    """Compact JSON of (a preview of) the value: about ``limit`` characters at most, whatever its size."""
    return json.dumps(preview(value, limit, limit), separators=(",", ":"), ensure_ascii=False)


def _parse_time(timestamp: Any) -> dt.datetime | None:
    if not isinstance(timestamp, str) or not timestamp:
        return None
    try:
        moment = dt.datetime.fromisoformat(timestamp)
    except ValueError:
        return None
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=dt.UTC)


def _clock(moment: dt.datetime | None) -> str:
    if moment is None:
        return "--:--:--.---"
    return f"{moment:%H:%M:%S}.{moment.microsecond // 1000:03d}"


def _duration(seconds: float) -> str:
    if seconds >= 120:
        return f"{seconds:.1f} s ({seconds / 60:.1f} min)"
    return f"{seconds:.1f} s"


@dataclass
class _Item:
    """One block of the diagram: a frame arrow or an event band, before layout."""

    kind: str  # "frame" or "band"
    moment: dt.datetime | None
    height: float
    record: Mapping[str, Any]
    lines: list[str] = field(default_factory=list)  # band lines, or detail lines under an arrow
    step_lines: list[str] = field(default_factory=list)
    step: str = ""
    classes: str = ""
    colours: tuple[str, str, str] = NEUTRAL_BAND
    tooltip: str = ""
    label: str = ""
    summary: str = ""
    bad: bool = False


def render_svg(
    records: Sequence[Mapping[str, Any]], title: str = "", sut: str | None = None
) -> str:
    """The SVG sequence diagram (a complete XML document as a string) of one case's trace records.

    ``title`` heads the diagram (default: the case id and title from the "case started" event); ``sut`` is
    "cs" or "csms", the side under test, marked "(SUT)" on its lifeline (default: the verdict's ``role``,
    else the case id's suffix).
    """
    records = [r for r in records if isinstance(r, Mapping)]
    verdicts = [r for r in records if r.get("event") == "verdict"]
    started = next((r for r in records if r.get("event") == "case started"), None)
    offending_verdict = {whole_sha256(v["frame"]): v for v in verdicts if isinstance(v.get("frame"), str)}
    sut = _sut(sut, verdicts, started)
    if not title and started is not None:
        title = " — ".join(str(started[k]) for k in ("case", "title") if started.get(k))
    title = title or "OCPP sequence"

    items = _items(records, offending_verdict)
    body, bottom = _layout(items)

    frames = sum(1 for i in items if i.kind == "frame")
    moments = [i.moment for i in items if i.moment is not None]
    final = verdicts[-1] if verdicts else None

    out: list[str] = []
    foot_top = bottom + 16
    footer_h = 30 if final is not None else 0
    height = int(foot_top + HEAD_H + (12 + footer_h if final is not None else 0) + 16)

    out.append(
        f'<svg xmlns="{SVG_NS}" version="1.1" width="{WIDTH}" height="{height}" '
        f'viewBox="0 0 {WIDTH} {height}" font-family="{MONO}" role="img" aria-label="{_esc(title)}">'
    )
    out.append(f"<title>{_esc(title)}</title>")
    out.append(f'<rect x="0" y="0" width="{WIDTH}" height="{height}" fill="#ffffff"/>')

    # Header.
    out.append(
        f'<text x="{MARGIN}" y="28" font-family="{SANS}" font-size="17" font-weight="bold" fill="{INK}">'
        f"{_esc(_clip(title, 85))}</text>"
    )
    facts = [f"{frames} frame{'s' if frames != 1 else ''}", f"{len(items) - frames} event(s)"]
    if moments:
        first, last = min(moments), max(moments)
        start = first.isoformat(timespec="milliseconds").replace("+00:00", "Z")
        facts.append(f"{start} + {(last - first).total_seconds():.3f} s")
    if sut:
        facts.append("SUT: " + ("Charging Station" if sut == "cs" else "CSMS"))
    if final is not None:
        facts.append(f"verdict {final.get('verdict', '?')}")
    out.append(
        f'<text x="{MARGIN}" y="48" font-family="{SANS}" font-size="11.5" fill="{GREY}">'
        f"{_esc(_clip('  ·  '.join(facts), 150))}</text>"
    )

    # Lifelines, drawn first so that bands and breaks cover them.
    for x, name, side in ((CS_X, "Charging Station", "cs"), (CSMS_X, "CSMS", "csms")):
        role = " (SUT)" if sut == side else (" (harness)" if sut else "")
        cls = "lifeline sut" if sut == side else "lifeline"
        out.append(f'<g class="{cls}">')
        out.append(
            f'<line x1="{x}" y1="{HEAD_TOP + HEAD_H}" x2="{x}" y2="{foot_top:.1f}" stroke="#9e9e9e" '
            f'stroke-width="1.5"/>'
        )
        for top in (HEAD_TOP, foot_top):
            out.append(
                f'<rect x="{x - HEAD_W / 2}" y="{top:.1f}" width="{HEAD_W}" height="{HEAD_H}" rx="4" '
                f'fill="{"#e8eaf6" if sut == side else "#fafafa"}" stroke="#5c6bc0" stroke-width="1.2"/>'
            )
            out.append(
                f'<text x="{x}" y="{top + 20:.1f}" text-anchor="middle" font-family="{SANS}" font-size="13" '
                f'font-weight="bold" fill="{INK}">{_esc(name + role)}</text>'
            )
        out.append("</g>")

    out.extend(body)

    if final is not None:
        verdict = str(final.get("verdict", "?"))
        fill, stroke, ink = VERDICT_COLOURS.get(verdict, NEUTRAL_BAND)
        top = foot_top + HEAD_H + 12
        text = f"Verdict: {verdict}"
        if final.get("reason"):
            text += f" — {final['reason']}"
        out.append(f'<g class="verdict-summary verdict-{_esc(verdict.lower())}">')
        out.append(f"<title>{_esc(_compact(dict(final)))}</title>")
        out.append(
            f'<rect x="{MARGIN}" y="{top:.1f}" width="{WIDTH - 2 * MARGIN}" height="{footer_h}" rx="4" '
            f'fill="{fill}" stroke="{stroke}" stroke-width="2"/>'
        )
        out.append(
            f'<text x="{MARGIN + 10}" y="{top + 20:.1f}" font-size="13" font-weight="bold" fill="{ink}">'
            f"{_esc(_clip(text, 125))}</text>"
        )
        out.append("</g>")

    out.append("</svg>")
    return "\n".join(out) + "\n"


def _sut(sut: str | None, verdicts: list[Mapping[str, Any]], started: Mapping[str, Any] | None) -> str | None:
    if sut:
        return sut.lower() if sut.lower() in ("cs", "csms") else None
    for verdict in reversed(verdicts):
        role = str(verdict.get("role", "")).lower()
        if role in ("cs", "csms"):
            return role
    case = str(started.get("case", "")) if started is not None else ""
    if case.endswith("_CSMS"):
        return "csms"
    if case.endswith("_CS"):
        return "cs"
    return None


def _items(records: list[Mapping[str, Any]], offending_verdict: dict[str, Mapping[str, Any]]) -> list[_Item]:
    items: list[_Item] = []
    last_step: str | None = None
    last_connection: Any = None
    for record in records:
        moment = _parse_time(record.get("timestamp"))
        if "event" in record and "direction" not in record:
            items.append(_band(record, moment))
            continue
        connection = record.get("connection")
        if connection is not None and connection != last_connection:
            if last_connection is not None or connection != 1:
                opened = {"event": "connection opened", "connection": connection, "timestamp": record.get("timestamp")}
                items.append(_band(opened, moment))
            last_connection = connection
        item = _frame(record, moment, offending_verdict)
        step = record.get("step")
        if isinstance(step, str) and step and step != last_step:
            item.step = step
            item.step_lines = _wrap(step, STEP_CHARS, STEP_MAX_LINES)
            last_step = step
        items.append(item)
    return items


def _frame(record: Mapping[str, Any], moment: dt.datetime | None, offending_verdict: dict[str, Mapping[str, Any]]) -> _Item:
    kind = record.get("messageType")
    action = record.get("action")
    payload = record.get("payload")
    raw = record.get("raw")
    raw_text = raw if isinstance(raw, str) else _compact(raw)
    verdict = offending_verdict.get(_frame_sha256(record)) if offending_verdict and isinstance(raw, str) else None

    if kind == "CALLERROR":
        code = payload.get("errorCode") if isinstance(payload, Mapping) else None
        label = f"CALLERROR {code or '?'}" + (f" ({action})" if action else "")
    elif kind in ("CALL", "CALLRESULT"):
        label = f"{kind} {action or '?'}"
    elif kind is None:
        label = "unparseable frame" + (f" ({action})" if action else "")
    else:
        label = f"{kind} {action or ''}".strip()

    summary_source = raw_text if kind is None or payload is None else _compact(payload, 2 * PAYLOAD_CHARS)
    problems = [str(p) for p in (record.get("problems") or ())]
    violations = [str(v) for v in (record.get("violations") or ())]
    is_offending = verdict is not None

    details: list[str] = []
    if verdict is not None:
        note = f"✗ offending frame — verdict {verdict.get('verdict', '?')}"
        if verdict.get("reason"):
            note += f": {verdict['reason']}"
        details.append(note)
    count = len(details) + len(problems) + len(violations)
    details += [f"✗ {p}" for p in problems[:MAX_DETAIL_LINES]] + [f"✗ schema: {v}" for v in violations[:MAX_DETAIL_LINES]]
    if count > MAX_DETAIL_LINES:
        hidden = count - (MAX_DETAIL_LINES - 1)
        details = details[: MAX_DETAIL_LINES - 1] + [f"… and {hidden} more (see tooltip)"]
    details = [_clip(d, DETAIL_CHARS) for d in details]

    classes = ["frame", (kind or "unparseable").lower()]
    if problems or violations:
        classes.append("violation")
    if is_offending:
        classes.append("offending")
    bad = bool(problems or violations or is_offending)

    tooltip = clip(raw_text, TOOLTIP_BYTES)
    notes = [("step", str(record["step"]))] if record.get("step") else []
    notes += [("problem", p) for p in problems] + [("schema", v) for v in violations]
    if notes:
        shown = notes[: 2 * MAX_DETAIL_LINES]
        tooltip += "\n\n" + "\n".join(f"{name}: {_clip(note, TOOLTIP_BYTES)}" for name, note in shown)
        if len(notes) > len(shown):
            tooltip += f"\n… and {len(notes) - len(shown)} more"

    return _Item(
        kind="frame",
        moment=moment,
        height=FRAME_BASE_H + FRAME_LINE_H * len(details),
        record=record,
        lines=details,
        classes=" ".join(classes),
        tooltip=tooltip,
        label=("✗ " if bad else "") + label,
        summary=summary_source,
        bad=bad,
    )


def _frame_sha256(record: Mapping[str, Any]) -> str:
    """The sha256 of the frame as the SUT sent it, to find the frame a verdict quotes (either may be cut)."""
    truncated = record.get("truncated")
    if isinstance(truncated, Mapping) and isinstance(truncated.get("sha256"), str):
        return str(truncated["sha256"])
    return whole_sha256(str(record.get("raw")))


def _band(record: Mapping[str, Any], moment: dt.datetime | None) -> _Item:
    name = str(record.get("event", "event"))
    texts: list[str]
    max_lines = 3
    colours = EVENT_COLOURS.get(name, NEUTRAL_BAND)
    classes = "event " + re.sub(r"[^a-z0-9]+", "-", name.lower()).strip("-")
    if name == "verdict":
        verdict = str(record.get("verdict", "?"))
        colours = VERDICT_COLOURS.get(verdict, NEUTRAL_BAND)
        classes += f" verdict-{re.sub(r'[^a-z0-9]+', '-', verdict.lower())}"
        texts = [f"VERDICT {verdict}"]
        for key in ("step", "requirement", "reason", "message", "error"):
            if record.get(key):
                texts.append(f"{key}: {record[key]}")
        if record.get("frame"):
            texts.append(f"offending frame: {record['frame']}")
        max_lines = 7
    elif name == "case started":
        texts = [f"case started: {record.get('case', '')}" + (f" — {record['title']}" if record.get("title") else "")]
    elif name == "manual action":
        text = f"MANUAL ACTION {record.get('action', '')}"
        if record.get("instruction"):
            text += f": {record['instruction']}"
        texts = [text]
    elif name == "connection closed":
        code = record.get("code")
        texts = [f"connection {record.get('connection', '?')} closed" + (f" (code {code})" if code is not None else "")]
    elif name == "connection opened":
        texts = [f"connection {record.get('connection', '?')} opened"]
    elif name == "harness closes the connection":
        texts = [f"harness closes connection {record.get('connection', '?')}"]
    elif name == "harness honours an interval":
        texts = [f"harness waits {record.get('seconds', '?')} s (honours an interval)"]
    elif name == "clean-up":
        texts = [f"clean-up: {record.get('cleanup', '')}"]
    else:
        rest = {k: v for k, v in record.items() if k not in ("event", "timestamp")}
        shown = list(rest.items())[:8]
        texts = [name + (": " + ", ".join(f"{k}={_clip(v, BAND_CHARS) if isinstance(v, str) else _compact(v, BAND_CHARS)}" for k, v in shown) if rest else "")]

    texts[0] = f"{_clock(moment)}  {texts[0]}"
    lines: list[str] = []
    for text in texts:
        room = max_lines - len(lines)
        if room <= 0:
            break
        lines += _wrap(text, BAND_CHARS, min(room, 2 if name == "verdict" else room))
    return _Item(
        kind="band",
        moment=moment,
        height=8 + BAND_LINE_H * len(lines),
        record=record,
        lines=lines,
        classes=classes,
        colours=colours,
        tooltip=_compact(dict(record)),
    )


def _layout(items: list[_Item]) -> tuple[list[str], float]:
    """Place the blocks down the page; return their SVG and the lowest y used."""
    out: list[str] = []
    bottom: float = BODY_TOP - GAP  # lowest y used so far
    step_bottom: float = BODY_TOP  # lowest y used by step labels in the left margin
    top: float
    previous_top: float | None = None
    previous_moment: dt.datetime | None = None
    drawn = 0
    for index, item in enumerate(items):
        first = len(out)
        cut = drawn > DIAGRAM_BUDGET
        if cut:
            item = _band({"event": "records not drawn", "count": len(items) - index,
                          "why": f"the diagram has drawn {DIAGRAM_BUDGET} characters; the trace holds every record"}, None)
        elapsed = 0.0
        if item.moment is not None and previous_moment is not None:
            elapsed = max(0.0, (item.moment - previous_moment).total_seconds())
        if elapsed > IDLE_SECONDS:
            top_of_break = bottom + GAP
            out.append(_break(top_of_break, elapsed))
            bottom = top_of_break + BREAK_H
            top = bottom + GAP
        else:
            wanted = previous_top + elapsed * PX_PER_SECOND if previous_top is not None else BODY_TOP
            top = max(wanted, bottom + GAP)
            if elapsed >= 1.0 and top - bottom >= 16:  # a visible pause: say how long
                out.append(
                    f'<text class="pause" x="{MID_X}" y="{(bottom + top) / 2 + 4:.1f}" text-anchor="middle" '
                    f'font-size="10" font-style="italic" fill="{GREY}">+{elapsed:.3f} s</text>'
                )
        if item.step_lines:
            top = max(top, step_bottom + 2)
            out.append(_step_label(item, top))
            step_bottom = top + 2 + STEP_LINE_H * len(item.step_lines)
        out.append(_draw_frame(item, top) if item.kind == "frame" else _draw_band(item, top))
        drawn += sum(len(part) for part in out[first:])
        bottom = top + item.height
        previous_top = top
        if item.moment is not None:
            previous_moment = item.moment
        if cut:
            break
    return out, max(bottom, step_bottom)


def _break(top: float, seconds: float) -> str:
    mid = top + BREAK_H / 2
    return (
        f'<g class="idle-gap"><title>{_esc(f"nothing for {seconds:.3f} s")}</title>'
        f'<rect x="{MARGIN}" y="{top:.1f}" width="{WIDTH - 2 * MARGIN}" height="{BREAK_H}" fill="#ffffff"/>'
        f'<line x1="{MARGIN}" y1="{top:.1f}" x2="{WIDTH - MARGIN}" y2="{top:.1f}" stroke="#bdbdbd" '
        f'stroke-dasharray="2 4"/>'
        f'<line x1="{MARGIN}" y1="{top + BREAK_H:.1f}" x2="{WIDTH - MARGIN}" y2="{top + BREAK_H:.1f}" '
        f'stroke="#bdbdbd" stroke-dasharray="2 4"/>'
        f'<text x="{MID_X}" y="{mid + 4:.1f}" text-anchor="middle" font-size="11" font-style="italic" '
        f'fill="{GREY}">{_esc(f"… {_duration(seconds)} …")}</text></g>'
    )


def _step_label(item: _Item, top: float) -> str:
    parts = [
        f'<g class="step"><title>{_esc(clip(item.step, TOOLTIP_BYTES))}</title>',
        (f'<line x1="{MARGIN}" y1="{top - 1:.1f}" x2="{WIDTH - MARGIN}" y2="{top - 1:.1f}" stroke="#e0e0e0" '
        f'stroke-width="1"/>'),
        f'<text x="{MARGIN}" y="{top + 10:.1f}" font-size="10" fill="#8a8a8a">',
    ]
    for i, line in enumerate(item.step_lines):
        parts.append(f'<tspan x="{MARGIN}" dy="{0 if i == 0 else STEP_LINE_H}">{_esc(line)}</tspan>')
    parts.append("</text></g>")
    return "".join(parts)


def _draw_frame(item: _Item, top: float) -> str:
    record = item.record
    kind = record.get("messageType")
    backwards = record.get("direction") == "csms-to-cs"
    x1, x2 = (CSMS_X, CS_X) if backwards else (CS_X, CSMS_X)
    colour = RED if item.bad else MESSAGE_COLOURS.get(str(kind), UNPARSEABLE_COLOUR)
    y = top + FRAME_ARROW_DY
    tip = x2 + (ARROW_HEAD if backwards else -ARROW_HEAD)
    dash = {"CALL": "", "CALLRESULT": ' stroke-dasharray="7 4"', "CALLERROR": ' stroke-dasharray="7 4"'}.get(
        str(kind), ' stroke-dasharray="2 3"'
    )
    width = 2.2 if item.bad else 1.4
    bold = ' font-weight="bold"' if item.bad else ""
    if kind in ("CALL", "CALLRESULT", "CALLERROR"):
        head = (
            f'<polygon points="{x2},{y:.1f} {tip},{y - 4.5:.1f} {tip},{y + 4.5:.1f}" fill="{colour}"/>'
        )
    else:  # unparseable: an open head
        head = (
            f'<polyline points="{tip},{y - 4.5:.1f} {x2},{y:.1f} {tip},{y + 4.5:.1f}" fill="none" '
            f'stroke="{colour}" stroke-width="{width}"/>'
        )
    parts = [
        f'<g class="{item.classes}">',
        f"<title>{_esc(item.tooltip)}</title>",
        f'<line x1="{x1}" y1="{y:.1f}" x2="{tip}" y2="{y:.1f}" stroke="{colour}" stroke-width="{width}"{dash}/>',
        head,
        (f'<text x="{MID_X}" y="{top + FRAME_LABEL_DY:.1f}" text-anchor="middle" font-size="12" '
        f'fill="{colour}"{bold}>'
        f'<tspan fill="{RED if item.bad else GREY}">{_esc(_clock(item.moment))}</tspan> '
        f"{_esc(_clip(item.label, LABEL_CHARS - 14))}</text>"),
        (f'<text x="{MID_X}" y="{y + FRAME_LINE_H:.1f}" text-anchor="middle" font-size="11" fill="{GREY}">'
        f"{_esc(_clip(item.summary, PAYLOAD_CHARS))}</text>"),
    ]
    for i, line in enumerate(item.lines):
        parts.append(
            f'<text x="{MID_X}" y="{y + FRAME_LINE_H * (i + 2):.1f}" text-anchor="middle" font-size="11" '
            f'fill="{RED}">{_esc(line)}</text>'
        )
    parts.append("</g>")
    return "".join(parts)


def _draw_band(item: _Item, top: float) -> str:
    fill, stroke, ink = item.colours
    parts = [
        f'<g class="{_esc(item.classes)}">',
        f"<title>{_esc(item.tooltip)}</title>",
        (f'<rect x="{MARGIN}" y="{top:.1f}" width="{WIDTH - 2 * MARGIN}" height="{item.height - 2:.1f}" rx="3" '
        f'fill="{fill}" stroke="{stroke}" stroke-width="{2 if "verdict" in item.classes else 1}"/>'),
    ]
    for i, line in enumerate(item.lines):
        weight = ' font-weight="bold"' if i == 0 and "verdict" in item.classes else ""
        parts.append(
            f'<text x="{MARGIN + 8}" y="{top + 14 + BAND_LINE_H * i:.1f}" font-size="11" fill="{ink}"{weight}>'
            f"{_esc(line)}</text>"
        )
    parts.append("</g>")
    return "".join(parts)
