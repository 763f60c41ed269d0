"""Split an inbound reply into what the sender wrote now, the quoted history and the signature (pure)."""

from __future__ import annotations

from collections.abc import Sequence

from postroom.mail.parse.htmltext import html_to_text
from postroom.mail.quotes.markup import html_to_marked_text, strip_marks
from postroom.mail.quotes.parts import ReplyParts
from postroom.mail.quotes.split import split_lines

__all__ = ["ReplyParts", "split_reply", "split_reply_html"]


def split_reply(text: str, *, known_signatures: Sequence[str] = ()) -> ReplyParts:
    """New text, quoted history and signature of a plain-text reply; never raises.

    `known_signatures` are our own agents' signatures and disclaimers: where one appears, our earlier
    message is being quoted, so it and the message above it count as quoted history.
    """
    try:
        return split_lines(text, known_signatures)
    except Exception:  # a splitter bug must not lose the mail: everything is new text
        return ReplyParts(new_text=text.strip(), quoted_text="", signature="")


def split_reply_html(html: str, *, known_signatures: Sequence[str] = ()) -> ReplyParts:
    """Like split_reply for an HTML body: blockquotes, gmail_quote, divRplyFwdMsg & co. mark the history."""
    try:
        parts = split_lines(html_to_marked_text(html), known_signatures, html=True)
        return ReplyParts(
            new_text=strip_marks(parts.new_text),
            quoted_text=strip_marks(parts.quoted_text),
            signature=strip_marks(parts.signature),
        )
    except Exception:  # as above: never lose the mail
        return ReplyParts(new_text=html_to_text(html).strip(), quoted_text="", signature="")
