"""Find the ticket a message continues: its In-Reply-To/References, else a ticket number in the subject.

This is the minimal matcher; the scored matcher over all signals (signed tokens, Thread-Index, body marker)
replaces it with issue #3.
"""

from __future__ import annotations

from typing import Final

from postroom.inbound.context import InboundContext, StageResult
from postroom.mail.ticketref import find_ticket_numbers
from postroom.tickets.queries import find_message_by_ids, find_ticket_by_number

NAME: Final = "thread"


def run(ctx: InboundContext) -> StageResult:
    parsed = ctx.require_parsed()
    # In-Reply-To names the direct parent; References lists ancestors oldest first (RFC 5322 section 3.6.4).
    ids = list(dict.fromkeys([*parsed.in_reply_to, *reversed(parsed.references)]))
    match = find_message_by_ids(ctx.tenant, ids)
    if match is not None:
        ctx.ticket = match.ticket
        header = "In-Reply-To" if match.message_id in parsed.in_reply_to else "References"
        return StageResult(
            verdict="follow_up",
            reason=f"{header} names message <{match.message_id}> of {match.ticket.reference}",
            data={"ticket": match.ticket.reference, "signal": header.lower()},
        )
    for number in find_ticket_numbers(parsed.subject, ctx.options.ticket_prefix):
        ticket = find_ticket_by_number(ctx.tenant, number)
        if ticket is not None:
            ctx.ticket = ticket
            return StageResult(
                verdict="follow_up",
                reason=f"the subject carries the ticket number {ticket.reference}",
                data={"ticket": ticket.reference, "signal": "subject"},
            )
    return StageResult(
        verdict="new_ticket", reason="no known Message-ID in In-Reply-To/References and no ticket number"
    )
