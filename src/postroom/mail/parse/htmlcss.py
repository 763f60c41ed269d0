"""Read the few inline CSS properties the HTML-to-text layout honours (the subset inscriptis reads), cached."""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass
from typing import Final

NONE: Final = 0  # display:none
INLINE: Final = 1
BLOCK: Final = 2
_BLOCK_DISPLAYS: Final = frozenset({"block", "flex", "grid", "list-item", "table", "table-row", "flow-root"})
_PRE_SPACES: Final = frozenset({"pre", "pre-wrap", "pre-line", "break-spaces"})
_NORMAL_SPACES: Final = frozenset({"normal", "nowrap"})
_VALIGN: Final = {"top": 0, "middle": 1, "bottom": 2}  # the top share of spare lines, in halves
_LENGTH: Final = re.compile(r"(-?[0-9]*\.?[0-9]+)([a-z%]*)")
_EM_UNITS: Final = frozenset({"em", "rem", "qem"})
PX_PER_LINE: Final = 8  # inscriptis's conversion: a line or a character is 8px (half a 16px em)
MAX_MARGIN_LINES: Final = 2  # more blank lines than this are cut to one later anyway
MAX_PADDING_CHARS: Final = 16  # our bound on indentation per element (inscriptis allows 100,000)
STYLE_CACHE_SIZE: Final = 4096  # distinct style attributes kept; newsletters repeat a few hundred


@dataclass(frozen=True, slots=True)
class InlineStyle:
    """What one `style` attribute says about layout; None where it says nothing."""

    display: int | None = None  # NONE, INLINE or BLOCK
    pre: bool | None = None  # white-space keeps spaces and line breaks
    margin_before: int | None = None  # blank lines
    margin_after: int | None = None
    padding: int | None = None  # characters of indentation
    valign: int | None = None  # 0 top, 1 middle, 2 bottom (table cells)


def _lines(value: str, limit: int) -> int | None:
    """A CSS length as lines or characters the way inscriptis counts them (em as is, anything else / 8)."""
    match = _LENGTH.match(value)
    if match is None:
        return None
    number = float(match.group(1))
    if match.group(2) not in _EM_UNITS:
        number /= PX_PER_LINE
    return max(0, min(round(number), limit))


@functools.lru_cache(maxsize=STYLE_CACHE_SIZE)
def read_style(style: str) -> InlineStyle | None:
    """The layout properties of a `style` attribute, None if it sets none (fonts, colours: most styles).
    `display:none` wins over later values (as in inscriptis); `!important` is ignored, so
    `display:none !important` (hidden preheaders) hides."""
    display: int | None = None
    pre: bool | None = None
    before = after = padding = valign = None
    for declaration in style.lower().split(";"):
        key, colon, value = declaration.partition(":")
        if not colon:
            continue
        key = key.strip().removeprefix("-webkit-")
        value = value.replace("!important", "").strip()
        if key == "display":
            if display != NONE:
                display = NONE if value == "none" else BLOCK if value in _BLOCK_DISPLAYS else INLINE
        elif key == "white-space":
            pre = True if value in _PRE_SPACES else False if value in _NORMAL_SPACES else pre
        elif key in ("margin-top", "margin-before", "margin-block-start"):
            before = _lines(value, MAX_MARGIN_LINES)
        elif key in ("margin-bottom", "margin-after", "margin-block-end"):
            after = _lines(value, MAX_MARGIN_LINES)
        elif key in ("padding-left", "padding-start", "padding-inline-start"):
            padding = _lines(value, MAX_PADDING_CHARS)
        elif key == "vertical-align":
            valign = _VALIGN.get(value, valign)
    if display is None and pre is None and before is None and after is None and padding is None and valign is None:
        return None
    return InlineStyle(display, pre, before, after, padding, valign)
