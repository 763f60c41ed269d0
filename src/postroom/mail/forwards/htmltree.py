"""Read an HTML body as lines (block elements and <br> end a line; blockquotes quote) and cut it by lines.

Each line knows the token span it covers in document order, so a range of lines maps back to a copy of the
tree that keeps only what lies inside it (plus the ancestors that wrap it and the <head>). The line model is
quotequail's (MIT, closeio/quotequail), so that its expectations in the shared corpus apply.
"""

from __future__ import annotations

import copy
import re
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any, Final

import lxml.etree
import lxml.html

from postroom.mail.forwards.patterns import FORWARD_RULE

MAX_HTML_CHARS: Final = 5 * 1024 * 1024  # longer bodies are not searched (same bound as parse.htmltext)
# Elements that do not end a line. td/th keep a table row on one line ("Subject:" | "value" in Thunderbird).
INLINE_TAGS: Final = frozenset(
    {
        "a", "abbr", "acronym", "b", "bdi", "bdo", "big", "center", "cite", "code", "del", "dfn", "em", "font",
        "i", "img", "ins", "kbd", "label", "mark", "object", "q", "s", "samp", "small", "span", "strike",
        "strong", "sub", "sup", "td", "th", "time", "tt", "u", "var", "wbr",
    }
)  # fmt: skip
INVISIBLE_TAGS: Final = frozenset({"head", "style", "script", "title", "template"})
# Outlook starts a forwarded/answered message with a border-top <div> instead of a text rule
OUTLOOK_RULE_STYLE: Final = re.compile(
    r"^\s*border:\s*none;\s*border-top:\s*solid\s+#[0-9a-f]{6}\s+1\.0pt;\s*"
    r"padding:\s*3\.0pt\s+0(?:in|cm)\s+0(?:in|cm)\s+0(?:in|cm);?\s*$",
    re.IGNORECASE,
)
# "<jane@example.com>" written unescaped (iOS Mail, Yahoo) parses as a tag and the address vanishes
_BARE_ADDRESS_TAG: Final = re.compile(r"<([\w.+-]+@[\w-]+(?:\.[\w-]+)+)>")
_SPACES: Final = re.compile(r"\s+")
_CONTROL: Final = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")  # not allowed in lxml text nodes; never visible
_EMPTY_DOCUMENT: Final = b"<div></div>"
Element = Any  # lxml ships no type information; elements stay inside this module


@dataclass(frozen=True, slots=True)
class HtmlLine:
    start: int  # first token of the line (see `_Tokens`)
    end: int  # token after the line
    text: str  # visible text, whitespace collapsed, "> " per blockquote level


@dataclass(frozen=True, slots=True)
class _Span:
    begin: int  # token of the start tag; its .text is begin + 1
    end: int  # token of the end tag; its .tail is end + 1


def _walk(root: Element) -> Iterator[tuple[bool, Element]]:
    """(is_start, element) in document order, comments included (lxml's iterwalk skips them)."""
    yield True, root
    stack: list[tuple[Element, Iterator[Element]]] = [(root, iter(root))]
    while stack:
        element, children = stack[-1]
        child = next(children, None)
        if child is None:
            stack.pop()
            yield False, element
            continue
        yield True, child
        stack.append((child, iter(child)))


def _tag(element: Element) -> str | None:
    tag = element.tag
    return tag.lower() if isinstance(tag, str) else None


def _parse(html: str) -> tuple[Element, bool]:
    html = _CONTROL.sub("", html[:MAX_HTML_CHARS])
    data = _BARE_ADDRESS_TAG.sub(r"&lt;\1&gt;", html).encode("utf-8", "replace")
    parser = lxml.html.HTMLParser(encoding="utf-8")
    try:
        root = lxml.html.fromstring(data, parser=parser)
    except (lxml.etree.LxmlError, ValueError):
        root = lxml.html.fromstring(_EMPTY_DOCUMENT, parser=parser)
    if _tag(root) in lxml.html.defs.top_level_tags:
        return root, False
    try:  # a fragment: wrap it in a <div> that rendering strips again
        return lxml.html.fromstring(b"<div>" + data + b"</div>", parser=parser), True
    except (lxml.etree.LxmlError, ValueError):
        return lxml.html.fromstring(_EMPTY_DOCUMENT, parser=parser), True


