"""The scored thread matcher: weigh every signal a message carries and pick the ticket it continues.

Each signal that points at a ticket adds evidence with a weight; the ticket whose strongest evidence is strongest
wins (total weight breaks ties). Signed tokens weigh most because nobody outside can make one; headers come next;
the subject tag and other systems' numbers weigh least, since anyone can type them (the admit stage then decides
whether a stranger may add). Tokens that fail verification are kept as rejected evidence for the trace and never
thread.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from typing import Final

from postroom.inbound.thread_lookup import ThreadHit, find_thread_hits
from postroom.mail.threads import ThreadSignals
from postroom.mail.tokens import ThreadToken, TokenVerdict, verify_token
from postroom.tenants.keys import KeyRing

# A valid token proves the sender received our message; In-Reply-To names the exact parent and References an
# ancestor (RFC 5322 section 3.6.4); Outlook's Thread-Index ties a conversation only once we have seen it.
WEIGHTS: Final = {
    "token": 100,
    "in_reply_to": 90,
    "references": 80,
    "thread_index": 60,
    "subject": 50,
    "foreign_reference": 40,
}


@dataclass(frozen=True, slots=True)
class Evidence:
    signal: str
    weight: int
    detail: str
    ticket_id: int
    ticket_reference: str
    message_pk: int | None = None
    message_direction: str = ""


@dataclass(frozen=True, slots=True)
class ThreadMatch:
    ticket_id: int | None
    score: int
    evidence: tuple[Evidence, ...] = ()
    rejected: tuple[str, ...] = field(default_factory=tuple)  # forged or stale tokens, for the trace

    @property
    def chosen(self) -> tuple[Evidence, ...]:
        return tuple(item for item in self.evidence if item.ticket_id == self.ticket_id)

    @property
    def strongest(self) -> Evidence | None:
        return max(self.chosen, key=lambda item: item.weight, default=None)

    @property
    def answered(self) -> Evidence | None:
        """The evidence naming the exact message answered (a token or a header), strongest first."""
        named = [item for item in self.chosen if item.message_pk is not None and item.signal != "thread_index"]
        return max(named, key=lambda item: item.weight, default=None)


def _verify_tokens(tokens: tuple[str, ...], ring: KeyRing) -> tuple[dict[int, ThreadToken], list[str]]:
    valid: dict[int, ThreadToken] = {}
    rejected: list[str] = []
    for text in tokens:
        check = verify_token(text, ring.keys, ring.retired)
        if check.verdict == TokenVerdict.VALID and check.token is not None:
            valid[check.token.message_id] = check.token
        else:
            rejected.append(f"token {text}: {check.verdict}")
    return valid, rejected


def _evidence(hit: ThreadHit, in_reply_to: tuple[str, ...], tokens: dict[int, ThreadToken]) -> Evidence | None:
    signal = hit.signal
    if signal == "token":
        token = tokens.get(hit.message_pk or 0)
        if token is None or token.ticket_id != hit.ticket_id:
            return None  # signed for another ticket than the message now belongs to: not evidence
        detail = f"the signed token of our message {hit.message_pk}"
    elif signal == "message_id":
        signal = "in_reply_to" if hit.key in in_reply_to else "references"
        detail = f"{'In-Reply-To' if signal == 'in_reply_to' else 'References'} names <{hit.key}>"
    elif signal == "thread_index":
        detail = "the Outlook Thread-Index of a known conversation"
    elif signal == "subject":
        detail = f"the subject carries {hit.ticket_reference}"
    else:
        detail = f"another system's number {hit.key} in the subject"
    return Evidence(
        signal, WEIGHTS[signal], detail, hit.ticket_id, hit.ticket_reference, hit.message_pk, hit.message_direction
    )


def match_thread(
    tenant_id: int, signals: ThreadSignals, *, in_reply_to: tuple[str, ...], tokens: tuple[str, ...], ring: KeyRing
) -> ThreadMatch:
    """The best-supported ticket (None: a new conversation), with all evidence and the rejected tokens."""
    valid, rejected = _verify_tokens(tokens, ring)
    hits = find_thread_hits(
        tenant_id,
        message_ids=signals.message_ids,
        token_message_pks=list(valid),
        thread_root=signals.thread_index.root if signals.thread_index is not None else None,
        numbers=signals.ticket_numbers,
        foreign_refs=signals.foreign_refs,
    )
    found_tokens = {hit.message_pk for hit in hits if hit.signal == "token"}
    rejected += [f"token of message {pk}: that message no longer exists" for pk in valid if pk not in found_tokens]
    evidence = [item for hit in hits if (item := _evidence(hit, in_reply_to, valid)) is not None]
    if not evidence:
        return ThreadMatch(None, 0, (), tuple(rejected))
    totals: dict[int, int] = defaultdict(int)
    best: dict[int, int] = defaultdict(int)
    for item in evidence:
        totals[item.ticket_id] += item.weight
        best[item.ticket_id] = max(best[item.ticket_id], item.weight)
    winner = max(totals, key=lambda ticket_id: (best[ticket_id], totals[ticket_id], ticket_id))
    return ThreadMatch(winner, totals[winner], tuple(evidence), tuple(rejected))
