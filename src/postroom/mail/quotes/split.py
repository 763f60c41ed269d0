"""Split a plain-text reply into new text, quoted history and signature, line by line, in linear time."""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from enum import IntEnum
from typing import Final

from postroom.mail.quotes.intro import find_header_block, find_intro, is_forward_marker, split_shared_line
from postroom.mail.quotes.known import find_known_signature, find_quoted_reply_start
from postroom.mail.quotes.parts import ReplyParts
from postroom.mail.quotes.signature import find_signature_start, is_delimiter_line, is_signature_block

# Private-use characters the HTML path writes into its text (never honoured in plain text input).
HARD_MARK: Final = "\ue000"  # everything from here is history (div.gmail_quote, #divRplyFwdMsg, ...)
QUOTE_OPEN: Final = "\ue001"
QUOTE_CLOSE: Final = "\ue002"
STRONG_MARK: Final = "\ue003"  # the blockquote that follows is history, text after it is not
RULE_MARK: Final = "\ue004"  # an <hr>: a separator that shows nothing
MARKS: Final = (HARD_MARK, QUOTE_OPEN, QUOTE_CLOSE, STRONG_MARK, RULE_MARK)

_QUOTE: Final = re.compile(r"^[ \t]{0,3}(?:>|[A-Za-z]{1,10}>(?=[ \t]|$))")
_QUOTE_PREFIX: Final = re.compile(r"^[ \t]*(?:(?:>|[A-Za-z]{1,10}>(?=[ \t]|$))[ \t]?)+")
_LINK_FRAGMENT: Final = re.compile(r"^\S+$|https?://|>$")
_FIRST_QUOTED_LINES: Final = 6  # quoted lines searched for an attribution ("> On ... wrote:")


class Kind(IntEnum):
    """What one line is, before the reply is split."""

    EMPTY = 0
    TEXT = 1
    QUOTE = 2
    INTRO = 3  # first line of an attribution
    INTRO_MORE = 4  # its wrapped continuation
    MARKER = 5  # "-----Original Message-----" and friends
    HEADER = 6  # a line of a quoted header block
    RULE = 7  # a separator / delimiter line
    HARD = 8
    STRONG = 9


class Part(IntEnum):
    """Where one line ends up."""

    NEW = 0
    QUOTED = 1
    SIGNATURE = 2


@dataclass(slots=True)
class _Block:
    quoted: bool
    start: int
    end: int
    intro_end: int = 0  # quoted blocks: lines [start, intro_end) are the attribution
    led: bool = False  # quoted blocks: opened by an attribution, marker or header block
    strong: bool = False  # quoted blocks: the HTML said so (blockquote type=cite, ...)


def _prepare(text: str) -> list[str]:
    """Lines with normalised line ends; a reply sharing its line with "On ... wrote:" is split in two."""
    lines: list[str] = []
    for line in text.replace("\r\n", "\n").replace("\r", "\n").split("\n"):
        shared = split_shared_line(line) if "On " in line and ("wrote" in line or "sent" in line) else None
        if shared and shared[0].strip():
            lines.extend(shared)
        else:
            lines.append(line)
    return lines


def _classify(lines: Sequence[str], html: bool) -> list[Kind]:
    kinds = [Kind.TEXT] * len(lines)
    index = 0
    fenced = False
    after_rule = False
    while index < len(lines):
        line = lines[index]
        stripped = line.strip()
        if stripped.startswith("```"):
            fenced = not fenced
        if fenced or stripped.startswith("```"):
            index += 1
            continue
        kind, size = _classify_line(lines, index, html=html, after_rule=after_rule)
        kinds[index : index + size] = [kind] + [Kind.INTRO_MORE if kind == Kind.INTRO else kind] * (size - 1)
        if kind != Kind.EMPTY:
            after_rule = kind == Kind.RULE
        index += size
    return kinds


def _classify_line(lines: Sequence[str], index: int, *, html: bool, after_rule: bool) -> tuple[Kind, int]:  # noqa: PLR0911 - one return per rule of a decision list
    line = lines[index]
    stripped = line.strip()
    if not stripped:
        return Kind.EMPTY, 1
    if html and stripped in MARKS:
        if stripped == HARD_MARK:
            return Kind.HARD, 1
        if stripped == STRONG_MARK:
            return Kind.STRONG, 1
        return (Kind.RULE, 1) if stripped == RULE_MARK else (Kind.EMPTY, 1)
    if _QUOTE.match(line):
        return Kind.QUOTE, 1
    if is_forward_marker(line):
        return Kind.MARKER, 1
    size = find_intro(lines, index)
    if size:
        return Kind.INTRO, size
    size = find_header_block(lines, index, after_separator=after_rule)
    if size:
        return Kind.HEADER, size
    if is_delimiter_line(line):
        return Kind.RULE, 1
    return Kind.TEXT, 1


