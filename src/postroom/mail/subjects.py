"""Normalise subjects for threading: strip reply/forward prefixes and gateway warning tags, keep the topic."""

from __future__ import annotations

import re
import unicodedata
from typing import Final, Literal

PrefixKind = Literal["reply", "forward"]

# Reply and forward abbreviations that mail clients put in front of a subject (RFC 5322 section 3.6.5 only names
# "Re: "; everything else is client folklore, collected from Outlook, Thunderbird, Apple Mail, Lotus Notes, Gmail
# and mobile clients in their localised versions). Matching is case-insensitive; a prefix only counts when a colon
# follows it, so "Reminder", "Return policy" and "Antwerp" stay whole.
REPLY_PREFIXES: Final = frozenset(
    {
        "re", "aw", "sv", "vs", "antw", "antwort", "odp", "odg", "rif", "r", "ynt", "vá", "réf", "ref", "res", "resp",
        "отв", "ответ", "回复", "回覆", "答复", "答覆", "返信", "απ", "σχετ", "תגובה", "رد", "답장",
    }
)  # fmt: skip
FORWARD_PREFIXES: Final = frozenset(
    {
        "fwd", "fw", "wg", "tr", "trs", "enc", "rv", "doorst", "wtg", "pd", "İlt", "πρβλ", "πρθ", "הועבר",
        "전달", "fs", "vb", "vl", "továbbítás", "přeposlat", "転送", "转发", "轉寄", "转寄", "пересл", "i",
    }
)  # fmt: skip
# "[EXTERNAL]"-style warnings that mail gateways put in front of the subject of outside mail; compared casefolded
# with whitespace collapsed. Other bracketed tags (mailing lists, ticket numbers) are part of the topic and stay.
WARNING_TAGS: Final = frozenset(
    {
        "external", "ext", "extern", "external email", "external mail", "external message", "external sender",
        "caution", "caution: external", "caution - external", "warning: external", "externe", "externo",
    }
)  # fmt: skip
MAX_UNWRAP: Final = 4  # nested "[Fwd: ...]" wrappers taken off; each costs a copy of the subject (our bound)
MAX_TAG_CHARS: Final = 80  # a longer "[...]" is text, not a tag (our bound)


def _alternatives(words: frozenset[str]) -> str:
    # longest first, so that a short prefix never hides a longer one that shares its start ("r" and "re")
    return "|".join(re.escape(word) for word in sorted(words, key=lambda word: (-len(word), word)))


_PREFIX: Final = re.compile(
    rf"(?:(?P<reply>{_alternatives(REPLY_PREFIXES)})|(?P<forward>{_alternatives(FORWARD_PREFIXES)}))"
    # counters: Outlook's "RE[2]:", "Re(3):", the older "Re^2:"; a space before the colon is French typography
    r"(?:\s*\[\d{1,4}\]|\s*\(\d{1,4}\)|\^\d{1,4})?\s*[:：]\s*",  # noqa: RUF001 - the full-width colon is meant
    re.IGNORECASE,
)
_TAG: Final = re.compile(rf"\[(?P<tag>[^\[\]]{{1,{MAX_TAG_CHARS}}})\]\s*")
# Netscape-era forwards wrap the whole subject: "[Fwd: topic]"
_WRAPPED_FORWARD: Final = re.compile(r"\[\s*(?:fwd?|fw)\s*:\s*(?P<inner>.*)\]", re.IGNORECASE | re.DOTALL)


def _collapse(text: str) -> str:
    return " ".join(text.split())


def _scan(subject: str) -> tuple[str, PrefixKind | None]:
    """The subject without leading prefixes and warning tags, and the kind of the first prefix removed."""
    rest, position = _collapse(subject), 0
    kept: list[str] = []  # leading tags that are part of the topic, such as "[list-name]"
    first: PrefixKind | None = None
    unwrapped = 0
    while True:  # every pass consumes at least two characters, so this is linear in the subject's length
        prefix = _PREFIX.match(rest, position)
        if prefix is not None:
            first = first or ("reply" if prefix.group("reply") is not None else "forward")
            position = prefix.end()
            continue
        wrapped = _WRAPPED_FORWARD.fullmatch(rest, position) if unwrapped < MAX_UNWRAP else None
        if wrapped is not None:
            first, unwrapped = first or "forward", unwrapped + 1
            rest, position = wrapped.group("inner").strip(), 0
            continue
        tag = _TAG.match(rest, position)
        if tag is None:
            break
        if _collapse(tag.group("tag")).casefold() not in WARNING_TAGS:
            kept.append(f"[{tag.group('tag').strip()}]")
        position = tag.end()
    return " ".join([*kept, rest[position:]]).strip(), first


def normalize_subject(subject: str) -> str:
    """The subject without leading reply/forward prefixes and warning tags, whitespace collapsed, case kept."""
    return _scan(subject)[0]


def subject_key(subject: str) -> str:
    """The normalised subject in a form for equality comparison: NFKC, casefolded."""
    return unicodedata.normalize("NFKC", normalize_subject(subject)).casefold()


def detect_subject_prefix_kind(subject: str) -> PrefixKind | None:
    """Whether the first prefix marks a reply or a forward; None when the subject carries none."""
    return _scan(subject)[1]
