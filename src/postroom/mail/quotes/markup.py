"""Turn an HTML reply into text whose quotes carry ">" and whose history containers carry private marks."""

from __future__ import annotations

import re
from typing import Final

from lxml import etree
from lxml import html as lxml_html

from postroom.mail.parse.htmltext import html_to_text
from postroom.mail.quotes.split import HARD_MARK, MARKS, QUOTE_CLOSE, QUOTE_OPEN, RULE_MARK, STRONG_MARK

_XML_DECLARATION: Final = re.compile(r"^\s*<\?xml[^>]{0,200}\?>", re.I)
_NO_TEXT_TAGS: Final = frozenset({"head", "style", "script", "title", "template"})
_HISTORY_IDS: Final = frozenset(
    {"divrplyfwdmsg", "appendonsend", "mail-editor-reference-message-container", "olk_src_body_section"}
)
_HISTORY_CLASSES: Final = frozenset(
    {"gmail_quote", "yahoo_quoted", "protonmail_quote", "moz-forward-container", "zmail_extra", "ms-outlook-ios-reply"}
)
_STRIP_MARKS: Final = {ord(mark): None for mark in MARKS}


def _classes(element: etree._Element) -> set[str]:
    return set(str(element.get("class") or "").lower().split())


def _is_history_container(element: etree._Element) -> bool:
    """Containers mail clients wrap the quoted original in: Gmail, Outlook, Yahoo, Proton, Thunderbird forwards."""
    if str(element.get("id") or "").lower() in _HISTORY_IDS:
        return True
    return element.tag == "div" and bool(_classes(element) & _HISTORY_CLASSES)


def _mark_before(element: etree._Element, mark: str) -> None:
    if element.getparent() is None:
        return
    marker = etree.Element("div")
    marker.text = mark
    element.addprevious(marker)


def _mark_tree(root: etree._Element) -> None:  # noqa: PLR0912 - one branch per rule of a decision list
    """Write the marks into the tree: blockquote edges, <hr> rules, history containers, the history blockquote."""
    hard: etree._Element | None = None
    candidates: list[etree._Element] = []
    seen_text = False
    for event, element in etree.iterwalk(root, events=("start", "end")):
        if not isinstance(element.tag, str):
            continue
        if event == "end":
            seen_text = seen_text or bool(element.tail and element.tail.strip())
            continue
        if hard is None and _is_history_container(element):
            hard = element
        top_level = element.tag == "blockquote" and next(element.iterancestors("blockquote"), None) is None
        if top_level and seen_text and "gmail_quote" not in _classes(element):
            candidates.append(element)
        if element.tag not in _NO_TEXT_TAGS:
            seen_text = seen_text or bool(element.text and element.text.strip())
    for quote in root.iter("blockquote"):
        quote.text = QUOTE_OPEN + (quote.text or "")
        children = list(quote)
        if children:
            children[-1].tail = (children[-1].tail or "") + QUOTE_CLOSE
        else:
            quote.text += QUOTE_CLOSE
    for rule in list(root.iter("hr")):
        parent = rule.getparent()
        if parent is not None:
            replacement = etree.Element("div")
            replacement.text = RULE_MARK
            replacement.tail = rule.tail
            parent.replace(rule, replacement)
    if candidates:
        _mark_before(candidates[-1], STRONG_MARK)
    if hard is not None:
        _mark_before(hard, HARD_MARK)


def _prefix_quotes(text: str) -> str:
    """Replace blockquote edge marks by ">" prefixes (one per nesting level) on the lines inside."""
    if QUOTE_OPEN not in text:
        return text
    out: list[str] = []
    depth = 0
    for line in text.split("\n"):
        content = line.replace(QUOTE_OPEN, "").replace(QUOTE_CLOSE, "").strip()
        lead = len(line) - len(line.lstrip(f" \t{QUOTE_OPEN}{QUOTE_CLOSE}"))
        line_depth = depth + line[:lead].count(QUOTE_OPEN) - line[:lead].count(QUOTE_CLOSE)
        depth = max(depth + line.count(QUOTE_OPEN) - line.count(QUOTE_CLOSE), 0)
        if content in MARKS or line_depth <= 0 or not content:
            out.append(content)
        else:
            out.append("> " * line_depth + content)
    return "\n".join(out)


def html_to_marked_text(html: str) -> str:
    """Readable text of `html` with ">" on blockquoted lines and the history marks of split.py on their own lines."""
    source = _XML_DECLARATION.sub("", html.translate(_STRIP_MARKS), count=1)
    if not source.strip():
        return ""
    try:
        root = lxml_html.document_fromstring(source)
    except (etree.ParserError, ValueError):
        return html_to_text(source)
    _mark_tree(root)
    return _prefix_quotes(html_to_text(lxml_html.tostring(root, encoding="unicode")))


def strip_marks(text: str) -> str:
    """`text` without the private marks, blank-line runs the removed marks leave behind collapsed, trimmed."""
    cleaned = text.translate(_STRIP_MARKS)
    cleaned = "\n".join(line.rstrip() for line in cleaned.split("\n"))
    return re.sub(r"\n{3,}", "\n\n", cleaned).strip()
