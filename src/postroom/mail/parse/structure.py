"""Measure a raw message cheaply (header size, MIME nesting, part count) before the stdlib parser runs."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Final

from postroom.mail.values import LimitBreach, Limits

_MBOX_FROM: Final = re.compile(rb"\AFrom [^\n]*\n")
_HEADER_END: Final = re.compile(rb"\r?\n\r?\n")
# Case-insensitive regexes are slow on large bodies: these run on a lower-cased copy (positions match).
_BOUNDARY: Final = re.compile(rb"""boundary\s*=\s*(?:"([^"\r\n]{1,200})"|'([^'\r\n]{1,200})'|([^\s;"']{1,200}))""")
_DELIMITER: Final = re.compile(rb"\n--([^\r\n]*)")
_MIME_FIELD: Final = re.compile(rb"\ncontent-(?:type|disposition)[ \t]*:[^\n]*(?:\n[ \t][^\n]*)*")
# Content-Type/-Disposition fields are parsed by policy.default's recursive-descent parser, which takes
# seconds and gigabytes on a few hundred kB of parameters or encoded words (measured: 280 kB, 9 s, 2.8 GB).
# Real fields are under 1 kB; RFC 5322 2.1.1 caps a line at 998 characters.
MAX_MIME_FIELD_BYTES: Final = 16 * 1024
MAX_MIME_FIELD_WORDS: Final = 64  # encoded words in one such field
_FIELD_START: Final = re.compile(rb"^[^ \t\r\n]", re.M)
_FIELD_LINE: Final = re.compile(rb"[!-9;-~]+[ \t]*:")


@dataclass(frozen=True, slots=True)
class Shape:
    """What the cheap scan found: the breach (if any), with a short defect string, and the header block."""

    breach: LimitBreach | None
    defect: str | None
    header_block: bytes


def strip_mbox_separator(raw: bytes) -> bytes:
    """Drop a leading mbox `From ` line (RFC 4155) so that the header block starts at the first field."""
    if raw.startswith(b"From "):
        return _MBOX_FROM.sub(b"", raw, count=1)
    return raw


def repair_header_block(raw: bytes) -> bytes:
    """Make a damaged header block readable the way mail clients read it.

    Junk before the first field (`---- Original email message ----`) is dropped, and a line without a
    colon between two fields is taken as a continuation of the field above (a folding line that lost its
    leading white space). Without this the stdlib parser would start the body at such a line.
    """
    end = _HEADER_END.search(raw)
    block = raw[: end.start()] if end is not None else raw
    lines = block.split(b"\n")
    valid = [bool(_FIELD_LINE.match(line)) or line[:1] in (b" ", b"\t") for line in lines]
    if all(valid):
        return raw
    last_field = max((i for i, ok in enumerate(valid) if ok and line_is_field(lines[i])), default=-1)
    seen_field = False
    repaired: list[bytes] = []
    for index, line in enumerate(lines):
        if valid[index]:
            seen_field = seen_field or line_is_field(line)
            repaired.append(line)
        elif index > last_field:
            repaired.append(line)  # junk after the last field: the body starts here, as the parser says
        elif seen_field:
            repaired.append(b" " + line)
        # else: junk before the first field is dropped
    rest = raw[end.start() :] if end is not None else b""
    return b"\n".join(repaired) + rest


def line_is_field(line: bytes) -> bool:
    """A `Name: value` line (RFC 5322 2.2: printable ASCII but colon, then a colon)."""
    return bool(_FIELD_LINE.match(line))


def split_header_block(raw: bytes, max_bytes: int) -> bytes:
    """The top-level header block (up to the first empty line), cut at `max_bytes` on a line end."""
    end = _HEADER_END.search(raw, 0, max_bytes + 4)
    if end is not None:
        return raw[: end.start()]
    block = raw[:max_bytes]
    if len(raw) > max_bytes:
        cut = block.rfind(b"\n")
        block = block[: cut if cut > 0 else 0]
    return block


def measure_shape(raw: bytes, limits: Limits) -> Shape:
    """Check every limit that can be checked without parsing; the first breach wins."""
    header_block = split_header_block(raw, limits.max_header_bytes)
    if len(raw) > limits.max_bytes:
        return Shape(LimitBreach.SIZE, f"limit:size:{len(raw)}", header_block)
    if _HEADER_END.search(raw, 0, limits.max_header_bytes + 4) is None and len(raw) > limits.max_header_bytes:
        return Shape(LimitBreach.HEADERS, "limit:header_bytes", header_block)
    if len(_FIELD_START.findall(header_block)) > limits.max_header_fields:
        return Shape(LimitBreach.HEADERS, "limit:header_fields", header_block)
    lowered = raw.lower()
    for match in _MIME_FIELD.finditer(b"\n" + lowered):
        field = match.group(0)
        if len(field) > MAX_MIME_FIELD_BYTES or field.count(b"=?") > MAX_MIME_FIELD_WORDS:
            return Shape(LimitBreach.HEADERS, "limit:mime_field_bytes", header_block)
    breach = _measure_nesting(raw, lowered, limits)
    if breach is not None:
        return Shape(breach, f"limit:{breach.value}", header_block)
    return Shape(None, None, header_block)


def _measure_nesting(raw: bytes, lowered: bytes, limits: Limits) -> LimitBreach | None:
    """Follow boundary delimiters with a stack to find the deepest nesting and the number of parts."""
    if lowered.count(b"message/rfc822") + lowered.count(b"message/global") > limits.max_parts:
        return LimitBreach.PARTS
    boundaries: set[bytes] = set()
    for match in _BOUNDARY.finditer(lowered):
        group = 1 if match.group(1) is not None else 2 if match.group(2) is not None else 3
        boundaries.add(raw[match.start(group) : match.end(group)])
    if not boundaries:
        return None
    stack: list[bytes] = []  # never deeper than max_depth + 1, so list lookups stay cheap
    parts = 0
    for match in _DELIMITER.finditer(b"\n" + raw):
        token = match.group(1).rstrip(b" \t")
        closing = token.endswith(b"--") and token[:-2] in boundaries
        boundary = token[:-2] if closing else token
        if boundary not in boundaries:
            continue
        if boundary in stack:
            del stack[stack.index(boundary) + 1 :]
            if closing:
                stack.pop()
                continue
        elif not closing:
            stack.append(boundary)
        parts += 1
        if parts > limits.max_parts:
            return LimitBreach.PARTS
        if len(stack) > limits.max_depth:
            return LimitBreach.DEPTH
    return None
