"""Ticket references carried in subjects: our own `[PR-000123]` and other systems' numbers (`[Ticket#123]`)."""

from __future__ import annotations

import re
from collections.abc import Sequence
from functools import cache
from typing import Final

NUMBER_WIDTH: Final = 6
MAX_PATTERN_CHARS: Final = 200  # a foreign reference pattern is a short tag shape, not a program (our bound)
MAX_SUBJECT_CHARS: Final = 2000  # only the start of an absurdly long subject is searched (our bound)


def format_ticket_reference(prefix: str, number: int) -> str:
    return f"{prefix}-{number:0{NUMBER_WIDTH}d}"


@cache
def _pattern(prefix: str) -> re.Pattern[str]:
    return re.compile(
        rf"\[\s*{re.escape(prefix)}[-#: ]?(\d{{1,12}})\s*\]|\b{re.escape(prefix)}-(\d{{{NUMBER_WIDTH},12}})\b", re.I
    )


def find_ticket_numbers(subject: str, prefix: str) -> tuple[int, ...]:
    """Every ticket number the subject carries, bracketed tags first, in order."""
    matches = list(_pattern(prefix).finditer(subject[:MAX_SUBJECT_CHARS]))
    bracketed = [int(match.group(1)) for match in matches if match.group(1)]
    bare = [int(match.group(2)) for match in matches if match.group(2)]
    return tuple(dict.fromkeys([*bracketed, *bare]))


@cache
def compile_foreign_pattern(pattern: str) -> re.Pattern[str]:
    """Compile one configured foreign reference pattern; ValueError says why it is unusable.

    A pattern describes another ticket system's subject tag, such as r"\\[Ticket#(\\d+)\\]" (Zammad, OTRS) or
    r"\\[[\\w.-]+ #(\\d+)\\]" (RT), and captures the number in exactly one group.
    """
    if not pattern or len(pattern) > MAX_PATTERN_CHARS:
        raise ValueError(f"foreign reference pattern must have 1 to {MAX_PATTERN_CHARS} characters: {pattern!r}")
    try:
        compiled = re.compile(pattern)
    except re.error as error:
        raise ValueError(f"foreign reference pattern {pattern!r} is not a valid regular expression: {error}") from error
    if compiled.groups != 1:
        raise ValueError(
            f"foreign reference pattern {pattern!r} must have exactly one capture group, it has {compiled.groups}"
        )
    if compiled.fullmatch("") is not None:
        raise ValueError(f"foreign reference pattern {pattern!r} matches the empty string")
    return compiled


def find_foreign_references(subject: str, patterns: Sequence[str]) -> tuple[str, ...]:
    """The numbers other systems' tags carry in the subject, pattern by pattern, each once; empty captures skipped.

    Raises ValueError for an unusable pattern (see `compile_foreign_pattern`); check configuration with it first.
    """
    compiled = [compile_foreign_pattern(pattern) for pattern in patterns]
    found: list[str] = []
    for pattern in compiled:
        for match in pattern.finditer(subject[:MAX_SUBJECT_CHARS]):
            value = match.group(1)
            if value and value not in found:
                found.append(value)
    return tuple(found)
