"""Bounded evidence: how much of what the SUT sent a trace, a verdict or a report keeps, and how it says what it cut.

A SUT chooses the size of its frames (up to the harness's maximum frame size, 16 MiB) and of every string in them.
Evidence that copied them whole would cost memory and time in proportion to the SUT's whim, several times over
(trace, result, JUnit, Allure, diagram, summary). So every piece of evidence keeps at most a named number of bytes
of a text the SUT chose, and what it cuts it says: a cut text ends with ``… (N bytes more, sha256 H)``, H the hash
of the whole text, so that the evidence stays honest and can be matched with the full frame (a side file of full
frames, the SUT's own log). Verdicts are never judged on cut evidence: the case and the monitors see every frame
whole.

Pure functions, no I/O: :mod:`harness.trace` writes what :func:`bound_record` returns.
"""

from __future__ import annotations

import hashlib
import json
import math
import re
from typing import Any

__all__ = [
    "EVIDENCE_BUDGET",
    "FRAME_LIMIT",
    "QUOTE_LIMIT",
    "bound_record",
    "clip",
    "fingerprint",
    "json_line",
    "json_text",
    "preview",
    "whole_sha256",
]

FRAME_LIMIT = 64 * 1024
"""Bytes of a frame (its raw text) a trace record keeps whole. A longer frame keeps its first FRAME_LIMIT bytes,
a preview of its payload and ``truncated: {bytes, sha256}`` of the whole (configurable: ``ocpp_trace_frame_limit``)."""

SPENT_FRAME_LIMIT = 4 * 1024
"""What FRAME_LIMIT becomes once a trace has written TRACE_BUDGET bytes: every OCPP frame of ordinary size is still
kept whole, a flood of large frames costs at most this much each."""

TRACE_BUDGET = 2 * 1024 * 1024
"""Bytes a trace writes before frames over SPENT_FRAME_LIMIT are cut to it."""

QUOTE_LIMIT = 4 * 1024
"""Bytes of a reason or of a quoted frame in a verdict: result file, JUnit, Allure message, summary."""

DIAGRAM_BUDGET = 2 * 1024 * 1024
"""Characters of SVG a sequence diagram draws records into; the records after it are counted in one last band."""

EVIDENCE_BUDGET = 10 * 1000 * 1000
"""Bytes all report files of one case stay under: its trace and diagram (each twice: the file and its Allure
attachment), its result file, its Allure result and its JUnit entry. The limits above are shares of it."""

STRING_PREVIEW = 256
"""Characters of each string a payload preview keeps (the payload of a frame over the frame limit)."""

PREVIEW_DEPTH = 32
"""Nesting a preview follows; deeper values become a marker."""

MARKER_ROOM = 128
"""Bytes a cut marker may take: a text at most ``limit + MARKER_ROOM`` long is never cut, so clipping is idempotent."""

_MARKER = re.compile(r"… \((\d+) bytes more, sha256 ([0-9a-f]{64})\)\Z")
_SURROGATE = re.compile("[\ud800-\udfff]")
_NON_FINITE = {math.inf: "Infinity", -math.inf: "-Infinity"}


def utf8(text: str) -> bytes:
    """The UTF-8 bytes of a text; a lone surrogate (from a JSON escape such as ``\\ud800``) is encoded as is."""
    return text.encode("utf-8", "surrogatepass")


def fingerprint(text: str) -> dict[str, Any]:
    """``{"bytes": N, "sha256": H}`` of the whole text, for a record that keeps only part of it."""
    data = utf8(text)
    return {"bytes": len(data), "sha256": hashlib.sha256(data).hexdigest()}


def is_over(text: str, limit: int) -> bool:
    """Whether the text's UTF-8 form is longer than ``limit`` bytes (encoding only the texts that could be)."""
    return len(text) > limit or (len(text) * 4 > limit and len(utf8(text)) > limit)


def clip(text: str, limit: int = QUOTE_LIMIT) -> str:
    """The text itself when it is at most ``limit`` bytes (plus room for the marker); else its first ``limit``
    bytes (whole characters) and ``… (N bytes more, sha256 H)``, H the hash of the whole text. Clipping a clipped
    text changes nothing, so the hash always names the text as the SUT sent it."""
    if not is_over(text, limit + MARKER_ROOM):
        return text
    data = utf8(text)
    return _clipped(data, limit, hashlib.sha256(data).hexdigest())


def _clipped(data: bytes, limit: int, sha256: str) -> str:
    """The first ``limit`` bytes of ``data`` (whole characters) and the marker."""
    cut = limit
    while cut > 0 and data[cut] & 0xC0 == 0x80:  # not inside a character
        cut -= 1
    return f"{data[:cut].decode('utf-8', 'surrogatepass')}… ({len(data) - cut} bytes more, sha256 {sha256})"


def _shortened(text: str, limit: int) -> str:
    """A string of a preview: its first ``limit`` characters and how many more there are (no hash: the record
    that holds a preview hashes its whole frame once)."""
    return text if len(text) <= limit + 32 else f"{text[:limit]}… ({len(text) - limit} characters more)"


