"""Build `ParsedAttachment` values: hashes, sniffed type, inline or attached, Content-ID."""

from __future__ import annotations

import hashlib
from typing import Final

import filetype

from postroom.mail.values import ParsedAttachment

SNIFF_BYTES: Final = 8192  # filetype reads at most this many leading bytes (its own limit)


def sniff_type(payload: bytes) -> str | None:
    """The content type the magic bytes show, or None when they show nothing known."""
    if not payload:
        return None
    try:
        kind = filetype.guess(payload[:SNIFF_BYTES])
    except (TypeError, ValueError):
        return None
    return str(kind.mime) if kind is not None else None


def build_attachment(
    payload: bytes,
    *,
    filename: str,
    declared_type: str | None,
    inline: bool,
    content_id: str | None,
) -> ParsedAttachment:
    """Describe one attachment; the declared type wins, the sniffed one fills in when none was declared."""
    sniffed = sniff_type(payload)
    content_type = (declared_type or sniffed or "application/octet-stream").lower()
    return ParsedAttachment(
        filename=filename,
        content_type=content_type,
        sniffed_type=sniffed,
        size=len(payload),
        md5=hashlib.md5(payload, usedforsecurity=False).hexdigest(),
        sha256=hashlib.sha256(payload).hexdigest(),
        inline=inline,
        content_id=content_id,
        payload=payload,
    )