def _next_filled(kinds: Sequence[Kind], index: int) -> int:
    """Index of the next line that is neither empty nor an attribution continuation nor a strong mark."""
    while index < len(kinds) and kinds[index] in {Kind.EMPTY, Kind.INTRO_MORE, Kind.STRONG}:
        index += 1
    return index


def _history_start(kinds: Sequence[Kind], index: int) -> tuple[int, int] | None:
    """If a history marker starts at `index`: (start incl. a separator above it, end of its head)."""
    kind = kinds[index]
    if kind == Kind.HARD:
        return index, index + 1
    if kind == Kind.INTRO:
        after = _next_filled(kinds, index + 1)
        if after < len(kinds) and kinds[after] == Kind.QUOTE:
            return None  # an attribution above ">" lines opens a quoted block, not an unquoted history
        head = index + 1
        while head < len(kinds) and kinds[head] == Kind.INTRO_MORE:
            head += 1
        return index, head
    if kind in {Kind.MARKER, Kind.HEADER}:
        head = index + 1
        while head < len(kinds) and (kinds[head] == Kind.HEADER or (kind == Kind.MARKER and kinds[head] == Kind.EMPTY)):
            head += 1
        while head < len(kinds) and kinds[head] == Kind.HEADER:
            head += 1
        start = index
        above = index - 1
        while above >= 0 and kinds[above] == Kind.EMPTY and index - above <= 2:
            above -= 1
        if kind == Kind.HEADER and above >= 0 and kinds[above] == Kind.RULE:
            start = above
        return start, head
    return None


def _quoted_is_led(lines: Sequence[str], start: int, end: int) -> bool:
    """True when a ">" block opens with an attribution, an original-message marker or a header block."""
    contents: list[str] = []
    for index in range(start, end):
        content = _QUOTE_PREFIX.sub("", lines[index], count=1)
        if content.strip() or contents:
            contents.append(content)
        if len(contents) >= _FIRST_QUOTED_LINES:
            break
    if not contents:
        return False
    return bool(is_forward_marker(contents[0]) or find_intro(contents, 0) or find_header_block(contents, 0))


def _blocks(lines: Sequence[str], kinds: Sequence[Kind], start: int, end: int) -> list[_Block]:
    blocks: list[_Block] = []
    index = start
    while index < end:
        kind = kinds[index]
        opens_quote = kind in {Kind.QUOTE, Kind.STRONG} or (
            kind == Kind.INTRO and (after := _next_filled(kinds, index + 1)) < end and kinds[after] == Kind.QUOTE
        )
        if kind == Kind.EMPTY:
            index += 1
            continue
        if not opens_quote:
            first = index
            while index < end and not (
                kinds[index] in {Kind.QUOTE, Kind.STRONG}
                or (
                    kinds[index] == Kind.INTRO
                    and _next_filled(kinds, index + 1) < end
                    and kinds[_next_filled(kinds, index + 1)] == Kind.QUOTE
                )
            ):
                index += 1
            blocks.append(_Block(quoted=False, start=first, end=index))
            continue
        block = _Block(quoted=True, start=index, end=index)
        while index < end and kinds[index] in {Kind.INTRO, Kind.INTRO_MORE, Kind.STRONG, Kind.EMPTY}:
            block.strong = block.strong or kinds[index] == Kind.STRONG
            block.led = block.led or kinds[index] == Kind.INTRO
            index += 1
        block.intro_end = index
        last = index - 1
        while index < end:
            if kinds[index] == Kind.QUOTE or (
                kinds[index] == Kind.TEXT
                and index + 1 < end
                and kinds[index - 1] == Kind.QUOTE
                and kinds[index + 1] == Kind.QUOTE
                and _LINK_FRAGMENT.search(lines[index].strip())
            ):
                last = index
            elif kinds[index] != Kind.EMPTY:
                break
            index += 1
        block.end = last + 1
        index = block.end
        block.led = block.led or block.strong or _quoted_is_led(lines, block.intro_end, block.end)
        blocks.append(block)
    return blocks


