"""Unwrap a reply or forward embedded in an HTML body, and split an HTML body into new and quoted parts."""

from __future__ import annotations

from postroom.mail.forwards.htmltree import HtmlDocument
from postroom.mail.forwards.lines import split_lines
from postroom.mail.forwards.text import QUOTE_LINE_LIMIT, build_unwrapped, find_quote_line
from postroom.mail.forwards.values import Unwrapped

HTML_WRAP_LINES = 1  # HTML lines are whole blocks: an intro does not continue on the next one


def _is_blank(line: str) -> bool:
    return not line.strip() or line.strip() == ">"


def _trim(lines: list[str], first: int, stop: int) -> tuple[int, int]:
    """The range without blank (or bare ">") lines at either end."""
    while first < stop and _is_blank(lines[first]):
        first += 1
    while stop > first and _is_blank(lines[stop - 1]):
        stop -= 1
    return first, stop


def unwrap_html(html: str) -> Unwrapped | None:
    """The reply, forward or quote embedded in an HTML body (HTML and text of each part); None when none is."""
    document = HtmlDocument(html)
    lines = [line.text for line in document.lines]
    split = split_lines(lines, wrap=HTML_WRAP_LINES, min_quoted=1)
    if split is None:
        return None
    parts: dict[str, str | None] = {}
    for key, line_range in (("html_top", split.top), ("html", split.body), ("html_bottom", split.bottom)):
        first, stop = _trim(lines, *line_range)
        rendered = document.render(first, stop, unindent=key == "html" and split.unindent) if first < stop else ""
        parts[key] = rendered or None
    return build_unwrapped(split, lines, **parts)


def quote_html(html: str, *, limit: int = QUOTE_LINE_LIMIT, quote_intro_line: bool = False) -> list[tuple[bool, str]]:
    """Like `quote_text` for HTML: [(True, html up to the intro), (False, the quoted rest)]; lines end at blocks."""
    document = HtmlDocument(html, max_lines=limit + 1)
    lines = [line.text for line in document.lines]
    found = find_quote_line(lines, wrap=HTML_WRAP_LINES, limit=limit, intro_first=quote_intro_line)
    if found is None:
        return [(True, document.render(None, None))]
    cut = found if quote_intro_line else found + 1
    return [(True, document.render(0, cut)), (False, document.render(cut, None))]
