"""Write the ticket, contact, message and attachments; a redelivered message is recorded as a duplicate."""

from __future__ import annotations

from typing import Final

from postroom.inbound.context import InboundContext, StageResult, Stop
from postroom.inbound.models import InboundMessage, InboundStatus
from postroom.mail.fingerprint import build_fingerprint
from postroom.tickets.queries import find_inbound_by_fingerprint
from postroom.tickets.services import (
    InboundContent,
    add_inbound_message,
    create_ticket,
    lock_ticket,
    note_customer_activity,
    store_attachments,
    upsert_contact,
)

NAME: Final = "persist"


def run(ctx: InboundContext) -> StageResult:
    parsed = ctx.require_parsed()
    if ctx.requester is None or ctx.queue is None:
        raise RuntimeError("persist needs the screen and route stages first")
    fingerprint = build_fingerprint(parsed)
    # Optimistic: the unique index on the fingerprint is the real check. Only after it fired (IntegrityError, the
    # transaction rolled back) does the retry look the earlier copy up, so a first delivery costs no extra query.
    earlier = find_inbound_by_fingerprint(ctx.tenant, fingerprint) if ctx.suspect_duplicate else None
    if earlier is not None:
        ctx.duplicate_of = InboundMessage.objects.filter(message=earlier).first()
        return StageResult(
            verdict="duplicate",
            reason=f"the same message was already received (message {earlier.pk} on {earlier.ticket.reference})",
            data={"ticket": earlier.ticket.reference},
            stop=Stop(InboundStatus.PROCESSED),
        )
    sent_at = parsed.date or ctx.inbound.received_at
    author = upsert_contact(ctx.tenant, ctx.requester)
    if ctx.ticket is None:
        ticket = create_ticket(
            tenant=ctx.tenant,
            queue=ctx.queue,
            subject=parsed.subject,
            requester=author,
            at=sent_at,
            prefix=ctx.options.ticket_prefix,
        )
        verdict, reason = "created", f"new ticket {ticket.reference} in queue {ctx.queue.name}"
    else:
        ticket = lock_ticket(ctx.ticket.pk)
        reopened = note_customer_activity(ticket, sent_at)
        verdict = "appended"
        reason = f"added to {ticket.reference}" + (" and reopened it" if reopened else "")
    ctx.ticket = ticket
    ctx.message = add_inbound_message(
        ticket=ticket,
        author=author,
        content=InboundContent(
            subject=parsed.subject,
            text=parsed.text,
            html=parsed.html,
            headers=[[name, value] for name, value in parsed.headers],
            message_id=parsed.message_id or "",
            in_reply_to=list(parsed.in_reply_to),
            references=list(parsed.references),
            sent_at=sent_at,
            tracking_id=ctx.inbound.tracking_id,
            raw_sha256=ctx.inbound.raw_sha256,
            fingerprint=fingerprint,
            defects=list(parsed.defects),
        ),
    )
    count = store_attachments(ctx.message, parsed.attachments, ctx.store)
    return StageResult(
        verdict=verdict,
        reason=reason,
        data={"ticket": ticket.reference, "message": ctx.message.pk, "attachments": count},
        stop=Stop(InboundStatus.PROCESSED),
    )