def _history_from(blocks: Sequence[_Block], last_text: int | None, *, html: bool) -> int | None:
    """First block of the trailing quoted history: after the last text, from the first quoted block (plain
    text) or the first one opened by an attribution (HTML, and replies made only of quotes)."""
    trailing = range(len(blocks)) if last_text is None else range(last_text + 1, len(blocks))
    quoted = [position for position in trailing if blocks[position].quoted]
    if last_text is None or html:
        return next((position for position in quoted if blocks[position].led), None)
    return quoted[0] if quoted else None


def _assign_blocks(lines: Sequence[str], blocks: Sequence[_Block], parts: list[Part], *, html: bool) -> int | None:  # noqa: PLR0912 - one branch per rule of a decision list
    """Mark quoted blocks that are history and trailing signature-only text; returns the last substantive block."""
    last_text: int | None = None
    quoted_before = False
    for position, block in enumerate(blocks):
        if not block.quoted and not (quoted_before and is_signature_block(lines[block.start : block.end])):
            last_text = position
        quoted_before = quoted_before or block.quoted
    first_text = next((p for p, b in enumerate(blocks) if not b.quoted), len(blocks))
    history_from = _history_from(blocks, last_text, html=html)
    inline = {p for p, b in enumerate(blocks) if b.quoted and last_text is not None and p < last_text}
    for position, block in enumerate(blocks):
        span = range(block.start, block.end)
        if not block.quoted:
            if last_text is None or position > last_text:
                for index in span:
                    parts[index] = Part.SIGNATURE
            continue
        if history_from is not None and position >= history_from:
            history = True
        elif position in inline:
            history = block.strong or (position < first_text and block.led and len(inline) == 1)
        else:
            history = False
        if history:
            for index in span:
                parts[index] = Part.QUOTED
        else:
            for index in range(block.start, block.intro_end):
                parts[index] = Part.QUOTED
    return last_text


def _mark_signature(lines: Sequence[str], parts: list[Part], block: _Block, first_new: int) -> None:
    segment = lines[block.start : block.end]
    start = find_signature_start(segment, max(first_new + 1 - block.start, 0))
    if start is None:
        return
    for index in range(block.start + start, block.end):
        parts[index] = Part.SIGNATURE


def split_lines(text: str, known_signatures: Sequence[str] = (), *, html: bool = False) -> ReplyParts:
    """The line-based splitter behind split_reply and split_reply_html."""
    lines = _prepare(text)
    kinds = _classify(lines, html)
    parts = [Part.NEW] * len(lines)
    position = 0
    end = len(lines)
    while position < end:
        cut = next(
            (found for index in range(position, end) if (found := _history_start(kinds, index)) is not None),
            None,
        )
        known = find_known_signature(lines, position, cut[0] if cut else end, known_signatures)
        if known is not None:
            reply_start = find_quoted_reply_start(lines, known[0], position)
            cut = (reply_start, known[1] if reply_start == _first_filled(kinds, position, end) else reply_start)
        if cut is None:
            break
        if _first_filled(kinds, position, end) >= cut[0]:
            for index in range(position, cut[1]):
                parts[index] = Part.QUOTED
            position = cut[1]
            continue
        for index in range(cut[0], end):
            parts[index] = Part.QUOTED
        end = cut[0]
        break
    blocks = _blocks(lines, kinds, position, end)
    last_text = _assign_blocks(lines, blocks, parts, html=html)
    if last_text is not None:
        first_new = next((i for i in range(len(lines)) if parts[i] == Part.NEW and lines[i].strip()), 0)
        _mark_signature(lines, parts, blocks[last_text], first_new)
    return ReplyParts(
        new_text=_join(lines, parts, Part.NEW),
        quoted_text=_join(lines, parts, Part.QUOTED),
        signature=_join(lines, parts, Part.SIGNATURE),
    )


def _first_filled(kinds: Sequence[Kind], start: int, end: int) -> int:
    return next((index for index in range(start, end) if kinds[index] != Kind.EMPTY), end)


def _join(lines: Sequence[str], parts: Sequence[Part], part: Part) -> str:
    """The lines of one part, in order; where lines of other parts were cut out, one blank line at most."""
    out: list[str] = []
    gap = False
    for line, owner in zip(lines, parts, strict=True):
        if owner != part:
            gap = True
            continue
        if gap and out and out[-1].strip():
            out.append("")
        gap = False
        out.append(line.rstrip())
    return "\n".join(out).strip("\n").rstrip()
