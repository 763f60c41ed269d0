"""Find our own agents' signatures in a reply: where they appear, our earlier (quoted) message is."""

from __future__ import annotations

import re
from bisect import bisect_right
from collections.abc import Sequence
from typing import Final

from postroom.mail.quotes.intro import header_role, is_forward_marker, is_intro_text
from postroom.mail.quotes.signature import is_delimiter_line

MIN_SIGNATURE_CHARS: Final = 8  # shorter "signatures" ("Bob") would match ordinary words
MAX_LOOKBACK_LINES: Final = 60  # how far above our signature our quoted message may start
_GREETING: Final = re.compile(
    r"^(?:hi|hello|hey|dear|good\s+(?:morning|afternoon|evening)|hallo|guten\s+(?:tag|morgen|abend)|sehr\s+geehrte"
    r"|liebe|lieber|moin|servus|bonjour|bonsoir|cher|chère|madame|monsieur|hola|estimad[oa]|buenos\s+días|olá|oi"
    r"|prezad[oa]|ciao|buongiorno|gentile|beste|geachte|hoi|dag|hej|hei|witam|dzień\s+dobry|здравствуйте"
    r"|добрый\s+день|привет)\b.{0,60}$",
    re.I,
)
_QUOTE_PREFIX: Final = re.compile(r"^[ \t]*(?:>[ \t]?)+")


def find_known_signature(lines: Sequence[str], start: int, end: int, known: Sequence[str]) -> tuple[int, int] | None:
    """(first line, line after the last) of the earliest of our signatures in `lines[start:end]`, matched
    case- and whitespace-insensitively (clients re-wrap quoted text); None when none appears."""
    wanted = [" ".join(signature.split()).casefold() for signature in known]
    wanted = [signature for signature in wanted if len(signature) >= MIN_SIGNATURE_CHARS]
    if not wanted:
        return None
    offsets: list[int] = []
    owners: list[int] = []
    pieces: list[str] = []
    length = 0
    for index in range(start, end):
        piece = " ".join(_QUOTE_PREFIX.sub("", lines[index]).split()).casefold()
        if not piece:
            continue
        offsets.append(length)
        owners.append(index)
        pieces.append(piece)
        length += len(piece) + 1
    flat = " ".join(pieces)
    best: tuple[int, int] | None = None
    for signature in wanted:
        found = flat.find(signature)
        if found < 0:
            continue
        first = owners[bisect_right(offsets, found) - 1]
        last = owners[bisect_right(offsets, found + len(signature) - 1) - 1]
        if best is None or first < best[0]:
            best = (first, last + 1)
    return best


def find_quoted_reply_start(lines: Sequence[str], signature_start: int, floor: int) -> int:
    """Where our quoted message above our signature begins: a separator, header or attribution line, else our
    greeting (never the sender's first line); the signature itself when nothing marks it."""
    first_text = next((index for index in range(floor, signature_start) if lines[index].strip()), signature_start)
    for index in range(signature_start - 1, max(floor, signature_start - MAX_LOOKBACK_LINES) - 1, -1):
        line = lines[index].strip()
        if not line:
            continue
        if is_delimiter_line(line) or is_forward_marker(line) or header_role(line) in {"from", "date"}:
            return index
        if line.endswith(":") and is_intro_text(line):
            return index
        if _GREETING.match(line):
            return index if index > first_text else signature_start
    return signature_start
