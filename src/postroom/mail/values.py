"""Frozen values that the mail core returns: parsed messages, addresses, attachments, limits."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Final

MIB: Final = 1024 * 1024


@dataclass(frozen=True, slots=True)
class Address:
    """One mailbox: display name (decoded, may be empty) and address (normalised, may be empty)."""

    name: str
    address: str


@dataclass(frozen=True, slots=True)
class Limits:
    """Hard limits the parser enforces so that hostile input cannot exhaust memory or time.

    Defaults follow common MTA practice: Postfix's message_size_limit is 10 MB by default and most hosted
    services accept 25-50 MB; no legitimate message needs hundreds of MIME parts or 30 levels of nesting.
    """

    max_bytes: int = 50 * MIB
    max_parts: int = 500
    max_depth: int = 20
    max_header_bytes: int = 1 * MIB  # all header fields of the top-level message together
    max_header_fields: int = 2000


class LimitBreach(StrEnum):
    """Which limit a message broke; the pipeline quarantines such a message with cause `oversized`/`malformed`."""

    SIZE = "size"
    PARTS = "parts"
    DEPTH = "depth"
    HEADERS = "headers"


@dataclass(frozen=True, slots=True)
class ParsedAttachment:
    """One attachment or inline part, with its bytes (decoded from its transfer encoding)."""

    filename: str
    content_type: str  # as declared (lower case, no parameters), or sniffed when nothing was declared
    sniffed_type: str | None  # from the content's magic bytes; None when unknown
    size: int
    md5: str
    sha256: str
    inline: bool
    content_id: str | None  # without angle brackets
    payload: bytes = field(repr=False, compare=False)


@dataclass(frozen=True, slots=True)
class ParsedMessage:
    """What the pure core derives from one raw message; it is built even from garbage (see `defects`)."""

    from_: Address | None
    sender: tuple[Address, ...]
    reply_to: tuple[Address, ...]
    to: tuple[Address, ...]
    cc: tuple[Address, ...]
    delivered_to: tuple[Address, ...]  # Delivered-To and X-Original-To, in header order, deduplicated
    subject: str
    message_id: str | None  # without angle brackets
    in_reply_to: tuple[str, ...]
    references: tuple[str, ...]
    date: dt.datetime | None  # aware; the receive time when the header is missing or unreadable
    text: str
    html: str | None
    attachments: tuple[ParsedAttachment, ...]
    defects: tuple[str, ...]
    headers: tuple[tuple[str, str], ...]  # top-level header fields, unfolded and decoded, in order
    limit_breach: LimitBreach | None = None

    @property
    def is_acceptable(self) -> bool:
        """False when a limit was broken and the message must be quarantined instead of processed."""
        return self.limit_breach is None
