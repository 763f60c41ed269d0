"""Outlook RTF bodies: LZFu decompression (MS-OXRTFCP) and a small RTF-to-text reader."""

from __future__ import annotations

import re
import struct
from typing import Final

# MS-OXRTFCP section 2.1.3.1.1: the dictionary starts with this text.
_PREBUF: Final = (
    b"{\\rtf1\\ansi\\mac\\deff0\\deftab720{\\fonttbl;}{\\f0\\fnil \\froman \\fswiss \\fmodern \\fscript "
    b"\\fdecor MS Sans SerifSymbolArialTimes New RomanCourier{\\colortbl\\red0\\green0\\blue0\r\n\\par "
    b"\\pard\\plain\\f0\\fs20\\b\\i\\u\\tab\\tx"
)
_COMPRESSED: Final = 0x75465A4C  # "LZFu"
_UNCOMPRESSED: Final = 0x414C454D  # "MELA"
MAX_RTF_BYTES: Final = 20 * 1024 * 1024  # decompressed size cap (our own bound)
_SKIP_DESTINATIONS: Final = frozenset(
    {
        "fonttbl",
        "colortbl",
        "stylesheet",
        "info",
        "pict",
        "object",
        "header",
        "footer",
        "listtable",
        "listoverridetable",
        "rsidtbl",
        "generator",
        "xmlnstbl",
        "themedata",
        "latentstyles",
        "datastore",
        "mmathPr",
        "filetbl",
        "revtbl",
        "pgdsctbl",
    }
)
_TOKEN: Final = re.compile(rb"\\([a-zA-Z]+)(-?\d+)? ?|\\'([0-9a-fA-F]{2})|\\(.)|([{}])|([^\\{}\r\n]+)|[\r\n]+", re.S)


def decompress_rtf(data: bytes) -> bytes:
    """Decompress an Outlook compressed-RTF stream; returns b"" when it is not one."""
    if len(data) < 16:
        return b""
    comp_size, raw_size, comp_type, _crc = struct.unpack_from("<IIII", data)
    if comp_type == _UNCOMPRESSED:
        return data[16 : 16 + raw_size]
    if comp_type != _COMPRESSED:
        return b""
    window = bytearray(4096)
    window[: len(_PREBUF)] = _PREBUF
    write = len(_PREBUF)
    out = bytearray()
    pos = 16
    end = min(len(data), comp_size + 4)
    limit = min(raw_size, MAX_RTF_BYTES)
    while pos < end and len(out) < limit:
        control = data[pos]
        pos += 1
        for bit in range(8):
            if pos >= end:
                break
            if control & (1 << bit):
                if pos + 1 >= end:
                    return bytes(out)
                token = (data[pos] << 8) | data[pos + 1]
                pos += 2
                offset, length = token >> 4, (token & 0xF) + 2
                if offset == write:
                    return bytes(out)
                for step in range(length):
                    byte = window[(offset + step) % 4096]
                    out.append(byte)
                    window[write] = byte
                    write = (write + 1) % 4096
            else:
                byte = data[pos]
                pos += 1
                out.append(byte)
                window[write] = byte
                write = (write + 1) % 4096
    return bytes(out)


def rtf_to_text(rtf: bytes, codepage: str = "cp1252") -> str:  # noqa: PLR0912, PLR0915 - one loop over the RTF token grammar
    """Plain text of an RTF document: paragraphs, tabs, \\'hh and \\uN characters; skips tables of fonts etc."""
    out: list[str] = []
    pending = bytearray()
    stack: list[tuple[bool, int]] = []
    skipping = False
    uc = 1
    skip_chars = 0
    first_in_group = False

    def flush() -> None:
        if pending:
            out.append(pending.decode(codepage, "replace"))
            pending.clear()

    for match in _TOKEN.finditer(rtf):
        word, arg, hexbyte, symbol, brace, text = match.groups()
        if brace == b"{":
            stack.append((skipping, uc))
            first_in_group = True
            continue
        if brace == b"}":
            flush()
            skipping, uc = stack.pop() if stack else (False, 1)
            continue
        starts_group, first_in_group = first_in_group, False
        if skip_chars and (hexbyte is not None or text is not None):
            skip_chars -= 1
            if text is not None and len(text) > 1:
                text = text[1:]
            else:
                continue
        if word is not None:
            name = word.decode("ascii")
            if starts_group and name in _SKIP_DESTINATIONS:
                skipping = True
            if skipping:
                continue
            if name in ("par", "line", "row"):
                pending.extend(b"\n")
            elif name in {"tab", "cell"}:
                pending.extend(b"\t")
            elif name == "uc" and arg is not None:
                uc = int(arg)
            elif name == "u" and arg is not None:
                flush()
                out.append(chr(int(arg) % 65536))
                skip_chars = uc
            elif name == "htmlrtf":
                pass
            continue
        if symbol is not None:
            if symbol == b"*" and starts_group:
                skipping = True
            elif not skipping and symbol in (b"\\", b"{", b"}"):
                pending.extend(symbol)
            elif not skipping and symbol == b"~":
                pending.extend(b"\xa0")
            continue
        if skipping:
            continue
        if hexbyte is not None:
            pending.append(int(hexbyte, 16))
        elif text is not None:
            pending.extend(text)
    flush()
    text_out = "".join(out).replace("\xa0", " ")
    return re.sub(r"\n{3,}", "\n\n", text_out).strip()
