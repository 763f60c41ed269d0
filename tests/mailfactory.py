"""Build realistic raw messages for tests and benchmarks (bytes, CRLF, like an MTA hands them over)."""

from __future__ import annotations

import datetime as dt
import itertools
from email.message import EmailMessage
from email.policy import SMTP
from email.utils import format_datetime

_counter = itertools.count(1)


def build_mail(
    *,
    sender: str = "Jane Doe <jane.doe@example.org>",
    to: str = "support@example.com",
    subject: str = "Printer on floor 3 is jammed",
    body: str = "Hello,\n\nthe printer on floor 3 is jammed again.\n\nJane\n",
    message_id: str | None = None,
    in_reply_to: str | None = None,
    references: str | None = None,
    extra_headers: dict[str, str] | None = None,
    html: str | None = None,
    attachments: list[tuple[str, str, bytes]] | None = None,
    date: dt.datetime | None = None,
) -> bytes:
    msg = EmailMessage()
    msg["From"] = sender
    msg["To"] = to
    msg["Subject"] = subject
    msg["Date"] = format_datetime(date or dt.datetime(2026, 11, 2, 9, 30, tzinfo=dt.UTC))
    msg["Message-ID"] = f"<{message_id or f'test-{next(_counter)}@mail.example.org'}>"
    if in_reply_to:
        msg["In-Reply-To"] = f"<{in_reply_to}>"
    if references:
        msg["References"] = references
    for name, value in (extra_headers or {}).items():
        msg[name] = value
    msg.set_content(body)
    if html:
        msg.add_alternative(html, subtype="html")
    for filename, mime, data in attachments or []:
        maintype, subtype = mime.split("/", 1)
        msg.add_attachment(data, maintype=maintype, subtype=subtype, filename=filename)
    return msg.as_bytes(policy=SMTP)


def build_nested_bomb(depth: int) -> bytes:
    """A multipart nested `depth` levels deep: hostile input that recursive parsers choke on."""
    head = b"From: x@example.org\r\nTo: support@example.com\r\nSubject: bomb\r\nMessage-ID: <bomb@example.org>\r\n"
    parts = [head]
    for level in range(depth):
        parts.append(b'Content-Type: multipart/mixed; boundary="b%d"\r\n\r\n--b%d\r\n' % (level, level))
    parts.append(b"Content-Type: text/plain\r\n\r\nhi\r\n")
    for level in reversed(range(depth)):
        parts.append(b"--b%d--\r\n" % level)
    return b"".join(parts)


_PDF = b"%PDF-1.4\n1 0 obj<</Type/Catalog>>endobj\ntrailer<</Root 1 0 R>>\n%%EOF\n"
_SUBJECTS = (
    "VPN drops every hour",
    "Rechnung Nr. 4711 - Frage",
    "Cannot log in",
    "Bestellung storniert?",
    "Printer on floor 3",
    "Urgent: payroll export fails",
    "Café menu for Friday",
)


def build_mix(count: int, *, run: str = "mix") -> list[bytes]:
    """`count` varied messages with unique Message-IDs: plain, HTML with attachment, replies to earlier ones."""
    out: list[bytes] = []
    for i in range(count):
        kind = i % 4
        subject = _SUBJECTS[i % len(_SUBJECTS)]
        sender = f"Customer {i % 37} <customer{i % 37}@example.org>"
        mid = f"{run}-{i}@mail.example.org"
        if kind == 0:
            out.append(build_mail(sender=sender, subject=subject, message_id=mid, body=f"Message {i}.\n" * 5))
        elif kind == 1:
            out.append(
                build_mail(
                    sender=sender,
                    subject=subject,
                    message_id=mid,
                    to="sales@example.com",
                    body=f"Angebot {i}: Grüße aus Köln.\n",
                    html=f"<p>Angebot {i}: <b>Grüße</b> aus Köln.</p>",
                    attachments=[(f"offer-{i}.pdf", "application/pdf", _PDF)],
                )
            )
        elif kind == 2 and i >= 2:
            parent = f"{run}-{i - 2}@mail.example.org"
            out.append(
                build_mail(
                    sender=sender,
                    subject=f"Re: {subject}",
                    message_id=mid,
                    in_reply_to=parent,
                    references=f"<{parent}>",
                    body=f"Reply {i}.\n\n> earlier text\n",
                )
            )
        else:
            out.append(
                build_mail(
                    sender=sender,
                    subject=subject,
                    message_id=mid,
                    to="billing@example.com",
                    extra_headers={"Delivered-To": "billing@example.com"},
                    body=f"Invoice {i}\n",
                )
            )
    return out
