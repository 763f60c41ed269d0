"""Choose an attachment's file name: declared (RFC 2231 / RFC 2047), derived, or generated; unique."""

from __future__ import annotations

import re
import urllib.parse
from collections.abc import Collection
from typing import Final

from postroom.mail.parse.charsets import decode_bytes
from postroom.mail.parse.mime import PartInfo

# Names for unnamed parts by type, the same as Zammad's parser gives them (extension, stem).
GENERATED_NAMES: Final[dict[str, tuple[str, str]]] = {
    "message/delivery-status": ("txt", "delivery-status"),
    "text/plain": ("txt", "document"),
    "text/html": ("html", "document"),
    "text/calendar": ("ics", "calendar"),
    "video/quicktime": ("mov", "video"),
    "image/jpeg": ("jpg", "image"),
    "image/jpg": ("jpg", "image"),
    "image/png": ("png", "image"),
    "image/gif": ("gif", "image"),
    "application/pdf": ("pdf", "document"),
    "application/pgp-signature": ("asc", "signature"),
    "application/pkcs7-signature": ("p7s", "smime"),
    "application/x-pkcs7-signature": ("p7s", "smime"),
}
MAX_FILENAME: Final = 255  # bytes-ish bound most file systems share
_UNSAFE: Final = re.compile(r"[\x00-\x1f\x7f/\\]")
_CID_WITH_EXTENSION: Final = re.compile(r"^(.+?\.[^.@]{2,6})@.+")
_CID_STEM: Final = re.compile(r"^(.+?)@.+")
_RFC2231_RAW: Final = re.compile(r"""\*=\s*"?([^'"\s;]*)'[^']*'([^;"\s]+)""")


def repair_rfc2231(filename: str, raw_header: str | None) -> str:
    """Re-decode an RFC 2231 name whose bytes did not fit the declared charset (gave U+FFFD)."""
    if "\ufffd" not in filename or not raw_header:
        return filename
    match = _RFC2231_RAW.search(raw_header)
    if match is None:
        return filename
    data = urllib.parse.unquote_to_bytes(match.group(2))
    return decode_bytes(data, match.group(1))


def sanitise(filename: str) -> str:
    """No path separators, control characters or surrounding white space; at most 255 characters."""
    cleaned = _UNSAFE.sub("_", filename).strip().strip(".") if filename.strip(". ") else ""
    return cleaned[:MAX_FILENAME]


def build_filename(info: PartInfo, embedded_subject: str | None) -> str:  # noqa: PLR0911 - one exit per source, in order
    """The declared name, else one derived from Content-Location, the subject, the type or the Content-ID."""
    if info.filename:
        name = sanitise(info.filename)
        if name:
            return name
    if info.location:
        name = sanitise(info.location.rsplit("/", 1)[-1])
        if name:
            return name
    if info.content_type in ("message/rfc822", "message/global"):
        if embedded_subject:
            return sanitise(f"{embedded_subject}.eml") or "Mail.eml"
        if info.description:
            return sanitise(f"{info.description}.eml") or "Mail.eml"
        return "Mail.eml"
    cid = info.content_id or ""
    match = _CID_WITH_EXTENSION.match(cid)
    if match is not None:
        return sanitise(match.group(1)) or "file"
    if info.declared_type and info.content_type in GENERATED_NAMES:
        extension, stem = GENERATED_NAMES[info.content_type]
        if info.description:
            return sanitise(f"{info.description}.{extension}") or f"{stem}.{extension}"
        return f"{stem}.{extension}"
    match = _CID_STEM.match(cid)
    if match is not None:
        return sanitise(match.group(1)) or "file"
    return "file"


def make_unique(filename: str, taken: Collection[str]) -> str:
    """Number a repeated name after its stem (`a.tar.gz` -> `a1.tar.gz`), as Zammad does."""
    if filename not in taken:
        return filename
    stem, dot, extension = filename.partition(".")
    for counter in range(1, 1001):
        candidate = f"{stem}{counter}{dot}{extension}"
        if candidate not in taken:
            return candidate
    return filename
