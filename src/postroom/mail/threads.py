"""Extract every threading signal a parsed message carries, for the scored matcher to weigh."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Final

from postroom.mail.subjects import PrefixKind, detect_subject_prefix_kind, normalize_subject, subject_key
from postroom.mail.threadindex import ThreadIndex, parse_thread_index
from postroom.mail.ticketref import find_foreign_references, find_ticket_numbers, format_ticket_reference
from postroom.mail.tokens import find_tokens
from postroom.mail.values import ParsedMessage

THREAD_INDEX_HEADER: Final = "thread-index"


@dataclass(frozen=True, slots=True)
class ThreadSignals:
    """What a message says about the conversation it continues; nothing here is verified or looked up yet."""

    subject_normalized: str
    subject_key: str  # normalised, NFKC, casefolded: for equality with another subject's key
    subject_prefix: PrefixKind | None  # the first prefix: a forward is a new conversation more often than not
    ticket_numbers: tuple[int, ...]  # our own, from the subject, bracketed tags first
    foreign_refs: tuple[str, ...]  # other systems' numbers from the subject, per the configured patterns
    ticket_refs: tuple[str, ...]  # our own formatted ("PR-000123"), then the foreign ones
    tokens: tuple[str, ...]  # unverified token candidates, see postroom.mail.tokens.verify_token
    thread_index: ThreadIndex | None
    message_ids: tuple[str, ...]  # In-Reply-To, then References newest first, each once


def _find_thread_index(parsed: ParsedMessage) -> ThreadIndex | None:
    for name, value in parsed.headers:
        if name.lower() == THREAD_INDEX_HEADER:
            return parse_thread_index(value)
    return None


def extract_thread_signals(
    parsed: ParsedMessage, *, ticket_prefix: str, foreign_patterns: Sequence[str] = ()
) -> ThreadSignals:
    """All threading signals of `parsed`; ValueError only for an unusable foreign pattern (a configuration error)."""
    numbers = find_ticket_numbers(parsed.subject, ticket_prefix)
    foreign = find_foreign_references(parsed.subject, foreign_patterns)
    # In-Reply-To names the direct parent; References lists ancestors oldest first (RFC 5322 section 3.6.4)
    message_ids = tuple(dict.fromkeys([*parsed.in_reply_to, *reversed(parsed.references)]))
    addresses = [mailbox.address for mailbox in (*parsed.to, *parsed.cc, *parsed.delivered_to)]
    return ThreadSignals(
        subject_normalized=normalize_subject(parsed.subject),
        subject_key=subject_key(parsed.subject),
        subject_prefix=detect_subject_prefix_kind(parsed.subject),
        ticket_numbers=numbers,
        foreign_refs=foreign,
        ticket_refs=(*(format_ticket_reference(ticket_prefix, number) for number in numbers), *foreign),
        tokens=find_tokens(message_ids=message_ids, addresses=addresses, text=parsed.text, html=parsed.html),
        thread_index=_find_thread_index(parsed),
        message_ids=message_ids,
    )


def thread_record(signals: ThreadSignals) -> dict[str, object]:
    """The `thread` value of `postroom inspect`'s JSON record (see docs/inspect.md)."""
    return {
        "subject_normalized": signals.subject_normalized,
        "ticket_refs": list(signals.ticket_refs),
        "tokens": list(signals.tokens),
        "thread_index": signals.thread_index.root if signals.thread_index is not None else None,
    }
