"""Decode RFC 2047 encoded words leniently (split multi-byte words, bad charsets, missing spaces)."""

from __future__ import annotations

import base64
import binascii
import re
from typing import Final

from postroom.mail.parse.charsets import decode_bytes, restore_surrogates

# RFC 2047 section 2, relaxed: any charset token (with an optional RFC 2231 language), Q or B, no spaces.
ENCODED_WORD: Final = re.compile(r"=\?([^?\s]+?)\?([QqBb])\?([^?]*?)\?=")
_BETWEEN_WORDS: Final = re.compile(r"[ \t\r\n]*")


def _decode_q(text: str) -> bytes:
    raw = text.replace("_", " ").encode("ascii", "surrogateescape")
    return re.sub(rb"=([0-9A-Fa-f]{2})", lambda m: bytes([int(m.group(1), 16)]), raw)


def _decode_b(text: str) -> bytes:
    cleaned = re.sub(r"[^A-Za-z0-9+/]", "", text)
    cleaned += "=" * (-len(cleaned) % 4)
    if len(cleaned) % 4 == 1:
        cleaned = cleaned[:-1]
    try:
        return base64.b64decode(cleaned)
    except (binascii.Error, ValueError):
        return b""


def decode_words(value: str, defects: list[str] | None = None, hint: str | None = None) -> str:
    """Decode every encoded word in a header value; whitespace between adjacent words is dropped.

    Adjacent words in the same charset are joined as bytes before decoding, because senders split
    multi-byte characters across words (common in CJK subjects).
    """
    value = restore_surrogates(value, hint)
    if "=?" not in value:
        return value
    out: list[str] = []
    pos = 0
    pending: bytearray = bytearray()
    pending_charset: str | None = None

    def flush() -> None:
        nonlocal pending_charset
        if pending_charset is not None:
            out.append(decode_bytes(bytes(pending), pending_charset, defects))
            pending.clear()
            pending_charset = None

    for match in ENCODED_WORD.finditer(value):
        gap = value[pos : match.start()]
        if pending_charset is not None and _BETWEEN_WORDS.fullmatch(gap) is None:
            flush()
        if pending_charset is None:
            out.append(gap)
        charset = match.group(1).split("*", 1)[0]
        data = _decode_b(match.group(3)) if match.group(2) in "Bb" else _decode_q(match.group(3))
        if pending_charset is not None and pending_charset.lower() != charset.lower():
            flush()
        pending_charset = charset
        pending.extend(data)
        pos = match.end()
    flush()
    out.append(value[pos:])
    return "".join(out)


_QUOTED: Final = re.compile(r'"(?:[^"\\]|\\.)*"')
_WORD_RUN: Final = re.compile(r"=\?[^?\s]+?\?[QqBb]\?[^?]*?\?=(?:[ \t\r\n]*=\?[^?\s]+?\?[QqBb]\?[^?]*?\?=)*")
_SPECIALS: Final = re.compile(r'[()<>\[\]:;@\\,."]')


def _quote_if_needed(text: str) -> str:
    if _SPECIALS.search(text) is None:
        return text
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


def decode_address_words(value: str, hint: str | None = None) -> str:
    """Decode an address field for display: a decoded phrase holding specials (`Müller, Bernd`) is
    quoted, so that the decoded field still reads as the same list of mailboxes (RFC 5322 3.4)."""
    value = restore_surrogates(value, hint)
    if "=?" not in value:
        return value
    out: list[str] = []
    position = 0
    for quoted in [*_QUOTED.finditer(value), None]:
        end = quoted.start() if quoted is not None else len(value)
        segment = value[position:end]
        out.append(_WORD_RUN.sub(lambda run: _quote_if_needed(decode_words(run.group(0))), segment))
        if quoted is not None:
            out.append(decode_words(quoted.group(0)))
            position = quoted.end()
    return "".join(out)