class HtmlDocument:
    """A parsed HTML body with its lines; `render(first, stop)` gives the HTML of lines [first, stop).

    Tokens are numbered in document order, two per tag: start tag (its .text follows), end tag (its .tail
    follows). A line covers tokens [start, end); a line starting "after" an element starts at its tail.
    """

    def __init__(self, html: str, max_lines: int | None = None) -> None:
        self._root, self._wrapped = _parse(html)
        self._order: list[Element] = []  # every element and comment, by start tag
        self._spans: list[_Span] = []  # same order as `_order`
        self.lines = self._read_lines(max_lines)

    def _read_lines(self, max_lines: int | None) -> list[HtmlLine]:
        lines: list[HtmlLine] = []
        position: dict[int, int] = {}  # id(element) -> index in `_order`
        counter = 0
        level = 0
        hidden = 0  # depth inside <head>, <style>, ...: text there is not part of any line
        buffer: list[str] = []
        start, start_level = 0, 0
        for is_start, element in _walk(self._root):
            tag = _tag(element)
            if is_start:
                position[id(element)] = len(self._order)
                self._order.append(element)
                self._spans.append(_Span(counter, counter))
                token, text = counter, element.text if tag is not None else None
                level += tag == "blockquote"
                hidden += tag in INVISIBLE_TAGS
            else:
                index = position[id(element)]
                self._spans[index] = _Span(self._spans[index].begin, counter)
                token, text = counter, element.tail
                level -= tag == "blockquote"
                hidden -= tag in INVISIBLE_TAGS
            counter += 2
            if tag is not None and ":" not in tag:
                is_break = tag == "br" and is_start
                is_rule = is_start and OUTLOOK_RULE_STYLE.match(element.get("style") or "") is not None
                if is_break or tag not in INLINE_TAGS:
                    words = _SPACES.sub(" ", "".join(buffer)).strip()
                    if words or is_break or is_rule:
                        lines.append(self._line(start, token + (0 if is_start else 1), start_level, words))
                        if is_rule:
                            lines.append(self._line(token, token, start_level, FORWARD_RULE))
                        buffer = []
                        words = ""
                    if not words:
                        start, start_level = token + (0 if is_start else 1), level
                    if max_lines is not None and len(lines) >= max_lines:
                        return lines[:max_lines]
            if text and not hidden:
                buffer.append(text)
        return lines

    @staticmethod
    def _line(start: int, end: int, level: int, words: str) -> HtmlLine:
        if words.startswith(">"):
            words = "\\" + words  # a literal ">" is text, not a quote level
        return HtmlLine(start, end, "> " * level + words)

    def render(self, first: int | None, stop: int | None, *, unindent: bool = False) -> str:
        """HTML of lines [first, stop) (None: from the start / to the end); "" when the range is empty."""
        count = len(self.lines)
        if (first is not None and first >= count) or (stop is not None and stop <= 0):
            return ""
        low = self.lines[first].start if first is not None and first > 0 else -1
        high = self.lines[stop - 1].end if stop is not None and stop < count else 1 << 62
        if low >= high:
            return ""
        root = copy.deepcopy(self._root)
        self._prune(list(_walk_starts(root)), low, high)
        if unindent:
            quote = next((el for el in root.iter() if _tag(el) == "blockquote"), None)
            if quote is not None:
                quote.attrib.clear()
                quote.tag = "div"
        rendered: str = lxml.html.tostring(root, encoding="utf-8").decode("utf-8")
        if self._wrapped and rendered.startswith("<div>") and rendered.endswith("</div>"):
            rendered = rendered[5:-6]
        return rendered.strip()

    def _prune(self, copies: list[Element], low: int, high: int) -> None:
        """Drop from the copied tree what lies outside tokens [low, high); the root and <head> always stay."""
        for element, twin, span in zip(self._order, copies, self._spans, strict=True):
            tag = _tag(element)
            if tag == "head" or _inside_head(twin):
                continue
            if not low <= span.begin + 1 < high:
                twin.text = None
            if not low <= span.end + 1 < high:
                twin.tail = None
            if (span.begin >= high or span.end < low) and twin is not copies[0]:
                _drop_keeping_tail(twin)


def _walk_starts(root: Element) -> Iterator[Element]:
    for is_start, element in _walk(root):
        if is_start:
            yield element


def _inside_head(element: Element) -> bool:
    return any(_tag(parent) == "head" for parent in element.iterancestors())


def _drop_keeping_tail(element: Element) -> None:
    parent = element.getparent()
    if parent is None:
        return
    tail = element.tail
    if tail:
        previous = element.getprevious()
        if previous is not None:
            previous.tail = (previous.tail or "") + tail
        else:
            parent.text = (parent.text or "") + tail
    parent.remove(element)
