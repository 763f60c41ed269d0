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

ISO2022JP_MS: Final = "x-iso2022jp-ms"  # ISO-2022-JP with Microsoft/NEC extensions (CP50221), see below
_MULTIBYTE: Final = frozenset({"gb18030", "big5hkscs", "cp932", "euc_jp", "cp949", "iso2022_jp_ext", "utf-8"})
# When bytes do not fit the declared charset, its neighbours are tried before guessing: mislabelled CJK
# mail (Shift_JIS bytes labelled ISO-2022-JP, GBK labelled Big5) is the common case.
SIBLINGS: Final[dict[str, tuple[str, ...]]] = {
    "iso2022_jp_ext": (ISO2022JP_MS, "cp932", "euc_jp"),
    "iso2022_jp": (ISO2022JP_MS, "cp932", "euc_jp"),
    "cp932": ("euc_jp",),
    "euc_jp": ("cp932",),
    "gb18030": ("big5hkscs",),
    "big5hkscs": ("gb18030",),
    "cp949": ("gb18030",),
}
_STATEFUL_7BIT: Final = frozenset({"iso2022_jp_ext", "iso2022_jp", "iso2022_jp_2", "iso2022_kr", "utf-7", "hz"})
_LABEL_JUNK: Final = re.compile(r"[\s\"'<>]+")
_HIGH_RUN: Final = re.compile(rb"[\x80-\xff]+")
CJK_ORDER: Final = ("gb18030", "big5", "cp932", "euc_jp", "euc_kr")  # by how much mail uses them
_UNLIKELY_GUESSES: Final = frozenset({"utf_16", "utf_16_be", "utf_16_le", "utf_32", "utf_32_be", "utf_32_le"})


def _bytes_as_cp1252(error: UnicodeError) -> tuple[str, int]:
    """Codec error handler: read undecodable bytes as Windows-1252 (stray Latin 1 bytes in UTF-8 text)."""
    if not isinstance(error, UnicodeDecodeError):
        raise error
    bad = error.object[error.start : error.end]
    return bytes(bad).decode("windows-1252", "replace"), error.end


STRAY_BYTES: Final = "postroom-cp1252"
codecs.register_error(STRAY_BYTES, _bytes_as_cp1252)


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
    except (LookupError, ValueError):
        pass
    # "windows1252", "cp-1252", "iso8859_1" and friends
    for candidate in (cleaned.replace("_", "-"), re.sub(r"^(windows|cp)-?", "cp", cleaned)):
        try:
            return codecs.lookup(candidate).name
        except (LookupError, ValueError):
            continue
    return None


def is_ascii(data: bytes) -> bool:
    """True when every byte is 7-bit."""
    return data.isascii()


def _looks_double_byte(data: bytes) -> bool:
    """High bytes come in even-length runs, as in GBK/Big5/Shift_JIS/EUC text (not in Latin text)."""
    runs = _HIGH_RUN.findall(data)
    return bool(runs) and sum(1 for run in runs if len(run) % 2 == 0) >= 0.9 * len(runs)


def detect_codec(data: bytes) -> str | None:
    """Guess a codec from the bytes themselves with charset-normalizer; None when it has no idea.

    Double-byte looking data is only matched against CJK codecs (ties go to the more common one), since
    a short CJK run inside ASCII also reads as flawless Latin-2 to a statistical detector.
    """
    if len(data) > 65536:
        data = data[:65536]
    if _looks_double_byte(data):
        found = {
            match.encoding: match.chaos for match in charset_normalizer.from_bytes(data, cp_isolation=list(CJK_ORDER))
        }
        if found:
            lowest = min(found.values())
            for codec in CJK_ORDER:
                if codec in found and found[codec] <= lowest + 0.001:
                    return find_codec(codec)
    best = charset_normalizer.from_bytes(data).best()
    if best is None or best.encoding in _UNLIKELY_GUESSES:
        return None
    return find_codec(best.encoding)


def decode_bytes(data: bytes, declared: str | None, defects: list[str] | None = None) -> str:  # noqa: PLR0911, PLR0912 - one exit per fallback step, in order
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
            if codec == "utf-8":
                return data.decode("utf-8", STRAY_BYTES)
            for sibling in SIBLINGS.get(codec, ()):
                try:
                    return _decode_with(data, sibling)
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


def _decode_with(data: bytes, codec: str) -> str:
    if codec == ISO2022JP_MS:
        return decode_iso2022jp_ms(data)
    return data.decode(codec)


_ESCAPE: Final = re.compile(rb"\x1b(\$[@B]|\$\(D|\([BJHI])")


def decode_iso2022jp_ms(data: bytes) -> str:
    """ISO-2022-JP as Outlook writes it (CP50221): JIS X 0208 rows with NEC/IBM extensions such as
    circled digits. Each two-byte JIS code is moved to Shift_JIS and decoded as CP932."""
    out = bytearray()
    mode = b"(B"
    position = 0
    for match in [*_ESCAPE.finditer(data), None]:
        end = match.start() if match is not None else len(data)
        chunk = data[position:end]
        if mode.startswith(b"$"):
            for index in range(0, len(chunk) - 1, 2):
                j1, j2 = chunk[index], chunk[index + 1]
                if j1 in (0x0A, 0x0D):
                    out.append(j1)
                    continue
                s1 = ((j1 + 1) >> 1) + 0x70
                s1 = s1 + 0x40 if s1 >= 0xA0 else s1
                if j1 & 1:
                    s2 = j2 + 0x1F
                    s2 = s2 + 1 if s2 >= 0x7F else s2
                else:
                    s2 = j2 + 0x7E
                out.extend((s1 & 0xFF, s2 & 0xFF))
        elif mode == b"(I":
            out.extend((byte + 0x80) & 0xFF for byte in chunk)
        else:
            out.extend(chunk)
        if match is not None:
            mode = match.group(1)
            position = match.end()
    return bytes(out).decode("cp932")


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
    candidates: list[str | None] = []
    if codec in _MULTIBYTE:
        candidates.append(codec)
        candidates.extend(sibling for sibling in SIBLINGS.get(codec or "", ()) if sibling != ISO2022JP_MS)
    if sum(1 for byte in data if byte > 127) >= 8:
        candidates.append(detect_codec(data))
    candidates.append(codec)
    for candidate in candidates:
        if candidate is None or candidate == "utf-8":
            continue
        try:
            return data.decode(candidate)
        except (UnicodeDecodeError, LookupError):
            continue
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
