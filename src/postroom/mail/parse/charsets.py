"""Turn bytes in a declared (possibly wrong or unknown) charset into text, never raising."""

from __future__ import annotations

import codecs
import re
from typing import Final

import charset_normalizer

# Labels seen in real mail that Python's codec registry does not know, or knows under another name.
# Sources: WHATWG Encoding Standard label table, RFC 1556 (iso-8859-8-i), observed mail (Zammad corpus).
CHARSET_ALIASES: Final[dict[str, str]] = {
    "iso-8859-8-i": "iso-8859-8",
    "iso-8859-8-e": "iso-8859-8",
    "iso-8859-6-i": "iso-8859-6",
    "iso-8859-6-e": "iso-8859-6",
    "utf8": "utf-8",
    "utf-8-sig": "utf-8",
    "unicode-1-1-utf-7": "utf-7",
    "x-unknown": "",
    "unknown": "",
    "unknown-8bit": "",
    "x-user-defined": "",
    "default": "",
    "us-ascii": "utf-8",  # 8-bit bytes in "us-ascii" text: UTF-8 when valid, else detection / Latin 1
    "ascii": "utf-8",
    "ansi_x3.4-1968": "utf-8",
    "iso-8859-1": "windows-1252",  # WHATWG: browsers decode latin-1 labels as windows-1252
    "latin1": "windows-1252",
    "latin-1": "windows-1252",
    "gb2312": "gb18030",  # GB18030 is a superset; Outlook labels GBK text as gb2312
    "gbk": "gb18030",
    "x-gbk": "gb18030",
    "cp936": "gb18030",
    "big5": "big5hkscs",
    "x-mac-roman": "mac-roman",
    "macintosh": "mac-roman",
    "ks_c_5601-1987": "cp949",
    "euc-kr": "cp949",
    "shift_jis": "cp932",
    "x-sjis": "cp932",
    "sjis": "cp932",
    "iso-2022-jp": "iso2022_jp_ext",
    "windows-874": "cp874",
    "tis-620": "cp874",
}

# When bytes do not fit the declared charset, its neighbours are tried before guessing: mislabelled CJK
# mail (Shift_JIS bytes labelled ISO-2022-JP, GBK labelled Big5) is the common case.
SIBLINGS: Final[dict[str, tuple[str, ...]]] = {
    "iso2022_jp_ext": ("cp932", "euc_jp"),
    "iso2022_jp": ("cp932", "euc_jp"),
    "cp932": ("euc_jp",),
    "euc_jp": ("cp932",),
    "gb18030": ("big5hkscs",),
    "big5hkscs": ("gb18030",),
    "cp949": ("gb18030",),
}
_STATEFUL_7BIT: Final = frozenset({"iso2022_jp_ext", "iso2022_jp", "iso2022_jp_2", "iso2022_kr", "utf-7", "hz"})
_LABEL_JUNK: Final = re.compile(r"[\s\"'<>]+")
_UNLIKELY_GUESSES: Final = frozenset({"utf_16", "utf_16_be", "utf_16_le", "utf_32", "utf_32_be", "utf_32_le"})


def find_codec(label: str | None) -> str | None:
    """Return the Python codec name for a charset label, or None when the label is unknown or empty."""
    if not label:
        return None
    cleaned = _LABEL_JUNK.sub("", label).lower()
    if not cleaned:
        return None
    if cleaned in CHARSET_ALIASES:
        mapped = CHARSET_ALIASES[cleaned]
        return mapped or None
    try:
        return codecs.lookup(cleaned).name
    except LookupError:
        pass
    # "windows1252", "cp-1252", "iso8859_1" and friends
    for candidate in (cleaned.replace("_", "-"), re.sub(r"^(windows|cp)-?", "cp", cleaned)):
        try:
            return codecs.lookup(candidate).name
        except LookupError:
            continue
    return None


def is_ascii(data: bytes) -> bool:
    """True when every byte is 7-bit."""
    return data.isascii()


def detect_codec(data: bytes) -> str | None:
    """Guess a codec from the bytes themselves with charset-normalizer; None when it has no idea."""
    if len(data) > 65536:
        data = data[:65536]
    best = charset_normalizer.from_bytes(data).best()
    if best is None or best.encoding in _UNLIKELY_GUESSES:
        return None
    return find_codec(best.encoding)


def decode_bytes(data: bytes, declared: str | None, defects: list[str] | None = None) -> str:
    """Decode bytes: the declared charset, then UTF-8, then detection, then Windows-1252 (never raises).

    An unknown declared charset is recorded as `charset_unknown:<label>` and one that does not fit the bytes
    as `charset_mismatch:<label>`.
    """
    codec = find_codec(declared)
    if data.isascii() and (codec not in _STATEFUL_7BIT or not _has_shifts(data, codec)):
        return data.decode("ascii")
    if declared and codec is None and defects is not None:
        label = _LABEL_JUNK.sub("", declared).lower()
        if label and label not in CHARSET_ALIASES:
            defects.append(f"charset_unknown:{label[:40]}")
    if codec is not None:
        try:
            return data.decode(codec)
        except (UnicodeDecodeError, LookupError):
            if defects is not None:
                defects.append(f"charset_mismatch:{_LABEL_JUNK.sub('', declared or '').lower()[:40]}")
            for sibling in SIBLINGS.get(codec, ()):
                try:
                    return data.decode(sibling)
                except UnicodeDecodeError:
                    continue
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        pass
    guessed = detect_codec(data)
    if guessed is not None:
        try:
            return data.decode(guessed)
        except (UnicodeDecodeError, LookupError):
            pass
    if codec is not None:
        return data.decode(codec, errors="replace")
    return data.decode("windows-1252", errors="replace")


def _has_shifts(data: bytes, codec: str) -> bool:
    return b"\x1b" in data or (codec == "utf-7" and b"+" in data) or (codec == "hz" and b"~{" in data)


def decode_header_bytes(data: bytes, hint: str | None = None) -> str:
    """Decode raw 8-bit header bytes (no encoded words): ISO-2022-JP escapes, UTF-8, the message's body
    charset as a hint, detection for longer values, Windows-1252."""
    if data.isascii():
        if b"\x1b$" in data or b"\x1b(" in data:
            try:
                return data.decode("iso2022_jp_ext")
            except UnicodeDecodeError:
                return data.decode("ascii")
        return data.decode("ascii")
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        pass
    codec = find_codec(hint)
    if codec is not None and codec != "utf-8":
        try:
            return data.decode(codec)
        except (UnicodeDecodeError, LookupError):
            pass
    if sum(1 for byte in data if byte > 127) >= 12:
        guessed = detect_codec(data)
        if guessed is not None:
            try:
                return data.decode(guessed)
            except (UnicodeDecodeError, LookupError):
                pass
    return data.decode("windows-1252", errors="replace")


def restore_surrogates(value: str, hint: str | None = None) -> str:
    """Decode a header string that carries raw 8-bit bytes as surrogate escapes (how `email` keeps them)."""
    if value.isascii():
        if "\x1b" in value:
            return decode_header_bytes(value.encode("ascii"), hint)
        return value
    try:
        data = value.encode("utf-8", "surrogateescape")
    except UnicodeEncodeError:
        return value
    return decode_header_bytes(data, hint)
