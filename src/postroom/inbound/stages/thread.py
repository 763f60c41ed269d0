"""Find the ticket a message continues with the scored matcher over all threading signals."""

from __future__ import annotations

from typing import Final

from postroom.inbound.context import InboundContext, StageResult
from postroom.inbound.matcher import match_thread
from postroom.mail.threads import extract_thread_signals
from postroom.mail.tokens import find_tokens
from postroom.tenants.keys import get_key_ring
from postroom.tickets.models import Direction
from postroom.tickets.queries import get_matched_ticket

NAME: Final = "thread"


def run(ctx: InboundContext) -> StageResult:
    parsed = ctx.require_parsed()
    patterns = ctx.queue.foreign_reference_patterns if ctx.queue is not None else []
    try:
        signals = extract_thread_signals(parsed, ticket_prefix=ctx.options.ticket_prefix, foreign_patterns=patterns)
    except ValueError:  # a bad pattern is the admin's mistake: thread without foreign numbers, say so in the trace
        signals = extract_thread_signals(parsed, ticket_prefix=ctx.options.ticket_prefix)
    ctx.signals = signals
    # A plus-addressed Reply-To token arrives in the envelope recipient, which headers may not show.
    envelope_tokens = find_tokens(addresses=ctx.inbound.envelope_to or ())
    tokens = tuple(dict.fromkeys([*signals.tokens, *envelope_tokens]))
    match = match_thread(
        ctx.tenant.pk, signals, in_reply_to=parsed.in_reply_to, tokens=tokens, ring=get_key_ring(ctx.tenant)
    )
    rejected = "; ".join(match.rejected) or None
    if match.ticket_id is None:
        return StageResult(
            verdict="new_ticket",
            reason="no signal names a known ticket" + (f" (rejected: {rejected})" if rejected else ""),
            data={"rejected": rejected, "subject": signals.subject_normalized[:200]},
        )
    ticket = get_matched_ticket(match.ticket_id)
    ctx.ticket = ticket
    answered = match.answered
    ctx.answered_message_id = answered.message_pk if answered is not None else None
    if answered is not None and answered.message_direction == Direction.NOTE:
        ctx.as_note = True  # an email reply to an internal notification stays internal
    strongest = match.strongest
    signals_used = sorted({item.signal for item in match.chosen})
    others = sorted({item.ticket_reference for item in match.evidence if item.ticket_id != match.ticket_id})
    return StageResult(
        verdict="follow_up",
        reason=f"{strongest.detail if strongest else 'matched'}: {ticket.reference}"
        + (f"; also pointing elsewhere: {', '.join(others)}" if others else "")
        + (f"; rejected: {rejected}" if rejected else ""),
        data={
            "ticket": ticket.reference,
            "signal": strongest.signal if strongest else None,
            "signals": ",".join(signals_used),
            "score": match.score,
            "rejected": rejected,
            "internal": int(ctx.as_note),
        },
    )
