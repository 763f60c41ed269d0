"""Write the ticket, contact, message, participants and attachments; a redelivery is recorded as a duplicate."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Final

from postroom.inbound.context import InboundContext, StageResult, Stop
from postroom.inbound.models import InboundMessage, InboundStatus
from postroom.inbound.sender_auth import evidence_lines
from postroom.mail.fingerprint import build_fingerprint
from postroom.mail.forwards import ForwardInfo
from postroom.mail.sanitise import sanitise_for_storage
from postroom.mail.values import ParsedAttachment
from postroom.tickets.queries import find_inbound_by_fingerprint
from postroom.tickets.services import (
    InboundContent,
    add_inbound_message,
    add_participants,
    create_ticket,
    lock_ticket,
    note_customer_activity,
    record_external_references,
    store_attachment_blobs,
    store_attachments,
    upsert_contacts,
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
    attachments, notes = _keep_attachments(parsed.attachments, ctx.stripped_attachments)
    store_attachment_blobs(attachments, ctx.store)  # file writes before any row lock
    safe_html = sanitise_for_storage(parsed.html) if parsed.html else None  # CPU work before the lock, too
    # Every contact before the ticket's row lock: no transaction waits for another's new contact while holding it.
    people = [ctx.requester, *([] if ctx.as_note else ctx.participants)]
    author, *copied = upsert_contacts(ctx.tenant, people, writer=parsed.from_ or ctx.requester)
    if ctx.ticket is None:
        ticket = create_ticket(
            tenant=ctx.tenant,
            queue=ctx.queue,
            subject=parsed.subject,
            requester=author,
            at=sent_at,
            prefix=ctx.options.ticket_prefix,
            linked_from=ctx.linked_from,
        )
        verdict, reason = "created", f"new ticket {ticket.reference} in queue {ctx.queue.name}"
        if ctx.linked_from is not None:
            reason += f", linked to {ctx.linked_from.reference}"
    else:
        ticket = lock_ticket(ctx.ticket.pk)
        reopened = note_customer_activity(ticket, sent_at, reopen=ctx.reopen and not ctx.as_note)
        verdict = "appended_as_note" if ctx.as_note else "appended"
        reason = f"added to {ticket.reference}" + (" as an internal note" if ctx.as_note else "")
        reason += " and reopened it" if reopened else ""
    ctx.ticket = ticket
    reading = ctx.require_reading()
    signals = ctx.signals
    ctx.message = add_inbound_message(
        ticket=ticket,
        author=author,
        content=InboundContent(
            subject=parsed.subject,
            text=_add_notes(parsed.text, notes),
            html=parsed.html,
            safe_html=safe_html.html if safe_html is not None else None,
            headers=[[name, value] for name, value in parsed.headers],
            message_id=parsed.message_id or "",
            in_reply_to=list(parsed.in_reply_to),
            references=list(parsed.references),
            sent_at=sent_at,
            tracking_id=ctx.inbound.tracking_id,
            raw_sha256=ctx.inbound.raw_sha256,
            fingerprint=fingerprint,
            defects=list(parsed.defects),
            new_text=_add_notes(reading.reply.new_text, notes) if reading.reply.new_text else "",
            quoted_text=reading.reply.quoted_text,
            signature_text=reading.reply.signature,
            # Outlook's conversation key (MS-OXOMSG 2.2.1.3) that later messages of the conversation share
            thread_index=signals.thread_index.root if signals and signals.thread_index else "",
            forwarded=_forward_record(reading.forward),
            is_automatic=reading.automatic.is_automatic,
            internal=ctx.as_note,
            possible_spoof=bool(ctx.sender_auth and ctx.sender_auth.possible_spoof),
            probable_spam=ctx.probable_spam,
            spam_score=ctx.spam_score,
            auth_evidence=tuple(evidence_lines(ctx.sender_auth)) if ctx.sender_auth else (),
        ),
    )
    trackers = safe_html.trackers_removed if safe_html is not None else 0
    count = store_attachments(ctx.message, attachments, ctx.store, blobs_written=True)
    added = 0 if ctx.as_note else add_participants(ticket, copied)
    if signals and signals.foreign_refs:
        record_external_references(ticket, signals.foreign_refs)
    return StageResult(
        verdict=verdict,
        reason=reason,
        data={
            "ticket": ticket.reference,
            "message": ctx.message.pk,
            "attachments": count,
            "participants": added,
            **({"attachments_stripped": len(notes)} if notes else {}),
            **({"html_trackers_removed": trackers} if trackers else {}),
        },
        stop=Stop(InboundStatus.PROCESSED),
    )


def _forward_record(forward: ForwardInfo | None) -> dict[str, str | None] | None:
    if forward is None:
        return None
    return {
        "from": forward.from_.address if forward.from_ is not None else None,
        "name": forward.from_.name if forward.from_ is not None else None,
        "date": forward.date.isoformat() if forward.date is not None else forward.date_text,
        "subject": forward.subject,
    }


def _keep_attachments(
    attachments: tuple[ParsedAttachment, ...], stripped: Mapping[int, str]
) -> tuple[tuple[ParsedAttachment, ...], tuple[str, ...]]:
    """The parts that become the ticket's attachments, and the notes that replace the stripped ones."""
    kept = tuple(part for index, part in enumerate(attachments) if index not in stripped)
    return kept, tuple(stripped[index] for index in sorted(stripped))


def _add_notes(text: str, notes: tuple[str, ...]) -> str:
    return "\n\n".join([text.rstrip("\n"), *notes]) if notes else text