def whole_sha256(text: str) -> str:
    """The sha256 of the text as the SUT sent it: the one its cut marker names, else its own."""
    marked = _MARKER.search(text[-MARKER_ROOM:])
    return marked.group(2) if marked else hashlib.sha256(utf8(text)).hexdigest()


def preview(value: Any, budget: int = FRAME_LIMIT, string_limit: int = STRING_PREVIEW) -> Any:
    """A JSON value shaped like ``value`` that serialises to about ``budget`` characters at most, and always
    serialises (``json.dumps(..., allow_nan=False)`` cannot fail on it): strings over ``string_limit`` characters are
    shortened; NaN and infinities become the strings ``"NaN"``, ``"Infinity"``, ``"-Infinity"``; other non-JSON
    values their ``str``; once the budget is spent, the remaining members of an object become one member
    ``"…": "N more members"`` and the remaining items of an array one item ``"… N more items"``; nesting
    deeper than PREVIEW_DEPTH becomes ``"…"``."""
    return _preview(value, [budget], string_limit, 0)


def _preview(value: Any, left: list[int], string_limit: int, depth: int) -> Any:
    if value is None or isinstance(value, bool | int):
        left[0] -= 8
        return value
    if isinstance(value, float):
        left[0] -= 24
        return value if math.isfinite(value) else _NON_FINITE.get(value, "NaN")
    if isinstance(value, str):
        kept = _shortened(value, string_limit)
        left[0] -= len(kept) + 2
        return kept
    if depth >= PREVIEW_DEPTH and isinstance(value, dict | list | tuple):
        return "…"
    if isinstance(value, dict):
        members: dict[str, Any] = {}
        for index, (key, item) in enumerate(value.items()):
            if left[0] <= 0:
                members["…"] = f"{len(value) - index} more members"
                break
            name = _shortened(key if isinstance(key, str) else str(key), string_limit)
            left[0] -= len(name) + 4
            members[name] = _preview(item, left, string_limit, depth + 1)
        return members
    if isinstance(value, list | tuple):
        items: list[Any] = []
        for index, item in enumerate(value):
            if left[0] <= 0:
                items.append(f"… {len(value) - index} more items")
                break
            left[0] -= 2
            items.append(_preview(item, left, string_limit, depth + 1))
        return items
    return _preview(str(value), left, string_limit, depth)


def json_line(value: Any) -> str | None:
    """One JSON text for a trace line, UTF-8-encodable (a lone surrogate written as its escape ``\\udXXX``, which
    reads back as the same string), or None when ``value`` is not JSON as it is (a NaN, an infinity, a value
    of no JSON type, nesting too deep)."""
    try:
        text = json.dumps(value, ensure_ascii=False, allow_nan=False)
    except (TypeError, ValueError, RecursionError):
        return None
    return _SURROGATE.sub(lambda found: f"\\u{ord(found.group()):04x}", text)


def json_text(value: Any, **options: Any) -> str:
    """JSON text of the value that is valid whatever the value holds: the value as it is when it is JSON, else
    its preview (NaN and infinities as strings, strings kept to QUOTE_LIMIT bytes)."""
    try:
        return json.dumps(value, allow_nan=False, **options)
    except (TypeError, ValueError, RecursionError):
        return json.dumps(preview(value, EVIDENCE_BUDGET, QUOTE_LIMIT), allow_nan=False, **options)


def bound_record(record: dict[str, Any], frame_limit: int = FRAME_LIMIT) -> tuple[dict[str, Any], str]:
    """The record as a trace keeps it, and its JSON line.

    A record whose raw frame is at most ``frame_limit`` bytes and whose line is JSON as it is stays as it is (the
    same object). Otherwise it is rebuilt: a raw frame over the limit keeps its first ``frame_limit`` bytes, its
    payload a preview, and the record gains ``truncated: {"bytes": N, "sha256": H}`` of the whole raw frame; every
    other field is previewed (reasons and problems clipped to QUOTE_LIMIT; a NaN or an infinity becomes a string)."""
    raw = record.get("raw")
    cut = isinstance(raw, str) and is_over(raw, frame_limit + MARKER_ROOM)
    if not cut:
        line = json_line(record)
        if line is not None and len(line) <= 3 * frame_limit + QUOTE_LIMIT:
            return record, line
    kept: dict[str, Any] = {}
    for key, value in record.items():
        if key == "raw" and cut:
            data = utf8(value)
            sha256 = hashlib.sha256(data).hexdigest()
            kept["raw"] = _clipped(data, frame_limit, sha256)
            kept["truncated"] = {"bytes": len(data), "sha256": sha256}
        elif key == "payload":
            kept["payload"] = preview(value, frame_limit, STRING_PREVIEW if cut else frame_limit)
        else:
            kept[key] = preview(value, 4 * QUOTE_LIMIT, QUOTE_LIMIT)
    line = json_line(kept)
    assert line is not None, "a preview is always JSON"
    return kept, line
