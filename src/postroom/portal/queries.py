"""What a signed-in requester may see: their tickets, those tickets' public messages and their attachments.

A contact sees the tickets of its tenant where it is the requester or a participant. Public are the inbound and
outbound messages, never internal notes; an outbound message only when it was sent to the ticket's people (the
requester or a participant), so mail an agent sent a third party from the ticket (a supplier, a colleague
elsewhere) stays with the agents. Everything else answers "not found".
"""

from __future__ import annotations

from typing import Final

from django.db.models import Exists, OuterRef, Q, QuerySet

from postroom.tickets.models import Attachment, Contact, Direction, Message, Participant, Ticket, TicketStatus

# The status in words a requester understands (the console says new/open/pending/resolved/closed).
STATUS_WORDS: Final[dict[str, str]] = {
    TicketStatus.NEW: "Received, not answered yet",
    TicketStatus.OPEN: "We are working on it",
    TicketStatus.PENDING: "Waiting for your answer",
    TicketStatus.RESOLVED: "Solved",
    TicketStatus.CLOSED: "Closed",
}


def describe_status(status: str) -> str:
    return STATUS_WORDS.get(status, status)


def scope_portal_tickets(contact: Contact) -> QuerySet[Ticket]:
    """The contact's tickets: requester or participant, in the contact's tenant only."""
    on_it = Participant.objects.filter(ticket_id=OuterRef("pk"), contact_id=contact.pk)
    return Ticket.objects.filter(tenant_id=contact.tenant_id).filter(Q(requester_id=contact.pk) | Exists(on_it))


def list_portal_tickets(contact: Contact) -> QuerySet[Ticket]:
    """Most recent activity first."""
    return scope_portal_tickets(contact).select_related("queue").order_by("-last_message_at", "-id")


def find_portal_ticket(contact: Contact, reference: str) -> Ticket | None:
    return (
        scope_portal_tickets(contact)
        .select_related("queue", "requester", "merged_into")
        .filter(reference=reference)
        .first()
    )


def list_people_keys(ticket: Ticket) -> frozenset[str]:
    """The compared addresses of the ticket's requester and participants."""
    participants = Participant.objects.filter(ticket_id=ticket.pk).values_list("contact__email_key", flat=True)
    return frozenset({ticket.requester.email_key, *participants})


def is_public(message: Message, people: frozenset[str]) -> bool:
    """Inbound always; outbound when one of its recipients is the requester or a participant; notes never."""
    if message.direction == Direction.INBOUND:
        return True
    if message.direction != Direction.OUTBOUND:
        return False
    delivery = getattr(message, "delivery", None)  # every message we send has one; without it, deny
    recipients = delivery.recipients if delivery is not None else []
    return any(str(address).strip().lower() in people for address in recipients)


def list_public_messages(ticket: Ticket) -> list[Message]:
    messages = (
        Message.objects.filter(ticket_id=ticket.pk, direction__in=[Direction.INBOUND, Direction.OUTBOUND])
        .select_related("author", "delivery", "portal_reply")
        .prefetch_related("attachments")
        .order_by("sent_at", "id")
    )
    people = list_people_keys(ticket)
    return [message for message in messages if is_public(message, people)]


def find_public_attachment(ticket: Ticket, attachment_id: int) -> Attachment | None:
    """An attachment of one of the ticket's public messages, else None."""
    attachment = (
        Attachment.objects.filter(pk=attachment_id, message__ticket_id=ticket.pk)
        .select_related("message", "message__delivery")
        .first()
    )
    if attachment is None or not is_public(attachment.message, list_people_keys(ticket)):
        return None
    return attachment
