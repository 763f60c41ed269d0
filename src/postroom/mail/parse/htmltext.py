"""Turn an HTML body into readable plain text (inscriptis on an lxml tree), never raising."""

from __future__ import annotations

import re
from typing import Final

from inscriptis import get_text
from inscriptis.model.config import ParserConfig

MAX_HTML_CHARS: Final = 5 * 1024 * 1024  # beyond this the text is cut; no reader scrolls 5 MB of HTML
_CONFIG: Final = ParserConfig(display_links=False, display_images=False)
_BLANK_RUNS: Final = re.compile(r"\n\n\n+")  # three or more line breaks; lines hold no trailing blanks by then
_CLOSING_ROOT: Final = re.compile(r"</(?:body|html)\s*>", re.I)
_TAGS: Final = re.compile(r"<[^>]*>")


def html_to_text(html: str) -> str:
    """Readable text of an HTML document: block elements on their own lines, no markup, tidy blank lines."""
    if not html.strip():
        return ""
    html = _CLOSING_ROOT.sub("", html[:MAX_HTML_CHARS])  # text after </html> is still shown by mail clients
    try:
        text: str = get_text(html, _CONFIG)
    except Exception:  # lxml refuses some documents (e.g. encoding declarations); strip tags instead
        text = _TAGS.sub(" ", html)
    text = text.replace("\xa0", " ")
    if " \n" in text or "\t\n" in text:
        # drop blanks at line ends (inscriptis pads table cells); a regex over long space runs is quadratic
        lines = text.split("\n")
        last = lines.pop()  # not followed by a line break: kept as it is
        lines = [line.rstrip(" \t") for line in lines]
        lines.append(last)
        text = "\n".join(lines)
    if "\n\n\n" in text:
        text = _BLANK_RUNS.sub("\n\n", text)
    return text.strip("\n")
