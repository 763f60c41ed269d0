"""The identity of an inbound message across redeliveries.

The same message reaches us more than once: an MTA retries after a lost 250, one message is addressed to two of
our addresses and delivered twice (each copy with its own Received/Delivered-To lines), a mailbox is imported
again. Source keys catch the first kind only; the fingerprint catches all of them. It covers what the author
wrote (Message-ID, From, Date, Subject, body, attachment hashes) and deliberately not the trace header fields
that relays add (RFC 5321 section 4.4).
"""

from __future__ import annotations

import hashlib

from postroom.mail.values import ParsedMessage


def build_fingerprint(parsed: ParsedMessage) -> str:
    h = hashlib.sha256()
    sender = parsed.from_.address.lower() if parsed.from_ else ""
    date = parsed.date.isoformat() if parsed.date else ""
    for part in (parsed.message_id or "", sender, date, parsed.subject, parsed.text, parsed.html or ""):
        data = part.encode("utf-8", "surrogatepass")
        h.update(len(data).to_bytes(8, "big"))
        h.update(data)
    for attachment in parsed.attachments:
        h.update(attachment.sha256.encode())
    return h.hexdigest()
