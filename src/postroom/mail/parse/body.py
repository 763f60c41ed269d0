"""Choose the message body: text/plain preferred, HTML kept apart; every other leaf is an attachment."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

from postroom.mail.parse.htmltext import html_to_text
from postroom.mail.parse.mime import Leaf
from postroom.mail.parse.payloads import read_text

BODY_TYPES: Final = frozenset({"text/plain", "text/html"})


@dataclass(frozen=True, slots=True)
class BodyChoice:
    """The text and HTML bodies and the leaves left over for attachments, in document order."""

    text: str
    html: str | None
    text_leaves: tuple[Leaf, ...]
    rest: tuple[Leaf, ...]
    html_text: str | None = None  # `html` as text, when it was converted here (converting is slow: reuse it)


def is_body_candidate(leaf: Leaf) -> bool:
    """A text/plain or text/html part that is neither declared an attachment nor named like a file."""
    info = leaf.info
    if info.content_type not in BODY_TYPES:
        return False
    return info.disposition != "attachment" and not info.filename


def choose_body(leaves: tuple[Leaf, ...], defects: list[str]) -> BodyChoice:
    """Pick the bodies. Each multipart/alternative group gives its plain text, else its HTML as text;
    standalone inline text parts are joined in order. The first inline HTML part is the HTML body.
    """
    candidates = [leaf for leaf in leaves if is_body_candidate(leaf)]
    html_leaf = next((leaf for leaf in candidates if leaf.info.content_type == "text/html"), None)
    html = read_text(html_leaf.part, html_leaf.info.charset, defects) if html_leaf is not None else None
    plain_groups = {
        leaf.alternative
        for leaf in candidates
        if leaf.info.content_type == "text/plain" and leaf.alternative is not None
    }
    pieces: list[str] = []
    text_leaves: list[Leaf] = []
    used: set[int] = set()
    html_text: str | None = None
    for leaf in candidates:
        if leaf.info.content_type == "text/plain":
            pieces.append(read_text(leaf.part, leaf.info.charset, defects))
            text_leaves.append(leaf)
            used.add(id(leaf))
        elif leaf is html_leaf:
            used.add(id(leaf))
            if leaf.alternative is None or leaf.alternative not in plain_groups:
                html_text = html_to_text(html or "")
                pieces.append(html_text)
        elif leaf.alternative is not None and leaf.alternative in plain_groups:
            used.add(id(leaf))  # a second HTML rendering of text we already have
    text = "\n".join(piece.rstrip("\n") for piece in pieces if piece.strip())
    if pieces and text and pieces[-1].endswith("\n"):
        text += "\n"
    rest = tuple(leaf for leaf in leaves if id(leaf) not in used)
    return BodyChoice(text=text, html=html, text_leaves=tuple(text_leaves), rest=rest, html_text=html_text)
