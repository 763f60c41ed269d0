"""Get a part's content as bytes or text: transfer decoding and charset recovery, never raising."""

from __future__ import annotations

import binascii
import io
import re
from email import policy
from email.generator import BytesGenerator
from email.message import Message
from typing import Final

from postroom.mail.parse.charsets import decode_bytes

# Regenerating an embedded message must not refold or re-encode its header fields.
_VERBATIM: Final = policy.default.clone(refold_source="none", max_line_length=0, linesep="\n")
_HEADER_END: Final = re.compile(rb"\r?\n\r?\n")
_NOT_BASE64: Final = re.compile(rb"[^A-Za-z0-9+/]+")


def read_bytes(part: Message) -> bytes:
    """The part's body with its Content-Transfer-Encoding undone (base64, quoted-printable, uuencode)."""
    if part.get_content_maintype() == "message" or part.is_multipart():
        return _regenerate_body(part)
    encoding = str(part.get("content-transfer-encoding", "")).strip().lower()
    payload = part.get_payload()
    if encoding == "base64" and isinstance(payload, str):
        return decode_base64(payload.encode("ascii", "ignore"))
    try:
        data = part.get_payload(decode=True)
    except (ValueError, binascii.Error, LookupError, AssertionError):
        data = None
    if isinstance(data, bytes):
        return data
    payload = part.get_payload()
    if isinstance(payload, str):
        return payload.encode("utf-8", "surrogateescape")
    return b""


def decode_base64(data: bytes) -> bytes:
    """Lenient base64 (RFC 2045 6.8): characters outside the alphabet are ignored; when the length is
    still wrong, a dangling character is dropped and missing padding added, as mail clients do."""
    try:
        return binascii.a2b_base64(data)
    except binascii.Error:
        pass
    cleaned = _NOT_BASE64.sub(b"", data)
    if len(cleaned) % 4 == 1:
        cleaned = cleaned[:-1]
    cleaned += b"=" * (-len(cleaned) % 4)
    try:
        return binascii.a2b_base64(cleaned)
    except binascii.Error:
        return b""


def read_text(part: Message, charset: str | None, defects: list[str]) -> str:
    """The part's body as text, decoded from its declared charset with fallbacks; CRLF becomes LF."""
    text = decode_bytes(read_bytes(part), charset, defects)
    return text.replace("\r\n", "\n") if "\r" in text else text


def _regenerate_body(part: Message) -> bytes:
    """Serialise a message/* part and return what follows its own header block (the embedded bytes)."""
    buffer = io.BytesIO()
    try:
        BytesGenerator(buffer, mangle_from_=False, policy=_VERBATIM).flatten(part)
    except Exception:  # a damaged embedded message still yields what its raw payload holds
        payload = part.get_payload()
        return payload.encode("utf-8", "surrogateescape") if isinstance(payload, str) else b""
    data = buffer.getvalue()
    end = _HEADER_END.search(data)
    if data.startswith((b"\n", b"\r\n")):
        return data.lstrip(b"\r\n")
    return data[end.end() :] if end is not None else b""
