"""Find uuencoded files (`begin 644 name` ... `end`) inside text bodies and decode them."""

from __future__ import annotations

import binascii
import re
from dataclasses import dataclass
from typing import Final

_BLOCK: Final = re.compile(
    r"^begin[ \t]+[0-7]{3,4}[ \t]+(?P<name>[^\r\n]+?)[ \t]*\r?\n(?P<body>.*?)^end[ \t]*\r?$\n?", re.M | re.S
)
MAX_BLOCKS: Final = 100  # per text part (our own bound)


@dataclass(frozen=True, slots=True)
class UuFile:
    """One decoded file: its name as written after `begin` and its bytes."""

    filename: str
    payload: bytes


def decode_uu_lines(body: str) -> bytes:
    """Decode uuencoded lines leniently (broken line lengths are cut to what the count byte says)."""
    out = bytearray()
    for line in body.splitlines():
        if not line or line in ("`", " "):
            continue
        raw = line.encode("latin-1", "replace")
        try:
            out.extend(binascii.a2b_uu(raw))
        except binascii.Error:
            count = ((raw[0] - 32) & 63) * 4 + 5
            try:
                out.extend(binascii.a2b_uu(raw[: count // 3]))
            except binascii.Error:
                continue
    return bytes(out)


def extract_uu_files(text: str) -> tuple[str, list[UuFile]]:
    """The text without its uuencoded blocks, and the files they held."""
    if "begin " not in text:
        return text, []
    files: list[UuFile] = []

    def take(match: re.Match[str]) -> str:
        if len(files) >= MAX_BLOCKS:
            return match.group(0)
        files.append(UuFile(match.group("name").strip(), decode_uu_lines(match.group("body"))))
        return ""

    remaining = _BLOCK.sub(take, text)
    return remaining, files
