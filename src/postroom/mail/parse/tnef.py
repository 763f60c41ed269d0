"""Unpack Outlook TNEF (winmail.dat, application/ms-tnef) into files and a body with `tnefparse`."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Final

from tnefparse.tnef import TNEF

from postroom.mail.parse.charsets import decode_bytes
from postroom.mail.parse.htmltext import html_to_text
from postroom.mail.parse.rtf import decompress_rtf, rtf_to_text

TNEF_TYPES: Final = frozenset({"application/ms-tnef", "application/vnd.ms-tnef"})
TNEF_SIGNATURE: Final = b"\x78\x9f\x3e\x22"  # MS-OXTNEF section 2.1.3.1: 0x223E9F78 little-endian
MAX_EMBEDDED: Final = 5  # levels of TNEF inside TNEF we open (our own bound)
DEFAULT_NAME: Final = "unknown.dat"  # what tnefparse and Outlook call an attachment without a name

logging.getLogger("tnefparse").setLevel(logging.ERROR)


@dataclass(frozen=True, slots=True)
class TnefFile:
    """One file carried in the TNEF stream."""

    filename: str
    payload: bytes


@dataclass(frozen=True, slots=True)
class TnefContent:
    """Everything useful in a TNEF stream: its files in order, and the body as text and/or HTML."""

    files: tuple[TnefFile, ...]
    text: str | None
    html: str | None


def is_tnef(content_type: str, filename: str | None, payload: bytes) -> bool:
    """True for a declared TNEF part, or a winmail.dat that starts with the TNEF signature."""
    if content_type in TNEF_TYPES:
        return True
    return (filename or "").lower() == "winmail.dat" and payload.startswith(TNEF_SIGNATURE)


def _as_text(value: object, codepage: str | None) -> str | None:
    if isinstance(value, str):
        return value.rstrip("\x00")
    if isinstance(value, bytes):
        return decode_bytes(value.rstrip(b"\x00"), codepage)
    return None


def _filename(attachment: object) -> str:
    try:
        name = attachment.long_filename()  # type: ignore[attr-defined]
    except (UnicodeDecodeError, AttributeError, ValueError):
        name = None
    if isinstance(name, bytes):
        name = decode_bytes(name.rstrip(b"\x00"), None)
    if not isinstance(name, str) or not name.strip("\x00 "):
        return DEFAULT_NAME
    return name.strip("\x00 ")


def read_tnef(payload: bytes) -> TnefContent | None:
    """Decode a TNEF stream leniently (bad checksums, trailing garbage); None when it is unreadable."""
    try:
        parsed = TNEF(payload, do_checksum=False)
    except Exception:  # tnefparse raises many kinds of error on damaged streams
        return None
    if not parsed.objects:
        return None  # a signature and nothing after it
    files: list[TnefFile] = []
    for attachment in parsed.attachments:
        data = attachment.data if isinstance(attachment.data, bytes) else b""
        files.append(TnefFile(_filename(attachment), data))
    codepage = parsed.codepage if isinstance(parsed.codepage, str) else None
    html = _as_text(parsed.htmlbody, codepage)
    text = _as_text(parsed.body, codepage)
    if not text and html:
        text = html_to_text(html)
    if not text and not html:
        raw_rtf = getattr(parsed, "_rtfbody", None)
        if isinstance(raw_rtf, bytes) and raw_rtf:
            rtf = decompress_rtf(raw_rtf)
            text = rtf_to_text(rtf) if rtf else None
    return TnefContent(tuple(files), text or None, html or None)
