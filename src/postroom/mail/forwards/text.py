"""Unwrap a reply or forward embedded in a plain-text body, and split a body into new and quoted text."""

from __future__ import annotations

from typing import Final

from postroom.mail.forwards.lines import (
    MIN_QUOTED_LINES,
    TEXT_WRAP_LINES,
    Split,
    find_intro,
    join_wrapped,
    split_lines,
    unquote_lines,
)
from postroom.mail.forwards.values import Unwrapped

QUOTE_LINE_LIMIT: Final = 1000  # lines read before the rest counts as quoted anyway (quotequail's default)
MAX_TEXT_CHARS: Final = 2 * 1024 * 1024  # beyond this a body is not searched for an intro (our bound)


def build_unwrapped(split: Split, lines: list[str], **html: str | None) -> Unwrapped:
    """The `Unwrapped` value of a line split: header values and the three texts, stripped."""
    body = lines[split.body[0] : split.body[1]]
    if split.unindent:
        body = unquote_lines(body)
    headers = split.headers
    return Unwrapped(
        kind=split.kind,
        from_=headers.get("from") or None,
        to=headers.get("to") or None,
        cc=headers.get("cc") or None,
        date=headers.get("date") or None,
        subject=headers.get("subject") or None,
        text_top="\n".join(lines[split.top[0] : split.top[1]]).strip(),
        text="\n".join(body).strip(),
        text_bottom="\n".join(lines[split.bottom[0] : split.bottom[1]]).strip(),
        reply_to=headers.get("reply-to") or None,
        bcc=headers.get("bcc") or None,
        intro=join_wrapped(lines[split.intro[0] : split.intro[1]]).strip() if split.intro else None,
        **html,
    )


def unwrap_text(text: str) -> Unwrapped | None:
    """The reply, forward or quote embedded in a plain-text body; None when the body holds none."""
    lines = text[:MAX_TEXT_CHARS].replace("\r\n", "\n").split("\n")
    split = split_lines(lines, wrap=TEXT_WRAP_LINES, min_quoted=MIN_QUOTED_LINES)
    return None if split is None else build_unwrapped(split, lines)


def find_quote_line(lines: list[str], *, wrap: int, limit: int, intro_first: bool) -> int | None:
    """The line where quoting starts: the intro's first line (or its last, `intro_first=False`), or the limit."""
    for index in range(len(lines)):
        intro = find_intro(lines, index, wrap)
        if intro is not None:
            return index if intro_first else intro[0]
        if index >= limit - 1:
            return index
    return None


def quote_text(text: str, *, limit: int = QUOTE_LINE_LIMIT, quote_intro_line: bool = False) -> list[tuple[bool, str]]:
    """[(is_new_text, chunk), ...]: the text up to (and with) the reply/forward intro, then the quoted rest.

    With `quote_intro_line` the intro line belongs to the quoted chunk instead.
    """
    lines = text.split("\n")
    found = find_quote_line(lines, wrap=TEXT_WRAP_LINES, limit=limit, intro_first=quote_intro_line)
    if found is None:
        return [(True, text)]
    cut = found if quote_intro_line else found + 1
    return [(True, "\n".join(lines[:cut])), (False, "\n".join(lines[cut:]))]
