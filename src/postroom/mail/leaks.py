"""Find an internal note's words inside a public reply before it is sent (issue #3: internal notes never leak)."""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Final

# A run of this many consecutive words shared with a note counts as quoting it. Six words is long enough that
# phrases a reply and a note naturally share ("on the legacy plan") do not trip it, and short enough that a
# pasted half-sentence does.
SHINGLE_WORDS: Final = 6
# Notes shorter than this are checked as a whole phrase instead (a short note pasted verbatim still leaks).
MIN_SHORT_NOTE_WORDS: Final = 4

_WORD = re.compile(r"\w+", re.UNICODE)


@dataclass(frozen=True, slots=True)
class NoteLeak:
    note_id: int
    excerpt: str  # the shared words, for the agent's warning


def _words(text: str) -> list[str]:
    return [word.casefold() for word in _WORD.findall(text)]


def _shingles(words: list[str], size: int) -> set[tuple[str, ...]]:
    return {tuple(words[i : i + size]) for i in range(len(words) - size + 1)}


def find_note_leak(reply_text: str, notes: Sequence[tuple[int, str]]) -> NoteLeak | None:
    """The first note (id, text) whose wording the reply repeats, or None."""
    reply_words = _words(reply_text)
    reply_shingles = _shingles(reply_words, SHINGLE_WORDS)
    joined_reply = " " + " ".join(reply_words) + " "
    for note_id, note_text in notes:
        note_words = _words(note_text)
        if len(note_words) < SHINGLE_WORDS:
            if len(note_words) >= MIN_SHORT_NOTE_WORDS and f" {' '.join(note_words)} " in joined_reply:
                return NoteLeak(note_id, " ".join(note_words))
            continue
        for start in range(len(note_words) - SHINGLE_WORDS + 1):  # in the note's order: the same excerpt every time
            shingle = tuple(note_words[start : start + SHINGLE_WORDS])
            if shingle in reply_shingles:
                return NoteLeak(note_id, " ".join(shingle))
    return None
