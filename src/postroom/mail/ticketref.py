"""Ticket references carried in subjects: `[PR-000123]`."""

from __future__ import annotations

import re
from functools import cache

NUMBER_WIDTH = 6


def format_ticket_reference(prefix: str, number: int) -> str:
    return f"{prefix}-{number:0{NUMBER_WIDTH}d}"


@cache
def _pattern(prefix: str) -> re.Pattern[str]:
    return re.compile(
        rf"\[\s*{re.escape(prefix)}[-#: ]?(\d{{1,12}})\s*\]|\b{re.escape(prefix)}-(\d{{{NUMBER_WIDTH},12}})\b", re.I
    )


def find_ticket_numbers(subject: str, prefix: str) -> tuple[int, ...]:
    """Every ticket number the subject carries, bracketed tags first, in order."""
    found: list[int] = []
    for match in _pattern(prefix).finditer(subject):
        number = int(match.group(1) or match.group(2))
        if number not in found:
            found.append(number)
    return tuple(found)
