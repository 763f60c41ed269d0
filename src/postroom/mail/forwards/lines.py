"""Find an embedded reply or forward in a list of lines: where it starts, its header block, its body range.

Works on plain-text lines and on the lines `htmllines` reads from an HTML tree (where "> " marks a blockquote
level), so that text and HTML are split by the same rules.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final, Literal

from postroom.mail.forwards.patterns import HEADER_LINE_RE, HEADER_NAMES, find_intro_kind, parse_reply_line

StartKind = Literal["reply", "forward", "headers", "quoted"]
SplitKind = Literal["reply", "forward", "quote"]

TEXT_WRAP_LINES: Final = 2  # an intro line or a header value may wrap once in plain text (quotequail's number)
MIN_HEADER_LINES: Final = 2  # known header names that make a block a forwarded message's header block
MIN_QUOTED_LINES: Final = 3  # "> " lines that make a quoted block in plain text (one stray line is no quote)
MAX_HEADER_BLOCK_LINES: Final = 40  # lines read when testing for a header block; real ones take under 15
MAX_INTRO_CHARS: Final = 1000  # an intro line is short; longer lines are not tried (keeps the regexes linear)
_NO_SPACE_AFTER: Final = "<([{\"'"  # a wrapped "Name <\nname@example.com>" joins without a space


@dataclass(frozen=True, slots=True)
class Start:
    first: int  # line where the intro, header block or quote starts
    last: int  # last line of a wrapped intro (== first otherwise)
    kind: StartKind


@dataclass(frozen=True, slots=True)
class Split:
    """Line ranges [start, end) of what the author wrote above, the embedded message, and what follows."""

    kind: SplitKind
    top: tuple[int, int]
    body: tuple[int, int]
    bottom: tuple[int, int]
    headers: dict[str, str]
    unindent: bool  # the body lines are quoted ("> ") and need unquoting
    intro: tuple[int, int] | None = None  # the "On ... wrote:" / "Forwarded message" line(s), when there is one


def join_wrapped(lines: list[str]) -> str:
    """Join lines of one wrapped line again, with a space unless the first ends with an opening bracket."""
    joined = lines[0] if lines else ""
    for line in lines[1:]:
        joined += line if joined and joined[-1] in _NO_SPACE_AFTER else " " + line
    return joined


def find_intro(lines: list[str], index: int, wrap: int) -> tuple[int, Literal["reply", "forward"]] | None:
    """The last line and kind of a reply/forward intro starting at `index` (it may wrap over `wrap` lines)."""
    if index >= len(lines) or not lines[index].strip():
        return None  # an intro starts on a line with words, not on the blank line above it
    for extra in range(wrap):
        if index + extra >= len(lines):
            break
        candidate = join_wrapped(lines[index : index + extra + 1]).strip()
        if len(candidate) > MAX_INTRO_CHARS:
            break
        if candidate.startswith(">"):
            candidate = candidate[1:].strip()
        kind = find_intro_kind(candidate)
        if kind is not None:
            return index + extra, kind
    return None


def extract_headers(lines: list[str], wrap: int) -> tuple[dict[str, str], int]:
    """Known header fields at the top of `lines` (first value wins) and how many lines the block takes.

    Unknown "Name: value" lines belong to the block only before its first blank line: after one, they are
    the forwarded message's own text (a web form's "Phone: 123").
    """
    headers: dict[str, str] = {}
    name: str | None = None
    continued = 0
    used = 0
    blank_seen = False
    for index, line in enumerate(lines):
        if not line.strip():
            name = None
            blank_seen = True
            continue
        match = HEADER_LINE_RE.match(line)
        if match is not None:
            name = HEADER_NAMES.get(match.group(1).strip().lower())
            if name is None and blank_seen:
                break
            continued = 0
            if name is not None and name in headers:
                break  # a field again: the next message's header block (a forward of a forward) starts here
            if name is not None:
                headers[name] = match.group(2).strip()
            used = index + 1
            continue
        continued += 1
        if continued < wrap and name is not None:
            headers[name] = join_wrapped([headers[name], line.strip()])
            used = index + 1
            continue
        break
    return headers, used


def _is_quote_block(lines: list[str], index: int, min_quoted: int) -> bool:
    count = 0
    for line in lines[index:]:
        if not line.strip():
            continue
        if not line.startswith(">"):
            break
        count += 1
        if count >= min_quoted:
            return True
    return False


def _starts_header_block(lines: list[str], index: int, wrap: int) -> bool:
    """A known header name on this line and enough known ones in the block it starts."""
    match = HEADER_LINE_RE.match(lines[index])
    if match is None or match.group(1).strip().lower() not in HEADER_NAMES:
        return False
    window = lines[index : index + MAX_HEADER_BLOCK_LINES]
    return len(extract_headers(window, wrap)[0]) >= MIN_HEADER_LINES


def find_start(lines: list[str], wrap: int, min_quoted: int) -> Start | None:
    """The first intro line, quoted block or header block in `lines`."""
    for index, line in enumerate(lines):
        if not line.strip():
            continue
        intro = find_intro(lines, index, wrap)
        if intro is not None:
            return Start(index, intro[0], intro[1])
        if line.startswith(">") and _is_quote_block(lines, index, min_quoted):
            return Start(index, index, "quoted")
        if _starts_header_block(lines, index, wrap):
            return Start(index, index, "headers")
    return None


def unquote_lines(lines: list[str]) -> list[str]:
    """The leading run of quoted lines without one level of "> "."""
    unquoted: list[str] = []
    for line in lines:
        if not line.startswith(">"):
            break
        unquoted.append(line[2:] if line.startswith("> ") else line[1:])
    return unquoted


def _split_quoted(
    lines: list[str], kind: SplitKind, start: Start, *, quoted_start: int, headers: dict[str, str], wrap: int
) -> Split:
    """A quoted block that starts at `quoted_start`, with a header block inside it when there is one."""
    unquoted = unquote_lines(lines[quoted_start:])
    rest = quoted_start + len(unquoted)
    inner = find_start(unquoted, wrap, MIN_QUOTED_LINES)
    body_start = quoted_start
    if inner is not None and inner.kind == "headers":
        found, used = extract_headers(unquoted[inner.first :], wrap)
        headers = {**found, **headers} if kind == "reply" else {**headers, **found}
        body_start = quoted_start + inner.first + used
        kind = "forward" if kind == "quote" else kind
    intro = (start.first, start.last + 1) if start.kind in ("reply", "forward") else None
    return Split(kind, (0, start.first), (body_start, rest), (rest, len(lines)), headers, unindent=True, intro=intro)


def split_lines(lines: list[str], *, wrap: int, min_quoted: int) -> Split | None:
    """How `lines` divide into the author's text and an embedded reply, forward or quote; None if nothing is."""
    start = find_start(lines, wrap, min_quoted)
    if start is None:
        return None
    end = len(lines)
    if start.kind == "headers":
        headers, used = extract_headers(lines[start.first :], wrap)
        return Split("forward", (0, start.first), (start.first + used, end), (end, end), headers, unindent=False)
    if start.kind == "quoted":
        return _split_quoted(lines, "quote", start, quoted_start=start.first, headers={}, wrap=wrap)
    headers = {}
    if start.kind == "reply":
        parsed = parse_reply_line(join_wrapped(lines[start.first : start.last + 1]))
        date, author = parsed if parsed is not None else (None, None)
        headers = {key: value for key, value in (("date", date), ("from", author)) if value}
    after = start.last + 1
    intro = (start.first, after)
    inner = find_start(lines[after:], wrap, 1)
    if inner is not None and any(line.strip() for line in lines[after : after + inner.first]):
        inner = None  # text right below the intro is the embedded message itself
    if inner is not None and inner.kind == "quoted":
        return _split_quoted(lines, start.kind, start, quoted_start=after + inner.first, headers=headers, wrap=wrap)
    if inner is not None and inner.kind == "headers":
        found, used = extract_headers(lines[after + inner.first :], wrap)
        body_start = after + inner.first + used
        found.update(headers)
        return Split(start.kind, (0, start.first), (body_start, end), (end, end), found, unindent=False, intro=intro)
    return Split(start.kind, (0, start.first), (after, end), (end, end), headers, unindent=False, intro=intro)
