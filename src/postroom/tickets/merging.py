"""Merge two tickets into one, or split a message off into a new ticket: transactional, both rows locked in id order.

Who may merge or split is the caller's business (postroom.accounts.permissions: both tickets must be actable); this
module keeps the conversation whole. A merge moves the source's messages (with their attachments, ledger rows and
deliveries, which hang off the messages), participants and external references to the target, makes the source's
requester a participant of the target (so they are still copied and may still follow up), closes the source with
`merged_into` set, and records it as an internal note on both. A later reply quoting the source's Message-IDs finds
the moved messages and so threads into the target.

Locks: every ticket row involved is locked in ascending id order (`lock_tickets`), the same order as any other writer
that holds two tickets, so two merges of the same pair in opposite directions queue instead of deadlocking.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from dataclasses import dataclass

from django.db import transaction
from django.db.models import Max

from postroom.core.db import insert_row, update_row
from postroom.tickets.models import Direction, ExternalReference, Message, Participant, Ticket, TicketStatus
from postroom.tickets.services import add_participants, change_status, create_ticket, lock_ticket


class MergeRefusedError(ValueError):
    """The merge or split cannot be made; the message says why, for the agent (a 422)."""


@dataclass(frozen=True, slots=True)
class MergeResult:
    target: Ticket
    source: Ticket
    moved_messages: int


@dataclass(frozen=True, slots=True)
class SplitResult:
    original: Ticket
    new_ticket: Ticket


def lock_tickets(ticket_ids: Iterable[int]) -> dict[int, Ticket]:
    """Row-lock tickets in ascending id order (the one order every multi-ticket writer uses)."""
    return {ticket_id: lock_ticket(ticket_id) for ticket_id in sorted(set(ticket_ids))}


def _add_note(ticket: Ticket, actor_id: int | None, text: str, at: dt.datetime) -> Message:
    note = Message(
        tenant_id=ticket.tenant_id,
        ticket=ticket,
        direction=Direction.NOTE,
        author_user_id=actor_id,
        subject=ticket.subject[:998],
        text=text,
        new_text=text,
        sent_at=at,
    )
    insert_row(note)
    return note


def merge_tickets(source_id: int, target_id: int, *, actor_id: int | None, at: dt.datetime) -> MergeResult:
    """Move everything of `source_id` into `target_id` and close the source; MergeRefusedError when it cannot be."""
    if source_id == target_id:
        raise MergeRefusedError("a ticket cannot be merged into itself")
    with transaction.atomic():
        locked = lock_tickets((source_id, target_id))
        source, target = locked[source_id], locked[target_id]
        if source.tenant_id != target.tenant_id:
            raise MergeRefusedError("the tickets belong to different tenants")
        for ticket in (source, target):
            if ticket.merged_into_id is not None:
                raise MergeRefusedError(f"{ticket.reference} was already merged into another ticket")
        moved = Message.objects.filter(ticket_id=source.pk).update(ticket_id=target.pk)
        _move_participants(source, target)
        _move_external_references(source, target)
        target.last_message_at = max(target.last_message_at, source.last_message_at)
        update_row(target, ["last_message_at", "updated_at"])
        change_status(source, TicketStatus.CLOSED, at)
        source.merged_into_id = target.pk
        update_row(source, ["status", "closed_at", "merged_into", "updated_at"])
        _add_note(target, actor_id, f"Merged {source.reference} into this ticket ({moved} message(s) moved).", at)
        _add_note(source, actor_id, f"Merged into {target.reference}.", at)
        return MergeResult(target=target, source=source, moved_messages=moved)


def _move_participants(source: Ticket, target: Ticket) -> None:
    """The source's requester and participants join the target (known ones and the target's requester skipped)."""
    people = [source.requester]
    people += [p.contact for p in Participant.objects.filter(ticket_id=source.pk).select_related("contact")]
    add_participants(target, people)
    Participant.objects.filter(ticket_id=source.pk).delete()


def _move_external_references(source: Ticket, target: Ticket) -> None:
    for reference in ExternalReference.objects.filter(ticket_id=source.pk).values_list("reference", flat=True):
        row = ExternalReference(tenant_id=target.tenant_id, ticket_id=target.pk, reference=reference)
        insert_row(row, ignore_conflicts=True)
    ExternalReference.objects.filter(ticket_id=source.pk).delete()


def split_ticket(ticket_id: int, message_id: int, *, actor_id: int | None, at: dt.datetime, prefix: str) -> SplitResult:
    """Move one message to a new ticket (same requester, queue and participants, linked from the original).

    MergeRefusedError when the message is not on the ticket or is its only message (nothing would be left).
    """
    with transaction.atomic():
        original = lock_ticket(ticket_id)
        message = Message.objects.filter(pk=message_id, ticket_id=original.pk).first()
        if message is None:
            raise MergeRefusedError(f"message {message_id} is not on {original.reference}")
        if not Message.objects.filter(ticket_id=original.pk).exclude(pk=message.pk).exists():
            raise MergeRefusedError("the ticket's only message cannot be split off")
        new_ticket = create_ticket(
            tenant=original.tenant,
            queue=original.queue,
            subject=message.subject or original.subject,
            requester=original.requester,
            at=message.sent_at,
            prefix=prefix,
            linked_from=original,
        )
        Message.objects.filter(pk=message.pk).update(ticket_id=new_ticket.pk)
        add_participants(new_ticket, [p.contact for p in original.participants.select_related("contact")])
        _refresh_last_message_at(original)
        _add_note(original, actor_id, f"Message {message.pk} split off into {new_ticket.reference}.", at)
        _add_note(new_ticket, actor_id, f"Split off from {original.reference}.", at)
        return SplitResult(original=original, new_ticket=new_ticket)


def _refresh_last_message_at(ticket: Ticket) -> None:
    """The newest remaining mail (inbound or outbound; notes do not count as activity) after a message left."""
    newest = (
        Message.objects.filter(ticket_id=ticket.pk, direction__in=[Direction.INBOUND, Direction.OUTBOUND])
        .aggregate(newest=Max("sent_at"))
        .get("newest")
    )
    if newest is not None and newest != ticket.last_message_at:
        ticket.last_message_at = newest
        update_row(ticket, ["last_message_at", "updated_at"])
