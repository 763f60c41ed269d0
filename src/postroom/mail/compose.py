"""Build the bytes of an outbound message: headers for threading both ways, text and HTML, attachments.

The stdlib `email.message.EmailMessage` with `policy.SMTP` does the MIME work (RFC 2045-2047 encoding, CRLF line
endings, folding); this module decides what goes in. Threading out follows RFC 5322 section 3.6.4: In-Reply-To
names the message answered, References is its References plus its Message-ID.
"""

from __future__ import annotations

import datetime as dt
import html as html_lib
from collections.abc import Sequence
from dataclasses import dataclass
from email.headerregistry import Address as HeaderAddress
from email.message import EmailMessage
from email.policy import SMTP, SMTPUTF8
from email.utils import format_datetime
from typing import Final

from postroom.mail.automation import AUTO_REPLIED, build_automatic_headers
from postroom.mail.values import Address

# Some MTAs and clients choke on very long References fields (Exchange truncates around 2,000 characters);
# keeping the first id (the thread root) and the newest ones is what RFC 5322 section 3.6.4 implies and what
# mailers such as Thunderbird do.
MAX_REFERENCES: Final = 20


@dataclass(frozen=True, slots=True)
class OutgoingAttachment:
    filename: str
    content_type: str
    payload: bytes


@dataclass(frozen=True, slots=True)
class OutgoingMail:
    """Everything an outbound message says; `message_id` and references without angle brackets."""

    from_: Address
    to: tuple[Address, ...]
    subject: str
    text: str
    message_id: str
    date: dt.datetime
    cc: tuple[Address, ...] = ()
    reply_to: Address | None = None
    html: str | None = None
    in_reply_to: str | None = None
    references: tuple[str, ...] = ()
    automatic: bool = False  # sent by Postroom on its own: RFC 3834 marked (auto-replied unless auto_submitted says)
    auto_submitted: str = ""  # AUTO_REPLIED or AUTO_GENERATED (postroom.mail.automation) for automatic mail
    loop_id: str = ""  # the installation id, written as our loop header on everything we send
    extra_headers: tuple[tuple[str, str], ...] = ()
    attachments: tuple[OutgoingAttachment, ...] = ()


def cap_references(references: Sequence[str], limit: int = MAX_REFERENCES) -> tuple[str, ...]:
    """Keep the root and the newest ids, deduplicated, at most `limit` of them."""
    unique = list(dict.fromkeys(ref for ref in references if ref))
    if len(unique) <= limit:
        return tuple(unique)
    return (unique[0], *unique[len(unique) - (limit - 1) :])


def build_references(parent_references: Sequence[str], parent_message_id: str | None) -> tuple[str, ...]:
    """The References of a reply: the parent's References followed by the parent's Message-ID, capped."""
    chain = [*parent_references, *([parent_message_id] if parent_message_id else [])]
    return cap_references(chain)


def build_reply_subject(subject: str, reference: str, normalized: str) -> str:
    """`Re: <subject without prefixes> [PR-000123]`: one tag, one prefix, however long the thread."""
    base = normalized.strip() or subject.strip()
    tag = f"[{reference}]"
    if tag.lower() in base.lower():
        base = " ".join(base.replace(tag, " ").split())
    return f"Re: {base} {tag}" if base else f"Re: {tag}"


def _header_address(address: Address) -> HeaderAddress:
    return HeaderAddress(display_name=address.name, addr_spec=address.address)


def _needs_smtputf8(mail: OutgoingMail) -> bool:
    people = [mail.from_, *mail.to, *mail.cc, *([mail.reply_to] if mail.reply_to else [])]
    return any(not person.address.isascii() for person in people)


def build_message(mail: OutgoingMail) -> bytes:
    """The message as CRLF bytes ready for SMTP DATA (SMTPUTF8 only when an address needs it, RFC 6531)."""
    message = EmailMessage()
    message["From"] = _header_address(mail.from_)
    message["To"] = [_header_address(person) for person in mail.to]
    if mail.cc:
        message["Cc"] = [_header_address(person) for person in mail.cc]
    if mail.reply_to is not None:
        message["Reply-To"] = _header_address(mail.reply_to)
    message["Subject"] = mail.subject
    message["Date"] = format_datetime(mail.date)
    message["Message-ID"] = f"<{mail.message_id}>"
    if mail.in_reply_to:
        message["In-Reply-To"] = f"<{mail.in_reply_to}>"
    if mail.references:
        message["References"] = " ".join(f"<{ref}>" for ref in mail.references)
    # RFC 3834 section 5: mark automatic mail so that other systems never answer it in a loop; our loop header on
    # everything, so that our own mail coming back is recognised (postroom.mail.automation).
    auto_submitted = (mail.auto_submitted or AUTO_REPLIED) if mail.automatic else ""
    for name, value in build_automatic_headers(auto_submitted, mail.loop_id):
        message[name] = value
    for name, value in mail.extra_headers:
        message[name] = value
    message.set_content(mail.text)
    if mail.html is not None:
        message.add_alternative(mail.html, subtype="html")
    for attachment in mail.attachments:
        maintype, _, subtype = attachment.content_type.partition("/")
        if maintype in {"multipart", "message"}:  # an attached file is a leaf (RFC 2046 section 5): opaque bytes
            maintype, subtype = "application", "octet-stream"
        message.add_attachment(
            attachment.payload,
            maintype=maintype or "application",
            subtype=subtype or "octet-stream",
            filename=attachment.filename,
        )
    policy = SMTPUTF8 if _needs_smtputf8(mail) else SMTP
    return message.as_bytes(policy=policy)


def render_text_as_html(text: str) -> str:
    """A minimal HTML rendering of a plain-text reply (escaped, paragraphs kept) for the alternative part."""
    paragraphs = [html_lib.escape(block).replace("\n", "<br>\n") for block in text.split("\n\n")]
    return "".join(f"<p>{block}</p>\n" for block in paragraphs if block.strip())
