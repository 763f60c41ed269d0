"""Turn an HTML body into readable plain text, never raising: a fast layout walk over an lxml tree
(htmllayout.py), inscriptis on the same tree for what the walk declines (see docs/architecture/parser.md)."""

from __future__ import annotations

import logging
import re
from typing import Any, Final, Literal

from inscriptis.css_profiles import STRICT_CSS_PROFILE
from inscriptis.html_engine import Inscriptis
from inscriptis.html_properties import Display
from inscriptis.model.config import ParserConfig
from inscriptis.model.html_element import HtmlElement
from lxml import etree

from postroom.mail.parse.htmlcanvas import TableTooLarge
from postroom.mail.parse.htmllayout import MAX_DEPTH, Declined, layout_tree

MAX_HTML_CHARS: Final = 5 * 1024 * 1024  # beyond this the text is cut; no reader scrolls 5 MB of HTML
# inscriptis's strict profile (no indentation per <div>, no spaces around <span>) with the block elements the
# layout walk also puts on their own lines, so both paths give the same kind of text
_FALLBACK_CSS: Final = STRICT_CSS_PROFILE | {
    tag: HtmlElement(display=Display.block)
    for tag in ("section", "center", "form", "fieldset", "legend", "details", "summary", "dl", "dt", "dd", "hr", "tr")
}
_CONFIG: Final = ParserConfig(css=_FALLBACK_CSS, display_links=False, display_images=False)
_BLANK_RUNS: Final = re.compile(r"\n\n\n+")  # three or more line breaks; lines hold no trailing blanks by then
_CLOSING_ROOT: Final = re.compile(r"</(?:body|html)\s*>", re.I)
_XML_DECLARATION: Final = re.compile(r"^<\?xml [^>]+?\?>")
_TAGS: Final = re.compile(r"<[^>]*>")
# plain lxml elements (lxml.html looks up an element class in Python for every element the walk touches, which
# costs more than the walk itself), from UTF-8 bytes: lxml cut a str's text at a lone surrogate, and bytes parse
# a little faster; the forced encoding ignores a <meta> charset, as str input did (the text is decoded already)
_PARSER: Final = etree.HTMLParser(encoding="utf-8")

Converter = Literal["layout", "inscriptis", "tags"]
log = logging.getLogger(__name__)


def html_to_text(html: str) -> str:
    """Readable text of an HTML document: block elements on their own lines, no markup, tidy blank lines."""
    return render_html(html)[0]


def render_html(html: str, *, max_depth: int = MAX_DEPTH) -> tuple[str, Converter]:
    """`html_to_text`, and what made the text: the layout walk; inscriptis on the same tree when the walk
    declined (a tree deeper than `max_depth`) or failed; or tag stripping when lxml refused the document or
    a table would be too large to lay out."""
    if not html.strip():
        return "", "layout"
    html = _CLOSING_ROOT.sub("", html[:MAX_HTML_CHARS])  # text after </html> is still shown by mail clients
    text, converter = _convert(html, max_depth)
    return _tidy(text), converter


def _convert(html: str, max_depth: int) -> tuple[str, Converter]:
    try:
        root = _parse(html)
    except Exception:  # lxml refuses some documents; their text is still worth having
        return _TAGS.sub(" ", html), "tags"
    if root is None:
        return "", "layout"
    try:
        return layout_tree(root, max_depth=max_depth), "layout"
    except TableTooLarge:  # inscriptis would pad the same table to gigabytes
        return _TAGS.sub(" ", html), "tags"
    except Declined:
        pass
    except Exception as error:  # a bug in the walk must not lose the text: inscriptis reads the same tree
        log.warning("HTML layout failed (%s), inscriptis used", type(error).__name__, exc_info=True)
    try:
        return Inscriptis(root, _CONFIG).get_text(), "inscriptis"
    except Exception:  # e.g. RecursionError on a tree deeper than the stack
        return _TAGS.sub(" ", html), "tags"


def html_to_text_inscriptis(html: str) -> str:
    """The fallback alone, for comparisons: inscriptis on the same tree, with the same tidy-up."""
    if not html.strip():
        return ""
    root = _parse(_CLOSING_ROOT.sub("", html[:MAX_HTML_CHARS]))
    return "" if root is None else _tidy(Inscriptis(root, _CONFIG).get_text())


def _parse(html: str) -> Any:
    """The lxml tree as inscriptis builds it (lxml.html.document_fromstring): XML declaration dropped, a
    document without elements read as <pre> text. Raises ValueError for what lxml refuses."""
    html = html.strip()
    if not html:
        return None
    if html.startswith("<?xml "):
        html = _XML_DECLARATION.sub("", html, count=1)
    data = html.encode("utf-8", "replace")  # "replace": a lone surrogate (broken input) becomes "?"
    root = etree.fromstring(data, _PARSER)
    if root is None:
        root = etree.fromstring(b"<pre>" + data + b"</pre>", _PARSER)
    if root is None:
        raise ValueError("no document")
    return root


def _tidy(text: str) -> str:
    """No-break spaces as spaces, no blanks at line ends, at most one blank line in a row, none around."""
    text = text.replace("\xa0", " ")
    if " \n" in text or "\t\n" in text or text.endswith((" ", "\t")):
        # drop blanks at line ends (table cells are padded); a regex over long space runs is quadratic
        text = "\n".join(map(str.rstrip, text.split("\n")))
    if "\n\n\n" in text:
        text = _BLANK_RUNS.sub("\n\n", text)
    return text.strip("\n")
