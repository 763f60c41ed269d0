"""Get a part's content as bytes or text: transfer decoding and charset recovery, never raising."""

from __future__ import annotations

import binascii
import io
import re
from email.generator import BytesGenerator
from email.message import Message
from email.policy import EmailPolicy
from typing import Final

from postroom.mail.parse.charsets import decode_bytes


class _VerbatimPolicy(EmailPolicy):
    """Writes header fields as they were read: no refolding, no re-encoding, no space after an empty colon."""

    def fold_binary(self, name: str, value: str) -> bytes:
        text = f"{name}: {value}" if value else f"{name}:"
        return (text + self.linesep).encode("ascii", "surrogateescape")

    def fold(self, name: str, value: str) -> str:
        return (f"{name}: {value}" if value else f"{name}:") + self.linesep


# Regenerating an embedded message must give back its bytes, so that hashes match the original.
_VERBATIM: Final = _VerbatimPolicy(linesep="\n", max_line_length=0, cte_type="8bit")
_HEADER_END: Final = re.compile(rb"\r?\n\r?\n")
_NOT_BASE64: Final = re.compile(rb"[^A-Za-z0-9+/]+")


def read_bytes(part: Message, linesep: str = "\n", content_type: str | None = None) -> bytes:
    """The part's body with its Content-Transfer-Encoding undone (base64, quoted-printable, uuencode).

    An embedded message (message/*) is written back out with the message's own line ending, so that
    its bytes and hash are those of the original.
    """
    if content_type is None:
        content_type = part.get_content_type()
    if content_type.startswith("message/") or part.is_multipart():
        return _regenerate_body(part, linesep)
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
    text = decode_bytes(read_bytes(part, content_type="text/plain"), charset, defects)
    return text.replace("\r\n", "\n") if "\r" in text else text


def _regenerate_body(part: Message, linesep: str) -> bytes:
    """Serialise a message/* part and return what follows its own header block (the embedded bytes)."""
    buffer = io.BytesIO()
    try:
        verbatim = _VERBATIM if linesep == "\n" else _VERBATIM.clone(linesep=linesep)
        BytesGenerator(buffer, mangle_from_=False, policy=verbatim).flatten(part)
    except Exception:  # a damaged embedded message still yields what its raw payload holds
        payload = part.get_payload()
        return payload.encode("utf-8", "surrogateescape") if isinstance(payload, str) else b""
    data = buffer.getvalue()
    end = _HEADER_END.search(data)
    body = data.lstrip(b"\r\n") if data.startswith((b"\n", b"\r\n")) else data[end.end() :] if end is not None else b""
    return body if body.strip() else b""  # an empty embedded message is empty, not a bare line break
