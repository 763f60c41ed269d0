"""Decide whether a parsed message forwards another one, and read the original's author, date and subject.

Evidence, in order: a forward block in the text body, then in the HTML body, then an attached message/rfc822,
then a forward prefix on the subject alone. Outlook writes the same "From:/Sent:/To:/Subject:" block (and
"-----Original Message-----") above replies and forwards, so such a block only counts as a forward when the
subject does not say "reply"; explicit titles ("Forwarded message", "Begin forwarded message") always count.
"""

from __future__ import annotations

import datetime as dt
import re
from typing import Final

from postroom.mail.forwards.dates import parse_written_date
from postroom.mail.forwards.markup import unwrap_html
from postroom.mail.forwards.patterns import EXPLICIT_FORWARD_RE
from postroom.mail.forwards.text import unwrap_text
from postroom.mail.forwards.values import ForwardInfo, Unwrapped
from postroom.mail.parse import parse_message
from postroom.mail.parse.addresses import parse_address_list
from postroom.mail.subjects import detect_subject_prefix_kind, normalize_subject
from postroom.mail.values import Address, ParsedMessage

EMBEDDED_TYPES: Final = frozenset({"message/rfc822", "message/global"})
DAEMON_LOCAL_PARTS: Final = frozenset({"mailer-daemon", "postmaster"})  # RFC 5321 section 4.5.1
_MAILTO: Final = re.compile(r"\[mailto:([^\]\s]+)\]", re.IGNORECASE)  # Outlook: "Jane Doe [mailto:jane@x.org]"
_MAILTO_LINK: Final = re.compile(r"<mailto:[^<>\s]*>", re.IGNORECASE)  # Outlook: "jane@x.org<mailto:jane@x.org>"
_PARENTHESISED: Final = re.compile(r"\(([^()\s]+@[^()\s]+)\)")  # Outlook: "Jane Doe (jane@x.org)"


def parse_author(value: str | None) -> Address | None:
    """The mailbox of a From value as a client wrote it; a bare name gives an address-less `Address`."""
    if not value or not value.strip():
        return None
    value = _PARENTHESISED.sub(r"<\1>", _MAILTO.sub(r"<\1>", _MAILTO_LINK.sub("", value)))
    if "@" not in value:
        name = " ".join(value.split()).strip("\"' ")
        return Address(name=name, address="") if name else None
    mailboxes = parse_address_list(value)
    return mailboxes[0] if mailboxes else None


def is_forward(unwrapped: Unwrapped, subject_kind: str | None) -> bool:
    """A forward block: an explicit forward title, or headers under a subject that does not say "reply".

    A bare rule ("____") or "Original Message" without any header below is a signature or list-footer separator.
    """
    if unwrapped.kind != "forward":
        return False
    if unwrapped.intro is not None and EXPLICIT_FORWARD_RE.search(unwrapped.intro):
        return True
    has_headers = bool(unwrapped.from_ or unwrapped.date or unwrapped.subject)
    return has_headers and subject_kind != "reply"


# Substrings (lower case) that every HTML forward or reply layout we unwrap carries somewhere: without one of
# them, parsing the HTML tree cannot find anything, and most mail (new requests) is skipped without a parse.
_HTML_HINTS: Final = (
    "forward", "original", "from:", "von:", "de :", ">de:", " de:", "от:", "发件人", "差出人", "blockquote", "quote",
    "divrplyfwdmsg", "moz-", "wrote", "schrieb", "a écrit", "escribió",
)  # fmt: skip


def _html_may_hold_history(html: str) -> bool:
    lowered = html.lower()
    return any(hint in lowered for hint in _HTML_HINTS)


def _unwrapped_body(parsed: ParsedMessage) -> Unwrapped | None:
    """The text body's reply or forward; the HTML body's only when the text shows neither (HTML-only mail)."""
    text = unwrap_text(parsed.text) if parsed.text.strip() else None
    if text is not None and text.kind != "quote":
        return text
    if not parsed.html or not _html_may_hold_history(parsed.html):
        return None
    html = unwrap_html(parsed.html)
    return html if html is not None and html.kind != "quote" else None


def is_from_mail_system(parsed: ParsedMessage) -> bool:
    """A bounce, delivery report or other machine notice: what it carries was returned, not forwarded by a person.

    Evidence: a report (RFC 6522), Auto-Submitted other than "no" (RFC 3834), a null Return-Path (RFC 5321
    section 4.5.5) or a MAILER-DAEMON/postmaster author (RFC 5321 section 4.5.1).
    """
    for name, value in parsed.headers:
        lowered_name, lowered = name.lower(), value.strip().lower()
        if lowered_name == "content-type" and lowered.startswith("multipart/report"):
            return True
        if lowered_name == "auto-submitted" and lowered and not lowered.startswith("no"):
            return True
        if lowered_name == "return-path" and lowered.replace(" ", "") == "<>":
            return True
    author = parsed.from_
    if author is None:
        return False
    local = author.address.rpartition("@")[0] or author.address
    return local.lower() in DAEMON_LOCAL_PARTS or author.name.lower() in DAEMON_LOCAL_PARTS


def _attached_forward(parsed: ParsedMessage) -> ForwardInfo | None:
    for attachment in parsed.attachments:
        if attachment.content_type not in EMBEDDED_TYPES or not attachment.payload.strip():
            continue
        inner = parse_message(attachment.payload)
        date_text = next((value for name, value in inner.headers if name.lower() == "date"), None)
        return ForwardInfo(
            from_=inner.from_, date=inner.date, date_text=date_text, subject=inner.subject or None, text=inner.text
        )
    return None


def detect_forward(parsed: ParsedMessage) -> ForwardInfo | None:
    """The original message when `parsed` forwards one; None for replies, machine notices and ordinary messages."""
    if is_from_mail_system(parsed):
        return None
    subject_kind = detect_subject_prefix_kind(parsed.subject)
    zone = parsed.date.tzinfo if parsed.date is not None and parsed.date.tzinfo is not None else dt.UTC
    unwrapped = _unwrapped_body(parsed)
    if unwrapped is not None and is_forward(unwrapped, subject_kind):
        return ForwardInfo(
            from_=parse_author(unwrapped.from_),
            date=parse_written_date(unwrapped.date, zone) if unwrapped.date else None,
            date_text=unwrapped.date,
            subject=unwrapped.subject,
            text=unwrapped.text,
        )
    if subject_kind != "reply":
        attached = _attached_forward(parsed)
        if attached is not None:
            return attached
    if subject_kind == "forward":
        # "Fwd:" with nothing recognisable below: the body is all we know of the original
        return ForwardInfo(
            from_=None, date=None, date_text=None, subject=normalize_subject(parsed.subject) or None, text=parsed.text
        )
    return None
